import Testing
@testable import topo

/// The REPL's pure parts: completeness scanner, meta-command parser, completion decisions.
@Suite("REPL pieces")
struct ReplUnitTests {
    @Test(arguments: [
        ("ns a", true),
        ("veth a:x <-> b:y", true),
        ("for i in 1..3 {", false),
        ("for i in 1..3 {\n  ns h{i}\n}", true),
        ("bridge br0 < p1", false),
        ("bridge br0 < p1\n p2 >", true),
        ("ns a < x y", false),
        ("let xs = [1,", false),
        ("let xs = [1,\n 2]", true),
        ("f(a,", false),
        ("exec a \"ls", false),
        ("exec a \"ls {\"", true),
        ("addr a 10.0.0.1/24 # open { in a comment", true),
        ("if i < 3 { ns x }", true),
        ("if i <= 3 {", false),
        ("veth h{i}:eth0 <-> p{i}", true),
        ("}", true),
    ])
    func completeness(_ text: String, _ complete: Bool) {
        #expect(ReplInputScanner.isComplete(text) == complete, "\(text.debugDescription)")
    }

    @Test(arguments: [
        (":help", ReplCommand.help(nil)),
        (":help save", .help("save")),
        ("  :plan  ", .plan),
        (":show", .show(nil)),
        (":show ns0", .show("ns0")),
        (":ping ns1 10.0.1.1", .ping(namespace: "ns1", address: "10.0.1.1")),
        (":undo", .undo),
        (":destroy", .destroy),
        (":save lab.topo", .save("lab.topo")),
        (":load my lab.topo", .load("my lab.topo")),
        (":load \"a b.topo\"", .load("a b.topo")),
        (":reset", .reset),
        (":quit", .quit),
        (":q", .quit),
        (":exit", .quit),
    ])
    func parsesCommands(_ line: String, _ command: ReplCommand) {
        #expect(ReplCommands.parse(line) == .success(command))
    }

    @Test(arguments: [
        (":sav x", ReplCommandError.unknown(":sav", suggestion: ":save")),
        (":pln", .unknown(":pln", suggestion: ":plan")),
        (":frobnicate", .unknown(":frobnicate", suggestion: nil)),
        (":ping ns1", .usage(":ping", usage: ":ping NS ADDR")),
        (":save", .usage(":save", usage: ":save FILE")),
        (":plan now", .usage(":plan", usage: ":plan")),
        (":show a b", .usage(":show", usage: ":show [NS]")),
    ])
    func rejectsBadCommands(_ line: String, _ error: ReplCommandError) {
        #expect(ReplCommands.parse(line) == .failure(error))
    }

    @Test func unknownCommandMessageSuggestsAndPointsAtHelp() {
        let text = ReplCommandError.unknown(":lod", suggestion: ":load").description
        #expect(text == "error: unknown command `:lod`\nhelp: did you mean `:load`?\nhelp: `:help` lists the commands")
    }

    @Test func helpListsEveryCommand() {
        let help = ReplCommands.helpText()
        for name in [":help", ":plan", ":show", ":ping", ":undo", ":destroy", ":save", ":load", ":reset", ":quit"] {
            #expect(help.contains(name), "\(name) missing from :help")
        }
    }

    static let completer = ReplCompleter(
        namespaces: ["ns0", "lab"],
        interfaces: { ns in
            switch ns {
            case "ns0": return ["veth0", "vlan7"]
            case "lab": return ["eth0"]
            case "host": return ["br0"]
            case nil: return ["veth0", "vlan7", "eth0", "br0"]
            default: return []
            }
        },
        liveNamespaces: ["running1"])

    /// `line` with `|` marking the cursor; the word before it is what readline completes.
    static func complete(_ marked: String, continuing: Bool = false) -> ReplCompletion {
        let line = marked.replReplacing("|", with: "")
        let end = Array(marked.utf8).firstIndex(of: UInt8(ascii: "|")) ?? line.utf8.count
        let breaks: Set<UInt8> = Set(" \t\n\"'<>;{}[](),=".utf8)
        let bytes = Array(line.utf8)
        var start = end
        while start > 0, !breaks.contains(bytes[start - 1]) { start -= 1 }
        return completer.complete(line: line, start: start, end: end, continuing: continuing)
    }

