#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// setpriv's way to become `nobody` with no groups and no capabilities.
private let asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"

/// Runs `script` (bash) as `nobody`, inside the usual root sandbox (so even a topo bug could
/// touch nothing of the machine's network or /run). `$TOPO` names the binary; `$NOBODY` is
/// the setpriv prefix. The script file is written where nobody can read it.
private func nobodySandbox(_ script: String, outer: String = "", after: String = "",
                           topo: String = topoBinary) throws -> ProcessResult {
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    chmod(dir, 0o755)
    let file = dir + "/inner.sh"
    try writeWholeFile(file, script)
    chmod(file, 0o644)
    return try sandbox("""
        export NOBODY='\(asNobody)'
        export TOPO='\(topo)'
        \(outer)
        set +e
        $NOBODY bash '\(file)'
        echo "@@status $?"
        \(after)
        """)
}

/// The status the inner script printed with `@@status N`.
private func innerStatus(_ r: ProcessResult) -> Int32? {
    for line in r.stdout.split(separator: "\n") where line.hasPrefix("@@status ") {
        return Int32(line.dropFirst(9))
    }
    return nil
}

/// `topo sandbox` as an ordinary user (`nobody`, from root: CI is root) and as root.
///
/// Nobody must be able to run the binary and read the examples: the binary is copied to a
/// private temporary directory nobody can reach (the checkout may sit under a directory
/// only root can enter); the examples are read relative to the package root, the working
/// directory, which needs only its own o+x (and the files o+r), not its parents'.
@Suite(.serialized, .enabled(if: kernelTestsEnabled, "kernel tests need root (to become nobody with setpriv)"))
final class SandboxTests {
    let dir: String
    let topoCopy: String

