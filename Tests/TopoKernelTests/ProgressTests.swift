import Glibc
import Testing
@testable import TopoKernel

/// Reads what is in a pipe now.
private func drain(_ fd: Int32) -> String {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

final class FakeClock: @unchecked Sendable {
    var now = 100.0
}

@Suite struct ProgressTests {
    @Test(arguments: [
        (0, 10, "add veth a:b", 80, "topo: [  0%] 0/10 add veth a:b"),
        (5, 10, "", 80, "topo: [ 50%] 5/10"),
        (10, 10, "done", 80, "topo: [100%] 10/10 done"),
        (12, 10, "x", 80, "topo: [100%] 10/10 x"),
        (0, 0, "", 80, "topo: [100%] 0/0"),
        (1, 3, "add address 10.0.0.1/24 to h1:eth0", 30, "topo: [ 33%] 1/3 add address…"),
        (1, 3, "two\nlines", 80, "topo: [ 33%] 1/3 two lines"),
    ] as [(Int, Int, String, Int, String)])
    func line(_ done: Int, _ total: Int, _ what: String, _ width: Int, _ expected: String) {
        let l = ProgressReporter.line(done: done, total: total, what: what, width: width)
        #expect(l == expected)
        #expect(l.count <= max(10, width - 1))
    }

    @Test func notATerminalMeansNoReporter() {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(ProgressReporter.terminal(fd: fds[1]) == nil)
    }

    /// Nothing before `delay`; then at most one drawing per `interval` (the last step always);
    /// `finish` erases the line, and only if one was drawn.
    @Test func drawsLateAndSeldomAndErases() {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let clock = FakeClock()
        let p = ProgressReporter(fd: fds[1], delay: 0.5, interval: 0.1, width: 80, clock: { clock.now })
        p.report(done: 0, total: 4, what: "a")
        clock.now += 0.4
        p.report(done: 1, total: 4, what: "b")
        #expect(drain(fds[0]) == "", "drawn before the delay")
        clock.now += 0.2
        p.report(done: 2, total: 4, what: "c")
        clock.now += 0.05
        p.report(done: 3, total: 4, what: "d")       // within the interval: skipped
        p.report(done: 4, total: 4, what: "e")       // the last step: drawn
        p.finish()
        #expect(drain(fds[0]) == "\r\u{1B}[Ktopo: [ 50%] 2/4 c\r\u{1B}[Ktopo: [100%] 4/4 e\r\u{1B}[K")
        // A short run draws nothing, and finish writes nothing either.
        p.report(done: 0, total: 2, what: "a")
        p.report(done: 2, total: 2, what: "b")
        p.finish()
        #expect(drain(fds[0]) == "")
    }
}