    @Test(arguments: [
        ("br|", ReplCompletion.words(["bridge"])),
        ("d|", .words(["def", "down", "dummy"])),
        ("ns a; ve|", .words(["veth"])),
        ("for i in 1..3 { ad|", .words(["addr"])),
        (":s|", .words([":save", ":show"])),
        (":load la|", .filenames),
        (":save |", .filenames),
        (":show l|", .words(["lab"])),
        (":ping r|", .words(["running1"])),
        (":help pl|", .words(["plan"])),
        ("addr ns0:v|", .words(["ns0:veth0", "ns0:vlan7"])),
        ("addr lab:|", .words(["lab:eth0"])),
        ("veth host:b|", .words(["host:br0"])),
        ("addr ve|", .words(["veth0"])),
        ("bridge br1 <vl|", .words(["vlan7"])),
        ("ns ru|", .words(["running1"])),
        ("route ns0 default vi|", .words(["via"])),
        ("route ns0 default v|", .words(["veth0", "via", "vlan7"])),
        ("addr nope:|", .words([])),
    ])
    func completes(_ marked: String, _ expected: ReplCompletion) {
        #expect(Self.complete(marked) == expected, "\(marked)")
    }

    @Test func liveNamespacesAreTheEntriesOfTheNetnsDirectory() throws {
        let dir = try makeTempDirectory()
        defer { removeTree(dir) }
        try writeWholeFile(dir + "/red", "")
        try writeWholeFile(dir + "/blue", "")
        #expect(ReplCompleter.liveNamespaces(directory: dir) == ["blue", "red"])
        #expect(ReplCompleter.liveNamespaces(directory: dir + "/missing") == [])
    }

    @Test func noMetaCommandsInsideABlock() {
        #expect(Self.complete(":s|", continuing: true) == .words([]))
    }

    @Test func fakeEngineLearnsNamesForCompletion() {
        let e = FakeReplEngine()
        _ = e.submit("ns a < x y >")
        _ = e.submit("veth a:v0 <-> b:v1")
        _ = e.submit("bridge br0 < p1 >")
        #expect(e.namespaceNames == ["a", "b"])
        #expect(e.interfaceNames(in: "a") == ["x", "y", "v0"])
        #expect(e.interfaceNames(in: "host") == ["br0", "p1"])
        #expect(!e.submit("ns bad").succeeded)
        #expect(e.statements.count == 3)
        _ = e.undo()
        #expect(e.interfaceNames(in: "host").isEmpty)
    }

    @Test(arguments: [
        (["XDG_STATE_HOME": "/s", "HOME": "/h"], "/s/topo/history"),
        (["XDG_STATE_HOME": "relative", "HOME": "/h"], "/h/.topo_history"),
        (["HOME": "/h"], "/h/.topo_history"),
        ([:], nil as String?),
    ])
    func historyLocation(_ env: [String: String], _ path: String?) {
        #expect(replHistoryPath(environment: env) == path)
    }
}

/// Feeds scripted reads to a `ReplSession`.
final class ScriptedLineSource: ReplLineSource {
    var reads: [ReplLine]
    var remembered: [String] = []
    var continuationFlags: [Bool] = []
    init(_ reads: [ReplLine]) { self.reads = reads }
    func read(continuing: Bool) -> ReplLine {
        continuationFlags.append(continuing)
        return reads.isEmpty ? .endOfInput : reads.removeFirst()
    }
    func remember(_ line: String) { remembered.append(line) }
    func close() {}
}

@Suite("REPL session loop")
struct ReplSessionTests {
    @Test func aPasteOfSeveralLinesIsTakenLineByLine() {
        let engine = FakeReplEngine()
        let source = ScriptedLineSource([.line("ns a\nfor i in 1..2 {\n ns h{i}\n}"), .line(":undo"), .endOfInput])
        let session = ReplSession(engine: engine, interactive: true)
        session.run(source)
        #expect(engine.statements == ["ns a"])          // the block was submitted once, then undone
        #expect(source.remembered == ["ns a", "for i in 1..2 {", " ns h{i}", "}", ":undo"])
        #expect(!session.failed)
    }

    @Test func ctrlCDropsThePendingBlockAndAskedForTheContinuationPrompt() {
        let engine = FakeReplEngine()
        let source = ScriptedLineSource([.line("for i in 1..2 {"), .line("ns h{i}"), .interrupted, .line("ns z"), .endOfInput])
        let session = ReplSession(engine: engine, interactive: true)
        session.run(source)
        #expect(engine.statements == ["ns z"])
        #expect(source.continuationFlags == [false, true, true, false, false])
    }

    @Test func quitStopsReadingAndAFailureIsRemembered() {
        let engine = FakeReplEngine()
        let source = ScriptedLineSource([.line("bad"), .line(":quit"), .line("ns never")])
        let session = ReplSession(engine: engine, interactive: false)
        session.run(source)
        #expect(session.failed)
        #expect(engine.statements.isEmpty)
        #expect(source.reads == [.line("ns never")])
    }
}
