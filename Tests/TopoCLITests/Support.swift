import Foundation
import Testing

/// The package root (two levels above this file's folder).
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The `topo` binary under test: `$TOPO_BINARY`, else the one built beside the test bundle.
let topoBinary: String = {
    if let p = ProcessInfo.processInfo.environment["TOPO_BINARY"] { return p }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // The bundle may be `…/debug/topoPackageTests.xctest` (a file) on Linux.
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("topo").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return packageRoot.appendingPathComponent(".build/debug/topo").path
}()

let isRoot = getuid() == 0
/// Kernel tests must run in CI (CI=true); elsewhere they skip without root.
let kernelTestsEnabled: Bool = {
    if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
    if !isRoot { print("note: kernel tests skipped: they need root (run as root, or in CI with CI=true)") }
    return isRoot
}()

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion; stdout and stderr captured. A timeout kills it (never hangs a test).
@discardableResult
func runProcess(_ argv: [String], stdin: String? = nil, cwd: URL = packageRoot,
                environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
    p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
    p.currentDirectoryURL = cwd
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    p.standardOutput = outPipe
    p.standardError = errPipe
    p.standardInput = inPipe
    try p.run()
    // Read both pipes concurrently so a chatty child cannot block, and write its input beside
    // them: a child that stops reading early (an input over a limit, an error at line 1) gets
    // what it takes, and the rest is dropped (EPIPE), never a SIGPIPE for the test process.
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box(), errBox = Box()
    let group = DispatchGroup()
    let input = inPipe.fileHandleForWriting
    let bytes = stdin.map { Array($0.utf8) }
    group.enter()
    DispatchQueue.global().async {
        if let bytes { writeWithoutSIGPIPE(input.fileDescriptor, bytes) }
        try? input.close()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async { outBox.data = outPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(2000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        Issue.record("timed out after \(timeout) s: \(argv.joined(separator: " "))")
    }
    p.waitUntilExit()
    group.wait()
    return ProcessResult(status: p.terminationStatus,
                         stdout: String(decoding: outBox.data, as: UTF8.self),
                         stderr: String(decoding: errBox.data, as: UTF8.self))
}

/// Writes all of `data` to `fd` unless the reader goes away; SIGPIPE is blocked in this thread
/// for the write, and one the write raised is taken before it is unblocked again.
func writeWithoutSIGPIPE(_ fd: Int32, _ data: [UInt8]) {
    var pipeSet = sigset_t(), old = sigset_t()
    sigemptyset(&pipeSet)
    sigaddset(&pipeSet, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipeSet, &old)
    data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            off += n
        }
    }
    var now = timespec(tv_sec: 0, tv_nsec: 0)
    while sigtimedwait(&pipeSet, nil, &now) == SIGPIPE {}
    pthread_sigmask(SIG_SETMASK, &old, nil)
}

/// Runs `topo ARGS…` from the package root.
func topo(_ args: String..., stdin: String? = nil, environment: [String: String] = [:]) throws -> ProcessResult {
    try runProcess([topoBinary] + args, stdin: stdin, environment: environment)
}

/// A throwaway sandbox: a new network and mount namespace with a private tmpfs on /run.
/// `script` is bash, run inside it; `$TOPO` names the topo binary. Nothing here can touch
/// the machine's own namespace, eth0 or /run.
func sandbox(_ script: String, timeout: TimeInterval = 300) throws -> ProcessResult {
    let prologue = """
        set -e
        mount --make-rprivate /
        mount -t tmpfs tmpfs /run
        ip link set lo up
        export TOPO='\(topoBinary)'

        """
    return try runProcess(["/usr/bin/unshare", "--net", "--mount", "/bin/bash", "-c", prologue + script],
                          timeout: timeout)
}

/// Path of an example script, relative to the package root (so outputs name `examples/x.topo`).
func example(_ name: String) -> String { "examples/\(name).topo" }

/// All example names (without `.topo`).
let exampleNames: [String] = {
    let dir = packageRoot.appendingPathComponent("examples")
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return files.filter { $0.hasSuffix(".topo") }.map { String($0.dropLast(5)) }.sorted()
}()

/// Compares `actual` with the golden file `Fixtures/NAME`; with TOPO_UPDATE_GOLDEN=1 rewrites it.
func expectGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let url = packageRoot.appendingPathComponent("Tests/TopoCLITests/Fixtures/\(name)")
    if ProcessInfo.processInfo.environment["TOPO_UPDATE_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("missing golden file \(name); run with TOPO_UPDATE_GOLDEN=1 to create it", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "output differs from golden \(name) (TOPO_UPDATE_GOLDEN=1 regenerates)", sourceLocation: sourceLocation)
}
