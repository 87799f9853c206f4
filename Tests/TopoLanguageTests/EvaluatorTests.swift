import Testing
@testable import TopoLanguage

struct EvaluatorTests {
    static let table: [(String, [String])] = [
        ("for i in 1..3 { ns h{i} }", ["ns h1", "ns h2", "ns h3"]),
        ("for n in [\"a\", \"b\"] { veth {n}:e0 <-> {n}-peer }", ["veth a:e0 <-> a-peer", "veth b:e0 <-> b-peer"]),
        ("for i in 3..1 { ns h{i} }", []),
        ("let lan = 10.0.0.0/24\naddr br0 cidrhost(lan, 254)", ["addr br0 10.0.0.254/24"]),
        ("addr x cidrhost(10.0.0.0/24, -2)", ["addr x 10.0.0.254/24"]),
        ("addr x cidrsubnet(10.0.0.0/16, 8, 3)", ["addr x 10.0.3.0/24"]),
        ("addr x cidrhost(cidrsubnet(fd00::/48, 16, 5), 1)", ["addr x fd00:0:0:5::1/64"]),
        ("let l = [1, 2, 3]\nmtu x len(l) * 500", ["mtu x 1500"]),
        ("mtu x len(1..1000000000000) / 1000000000", ["mtu x 1000"]),
        ("ping h1 address(cidrhost(10.0.0.0/24, 1))", ["ping h1 10.0.0.1"]),
        ("ping h1 cidrhost(10.0.0.0/24, 1)", ["ping h1 10.0.0.1"]),
        ("mtu x prefixlen(10.1.0.0/16)", ["mtu x 16"]),
        ("route r default via 10.0.0.1 + 5", ["route r default via 10.0.0.6"]),
        ("route r network(10.1.2.3/16) via 10.0.0.1", ["route r 10.1.0.0/16 via 10.0.0.1"]),
        ("route r 10.9.9.9 dev eth0 metric 7", ["route r 10.9.9.9/32 dev eth0 metric 7"]),
        ("exec h \"echo \" + str(3 * 4)", ["exec h \"echo 12\""]),
        ("let i = 7\naddr h{i}:eth0 10.0.{i}.1/24, fd00::{i}/64", ["addr h7:eth0 10.0.7.1/24, fd00::7/64"]),
        ("let a = 10.0.0.1\nexec x \"ping {a} -c {1 + 1}\"", ["exec x \"ping 10.0.0.1 -c 2\""]),
        ("let n = \"r1\"\nforward {n}\nsysctl {n} net.ipv4.conf.{n}-eth0.forwarding = 1",
         ["forward r1", "sysctl r1 net.ipv4.conf.r1-eth0.forwarding = 1"]),
        ("for i in 1..4 { if i % 2 == 0 { ns even{i} } else if i == 3 { ns three } else { ns odd{i} } }",
         ["ns odd1", "ns even2", "ns three", "ns even4"]),
        ("if 1 < 2 and not (2 < 1) or x { ns t }", ["ns t"]),  // `or` short-circuits: x is never looked up
        ("def pair(a, b) {\n  ns {a}, {b}\n  veth {a}:e0 <-> {b}:e0\n}\npair(\"x\", \"y\")\npair(\"y\", \"z\")",
         ["ns x", "ns y", "veth x:e0 <-> y:e0", "ns y", "ns z", "veth y:e0 <-> z:e0"]),
        ("def chain(n) { if n > 0 { ns c{n}; chain(n - 1) } }\nchain(3)", ["ns c3", "ns c2", "ns c1"]),
        ("let x = 1\nfor i in 1..2 { let x = x + i; ns n{x} }\nns after{x}", ["ns n2", "ns n3", "ns after1"]),
        ("for i in 1..2 { let y = i }\nns {y}", ["error: undefined variable `y`"]),
        ("let base = 10.0.0.0/16\nfor i in 0..1 { let net = cidrsubnet(base, 8, i)\n addr h{i} cidrhost(net, 1) }",
         ["addr h0 10.0.0.1/24", "addr h1 10.0.1.1/24"]),
        ("ns host < eth9 >", ["ns host < eth9 >"]),
        ("up a b; down c", ["up a b", "down c"]),
        ("bridge br0 < p1 \"weird name\" > mtu 9000", ["bridge br0 < p1 weird name > mtu 9000"]),
        ("dummy d0 mtu 1280", ["dummy d0 mtu 1280"]),
        ("let w = 10.0.{1 + 1}.5\nping a w", ["ping a 10.0.2.5"]),
        ("let s = \"a\" + \"b\"\nexec n \"{s}\"", ["exec n \"ab\""]),
        ("let x = -9223372036854775807 - 1\nmtu a x / 9223372036854775807 + 2", ["mtu a 1"]),
    ]

