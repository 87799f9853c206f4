import Testing
@testable import TopoLanguage

/// A test-side S-expression of the tree, to compare with hand-written text.
func sx(_ s: Stmt) -> String {
    func n(_ x: NameSyntax) -> String {
        (x.quoted ? "\"" : "") + x.parts.map { p -> String in
            switch p { case .text(let t, _): return t; case .interpolation(let e, _): return "{\(ex(e))}" }
        }.joined() + (x.quoted ? "\"" : "")
    }
    func i(_ x: InterfaceSyntax) -> String { (x.namespace.map { n($0) + ":" } ?? "") + n(x.name) }
    func o(_ k: String, _ e: Expr?) -> String { e.map { " \(k)=\(ex($0))" } ?? "" }
    func b(_ l: [Stmt]) -> String { "{" + l.map(sx).joined(separator: " ") + "}" }
    switch s {
    case .ns(let ns, let placed, _):
        return "(ns \(ns.map(n).joined(separator: ",")))" + (placed.isEmpty ? "" : "<\(placed.map(i).joined(separator: " "))>")
    case .veth(let a, let c, let mtu, let sh, _): return "(veth \(i(a)) \(i(c))\(o("mtu", mtu))\(sh.map { " \($0.key.rawValue)=\(ex($0.value))" }.joined()))"
    case .tc(let d, let sh, _): return "(tc \(i(d))\(sh.map { " \($0.key.rawValue)=\(ex($0.value))" }.joined()))"
    case .vlan(let d, let l, let id, let p, let mtu, _):
        return "(vlan \(i(d)) link=\(i(l)) id=\(ex(id))\(p.map { " protocol=" + n($0) } ?? "")\(o("mtu", mtu)))"
    case .macvlan(let d, let l, let m, let mtu, _):
        return "(macvlan \(i(d)) link=\(i(l))\(m.map { " mode=" + n($0) } ?? "")\(o("mtu", mtu)))"
    case .ipvlan(let d, let l, let m, let mtu, _):
        return "(ipvlan \(i(d)) link=\(i(l))\(m.map { " mode=" + n($0) } ?? "")\(o("mtu", mtu)))"
    case .vxlan(let d, let x, _):
        return "(vxlan \(i(d)) id=\(ex(x.id))\(o("remote", x.remote))\(o("group", x.group))\(o("local", x.local))"
            + "\(x.link.map { " link=" + i($0) } ?? "")\(o("port", x.port))\(o("ttl", x.ttl))\(o("mtu", x.mtu)))"
    case .vrf(let d, let t, let ports, let mtu, _):
        return "(vrf \(i(d)) table=\(ex(t)) <\(ports.map(i).joined(separator: " "))>\(o("mtu", mtu)))"
    case .daemon(let ns, let c, _): return "(daemon \(n(ns)) \(ex(c)))"
    case .bridge(let br, let ports, let mtu, _): return "(bridge \(i(br)) <\(ports.map(i).joined(separator: " "))>\(o("mtu", mtu)))"
    case .dummy(let d, let mtu, _): return "(dummy \(i(d))\(o("mtu", mtu)))"
    case .addr(let d, let l, _): return "(addr \(i(d)) \(l.map(ex).joined(separator: " ")))"
    case .linkState(let l, let up, _): return "(\(up ? "up" : "down") \(l.map(i).joined(separator: " ")))"
    case .mtu(let d, let m, _): return "(mtu \(i(d)) \(ex(m)))"
    case .route(let ns, let dest, let via, let dev, let metric, let table, _):
        let d: String
        switch dest { case .default: d = "default"; case .prefix(let e): d = ex(e) }
        return "(route \(n(ns)) \(d)\(o("via", via))\(dev.map { " dev=" + i($0) } ?? "")\(o("metric", metric))\(o("table", table)))"
    case .forward(let ns, _): return "(forward \(n(ns)))"
    case .sysctl(let ns, let k, let v, _): return "(sysctl \(n(ns)) \(n(k)) \(n(v)))"
    case .ping(let ns, let a, let c, _): return "(ping \(n(ns)) \(ex(a))\(o("count", c)))"
    case .exec(let ns, let c, let t, _): return "(exec \(n(ns)) \(ex(c))\(o("timeout", t)))"
    case .let(let v, _, let e, _): return "(let \(v) \(ex(e)))"
    case .for(let v, _, let e, let body, _): return "(for \(v) \(ex(e)) \(b(body)))"
    case .if(let c, let t, let e, _): return "(if \(ex(c)) \(b(t))\(e.map { " else " + b($0) } ?? ""))"
    case .def(let name, _, let ps, let body, _): return "(def \(name)(\(ps.map(\.value).joined(separator: ","))) \(b(body)))"
    case .call(let name, _, let args, _): return "(\(name) \(args.map(ex).joined(separator: " ")))"
    }
}

