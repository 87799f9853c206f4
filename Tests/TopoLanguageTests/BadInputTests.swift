import Testing
@testable import TopoLanguage

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
    ]

    @Test(arguments: rows)
    func reports(_ text: String, _ kind: Diagnostic.Kind, _ line: Int, _ col: Int) {
        let d = run(text).diagnostics.first
        #expect(d?.kind == kind, "\(d?.message ?? "no diagnostic")")
        #expect(d?.range.start.line == line)
        #expect(d?.range.start.column == col)
        #expect(d?.severity == .error)
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
