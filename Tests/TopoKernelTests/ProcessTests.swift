import Glibc
import Testing
import TopoLanguage
@testable import TopoKernel

/// The fields of `/proc/self/status` named `key` (`SigBlk`, `SigIgn`) in `text`.
private func statusField(_ key: String, in text: String) -> String? {
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        return line.dropFirst(key.count + 1).trimmingCharacters(in: " \t")
    }
    return nil
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// True while some live (not zombie) process has this pid.
private func pidAlive(_ pid: Int32) -> Bool {
    guard let s = Processes.stat(of: pid) else { return false }
    return s.state != "Z" && s.state != "X"
}

/// Waits up to `seconds` for `condition`.
private func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = monotonicNow() + seconds
    while monotonicNow() < end {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

@Suite struct ProcStatTests {
    @Test func fieldsAreCountedAfterTheLastParenthesis() {
        // A command name with blanks and a `) (` inside, as a process may name itself.
        let line = "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 "
            + "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let s = Processes.parseStat(line)
        #expect(s == Processes.ProcStat(state: "S", parent: 1, processGroup: 4242, session: 4242, startTime: 987654))
    }

    @Test(arguments: ["", "4242 (x", "4242 (x) S 1 2", "4242 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"])
    func malformedLinesAreNil(_ line: String) {
        #expect(Processes.parseStat(line) == nil)
    }

    @Test func ourOwnStartTimeIsReadable() {
        #expect((Processes.startTime(of: getpid()) ?? 0) > 0)
        #expect(Processes.isRunning(pid: getpid(), startTime: Processes.startTime(of: getpid()) ?? 0))
        #expect(!Processes.isRunning(pid: getpid(), startTime: (Processes.startTime(of: getpid()) ?? 0) + 1))
    }
}

/// `exec` actions: `Processes.run` directly, and `NetlinkBackend.exec` inside a namespace of a
/// sandbox (no nsenter: the namespace thread spawns the command while inside).
@Suite(.serialized, .enabled(if: kernelTestsEnabled, "needs root: runs in an unshare --net --mount sandbox"))
struct SafeExecTests {
    @Test func exitStatusPassesThroughAndTheCommandRunsInTheNamespace() throws {
        let sb = try Sandbox()
        try sb.backend.createNamespace("ns0")
        #expect(try sb.backend.exec(in: "ns0", command: "exit 7", timeout: 60).status == 7)
        #expect(try sb.backend.exec(in: "ns0", command: "echo out; echo err >&2", timeout: 60) == ExecResult(status: 0, output: "out\nerr\n"))
        // The command's network namespace is the one bound at /run/netns/ns0 (seen from the sandbox).
        let same = try sb.backend.exec(in: "ns0", command: "[ \"$(readlink /proc/self/ns/net)\" = \"net:[$(stat -L -c %i /run/netns/ns0)]\" ]",
                                       timeout: 60)
        #expect(same.status == 0, "\(same.output)")
        #expect(try sb.backend.exec(in: "ns0", command: "exit 0", timeout: 60).timedOut == false)
    }

    @Test func aBackgroundProcessDoesNotHoldTheCommandOpen() throws {
        let sb = try Sandbox()
        try sb.backend.createNamespace("ns0")
        let t0 = monotonicNow()
        let r = try sb.backend.exec(in: "ns0", command: "sleep 300 & echo $!", timeout: 60)
        let took = monotonicNow() - t0
        let bg = Int32(r.output.split(separator: "\n").first ?? "") ?? 0
        defer { if bg > 0 { kill(bg, SIGKILL) } }
        #expect(r.status == 0)
        #expect(took < 5, "exec of `sleep 300 &` took \(took) s")
        #expect(bg > 0 && pidAlive(bg), "the background sleep should still run (it is not topo's to stop)")
    }

    @Test func aTimeoutKillsTheWholeProcessGroup() throws {
        let sb = try Sandbox()
        try sb.backend.createNamespace("ns0")
        let t0 = monotonicNow()
        // A child in the background and the shell waiting for it: both are in the command's group.
        let r = try sb.backend.exec(in: "ns0", command: "sleep 30 & echo $!; wait", timeout: 1)
        let took = monotonicNow() - t0
        #expect(r.timedOut)
        #expect(r.status == 137)
        #expect(took >= 0.9 && took < 4, "a 1 s timeout took \(took) s")
        let bg = Int32(r.output.split(separator: "\n").first ?? "") ?? 0
        #expect(bg > 0)
        #expect(eventually(2) { !pidAlive(bg) }, "the group's `sleep 30` (pid \(bg)) survived the timeout")
    }

    /// topo holds SIGINT/SIGTERM/SIGHUP back during a run (and threads inherit the mask): a
    /// command must start with an empty mask and default dispositions all the same.
    @Test func childrenGetAnEmptySignalMaskAndDefaultDispositions() throws {
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&held, s) }
        pthread_sigmask(SIG_BLOCK, &held, &previous)
        let oldUSR2 = signal(SIGUSR2, SIG_IGN)
        defer {
            signal(SIGUSR2, oldUSR2)
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        // Directly from this (blocking) thread, and from a namespace thread started while blocked.
        let direct = try Processes.run(["/bin/cat", "/proc/self/status"], timeout: 10)
        let sb = try Sandbox()
        try sb.backend.createNamespace("ns0")
        let inside = try sb.backend.exec(in: "ns0", command: "exec cat /proc/self/status", timeout: 10)
        for r in [direct, inside] {
            #expect(statusField("SigBlk", in: r.output) == "0000000000000000", "\(r.output)")
            #expect(statusField("SigIgn", in: r.output) == "0000000000000000", "\(r.output)")
        }
        // Its own process group, and stdin from /dev/null.
        let group = try Processes.run(["/bin/sh", "-c", "[ \"$(ps -o pgid= $$ | tr -d ' ')\" = \"$$\" ] && readlink /proc/self/fd/0"],
                                      timeout: 10)
        #expect(group == ExecResult(status: 0, output: "/dev/null\n"))
    }

    @Test func aMissingProgramIsAnError() {
        #expect(throws: KernelError.self) { try Processes.run(["/nonexistent/program"], timeout: 1) }
    }
}

