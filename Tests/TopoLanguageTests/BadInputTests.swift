import Testing
@testable import TopoLanguage

extension String {
    /// How many times `s` occurs.
    func components(_ s: String) -> Int { ranges(of: s).count }
}

/// One row per bad input: the first diagnostic's kind, line and column.
struct BadInputTests {
    static let rows: [(String, Diagnostic.Kind, Int, Int)] = [
        // parse errors
        ("veth a <->", .expected, 1, 11),
        ("veth a b", .expected, 1, 8),
        ("veth <-> b", .expected, 1, 6),
        ("brige br0 < p1 >", .unknownStatement, 1, 1),
        ("ns a < b c", .unclosed, 1, 11),
        ("ns a < b\nveth x <-> y", .unclosed, 2, 1),
        ("bridge br0 < p1 p2", .unclosed, 1, 19),
        ("addr a", .expected, 1, 7),
        ("addr a 10.0.0.256/24", .invalidAddress, 1, 8),
        ("addr a 10.0.0.1/33", .invalidAddress, 1, 8),
        ("ping h1 fd00:::1", .invalidAddress, 1, 9),
        ("let x = 99999999999999999999", .invalidNumber, 1, 9),
        ("ns \"abc", .unterminatedString, 1, 4),
        ("ns a $", .unexpectedCharacter, 1, 6),
        ("for i in 1..3 {\n ns h{i}\n", .unclosed, 3, 1),
        ("for i 1..3 { }", .expected, 1, 7),
        ("for i in 1..3\n{ }", .expected, 1, 14),
        ("if x == 1 { ns a } els { ns b }", .expected, 1, 20),
        ("else { ns a }", .unexpectedToken, 1, 1),
        ("def f(a, { }", .unclosed, 1, 10),
        ("def ns() { }", .unexpectedToken, 1, 5),
        ("let = 3", .expected, 1, 5),
        ("let x 3", .expected, 1, 7),
        ("let x = (1 + 2", .unclosed, 1, 15),
        ("let x = [1, 2", .unclosed, 1, 14),
        ("let x = 1 +", .expected, 1, 12),
        ("route ns0 10.0.0.0/24", .expected, 1, 22),
        ("route ns0 default gw 10.0.0.1", .expected, 1, 19),
        ("veth a <-> b mut 9000", .expected, 1, 14),
        ("sysctl ns0 net.ipv4.ip_forward 1", .expected, 1, 32),
        ("ns h{", .unclosed, 1, 6),
        ("ns h{}", .expected, 1, 5),
        ("}", .unexpectedToken, 1, 1),
        ("ns a\n  10.0.0.1", .unexpectedToken, 2, 3),
        ("exec ns0", .expected, 1, 9),
        ("ping ns0 10.0.0.1 count", .expected, 1, 24),
        ("mtu eth0", .expected, 1, 9),
        ("up", .expected, 1, 3),
        ("let s = \"a\\qb\"", .unexpectedCharacter, 1, 11),
        ("ns 1abc", .invalidNumber, 1, 4),
        ("veth a <-> b mtu 1500 mtu 9000", .unexpectedToken, 1, 23),
        ("let x = 1 < 2 < 3", .expected, 1, 15),
        ("ns a, b < x >", .unexpectedToken, 1, 9),
        ("ns h{1 +}", .expected, 1, 9),
        // evaluation errors
        ("let x = y", .undefinedVariable, 1, 9),
        ("let x = 4611686018427387904 * 4", .overflow, 1, 9),
        ("let x = 1 / 0", .divisionByZero, 1, 9),
        ("let x = 5 % 0", .divisionByZero, 1, 9),
        ("let x = -9223372036854775807 - 2", .overflow, 1, 9),
        ("let m = -9223372036854775807 - 1\nlet x = m / -1", .overflow, 2, 9),
        ("let x = -(-9223372036854775807 - 1)", .overflow, 1, 9),
        ("addr a 10.0.0.1", .typeMismatch, 1, 8),
        ("mtu a \"big\"", .typeMismatch, 1, 7),
        ("let x = cidrhost(10.0.0.0/24, 256)", .invalidArgument, 1, 31),
        ("let x = cidrsubnet(10.0.0.0/16, 20, 1)", .invalidArgument, 1, 33),
        ("let x = cidrsubnet(10.0.0.0/16, 8, 256)", .invalidArgument, 1, 36),
        ("let x = len(1)", .typeMismatch, 1, 13),
        ("let x = cidrhost(10.0.0.0/24)", .wrongArgumentCount, 1, 9),
        ("let x = cidrhots(10.0.0.0/24, 1)", .unknownFunction, 1, 9),
        ("pair(1, 2)", .unknownFunction, 1, 1),
        ("def f(a) { ns {a} }\nf(1, 2)", .wrongArgumentCount, 2, 1),
        ("def f() { f() }\nf()", .recursionLimit, 1, 11),
        ("for i in 5 { }", .typeMismatch, 1, 10),
        ("if 1 { }", .typeMismatch, 1, 4),
        ("let l = [1, 2]\nns h{l}", .invalidInterpolation, 2, 5),
        ("for i in 1..10000000000 { }", .stepLimit, 1, 10),
        ("let x = 1 == \"a\"", .typeMismatch, 1, 9),
        ("let x = 1 + \"a\"", .typeMismatch, 1, 9),
        ("let x = not 1", .typeMismatch, 1, 9),
        ("let x = 255.255.255.255 + 1", .overflow, 1, 9),
        ("let i = 1\nlet x = i-1", .undefinedVariable, 2, 9),
        ("route ns0 \"x\" via 10.0.0.1", .typeMismatch, 1, 11),
        ("ping h1 \"nope\"", .typeMismatch, 1, 9),
        ("exec h1 5", .typeMismatch, 1, 9),
        ("let p = 10.0.{300}.1/24", .invalidAddress, 1, 9),
        ("def t() { ns a }\nlet x = t()", .typeMismatch, 2, 9),
        ("len([1])", .unknownFunction, 1, 1),
        ("let x = 1..\"a\"", .typeMismatch, 1, 12),
        ("for i in 1..3 { ns h{j} }", .undefinedVariable, 1, 22),
        // limits: every nested expression and every operator of a chain counts
        ("let x = 1" + String(repeating: "+1", count: 10_000), .recursionLimit, 1, 406),
        ("let x = 1" + String(repeating: " * 2", count: 300), .recursionLimit, 1, 803),
        ("let x = true" + String(repeating: " and true", count: 300), .recursionLimit, 1, 1796),
        ("let x = " + String(repeating: "(", count: 300), .recursionLimit, 1, 209),
        ("let x = " + String(repeating: "[", count: 300), .recursionLimit, 1, 209),
        ("let x = " + String(repeating: "not ", count: 300) + "true", .recursionLimit, 1, 809),
        ("let x = " + String(repeating: "-", count: 300) + "1", .recursionLimit, 1, 209),
        ("let x = " + String(repeating: "len(", count: 300), .recursionLimit, 1, 809),
        ("ns h" + String(repeating: "{\"", count: 300) + "x" + String(repeating: "\"}", count: 300), .recursionLimit, 1, 205),
        (String(repeating: "if true {", count: 300), .recursionLimit, 1, 1804),
        (String(repeating: "if true {", count: 150) + "let x = 1" + String(repeating: "+1", count: 60), .recursionLimit, 1, 1456),
        ("def f(n) { if true { if true { f(n) } } }\nf(1)", .recursionLimit, 1, 22),
        // byte hygiene
        ("ns a\u{0}b", .unexpectedCharacter, 1, 5),
        ("ns a\u{1B}[31m", .unexpectedCharacter, 1, 5),
        ("ns \"a\u{1B}[2Jb\"", .unexpectedCharacter, 1, 6),
        ("exec h \"\u{202E}fdp\"", .unexpectedCharacter, 1, 9),
        ("exec h \"a\u{0}\"", .unexpectedCharacter, 1, 10),
        ("ns a # \u{0} in a comment", .unexpectedCharacter, 1, 8),
        ("ns " + String(repeating: "$", count: 100_000), .unexpectedCharacter, 1, 4),
        ("ns \u{85}a", .unexpectedCharacter, 1, 4),
    ]