    @Test(arguments: table)
    func evaluates(_ text: String, _ expected: [String]) {
        #expect(lines(text) == expected)
    }

    @Test func errorStatementProducesNothingAndEvaluationContinues() {
        let r = run("ns a\naddr b 1/0\naddr c 10.0.0.1\nns d")
        #expect(r.diagnostics.count == 2)
        #expect(r.statements.map { show($0.declaration) } == ["ns a", "ns d"])
    }

    @Test func loopErrorReportedOnce() {
        let r = run("for i in 1..1000 { mtu x{i} \"no\" }")
        #expect(r.diagnostics.count == 1)
    }

    @Test func emptyHugeLoopIsAnErrorNotAHang() {
        let r = run("for i in 1..10000000000 {}")
        #expect(r.diagnostics.map(\.kind) == [.stepLimit])
    }

    @Test func hugeRangeIsLazy() {
        #expect(lines("let r = 1..1000000000000000000\nmtu x len(r) / 1000000000000000") == ["mtu x 1000"])
    }

    @Test func objectLimit() {
        let r = run("for i in 1..100001 { dummy d{i} }")
        #expect(r.diagnostics.map(\.kind) == [.objectLimit])
        #expect(r.diagnostics.first?.range.start.column == 22)
        #expect(r.statements.count == 100_000)
    }

    @Test func objectLimitIsConfigurable() {
        let r = run("for i in 1..11 { dummy d{i} }", limits: EvaluationLimits(maxObjects: 10))
        #expect(r.diagnostics.map(\.kind) == [.objectLimit])
        #expect(r.statements.count == 10)
    }

    @Test func exponentialRecursionStops() {
        let r = run("def f(n) { f(n + 1); f(n + 1) }\nf(0)")
        #expect(r.diagnostics.map(\.kind) == [.recursionLimit])
    }

    @Test func stepBudget() {
        let r = run("def f(n) { for i in 1..1000 { for j in 1..1000 { let k = i } } }\nf(0)",
                    limits: EvaluationLimits(maxSteps: 100_000))
        #expect(r.diagnostics.map(\.kind) == [.stepLimit])
    }

    @Test func templateErrorsPointIntoBodyWithNoteAtCall() {
        let t = "def t(x) {\n  mtu e0 x\n}\nt(\"big\")"
        let d = run(t).diagnostics.first
        #expect(d?.range == R(t, 2, 10, 1))
        #expect(d?.notes.first?.range == R(t, 4, 1, 8))
    }

    @Test func templateStatementsCarryBodyRange() {
        let t = "def t(x) {\n  ns {x}\n}\nt(\"a\")"
        let r = run(t)
        #expect(r.statements == [Statement(.namespace(Located("a", at: R(t, 2, 6, 3)), placed: []), at: R(t, 2, 3, 6))])
    }

    @Test func bindingsPersistAcrossEvaluateCalls() {
        let ev = Evaluator()
        _ = ev.evaluate(parseScript(src("let lan = 10.1.0.0/24\ndef h(n) { ns h{n} }")).script)
        let r = ev.evaluate(parseScript(src("h(1)\naddr x cidrhost(lan, 9)")).script)
        #expect(r.diagnostics.isEmpty)
        #expect(r.statements.map { show($0.declaration) } == ["ns h1", "addr x 10.1.0.9/24"])
        #expect(ev.value(of: "lan") == .prefix(IPPrefix("10.1.0.0/24")!))
    }

    @Test func limitsCountPerCall() {
        let ev = Evaluator(limits: EvaluationLimits(maxObjects: 3))
        let s = parseScript(src("ns a; ns b; ns c")).script
        #expect(ev.evaluate(s).diagnostics.isEmpty)
        #expect(ev.evaluate(s).diagnostics.isEmpty)
    }
}