/// Daemons: detached, identified by (pid, start time), stopped by SIGTERM then SIGKILL.
@Suite(.serialized, .enabled(if: kernelTestsEnabled, "needs root: runs in an unshare --net --mount sandbox"))
struct DaemonTests {
    /// The spawning process exits; the daemon lives on (its own session, reparented).
    @Test func aDaemonSurvivesTheProcessThatStartedIt() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            // Long enough to outlive a late check: under the full suite's load the test resumed after
            // the exit test more than 30 s later (its continuation waits for a cooperative thread).
            let d = try Processes.startDaemon(["/bin/sleep", "3600"], logPath: "/dev/null")
            print("\(d.pid) \(d.startTime)")
        }
        let words = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
            .split(whereSeparator: { $0 == " " || $0 == "\n" })
        let pid = Int32(words.first ?? "") ?? 0, start = UInt64(words.last ?? "") ?? 0
        try #require(pid > 0 && start > 0, "the exit test printed no pid")
        defer { kill(pid, SIGKILL) }
        #expect(Processes.isRunning(pid: pid, startTime: start), "the daemon died with its parent")
        let st = Processes.stat(of: pid)
        #expect(st?.session == pid && st?.processGroup == pid, "a daemon leads its own session: \(String(describing: st))")
        #expect(Processes.stop(pid: pid, startTime: start) == .terminated)
        #expect(eventually(2) { !pidAlive(pid) })
    }

    @Test func startedInsideTheNamespaceWithDefaultsAndALog() throws {
        let sb = try Sandbox()
        try sb.backend.createNamespace("ns0")
        let dir = tempDir()
        let logs = dir + "/daemons"
        defer { cleanup(logs); cleanup(dir) }
        let cmd = "readlink /proc/self/ns/net; readlink /proc/self/fd/0; grep -E '^Sig(Blk|Ign)' /proc/self/status; "
            + "ps -o sid= $$ | tr -d ' '; echo $$"
        let d = try sb.backend.startDaemon(in: "ns0", command: cmd, logDirectory: logs, name: "lab/one")
        #expect(d.logPath == logs + "/lab_one.log")
        #expect(eventually(5) { !Processes.isRunning(pid: d.pid, startTime: d.startTime) })
        let inode = try sb.backend.exec(in: "ns0", command: "stat -L -c %i /run/netns/ns0", timeout: 5).output
        let lines = (readSmallFile(d.logPath) ?? "").split(separator: "\n").map(String.init)
        #expect(lines == ["net:[\(inode.split(separator: "\n").first ?? "")]", "/dev/null",
                          "SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000", "\(d.pid)", "\(d.pid)"])
        // A second daemon with the same name appends to the same log.
        let again = try sb.backend.startDaemon(in: "ns0", command: "echo again", logDirectory: logs, name: "lab/one")
        #expect(eventually(5) { !Processes.isRunning(pid: again.pid, startTime: again.startTime) })
        #expect((readSmallFile(d.logPath) ?? "").hasSuffix("\(d.pid)\nagain\n"))
    }

    @Test func stopTerminatesTheWholeGroup() throws {
        // The shell forks `sleep` (not exec): both must go.
        let dir = tempDir()
        defer { cleanup(dir) }
        let d = try Processes.startDaemon(["/bin/sh", "-c", "sleep 30 & echo $! ; wait"], logPath: dir + "/d.log")
        var child: Int32 = 0
        #expect(eventually(5) {
            child = Int32((readSmallFile(d.logPath) ?? "").split(separator: "\n").first ?? "") ?? 0
            return child > 0
        })
        defer { if child > 0 { kill(child, SIGKILL) } }
        let t0 = monotonicNow()
        #expect(Processes.stop(pid: d.pid, startTime: d.startTime) == .terminated)
        #expect(monotonicNow() - t0 < 4)
        #expect(!Processes.isRunning(pid: d.pid, startTime: d.startTime))
        #expect(eventually(2) { !pidAlive(child) }, "the daemon's child survived stop")
        #expect(Processes.stop(pid: d.pid, startTime: d.startTime) == .notRunning)
    }

    @Test func aDaemonThatIgnoresSIGTERMIsKilledAfterTheGracePeriod() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let d = try Processes.startDaemon(["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
                                          logPath: dir + "/d.log")
        #expect(eventually(5) { (readSmallFile(d.logPath) ?? "").contains("ready") })
        let t0 = monotonicNow()
        #expect(Processes.stop(pid: d.pid, startTime: d.startTime, grace: 0.5) == .killed)
        let took = monotonicNow() - t0
        #expect(took >= 0.45 && took < 3, "stop took \(took) s")
        #expect(!Processes.isRunning(pid: d.pid, startTime: d.startTime))
    }

    /// A (pid, start time) that does not match the process now at that pid is never signalled.
    @Test func aWrongStartTimeIsNeverSignalled() throws {
        let d = try Processes.startDaemon(["/bin/sleep", "30"], logPath: "/dev/null")
        defer { Processes.stop(pid: d.pid, startTime: d.startTime, grace: 0) }
        #expect(Processes.stop(pid: d.pid, startTime: d.startTime + 1) == .notRunning)
        #expect(Processes.stop(pid: d.pid, startTime: d.startTime &- 1) == .notRunning)
        usleep(100_000)
        #expect(Processes.isRunning(pid: d.pid, startTime: d.startTime), "a fake start time got the daemon signalled")
        #expect(Processes.stat(of: d.pid)?.state != "T")
    }
}