func ex(_ e: Expr) -> String {
    func seg(_ p: [Segment]) -> String {
        p.map { x -> String in
            switch x { case .text(let t, _): return t; case .interpolation(let e, _): return "{\(ex(e))}" }
        }.joined()
    }
    switch e {
    case .int(let v, _): return String(v)
    case .bool(let v, _): return v ? "true" : "false"
    case .address(let a, _): return a.description
    case .prefix(let p, _): return p.description
    case .quantity(let q, _): return "q:\(q)"
    case .string(let p, _): return "\"" + seg(p) + "\""
    case .word(let p, _): return "w:" + seg(p)
    case .variable(let v, _): return "$" + v
    case .list(let l, _): return "[" + l.map(ex).joined(separator: ",") + "]"
    case .range(let a, let b, _): return "\(ex(a))..\(ex(b))"
    case .unary(let op, let x, _): return "(\(op.rawValue) \(ex(x)))"
    case .binary(let op, let a, let b, _): return "(\(op.rawValue) \(ex(a)) \(ex(b)))"
    case .call(let n, let args, _, _): return "\(n)(" + args.map(ex).joined(separator: ",") + ")"
    }
}

func parsed(_ text: String) -> String {
    let r = parseScript(src(text))
    if r.diagnostics.hasErrors { return "error: " + r.diagnostics.map(\.message).joined(separator: "; ") }
    return r.script.statements.map(sx).joined(separator: " ")
}

struct ParserTests {
    static let table: [(String, String)] = [
        ("ns ns0", "(ns ns0)"),
        ("ns a, b, c", "(ns a,b,c)"),
        ("ns ns0 < veth0 >; ns ns1 < veth1 >", "(ns ns0)<veth0> (ns ns1)<veth1>"),
        ("ns a <\n  x\n  y, z\n>", "(ns a)<x y z>"),
        ("veth ns0:veth0 <-> ns1:veth1", "(veth ns0:veth0 ns1:veth1)"),
        ("veth a<->b mtu 9000", "(veth a b mtu=9000)"),
        ("veth h{i}:eth0 <-> p{i}", "(veth h{$i}:eth0 p{$i})"),
        ("veth {n}:eth0 <-> \"for\"", "(veth {$n}:eth0 \"for\")"),
        ("bridge br0 < p1 p2 p3 > mtu 1400", "(bridge br0 <p1 p2 p3> mtu=1400)"),
        ("bridge br0", "(bridge br0 <>)"),
        ("dummy lo0 mtu 1500", "(dummy lo0 mtu=1500)"),
        ("addr ns0:veth0 10.0.1.1/24, fd00::1/64", "(addr ns0:veth0 10.0.1.1/24 fd00::1/64)"),
        ("addr h{i}:eth0 10.0.0.{i}/24", "(addr h{$i}:eth0 w:10.0.0.{$i}/24)"),
        ("addr lan0 cidrhost(lan, 3)", "(addr lan0 cidrhost($lan,3))"),
        ("up a b:c, d", "(up a b:c d)"),
        ("down eth0", "(down eth0)"),
        ("mtu eth0 1400 + 100", "(mtu eth0 (+ 1400 100))"),
        ("route ns0 default via 10.0.1.254", "(route ns0 default via=10.0.1.254)"),
        ("route ns0 10.1.0.0/16 via 10.0.1.254 dev veth0 metric 10",
         "(route ns0 10.1.0.0/16 via=10.0.1.254 dev=veth0 metric=10)"),
        ("route ns0 fd01::/64 dev ns0:veth0", "(route ns0 fd01::/64 dev=ns0:veth0)"),
        ("forward host", "(forward host)"),
        ("sysctl r1 net.ipv4.conf.all.rp_filter = 2", "(sysctl r1 net.ipv4.conf.all.rp_filter 2)"),
        ("sysctl r1 net.ipv4.tcp_congestion_control = bbr", "(sysctl r1 net.ipv4.tcp_congestion_control bbr)"),
        ("sysctl r1 net.ipv4.conf.{d}.forwarding = -1", "(sysctl r1 net.ipv4.conf.{$d}.forwarding -1)"),
        ("ping ns1 10.0.1.1 count 3", "(ping ns1 10.0.1.1 count=3)"),
        ("exec ns0 \"ip addr\"", "(exec ns0 \"ip addr\")"),
        ("let x = 1 + 2 * 3 - -4", "(let x (- (+ 1 (* 2 3)) -4))"),
        ("let b = not a == 1 and b or c < 2", "(let b (or (and (not (== $a 1)) $b) (< $c 2)))"),
        ("let r = 1..n + 1", "(let r 1..(+ $n 1))"),
        ("let l = [a, \"b\", 3,\n 4,]", "(let l [$a,\"b\",3,4])"),
        ("let p = (1 +\n 2) % 3", "(let p (% (+ 1 2) 3))"),
        ("for i in 1..3 {\n  ns h{i}\n}", "(for i 1..3 {(ns h{$i})})"),
        ("for n in [a, b] { ns {n} }", "(for n [$a,$b] {(ns {$n})})"),
        ("if x > 1 { ns a } else if x == 1 { ns b } else { ns c }",
         "(if (> $x 1) {(ns a)} else {(if (== $x 1) {(ns b)} else {(ns c)})})"),
        ("if x {ns a}else{ns b}", "(if $x {(ns a)} else {(ns b)})"),
        ("def pair(a, b) {\n  veth {a}:e0 <-> {b}:e0\n}\npair(\"x\", \"y\")",
         "(def pair(a,b) {(veth {$a}:e0 {$b}:e0)}) (pair \"x\" \"y\")"),
        ("ns for; ns veth", "(ns for) (ns veth)"),
        ("ns h{i * 2 + 1}", "(ns h{(+ (* $i 2) 1)})"),
        ("ns \"h{i}\"", "(ns \"h{$i}\")"),
        ("# only a comment\n\n;;\n", ""),
        ("ns a # trailing comment", "(ns a)"),
    ]

