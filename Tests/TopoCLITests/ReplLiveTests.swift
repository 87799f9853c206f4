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

/// The REPL edits a live topology (LANGUAGE.md §10), through a pipe, judged by `ip -j`.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ReplEditTests {
    /// Latest wins for attributes; `no` of each kind; a failed ping keeps what it applied;
    /// `:save` + `topo destroy` of the saved file leaves nothing behind.
    @Test func editsConvergeTheKernel() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let saved = dir + "/saved.topo"
        let input = [
            "ns a, b, c",
            "veth a:e0 <-> b:e0",
            "veth a:e1 <-> c:e0",
            "bridge b:br0 < e0 >",
            "veth b:p3 <-> c:p3",
            "bridge b:br0 < p3 >",
            "addr a:e0 10.0.0.1/24, 10.0.0.9/24",
            "addr b:br0 10.0.0.2/24",
            "route a default via 10.0.0.2",
            "forward b",
            "down a:e0", "up a:e0",
            "mtu a:e1 1400", "mtu a:e1 1300",
            "ping a 10.0.0.99",               // fails: stays in the session and the kernel
            "addr c:e0 10.5.0.1/24",
            "no addr a:e0 10.0.0.9/24",
            "no route a default",
            "no bridge br0 < p3 >",
            "no forward b",
            "no veth a:e1",
            "no ns c",
            ":save \(saved)",
        ].joined(separator: "\n") + "\n"
        try input.write(toFile: dir + "/in.txt", atomically: true, encoding: .utf8)
        let r = try sandbox("""
            "$TOPO" repl < '\(dir)/in.txt' > '\(dir)/out.txt' 2>&1 || echo "repl exit $?" >> '\(dir)/out.txt'
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark saved"; cat '\(saved)'
            echo "@@mark check"; "$TOPO" check '\(saved)' 2>&1 || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy '\(saved)' 2>&1 || echo "exit $?"
            echo "@@mark end"; ls -A /run/netns; ip -o link | wc -l
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let out = (try? String(contentsOfFile: dir + "/out.txt", encoding: .utf8)) ?? ""
        let p = parts(r.stdout)
        let state = normalizeState(p["state"] ?? "")
        #expect(out.contains("repl exit 1"), "the failed ping must make the session exit 1: \(out)")
        #expect(out.contains("~ a:e0: up → down") && out.contains("~ a:e0: down → up"), "\(out)")
        #expect(out.contains("~ a:e1: mtu 1400 → 1300"), "\(out)")
        #expect(state.contains("link a:e0 veth up mtu=1500 peer=b:e0"), "\(state)")
        #expect(state.contains("addr a:e0 10.0.0.1/24") && !state.contains("addr a:e0 10.0.0.9/24"), "\(state)")
        #expect(!state.contains { $0.hasPrefix("route a ") }, "\(state)")
        #expect(state.contains("link b:e0 veth up mtu=1500 master=br0 peer=a:e0"), "\(state)")
        #expect(!state.contains { $0.contains("b:p3") && $0.contains("master") }, "\(state)")
        #expect(state.contains("ns b forward=0/0"), "\(state)")
        #expect(!state.contains { $0.hasPrefix("ns c ") || $0.contains("a:e1") }, "\(state)")
        let script = p["saved"] ?? ""
        #expect(!script.contains("no ") && !script.contains("10.0.0.9") && !script.contains("ns c"), "\(script)")
        #expect(!(p["check"] ?? "").contains("exit"), "the saved script must check: \(p["check"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit"), "\(p["destroy"] ?? "")")
        #expect((p["end"] ?? "").split(separator: "\n") == ["1"], "destroy of the saved file left: \(p["end"] ?? "")")
    }

    /// `:edit` opens the session in $EDITOR (a script that edits the file here) and converges
    /// to what is saved; `:undo` puts back what the last input changed, not only what it made.
    @Test func editAndUndo() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let editor = dir + "/editor.sh"
        try """
            #!/bin/sh
            # Renumber a:e0 and drop namespace z.
            sed -i -e 's#10.0.0.1/24#10.0.0.7/24#' -e '/^ns z$/d' "$1"
            """.write(toFile: editor, atomically: true, encoding: .utf8)
        chmod(editor, 0o755)
        let input = "ns a, b, z\nveth a:e0 <-> b:e0\naddr a:e0 10.0.0.1/24\n:edit\nmtu b:e0 1400\n:undo\n"
        let r = try sandbox("""
            printf '\(input.replacingOccurrences(of: "\n", with: "\\n"))' | EDITOR='\(editor)' "$TOPO" repl 2>&1
            echo "@@mark state"; \(dumpStateScript)
            """)
        let p = parts(r.stdout)
        let state = normalizeState(p["state"] ?? "")
        #expect(state.contains("addr a:e0 10.0.0.7/24") && !state.contains("addr a:e0 10.0.0.1/24"), "\(state) \(p[""] ?? "")")
        #expect(!state.contains { $0.hasPrefix("ns z ") }, "\(state)")
        #expect(state.contains("link b:e0 veth up mtu=1500 peer=a:e0"), ":undo did not restore the mtu: \(state)")
    }
}