    @Test(arguments: rows)
    func reports(_ text: String, _ kind: Diagnostic.Kind, _ line: Int, _ col: Int) {
        let d = run(text).diagnostics.first
        #expect(d?.kind == kind, "\(d?.message ?? "no diagnostic")")
        #expect(d?.range.start.line == line)
        #expect(d?.range.start.column == col)
        #expect(d?.severity == .error)
    }


    /// Inputs that are not valid UTF-8 (a Swift string cannot hold them).
    static let byteRows: [([UInt8], Diagnostic.Kind, Int, Int)] = [
        (Array("ns a".utf8) + [0xFF] + Array("b".utf8), .unexpectedCharacter, 1, 5),
        (Array("ns a\nns b".utf8) + [0xC3], .unexpectedCharacter, 2, 5),
        (Array("ns \"a".utf8) + [0xC0, 0x80] + Array("\"".utf8), .unexpectedCharacter, 1, 6),  // overlong NUL
        (Array("ns \"".utf8) + [0xED, 0xA0, 0x80] + Array("\"".utf8), .unexpectedCharacter, 1, 5),  // a surrogate
        (Array("ns \"".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("\"".utf8), .unexpectedCharacter, 1, 5),  // > U+10FFFF
        (Array("# ".utf8) + [0xFE] + Array("\nns a".utf8), .unexpectedCharacter, 1, 3),
    ]

    @Test(arguments: byteRows)
    func reportsBytes(_ bytes: [UInt8], _ kind: Diagnostic.Kind, _ line: Int, _ col: Int) {
        let d = parseScript(SourceFile(name: "t.topo", bytes: bytes)).diagnostics.first
        #expect(d?.kind == kind, "\(d?.message ?? "no diagnostic")")
        #expect(d?.range.start.line == line)
        #expect(d?.range.start.column == col)
    }

    @Test func columnsStayRightAfterInvalidBytes() {
        // `ns a`, two invalid bytes, then `b` at byte column 7: the bytes are not replaced by
        // U+FFFD (three bytes each) before lexing, so positions after them are exact.
        let file = SourceFile(name: "t.topo", bytes: Array("ns a".utf8) + [0xFF, 0xFE] + Array("b c".utf8))
        let ds = parseScript(file).diagnostics
        #expect(ds.map(\.range.start.column) == [5, 7])
        #expect(ds[0].message == "2 invalid UTF-8 bytes `\\xff\\xfe`")
        let text = DiagnosticRenderer().render(ds[1], in: file)
        #expect(text == """
            t.topo:1:7: error: expected end of statement (a newline or `;`), found `b`
              1 | ns a\\xff\\xfeb c
                |             ^
            """)
    }

    @Test func invalidBytesNeverMakeANameValid() {
        // Two scripts that differ only in an invalid byte inside a quoted name: neither is
        // accepted (as a String, both bytes would have become U+FFFD, the same name).
        for b: UInt8 in [0xFE, 0xFF] {
            let c = compile(SourceFile(name: "t.topo", bytes: Array("ns \"a".utf8) + [b] + Array("\"".utf8)))
            #expect(c.hasErrors)
        }
    }

    @Test func operatorChainsUpToTheBudgetEvaluate() {
        let r = run("let x = 1" + String(repeating: "+1", count: 198) + "\nns h{x}")
        #expect(r.diagnostics.isEmpty)
        #expect(r.statements.map { show($0.declaration) } == ["ns h199"])
    }

    @Test func diagnosticsAreBoundedAndCounted() {
        // 5 000 unknown statements: 100 kept, 4 900 counted.
        let text = String(repeating: "nope\n", count: 5_000)
        let p = parseScript(src(text))
        #expect(p.diagnostics.count == DiagnosticLimiter.keep)
        #expect(p.omitted == OmittedDiagnostics(errors: 4_900))
        let c = compile(src(text))
        #expect(c.hasErrors)
        let rendered = DiagnosticRenderer().render(c.diagnostics, in: c.file, omitted: c.omitted)
        #expect(rendered.hasSuffix("\n… and 4900 more errors"))
        #expect(rendered.components("error: unknown statement") == DiagnosticRenderer.maxShown)
    }

    @Test func parsingStopsAfterTooManyErrors() {
        let p = parseScript(src(String(repeating: "nope\n", count: 20_000)))
        #expect(p.diagnostics.count == DiagnosticLimiter.keep + 1)
        #expect(p.omitted.errors == Parser.maxErrors - DiagnosticLimiter.keep)
        let last = p.diagnostics.last
        #expect(last?.kind == .errorLimit)
        #expect(last?.range.start.line == Parser.maxErrors + 1)
    }

    @Test func tokenBudget() {
        let p = parseScript(src("let x = [" + String(repeating: "1,", count: Parser.maxTokens / 2 + 10) + "]"))
        let d = p.diagnostics.first { $0.kind == .inputLimit }
        #expect(d?.message == "the script has more than \(Parser.maxTokens) tokens; parsing stopped here")
        #expect(p.diagnostics.count == 1)
        #expect(p.script.statements.isEmpty)
    }

    @Test func warningsNeverCrowdOutErrors() {
        var l = DiagnosticLimiter()
        for _ in 0..<500 { _ = l.admit(.warning) }
        let kept = l.admit(.error)
        #expect(kept)
        #expect(l.omitted == OmittedDiagnostics(warnings: 400))
    }

    @Test func scopesThatRanADefAreFreed() throws {
        // A template must not hold the scope that holds it (the cycle leaked every loop body
        // that ran a `def`: 858 MB for 2 million).
        let def = parseScript(src("def f(x) { ns h{x} }")).script.statements[0]
        weak var freed: Scope?
        let evaluator = Evaluator()
        do {
            let scope = Scope(parent: evaluator.globals)
            freed = scope
            try evaluator.exec(def, in: scope)
            #expect(scope.lookupTemplate("f") != nil)
        }
        #expect(freed == nil)
    }

    @Test func templatesDefinedInLoopsStillWork() {
        let r = run("for i in 1..2 {\n def t(n) { ns h{i}x{n} }\n t(i)\n}")
        #expect(r.diagnostics.isEmpty)
        #expect(r.statements.map { show($0.declaration) } == ["ns h1x1", "ns h2x2"])
    }

    /// Nothing from a script reaches a terminal raw: no byte below 0x20 but the newlines.
    static func isTerminalSafe(_ s: String) -> Bool {
        !s.utf8.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }
            && !s.unicodeScalars.contains { (0x80...0x9F).contains($0.value) || (0x202A...0x202E).contains($0.value) }
    }

    @Test func rendererEscapesWhatTheScriptHolds() {
        let file = SourceFile(name: "t\u{1B}]0;x\u{7}.topo",
                              bytes: Array("ns \"\u{1B}[2J\u{202E}\"  # \u{1B}[31m red\u{9B}31m\tx ".utf8) + [0xFF] + Array(" \r\n".utf8))
        let ds = parseScript(file).diagnostics
        #expect(!ds.isEmpty)
        let out = DiagnosticRenderer().render(ds, in: file)
        #expect(Self.isTerminalSafe(out), "\(out)")
        #expect(out.contains("\\u{1b}[2J"))
        #expect(out.contains("\\u{202e}"))
        #expect(out.contains("\\xff"))
        #expect(out.hasPrefix("t\\u{1b}]0;x\\u{7}.topo:1:5: error: control character `\\u{1b}` in a string\n"))
        // A message that embeds script text is escaped too.
        let d = Diagnostic.error(.other, "unknown interface `a\u{1B}[0m`", at: ds[0].range, help: "not `\u{7}`")
        let one = DiagnosticRenderer(style: .short).render(d, in: file)
        #expect(Self.isTerminalSafe(one))
        #expect(one.hasSuffix("error: unknown interface `a\\u{1b}[0m` (help: not `\\u{7}`)"))
    }

    @Test func caretsStayUnderTheirCharactersAfterEscapesAndTabs() {
        let file = SourceFile(name: "t.topo", text: "ns \"\u{1B}\"\t$")
        let ds = parseScript(file).diagnostics
        #expect(ds.map(\.range.start.column) == [5, 8])
        #expect(DiagnosticRenderer().render(ds[1], in: file) == """
            t.topo:1:8: error: unexpected character `$`
              1 | ns "\\u{1b}"    $
                |                ^
            """)
    }

    @Test func longLinesAreShownAsAWindow() {
        let line = "ns " + String(repeating: "a", count: 1_000_000) + " $ " + String(repeating: "b", count: 1_000_000)
        let file = src(line)
        let ds = parseScript(file).diagnostics
        let d = ds.first { $0.kind == .unexpectedCharacter }!
        let out = DiagnosticRenderer().render(d, in: file)
        #expect(out.utf8.count < 3 * DiagnosticRenderer.maxLineWidth + 200)
        let lines = out.split(separator: "\n")
        // the caret is under the `$`
        let text = Array(lines[1]), caret = Array(lines[2])
        let at = caret.firstIndex(of: "^")!
        #expect(text[at] == "$")
        #expect(text.last == "…")
    }

    @Test func longMessagesAreCut() {
        let d = Diagnostic.error(.other, String(repeating: "x", count: 10_000), at: .none)
        let out = DiagnosticRenderer(style: .short).render(d, in: src(""))
        #expect(out.count < DiagnosticRenderer.maxMessageLength + 100)
        #expect(out.hasSuffix("…"))
    }

    @Test func helpForSubtractionWrittenAsName() {
        let d = run("let i = 1\nlet x = i-1").diagnostics.first
        #expect(d?.help == "`i-1` is one name (a `-` between letters or digits joins a name); write `i - 1` to subtract")
    }

    @Test func renderedDiagnostic() {
        let file = src("ns a\nbridge br0 < p1 p2\n")
        let r = parseScript(file)
        let text = DiagnosticRenderer().render(r.diagnostics[0], in: file)
        #expect(text.hasPrefix("t.topo:3:1: error: `>` expected (to close `<` at 2:12)\n"))
    }
}
