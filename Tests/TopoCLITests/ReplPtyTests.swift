#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The REPL driven through a real pseudo-terminal (and through a pipe), with the fake engine:
/// it answers `ok #N (K lines)` per submitted input and refuses inputs containing `bad`.
@Suite("REPL through a pty", .serialized)
struct ReplPtyTests {
    /// A REPL session in a fresh XDG_STATE_HOME; `history` pre-fills the history file.
    static func start(history: String? = nil, arguments: [String] = []) throws -> (PtySession, String) {
        let dir = try makeTempDirectory()
        if let history {
            _ = mkdir(dir + "/topo", 0o700)
            try writeWholeFile(dir + "/topo/history", history)
        }
        let pty = try PtySession(arguments: ["repl"] + arguments,
                                 environment: ["TOPO_REPL_FAKE_ENGINE": "1", "XDG_STATE_HOME": dir, "HOME": dir])
        #expect(pty.expect("topo> "), "no prompt: \(pty.screen)")
        return (pty, dir)
    }

    @Test func tabCompletesInterfacesNamespacesAndKeywords() throws {
        let (pty, dir) = try Self.start()
        defer { removeTree(dir) }
        pty.type("ns lab\r")
        #expect(pty.expect("ok #1"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("veth lab:veth0 <-> uplink\r")
        #expect(pty.expect("ok #2"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        // NS:IF — the interfaces of that namespace.
        pty.type("addr lab:ve\t")
        #expect(pty.expect("addr lab:veth0 "), "got: \(pty.unread)")
        pty.type("10.0.0.1/24\r")
        #expect(pty.expect("ok #3"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        // A bare interface name.
        pty.type("up upl\t\r")
        #expect(pty.expect("ok #4"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        // A keyword at statement start, and a namespace after :show.
        pty.type("brid\t")
        #expect(pty.expect("bridge "), "got: \(pty.unread)")
        pty.type("\u{15}:show la\t\r")        // Ctrl-U clears the line first
        #expect(pty.expect("lab: veth0"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        // File names after :load.
        try writeWholeFile(dir + "/lab-file.topo", "ns fromfile\n")
        pty.type(":load \(dir)/lab-f\t")
        #expect(pty.expect("lab-file.topo"), "got: \(pty.unread)")
        pty.type("\r")
        #expect(pty.expect("ok #5"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))
        pty.type(":plan\r")
        #expect(pty.expect("3. addr lab:veth0 10.0.0.1/24"), "got: \(pty.unread)")
        #expect(pty.expect("4. up uplink"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 0)
    }

    @Test func upArrowRecallsThePreviousSessionsHistory() throws {
        let (pty, dir) = try Self.start(history: "ns remembered0\n")
        defer { removeTree(dir) }
        pty.type("\u{1B}[A")
        #expect(pty.expect("ns remembered0"), "got: \(pty.unread)")
        pty.type("\r")
        #expect(pty.expect("ok #1"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("ns fresh1\r")
        #expect(pty.expect("ok #2"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type(":plan\r")
        #expect(pty.expect("1. ns remembered0"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 0)
        // This session's lines were appended for the next one.
        let history = readWholeFile(dir + "/topo/history") ?? ""
        #expect(history.contains("ns fresh1"), "history file: \(history)")
    }

