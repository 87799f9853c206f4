#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The REPL with its real engine, through a pty, inside a throwaway `unshare --net --mount`
/// sandbox; the kernel state is judged with iproute2 (`ip -j`), never by topo itself.
@Suite("REPL live, in a sandbox", .serialized, .enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ReplLiveTests {
    @Test func sessionAppliesLiveAndSaveRebuildsTheSameState() throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        let saved = dir + "/session.topo"
        let script = """
            set -e
            mount --make-rprivate /
            mount -t tmpfs tmpfs /run
            ip link set lo up
            '\(topoBinary)' repl || echo "repl exit $?" > '\(dir)/exit.txt'
            { \(dumpStateScript) } > '\(dir)/state.txt'
            """
        let pty = try PtySession(arguments: ["--net", "--mount", "/bin/bash", "-c", script],
                                 environment: ["XDG_STATE_HOME": dir, "HOME": dir],
                                 executable: "/usr/bin/unshare")
        #expect(pty.expect("topo> "), "no prompt: \(pty.screen)")
        pty.type("ns lab\r")
        #expect(pty.expect("1 created, 0 changed, 0 removed"), "got: \(pty.unread)")       // the namespace
        #expect(pty.expect("topo> "))
        pty.type("ns peer; veth lab:veth0 <-> peer:veth1\r")
        #expect(pty.expect("2 created"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        // Tab completes `NS:` followed by the interfaces in that namespace…
        pty.type("addr peer:ve\t")
        #expect(pty.expect("addr peer:veth1 "), "got: \(pty.unread)")
        pty.type("10.7.0.2/24\r")
        #expect(pty.expect("+ peer:veth1: address 10.7.0.2/24"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        // A mistake is reported with its caret; nothing is applied; the next statement goes through.
        pty.type("addr lab:vth0 10.7.0.1/24\r")
        #expect(pty.expect("unknown interface `lab:vth0`"), "got: \(pty.unread)")
        #expect(pty.expect("did you mean `lab:veth0`?"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        pty.type("addr lab:veth0 10.7.0.1/24\r")
        #expect(pty.expect("+ lab:veth0: address 10.7.0.1/24"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        // A multi-line block is applied once, when it closes.
        pty.type("for i in 1..2 {\r")
        #expect(pty.expect("....> "), "got: \(pty.unread)")
        pty.type("  ns h{i}\r")
        #expect(pty.expect("....> "), "got: \(pty.unread)")
        pty.type("}\r")
        #expect(pty.expect("2 created, 0 changed, 0 removed"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        // …and a namespace name.
        pty.type("ping la\t")
        #expect(pty.expect("ping lab "), "got: \(pty.unread)")
        pty.type("10.7.0.2\r")
        #expect(pty.expect("1/1 answered"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        pty.type(":save \(saved)\r")
        #expect(pty.expect("saved"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        pty.type("\u{04}")
        let status = pty.waitForExit(timeout: 30)
        #expect(status == 0, "exit \(String(describing: status)): \(pty.screen)")
        // The REPL failed one statement, so it exits 1 — recorded by the sandbox script.
        #expect(readWholeFile(dir + "/exit.txt")?.contains("repl exit 1") == true)

        let live = normalizeState(readWholeFile(dir + "/state.txt") ?? "")
        #expect(live.contains("link lab:veth0 veth up mtu=1500 peer=peer:veth1"), "\(live)")
        #expect(live.contains("addr lab:veth0 10.7.0.1/24"))
        #expect(live.contains("ns h2 forward=0/0"))
        #expect(!live.contains { $0.contains("10.7.0.1/24") && $0.contains("vth0") })

        // The saved script is accepted by `topo run` and rebuilds the same state.
        let rebuilt = try sandbox("\"$TOPO\" run '\(saved)' >&2\n" + dumpStateScript)
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)\n\(readWholeFile(saved) ?? "")")
        #expect(normalizeState(rebuilt.stdout) == live)
    }

    /// Piped input, the real engine: `:destroy` removes what the session built and empties
    /// the session, so the next input builds only itself; `:undo` removes the last input.
    @Test func destroyAndUndoThroughAPipe() throws {
        let r = try sandbox("""
            printf 'ns a\\nveth a:x <-> y\\n:destroy\\nns b\\nns c\\n:undo\\n' | "$TOPO" repl >&2
            \(dumpStateScript)
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let state = normalizeState(r.stdout)
        #expect(state.contains("ns b forward=0/0"), "\(state)")
        #expect(!state.contains { $0.hasPrefix("ns a ") || $0.hasPrefix("ns c ") || $0.contains("host:y") }, "\(state)")
    }
}
