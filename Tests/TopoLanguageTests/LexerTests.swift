import Testing
@testable import TopoLanguage

/// Token kinds without `.eof`; words and strings shown by their parts.
func kinds(_ text: String) -> [String] {
    let (toks, _) = Lexer.tokenize(src(text))
    return toks.dropLast().map { t in
        switch t.kind {
        case .name(let s): return "name(\(s))"
        case .int(let n): return "int(\(n))"
        case .address(let a): return "addr(\(a))"
        case .prefix(let p): return "prefix(\(p))"
        case .invalid: return "invalid"
        case .word(let parts), .string(let parts):
            let inner = parts.map { p -> String in
                switch p {
                case .text(let s, _): return s
                case .interpolation(let r, _): return "{" + src(text).text(of: r) + "}"
                }
            }.joined(separator: "|")
            if case .word = t.kind { return "word(\(inner))" }
            return "string(\(inner))"
        case .newline: return "NL"
        default: return t.kind.display.replacingOccurrences(of: "`", with: "")
        }
    }
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}

struct LexerTests {
    static let table: [(String, [String])] = [
        ("a<->b", ["name(a)", "<->", "name(b)"]),
        ("h1-eth0 eth0.100 net.ipv4.ip_forward", ["name(h1-eth0)", "name(eth0.100)", "name(net.ipv4.ip_forward)"]),
        ("x-1 x - 1", ["name(x-1)", "name(x)", "-", "int(1)"]),
        ("a- b a-", ["name(a)", "-", "name(b)", "name(a)", "-"]),
        ("10.0.1.1/24 10.0.1.1", ["prefix(10.0.1.1/24)", "addr(10.0.1.1)"]),
        ("fd00::1/64 ::1 dead:beef::1", ["prefix(fd00::1/64)", "addr(::1)", "addr(dead:beef::1)"]),
        ("::ffff:1.2.3.4", ["addr(::ffff:102:304)"]),
        ("ns0:veth0 ab:cd", ["name(ns0)", ":", "name(veth0)", "name(ab)", ":", "name(cd)"]),
        ("1..4", ["int(1)", "..", "int(4)"]),
        ("a # comment\nb", ["name(a)", "NL", "name(b)"]),
        ("<= >= == != = + * / % , : ; ( ) [ ] { }",
         ["<=", ">=", "==", "!=", "=", "+", "*", "/", "%", ",", ":", ";", "(", ")", "[", "]", "{", "}"]),
        ("< > <->", ["<", ">", "<->"]),
        ("h{i}", ["word(h|{i})"]),
        ("h{i}-eth0 10.0.{i}.1/24", ["word(h|{i}|-eth0)", "word(10.0.|{i}|.1/24)"]),
        ("net.ipv4.conf.{d}.forwarding", ["word(net.ipv4.conf.|{d}|.forwarding)"]),
        ("fd00::{i}/64", ["word(fd00::|{i}|/64)"]),
        ("{n}:eth0", ["{", "name(n)", "}", ":", "name(eth0)"]),
        ("\"a\\n\\\"b\"", ["string(a\n\"b)"]),
        ("\"h{i}x\"", ["string(h|{i}|x)"]),
        ("\"\\{x\\}\"", ["string({x})"]),
        ("\"\"", ["string()"]),
        ("else{", ["name(else)", "{"]),
        ("x*2 a+1", ["name(x)", "*", "int(2)", "name(a)", "+", "int(1)"]),
        ("9223372036854775807", ["int(9223372036854775807)"]),
        ("h{f(\"}\")}", ["word(h|{f(\"}\")})"]),
    ]

    @Test(arguments: table)
    func lexes(_ text: String, _ expected: [String]) {
        #expect(kinds(text) == expected)
    }

    static let bad: [(String, Diagnostic.Kind, Int, Int)] = [
        ("a $ b", .unexpectedCharacter, 1, 3),
        ("\"abc", .unterminatedString, 1, 1),
        ("x\n  \"abc\nnext", .unterminatedString, 2, 3),
        ("10.0.0.300", .invalidAddress, 1, 1),
        ("1::2::3", .invalidAddress, 1, 1),
        ("99999999999999999999", .invalidNumber, 1, 1),
        ("h{i", .unclosed, 1, 4),
        ("\"\\q\"", .unexpectedCharacter, 1, 2),
    ]

    @Test(arguments: bad)
    func reports(_ text: String, _ kind: Diagnostic.Kind, _ line: Int, _ col: Int) {
        let (_, d) = Lexer.tokenize(src(text))
        #expect(d.first?.kind == kind)
        #expect(d.first?.range.start.line == line)
        #expect(d.first?.range.start.column == col)
    }

    @Test func continuesAfterErrors() {
        // two stray characters and an unterminated string: three diagnostics, tokens after each
        let (toks, d) = Lexer.tokenize(src("a $ b ` c\n\"x\nd"))
        #expect(d.map(\.kind) == [.unexpectedCharacter, .unexpectedCharacter, .unterminatedString])
        #expect(toks.contains { $0.kind == .name("c") })
        #expect(toks.contains { $0.kind == .name("d") })
    }

    @Test func rangesAreHalfOpen() {
        let (toks, _) = Lexer.tokenize(src("veth  h1-eth0\n  <->"))
        #expect(toks[1].range.start.column == 7)
        #expect(toks[1].range.end.column == 14)
        #expect(toks[1].range.end.offset - toks[1].range.start.offset == 7)
        #expect(toks[3].range.start.line == 2)
        #expect(toks[3].range.start.column == 3)
        #expect(toks[3].range.end.column == 6)
    }
}