    @Test func ctrlCAbandonsAHalfTypedBlock() throws {
        let (pty, dir) = try Self.start()
        defer { removeTree(dir) }
        pty.type("for i in 1..3 {\r")
        #expect(pty.expect("....> "))
        pty.type("  ns h{i}\r")
        #expect(pty.expect("....> "))
        pty.type("  veth h{i}:eth0 <-> p{i}")
        pty.type("\u{03}")
        #expect(pty.expect("topo> "), "no fresh prompt after Ctrl-C: \(pty.unread)")
        pty.type("ns after\r")
        #expect(pty.expect("ok #1 (1 line)"), "the abandoned block leaked: \(pty.unread)")
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type(":plan\r")
        #expect(pty.expect("1. ns after"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.settle()
        #expect(!pty.screen.contains("ok #2"))
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 0)   // Ctrl-C is not a failure and does not end the shell
    }

    @Test func anErrorIsReportedAndTheSessionGoesOn() throws {
        let (pty, dir) = try Self.start()
        defer { removeTree(dir) }
        pty.type("ns a\r")
        #expect(pty.expect("ok #1"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("ns bad\r")
        #expect(pty.expect("error: the fake engine refuses `bad`"))
        #expect(pty.expect("1 | ns bad"))
        #expect(pty.expect("^^^"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type(":sav\r")
        #expect(pty.expect("did you mean `:save`?"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("ns b\r")
        #expect(pty.expect("ok #2"))
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 1)    // a statement failed
    }

    @Test func aMultiLineBlockIsSubmittedOnceWhenItCloses() throws {
        let (pty, dir) = try Self.start()
        defer { removeTree(dir) }
        pty.type("for i in 1..3 {\r")
        #expect(pty.expect("....> "))
        pty.type("  ns h{i}\r")
        #expect(pty.expect("....> "))
        pty.type("  bridge br{i} < p{i}\r")
        #expect(pty.expect("....> "))
        pty.type("  >\r")
        #expect(pty.expect("....> "))
        pty.type("}\r")
        #expect(pty.expect("ok #1 (5 lines)"), "got: \(pty.unread)")
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.settle()
        #expect(!pty.screen.contains("ok #2"))
        pty.type(":quit\r")
        #expect(pty.waitForExit() == 0)
    }

    @Test func ctrlDOnAnEmptyLineExitsQuietly() throws {
        let (pty, dir) = try Self.start()
        defer { removeTree(dir) }
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 0)
        #expect(!pty.screen.contains("error"))
    }

    @Test func aFileIsLoadedFirst() throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        try writeWholeFile(dir + "/lab.topo", "ns preloaded\nveth preloaded:eth0 <-> x0\n")
        let (pty, state) = try Self.start(arguments: [dir + "/lab.topo"])
        defer { removeTree(state) }
        pty.type(":show preloaded\r")
        #expect(pty.expect("preloaded: eth0"), "got: \(pty.screen)")
        #expect(pty.expect("topo> "))   // wait for the prompt: keys typed before it are type-ahead
        pty.type("\u{04}")
        #expect(pty.waitForExit() == 0)
    }

    @Test func withoutATerminalLinesAreReadPlainly() throws {
        let env = ["TOPO_REPL_FAKE_ENGINE": "1", "XDG_STATE_HOME": "/nonexistent-topo-test"]
        let bad = try runWithPipe(["repl"], input: "ns a\nfor i in 1..2 {\n  ns h{i}\n}\nns bad\nns b\n", environment: env)
        #expect(bad.code == 1)
        #expect(bad.stdout == "ok #1 (1 line)\nok #2 (3 lines)\nok #3 (1 line)\n")
        #expect(!bad.stdout.contains("topo>") && !bad.stdout.contains("....>"))
        #expect(!bad.stdout.contains("\u{1B}") && !bad.stderr.contains("\u{1B}"))
        #expect(bad.stderr.contains("refuses `bad`"))

        let good = try runWithPipe(["repl"], input: "ns a\n:plan\n", environment: env)
        #expect(good.code == 0)
        #expect(good.stdout == "ok #1 (1 line)\n1. ns a\n")
        #expect(good.stderr.isEmpty)
    }

    @Test func withoutATerminalAnOpenBlockAtTheEndIsAnError() throws {
        let env = ["TOPO_REPL_FAKE_ENGINE": "1"]
        let r = try runWithPipe(["repl"], input: "for i in 1..2 {\n  ns h{i}\n", environment: env)
        #expect(r.code == 1)
        #expect(r.stderr.contains("open block"))
    }
}