    init() throws {
        dir = try makeTempDirectory()
        chmod(dir, 0o755)
        topoCopy = dir + "/topo"
        let copy = try runProcess(["/bin/cp", topoBinary, topoCopy])
        try #require(copy.status == 0, "cannot copy \(topoBinary): \(copy.stderr)")
        chmod(topoCopy, 0o755)
        let check = try runProcess(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c",
                                    "'\(topoCopy)' check \(example("veth-pair"))"])
        let why = "nobody cannot run topo or read the examples (the package root and examples/ need o+x, the files o+r)"
        try #require(check.status == 0, "\(why): \(check.stdout)\(check.stderr)")
    }

    deinit { removeTree(dir) }

    private func nobodySandbox(_ script: String, outer: String = "", after: String = "") throws -> ProcessResult {
        try TopoCLITests.nobodySandbox(script, outer: outer, after: after, topo: topoCopy)
    }

    @Test func theNamespacesAreThereInside() throws {
        let r = try nobodySandbox("""
            "$TOPO" sandbox \(example("veth-pair")) -- sh -c 'ip netns list | cut -d" " -f1 | sort; id -u; cat /proc/self/uid_map; echo "TOPO_SANDBOX=$TOPO_SANDBOX"'
            """)
        #expect(innerStatus(r) == 0, "\(r.stdout)\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.contains("ns0") && lines.contains("ns1"), "\(r.stdout)")
        #expect(lines.contains("0 65534 1"), "nobody is root inside, through a user namespace: \(r.stdout)")
        #expect(lines.contains("TOPO_SANDBOX=1"))
        // The run's own report went to standard output as with `topo run`.
        #expect(r.stdout.contains("examples/veth-pair.topo: 5 created, 0 changed, 0 removed"), "\(r.stdout)")
    }

    @Test func topoExecPingsAcrossTheVethPair() throws {
        let r = try nobodySandbox("""
            "$TOPO" sandbox \(example("veth-pair")) -- "$TOPO" exec ns0 -- ping -c1 -W2 10.0.1.2 >/dev/null
            """)
        #expect(innerStatus(r) == 0, "\(r.stdout)\(r.stderr)")
    }

    @Test func theCommandsStatusIsTheSandboxs() throws {
        let r = try nobodySandbox("""
            "$TOPO" sandbox \(example("veth-pair")) -- sh -c 'exit 3' >/dev/null; echo "three=$?"
            "$TOPO" sandbox -- sh -c 'kill -TERM $$'; echo "term=$?"
            "$TOPO" sandbox -- no-such-command 2>&1; echo "missing=$?"
            "$TOPO" sandbox; echo "no-command=$?"
            """)
        #expect(r.stdout.contains("three=3\n"), "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("term=143\n"))
        #expect(r.stdout.contains("topo: sandbox: no-such-command: command not found\nmissing=127\n"))
        // No command: $SHELL (bash, reading the empty stdin of the test) ends at once.
        #expect(r.stdout.contains("no-command=0\n"))
    }

    /// Processes left in the background (one in its own session, one ignoring SIGTERM and
    /// SIGHUP, one left by an `exec` action), namespaces, files under /run and mounts: none
    /// survives the sandbox, and nothing of it appears outside.
    @Test func nothingIsLeftBehind() throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        chmod(dir, 0o755)
        let script = dir + "/leave.topo"
        try writeWholeFile(script, """
            ns ns0
            exec ns0 "sleep 4242.31 >/dev/null 2>&1 &"

            """)
        chmod(script, 0o644)
        let r = try nobodySandbox("""
            "$TOPO" sandbox --allow-exec '\(script)' -- sh -c '
              setsid sleep 4242.32 >/dev/null 2>&1 &
              (trap "" TERM HUP; exec sleep 4242.33 >/dev/null 2>&1) &
              ip netns add extra; touch /run/inside
              exit 5'
            """, outer: """
            mountinfo_before=$(wc -l < /proc/self/mountinfo)
            """, after: """
            sleep 0.3
            echo "left: $(pgrep -f 'sleep 4242[.]3' | wc -l)"
            echo "netns: $(ls /run/netns 2>/dev/null | wc -l) run: $(ls /run | wc -l)"
            echo "mounts: $(( $(wc -l < /proc/self/mountinfo) - mountinfo_before ))"
            # Should any have survived (a failing test), end them (by pid) so they hold nothing.
            for p in $(pgrep -f 'sleep 4242[.]3'); do kill -9 "$p"; done
            """)
        #expect(innerStatus(r) == 5, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("left: 0\n"), "processes of the sandbox survived it: \(r.stdout)")
        #expect(r.stdout.contains("netns: 0 run: 0\n"), "\(r.stdout)")
        #expect(r.stdout.contains("mounts: 0\n"), "\(r.stdout)")
    }

    @Test func aScriptThatFailsToApplyExitsWithTopoSErrorAndCode() throws {
        let r = try nobodySandbox("""
            printf 'ns a\\nveth a:x <-> b:y\\n' | "$TOPO" sandbox - -- echo RAN 2>&1; echo "check=$?"
            TOPO_FAIL_AT=0 "$TOPO" sandbox \(example("veth-pair")) -- echo RAN 2>&1; echo "kernel=$?"
            """)
        #expect(!r.stdout.contains("RAN"), "the command ran although the script failed: \(r.stdout)")
        #expect(r.stdout.contains("<stdin>:2:14: error: unknown namespace `b`"), "\(r.stdout)")
        #expect(r.stdout.contains("check=1\n"))
        #expect(r.stdout.contains("error: cannot create network namespace `ns0`"), "\(r.stdout)")
        #expect(r.stdout.contains("kernel=3\n"))
    }

    /// The suite's kernel work needs no root where user namespaces exist: examples are run,
    /// read back with `ip -j` (against the same golden states as the root tests), re-run and
    /// destroyed inside `topo sandbox` as nobody.
    @Test(arguments: ["veth-pair", "bridge", "routed-chain", "dual-stack"])
    func kernelTestsRunAsNobody(_ name: String) throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        chmod(dir, 0o755)
        let inner = dir + "/inner.sh"
        try writeWholeFile(inner, """
            echo "@@mark before"; \(dumpStateScript)
            echo "@@mark run"; "$TOPO" run \(example(name)) >/dev/null || echo "exit $?"
            echo "@@mark after"; \(dumpStateScript)
            echo "@@mark rerun"; "$TOPO" run \(example(name)) || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy \(example(name)) >/dev/null || echo "exit $?"
            echo "@@mark end"; \(dumpStateScript)

            """)
        chmod(inner, 0o644)
        let r = try nobodySandbox("\"$TOPO\" sandbox -- bash '\(inner)'")
        #expect(innerStatus(r) == 0, "\(r.stderr)")
        var parts: [String: String] = [:]
        var current = ""
        for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("@@mark ") { current = String(line.dropFirst(7)); continue }
            parts[current, default: ""] += line + "\n"
        }
        #expect(!(parts["run"] ?? "").contains("exit "), "topo run failed as nobody: \(parts["run"] ?? "") \(r.stderr)")
        let golden = try String(contentsOf: packageRoot.appendingPathComponent("Tests/TopoCLITests/Fixtures/examples/\(name).state.txt"),
                                encoding: .utf8)
        #expect(normalizeState(parts["after"] ?? "") == golden.split(separator: "\n").map(String.init),
                "the state built as nobody differs from the golden state")
        #expect((parts["rerun"] ?? "").contains("0 changes"))
        #expect(normalizeState(parts["end"] ?? "") == normalizeState(parts["before"] ?? ""))
    }

    /// Inside, the other commands work: show, pingall, repl (on a pipe), and ip netns exec.
    @Test func theOtherToolsWorkInside() throws {
        let r = try nobodySandbox("""
            "$TOPO" sandbox \(example("veth-pair")) -- sh -c '
              "$TOPO" show | head -1
              "$TOPO" pingall \(example("veth-pair")) | tail -1
              printf "ns extra\\n" | "$TOPO" repl >/dev/null 2>&1; ip netns list | grep -c extra
              ip netns exec ns1 ip -br -4 addr show dev veth1 | tr -s " "
            '
            """)
        #expect(innerStatus(r) == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ns ns0\n"))
        #expect(r.stdout.contains("pingall: 2/2 reachable\n"))
        #expect(r.stdout.contains("\n1\n"), "the repl did not create `extra`: \(r.stdout)")
        #expect(r.stdout.contains("veth1@if2 UP 10.0.1.2/24"), "\(r.stdout)")
    }

    /// As root there is no user namespace (the uid map is the initial one), the rest is the same.
    @Test func asRootWithoutAUserNamespace() throws {
        let r = try sandbox("""
            "$TOPO" sandbox \(example("veth-pair")) -- sh -c 'cat /proc/self/uid_map | tr -s " "; ip netns list | cut -d" " -f1 | sort' \
              | grep -v -e ' created, ' -e '^  ' -e answered
            echo "status ${PIPESTATUS[0]}"
            echo "outside: $(ls /run/netns 2>/dev/null | wc -l)"
            """)
        #expect(r.stdout == " 0 0 4294967295\nns0\nns1\nstatus 0\noutside: 0\n", "\(r.stderr)")
    }

    /// Through a pty (a clean signal mask, a controlling terminal): Ctrl-C ends the command
    /// (130) and the sandbox with it; SIGTERM to topo reaches the command (143).
    @Test func signalsPassThrough() throws {
        for (how, expected) in [("ctrl-c", Int32(130)), ("sigterm", Int32(143))] {
            let script = """
                set -e
                mount --make-rprivate /
                mount -t tmpfs tmpfs /run
                exec \(asNobody) '\(topoCopy)' sandbox -- sh -c 'echo inside-ready; sleep 30'
                """
            let pty = try PtySession(arguments: ["--net", "--mount", "/bin/bash", "-c", script], environment: [:],
                                     executable: "/usr/bin/unshare")
            #expect(pty.expect("inside-ready"), "\(how): \(pty.screen)")
            pty.settle(0.3)
            let t0 = monotonicSeconds()
            if how == "ctrl-c" { pty.type("\u{03}") } else { kill(pty.pid, SIGTERM) }
            #expect(pty.waitForExit(timeout: 10) == expected, "\(how)")
            #expect(monotonicSeconds() - t0 < 5)
        }
    }
}