    @Test(arguments: table)
    func parses(_ text: String, _ expected: String) {
        #expect(parsed(text) == expected)
    }

    @Test func statementRangesAreTight() {
        let t = "  veth a <-> b mtu 9000   # c\n"
        let r = parseScript(src(t))
        #expect(r.script.statements.first?.range == R(t, 1, 3, 21))
        if case .veth(let a, _, let mtu, _, _)? = r.script.statements.first {
            #expect(a.range == R(t, 1, 8, 1))
            #expect(mtu?.range == R(t, 1, 20, 4))
        } else {
            Issue.record("not a veth")
        }
    }

    @Test func collectsAllErrorsInOnePass() {
        let r = parseScript(src("veth a b\nbrige br0\nns ok\naddr\nns fine"))
        #expect(r.diagnostics.map(\.range.start.line) == [1, 2, 4])
        #expect(r.script.statements.map(sx) == ["(ns ok)", "(ns fine)"])
    }

    @Test func unclosedPointsBackAtOpener() {
        let r = parseScript(src("ns a < b c"))
        let d = r.diagnostics.first
        #expect(d?.message == "`>` expected (to close `<` at 1:6)")
        #expect(d?.notes.first?.range.start.column == 6)
    }

    @Test func suggestsKeyword() {
        let r = parseScript(src("brige br0 < p1 >"))
        #expect(r.diagnostics.first?.help == "did you mean `bridge`?")
    }

    @Test func recoveryKeepsBlockStructure() {
        // an error inside a block does not swallow the block's closing brace
        let r = parseScript(src("for i in 1..2 {\n  veth a b\n  ns h{i}\n}\nns after"))
        #expect(r.diagnostics.count == 1)
        #expect(r.script.statements.map(sx) == ["(for i 1..2 {(ns h{$i})})", "(ns after)"])
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = "let x = " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        let r = parseScript(src(deep))
        #expect(r.diagnostics.first?.kind == .recursionLimit)
    }

    static let complete: [(String, Bool)] = [
        ("ns a", true),
        ("for i in 1..3 {", false),
        ("for i in 1..3 {\n ns h{i}\n}", true),
        ("bridge br0 < p1", false),
        ("let l = [1,", false),
        ("let x = cidrhost(a,", false),
        ("exec a \"ip", false),
        ("veth a <->", true),
        ("if x < 3 {", false),
        ("let b = 1 < 2", true),
    ]

    @Test(arguments: complete)
    func completeInput(_ text: String, _ expected: Bool) {
        #expect(isCompleteInput(text) == expected)
    }
}

@Test func literalNamesCompareEqualHoweverBuiltAndKeepTheirSegmentRange() {
    func r(_ a: Int, _ b: Int) -> SourceRange {
        SourceRange(start: .init(line: 1, column: a + 1, offset: a), end: .init(line: 1, column: b + 1, offset: b))
    }
    let built = NameSyntax(parts: [.text("h1", r(0, 2))], range: r(0, 2))
    let literal = NameSyntax.literal("h1", r(0, 2))
    #expect(built == literal)
    #expect(built.hashValue == literal.hashValue)
    #expect(literal.parts == [.text("h1", r(0, 2))])
    #expect(literal.literalText == "h1")
    // A text segment whose range differs from the name's is kept as written.
    let inner = NameSyntax(parts: [.text("h1", r(1, 3))], range: r(0, 4), quoted: true)
    #expect(inner.parts == [.text("h1", r(1, 3))])
    #expect(inner.literalText == "h1")
    #expect(inner != NameSyntax.literal("h1", r(0, 4)))
    // Moving a literal name keeps its text's original range.
    var moved = literal
    moved.range = r(5, 7)
    #expect(moved.parts == [.text("h1", r(0, 2))])
    #expect(moved.range == r(5, 7))
    var replaced = literal
    replaced.parts = [.text("x", r(0, 2)), .text("y", r(0, 2))]
    #expect(replaced.literalText == nil)
    #expect(replaced.parts.count == 2)
}
