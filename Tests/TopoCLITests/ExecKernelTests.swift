#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// `topo exec NS [--] CMD…` in a sandbox: it becomes CMD inside the namespace; judged by
/// iproute2 (`ip netns identify` names the namespace of the process that asks).
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ExecKernelTests {
    @Test func runsTheCommandInTheNamespaceAndPassesEverythingThrough() throws {
        let r = try sandbox("""
            ip netns add ns0; ip netns add ns1
            "$TOPO" exec ns1 ip netns identify
            "$TOPO" exec ns0 -- ip netns identify
            "$TOPO" exec ns0 -- sh -c 'exit 7' || echo "exit $?"
            FOO='a b' "$TOPO" exec ns0 -- sh -c 'echo "FOO=$FOO"'
            echo piped | "$TOPO" exec ns0 cat
            "$TOPO" exec ns0 -- sh -c 'echo to-stderr >&2' 2>&1
            "$TOPO" exec ns0 -- ip -o link show | cut -d: -f2
            "$TOPO" exec host -- ip netns identify; echo "host exit $?"
            """)
        #expect(r.stdout == """
            ns1
            ns0
            exit 7
            FOO=a b
            piped
            to-stderr
             lo

            host exit 0

            """, "\(r.stderr)")
    }

    @Test func failuresAreOneLineWithTheirExitCodes() throws {
        let r = try sandbox("""
            "$TOPO" exec ns0 true 2>&1 || echo "exit $?"
            ip netns add ns0; ip netns add ns1; ip netns add lab
            "$TOPO" exec ns2 true 2>&1 || echo "exit $?"
            "$TOPO" exec zebra true 2>&1 || echo "exit $?"
            "$TOPO" exec ns0 -- no-such-command 2>&1 || echo "exit $?"
            touch /run/not-executable
            "$TOPO" exec ns0 -- /run/not-executable 2>&1 || echo "exit $?"
            "$TOPO" exec ../x true 2>&1 || echo "exit $?"
            touch /run/netns/stale
            "$TOPO" exec stale true 2>&1 || echo "exit $?"
            """)
        #expect(r.stdout == """
            topo: exec: no namespace `ns0` in /run/netns (there is none: `topo run FILE` builds a topology)
            exit 3
            topo: exec: no namespace `ns2` in /run/netns; did you mean `ns0`?
            exit 3
            topo: exec: no namespace `zebra` in /run/netns (there are `lab`, `ns0`, `ns1`)
            exit 3
            topo: exec: no-such-command: command not found
            exit 127
            topo: exec: cannot run /run/not-executable: Permission denied
            exit 126
            topo: exec: `../x` cannot be a namespace name (a single path component, at most 255 bytes)
            exit 2
            topo: exec: cannot enter namespace `stale`: /run/netns/stale is not a network namespace (a stale file?)
            exit 3

            """, "\(r.stderr)")
    }

    /// `exec` actions of `topo run`: the run waits for the command, not for what it leaves in
    /// the background, and the command starts with no signal held back or ignored, although
    /// topo holds SIGINT/SIGTERM/SIGHUP back while it runs.
    @Test func runsExecActionsSafely() throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        let script = dir + "/exec.topo"
        try writeWholeFile(script, """
            ns ns0
            exec ns0 "sleep 300 & echo bg=$!"
            exec ns0 "grep -E '^Sig(Blk|Ign)' /proc/self/status"
            exec ns0 "ip netns identify"

            """)
        let r = try sandbox("""
            start=$(date +%s%N)
            "$TOPO" run --allow-exec '\(script)'
            echo "took-ms $(( ($(date +%s%N) - start) / 1000000 ))"
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        if let bg = lines.first(where: { $0.hasPrefix("bg=") }).flatMap({ Int32($0.dropFirst(3)) }) { kill(bg, SIGKILL) }
        #expect(lines.contains("SigBlk:\t0000000000000000") && lines.contains("SigIgn:\t0000000000000000"), "\(r.stdout)")
        #expect(lines.contains("ns0"), "the command did not run inside ns0: \(r.stdout)")
        let ms = Int(lines.last(where: { $0.hasPrefix("took-ms ") })?.dropFirst(8) ?? "") ?? Int.max
        #expect(ms < 10_000, "topo run waited for the background sleep (\(ms) ms)")
    }

    /// Without root (no CAP_SYS_ADMIN) setns is refused: one line, exit 3.
    @Test func withoutPrivilegesEnteringIsRefused() throws {
        let r = try sandbox("""
            ip netns add ns0
            setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \\
              "$TOPO" exec ns0 true 2>&1 || echo "exit $?"
            """)
        #expect(r.stdout == """
            topo: exec: cannot enter namespace `ns0`: Operation not permitted (entering a namespace needs CAP_SYS_ADMIN: run it as root)
            exit 3

            """, "\(r.stderr)")
    }

    /// Through a pty: no command means an interactive shell in the namespace; Ctrl-C reaches
    /// the shell's command (topo has become the shell); `exit 3` is the status. (The pty
    /// harness starts its child with an empty signal mask; Foundation's Process, behind
    /// `sandbox`, leaves nearly every signal blocked, which an exec keeps: so signals are
    /// tested here.)
    @Test func anInteractiveShellOnATerminal() throws {
        let script = """
            set -e
            mount --make-rprivate /
            mount -t tmpfs tmpfs /run
            ip netns add ns0
            exec '\(topoBinary)' exec ns0
            """
        let pty = try PtySession(arguments: ["--net", "--mount", "/bin/bash", "-c", script],
                                 environment: ["SHELL": "/bin/sh", "ENV": "/dev/null"],
                                 executable: "/usr/bin/unshare")
        #expect(pty.expect("# "), "no prompt: \(pty.screen)")
        pty.type("ip netns identify\r")
        #expect(pty.expect("ns0"), "got: \(pty.unread)")
        #expect(pty.expect("# "))
        let t0 = monotonicSeconds()
        pty.type("sleep 30\r")
        pty.settle(0.5)
        pty.type("\u{03}")
        #expect(pty.expect("# ", timeout: 5), "Ctrl-C did not end the sleep: \(pty.unread)")
        #expect(monotonicSeconds() - t0 < 10)
        pty.type("exit 3\r")
        #expect(pty.waitForExit() == 3)
    }
}
