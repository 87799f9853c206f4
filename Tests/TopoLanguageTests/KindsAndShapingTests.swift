import Testing
@testable import TopoLanguage

// Quantities, `tc`, the stacked and tunnel link kinds, VRFs, route tables, daemons and exec
// timeouts: lexer, parser, evaluator, checker (through the whole front half, `compile`), planner.

/// All diagnostics of the whole front half.
func diagnose(_ text: String) -> [Diagnostic] { compile(src(text)).diagnostics }

/// The checked topology of a script that must have no errors.
func topology(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Topology {
    let c = compile(src(text))
    #expect(!c.hasErrors, "\(c.diagnostics.map(\.message))", sourceLocation: sourceLocation)
    return c.topology ?? Topology()
}

func iface(_ t: Topology, _ ns: String, _ name: String) -> Topology.Interface? { t.interface(LinkID(ns, name)) }

struct QuantityTests {
    static let good: [(String, Quantity)] = [
        ("10ms", .duration(nanoseconds: 10_000_000)),
        ("1.5ms", .duration(nanoseconds: 1_500_000)),
        ("1500us", .duration(nanoseconds: 1_500_000)),
        ("2s", .duration(nanoseconds: 2_000_000_000)),
        ("0.5%", .percentage(millionths: 500_000)),
        ("100%", .percentage(millionths: 100_000_000)),
        ("0.000001%", .percentage(millionths: 1)),
        ("10mbit", .rate(bitsPerSecond: 10_000_000)),
        ("1.5gbit", .rate(bitsPerSecond: 1_500_000_000)),
        ("64bit", .rate(bitsPerSecond: 64)),
        ("2tbit", .rate(bitsPerSecond: 2_000_000_000_000)),
        ("1mbps", .rate(bitsPerSecond: 8_000_000)),
        ("1.5kbps", .rate(bitsPerSecond: 12_000)),
        ("32kb", .size(bytes: 32 * 1024)),
        ("1.5kb", .size(bytes: 1536)),
        ("1mb", .size(bytes: 1 << 20)),
        ("1514b", .size(bytes: 1514)),
        ("-10ms", .duration(nanoseconds: -10_000_000)),
        ("10.000000000000000000000000ms", .duration(nanoseconds: 10_000_000)),
    ]

    @Test(arguments: good)
    func parses(_ text: String, _ q: Quantity) {
        #expect(Quantity.parse(text) == .success(q))
    }

    static let bad: [(String, Quantity.ParseError)] = [
        ("10mz", .unknownUnit("mz", offset: 2, suggestion: "ms")),
        ("10Mbit", .unknownUnit("Mbit", offset: 2, suggestion: "mbit")),
        ("1.5qqqqqq", .unknownUnit("qqqqqq", offset: 3, suggestion: nil)),
        ("0.5us", .notWhole(.duration)),
        ("0.0000001%", .notWhole(.percentage)),
        ("1.5b", .notWhole(.size)),
        ("1.0001kbit", .notWhole(.rate)),
        ("99999999999999999999tbit", .overflow),
        ("9999999tbit", .overflow),
    ]

    @Test(arguments: bad)
    func refuses(_ text: String, _ e: Quantity.ParseError) {
        #expect(Quantity.parse(text) == .failure(e))
    }

    @Test func notQuantitiesAtAll() {
        for t in ["10", "ms", "1.ms", ".5ms", "10.0.0.1", "1e3", "1ms2", "10%%", ""] {
            #expect(Quantity.parse(t) == nil, "\(t)")
        }
    }

    /// The canonical text reads back as the same quantity.
    @Test(arguments: good)
    func printsCanonicallyAndReadsBack(_ text: String, _ q: Quantity) {
        #expect(Quantity.parse(q.description) == .success(q), "\(q.description)")
    }

    @Test func canonicalTexts() {
        #expect(Quantity.duration(nanoseconds: 1_500_000).description == "1.5ms")
        #expect(Quantity.duration(nanoseconds: 250_000).description == "250us")
        #expect(Quantity.rate(bitsPerSecond: 8_000_000).description == "8mbit")
        #expect(Quantity.size(bytes: 1536).description == "1536b")
        #expect(Quantity.percentage(millionths: 500_000).description == "0.5%")
        #expect(Quantity.duration(nanoseconds: -10_000_000).description == "-10ms")
    }

    @Test func bytesPerSecondWarningSaysWhatItMeans() {
        let w = Quantity.bytesPerSecondWarning("10mbps")
        #expect(w?.message == "`10mbps` is 10 megabytes per second (80 Mbit/s)")
        #expect(w?.help == "did you mean `10mbit`? (`bps` units count bytes, as in tc)")
        #expect(Quantity.bytesPerSecondWarning("1.5gbps")?.message == "`1.5gbps` is 1.5 gigabytes per second (12 Gbit/s)")
        #expect(Quantity.bytesPerSecondWarning("10mbit") == nil)
    }
}

struct QuantityLexerTests {
    static let table: [(String, [String])] = [
        ("10ms 1.5ms 0.5% 10mbit 32kb", ["10ms", "1.5ms", "0.5%", "10mbit", "32kb"]),
        ("10%3 10 % 3", ["int(10)", "%", "int(3)", "int(10)", "%", "int(3)"]),
        ("(10%)", ["(", "10%", ")"]),
        ("1{p}% 1{d}ms", ["word(1|{p}|%)", "word(1|{d}|ms)"]),
        ("1{a}%{b}", ["word(1|{a})", "%", "{", "name(b)", "}"]),
        ("802.1q 802.1ad", ["802.1q", "802.1ad"]),
        ("10zz", ["10zz"]),
        ("x%2", ["name(x)", "%", "int(2)"]),
    ]

    @Test(arguments: table)
    func lexes(_ text: String, _ expected: [String]) {
        #expect(kinds(text) == expected)
    }
}

struct KindsParserTests {
    static let table: [(String, String)] = [
        ("tc a:e0 delay 10ms jitter 1ms loss 0.5%", "(tc a:e0 delay=q:10ms jitter=q:1ms loss=q:0.5%)"),
        ("tc e0 rate 10mbit burst 32kb limit 100", "(tc e0 rate=q:10mbit burst=q:32kb limit=100)"),
        ("veth a:e0 <-> b:e0 delay 10ms mtu 1400", "(veth a:e0 b:e0 mtu=1400 delay=q:10ms)"),
        ("veth a <-> b loss {p}%", "(veth a b loss=w:{$p}%)"),
        ("tc a delay 2 * d", "(tc a delay=(* 2 $d))"),
        ("vlan r1:eth0.100 link r1:eth0 id 100", "(vlan r1:eth0.100 link=r1:eth0 id=100)"),
        ("vlan v id 5 protocol 802.1ad link p mtu 1400", "(vlan v link=p id=5 protocol=802.1ad mtu=1400)"),
        ("macvlan h1:mv0 link host:eth0 mode bridge", "(macvlan h1:mv0 link=host:eth0 mode=bridge)"),
        ("ipvlan h2:iv0 link host:eth0 mode l2", "(ipvlan h2:iv0 link=host:eth0 mode=l2)"),
        ("vxlan a:vx0 id 42 remote 192.0.2.2 local 192.0.2.1 link a:uplink",
         "(vxlan a:vx0 id=42 remote=192.0.2.2 local=192.0.2.1 link=a:uplink)"),
        ("vxlan vx1 id 7 group 239.1.1.1 link u port 8472 ttl 10 mtu 1400",
         "(vxlan vx1 id=7 group=239.1.1.1 link=u port=8472 ttl=10 mtu=1400)"),
        ("vrf r1:blue table 10 < eth1 eth2 >", "(vrf r1:blue table=10 <eth1 eth2>)"),
        ("vrf blue < eth1 > table 10 + 1", "(vrf blue table=(+ 10 1) <eth1>)"),
        ("vrf blue table 10", "(vrf blue table=10 <>)"),
        ("route r1 10.9.0.0/16 via 10.1.0.2 table 10", "(route r1 10.9.0.0/16 via=10.1.0.2 table=10)"),
        ("daemon a \"iperf3 -s\"", "(daemon a \"iperf3 -s\")"),
        ("exec a \"sleep 1\" timeout 30s", "(exec a \"sleep 1\" timeout=q:30s)"),
        ("tc tc delay 1ms", "(tc tc delay=q:1ms)"),
    ]

    @Test(arguments: table)
    func parses(_ text: String, _ expected: String) {
        let r = parseScript(src(text))
        #expect(r.diagnostics.filter { $0.severity == .error }.isEmpty, "\(r.diagnostics.map(\.message))")
        #expect(r.script.statements.map(sx).joined(separator: " ") == expected)
    }

    /// Syntax errors: kind, line, column and (part of) the help.
    static let bad: [(String, Diagnostic.Kind, Int, String?)] = [
        ("tc a", .expected, 5, nil),
        ("tc a dealy 10ms", .expected, 6, "did you mean `delay`?"),
        ("tc a delay 10ms 2ms", .expected, 17, "write the jitter as `jitter 2ms`"),
        ("tc a delay 1ms delay 2ms", .unexpectedToken, 16, nil),
        ("tc a delay", .expected, 11, nil),
        ("vlan v id 5", .expected, 12, nil),
        ("vlan v link p", .expected, 14, nil),
        ("macvlan m mode bridge", .expected, 22, nil),
        ("vxlan x remote 10.0.0.1", .expected, 24, nil),
        ("vrf r", .expected, 6, nil),
        ("vrf r table 1 < a > < b >", .unexpectedToken, 21, nil),
        ("daemon a", .expected, 9, nil),
        ("daemon a iperf3 x", .expected, 17, "quote the whole command"),
        ("tc a delay 10mz", .invalidQuantity, 14, "did you mean `ms`?"),
        ("tc a delay 0.5us", .invalidQuantity, 12, "durations are kept to the microsecond"),
        ("ns 10ms", .invalidNumber, 4, "quote it"),
        ("route a default dev x tabel 10", .expected, 23, "did you mean `table`?"),
        ("exec a \"x\" timeout 1s timeout 2s", .unexpectedToken, 23, nil),
    ]

    @Test(arguments: bad)
    func refuses(_ text: String, _ kind: Diagnostic.Kind, _ column: Int, _ help: String?) {
        let errors = parseScript(src(text)).diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors.map(\.message))")
        guard let e = errors.first else { return }
        #expect(e.kind == kind, "\(e)")
        #expect(e.range.start.column == column, "\(e)")
        if let help { #expect(e.help?.contains(help) == true, "\(e.help ?? "no help")") }
    }

    @Test func bytesPerSecondLiteralWarnsAtTheLiteral() {
        let d = parseScript(src("tc a rate 10mbps")).diagnostics
        #expect(d.count == 1)
        #expect(d.first?.severity == .warning)
        #expect(d.first?.kind == .ambiguousUnit)
        #expect(d.first?.range == R("tc a rate 10mbps", 1, 11, 6))
    }
}

struct QuantityEvaluationTests {
    @Test func quantitiesAreValues() {
        let t = topology("""
        veth a <-> b
        let d = 10ms
        let half = d / 2
        tc a delay {d} jitter half
        tc b delay d * 2 + 500us loss {1 + 1}%
        """)
        #expect(iface(t, "host", "a")?.shaping == Shaping(delay: 10_000_000, jitter: 5_000_000))
        #expect(iface(t, "host", "b")?.shaping == Shaping(delay: 20_500_000, loss: Percentage(millionths: 2_000_000)))
    }

    @Test func comparisonsOfOneDimension() {
        #expect(lines("let d = 10ms\nif d > 1500us { ns big }") == ["ns big"])
        #expect(lines("let d = 1.5ms\nif d == 1500us { ns same }") == ["ns same"])
        #expect(lines("ns {10ms}") == ["ns 10ms"])
    }

    static let bad: [(String, String)] = [
        ("let x = 10ms + 1%", "error: `+` cannot be applied to duration and percentage"),
        ("let x = 10ms / 3", "error: `10ms / 3` is not exact"),
        ("let x = 10ms * 1ms", "error: `*` cannot be applied to duration and duration"),
        ("let x = 10ms < 1%", "error: `<` cannot be applied to duration and percentage"),
        ("let x = 10ms / 0", "error: division by zero"),
    ]

    @Test(arguments: bad)
    func refuses(_ text: String, _ message: String) {
        #expect(lines(text) == [message])
    }
}

/// One bad script per row, through the whole front half: the first error's kind, line, column.
let kindErrorCases: [BadCase] = [
    // shaping (§11)
    .init("veth a <-> b\ntc a delay -10ms", .invalidValue, 2, 12),
    .init("veth a <-> b\ntc a loss 100.5%", .invalidValue, 2, 11),
    .init("veth a <-> b\ntc a rate 0bit", .invalidValue, 2, 11),
    .init("veth a <-> b\ntc a reorder 25%", .missingOption, 2, 6),
    .init("veth a <-> b\ntc a jitter 1ms", .missingOption, 2, 6),
    .init("veth a <-> b\ntc a burst 32kb", .missingOption, 2, 6),
    .init("veth a <-> b\ntc a limit 0", .invalidValue, 2, 12),
    .init("veth a <-> b\ntc a rate 1mbit burst 1000b", .invalidValue, 2, 23),
    .init("veth a <-> b mtu 1400\ntc a rate 1mbit burst 1410b", .invalidValue, 2, 23),
    .init("veth a <-> b\ntc a delay 10mz", .invalidQuantity, 2, 14),
    .init("veth a <-> b\nlet d = 10\ntc a delay {d}mz", .invalidQuantity, 3, 12),
    .init("veth a <-> b\ntc a delay 10mbit", .typeMismatch, 2, 12),
    .init("veth a <-> b\ntc a loss 1", .typeMismatch, 2, 11),
    .init("veth a <-> b\ntc a limit 1kb", .typeMismatch, 2, 12),
    .init("veth a <-> b\ntc a rate 1mbit burst 32kbit", .typeMismatch, 2, 23),
    .init("veth a <-> b\ntc a delay 1s jitter 3s", .invalidValue, 2, 22),
    .init("veth a <-> b\ntc a delay 0.0001ms", .invalidQuantity, 2, 12),
    .init("veth a <-> b delay -1ms", .invalidValue, 1, 20),
    .init("veth a <-> b\nveth c <-> d delay 10ms\ntc c delay 20ms", .conflict, 3, 4),
    .init("veth a <-> b\ntc a delay 10ms\ntc a delay 10ms loss 1%", .conflict, 3, 4),
    .init("veth a <-> b\ntc x delay 10ms", .unknownInterface, 2, 4),
    .init("macvlan m link host:eth0\ntc host:eth0 rate 1mbit", .unmodifiable, 2, 4),
    .init("tc host:lo delay 1ms", .invalidValue, 1, 4),
    // link kinds (§12)
    .init("veth u <-> w\nvlan v link u id 4095", .invalidValue, 2, 18),
    .init("veth u <-> w\nvlan v link u id 0", .invalidValue, 2, 18),
    .init("veth u <-> w\nvlan v link u id 5 protocol 802.1x", .invalidValue, 2, 29),
    .init("veth u <-> w\nmacvlan m link u mode vepx", .invalidValue, 2, 23),
    .init("veth u <-> w\nipvlan i link u mode l4", .invalidValue, 2, 22),
    .init("vxlan x id 16777216", .invalidValue, 1, 12),
    .init("vxlan x id -1", .invalidValue, 1, 12),
    .init("vxlan x id 1 port 0", .invalidValue, 1, 19),
    .init("vxlan x id 1 ttl 256", .invalidValue, 1, 18),
    .init("veth u <-> w\nvxlan x id 1 remote 10.0.0.1 group 239.1.1.1 link u", .conflict, 2, 36),
    .init("vxlan x id 1 group 239.1.1.1", .missingOption, 1, 20),
    .init("veth u <-> w\nvxlan x id 1 group 10.0.0.1 link u", .invalidValue, 2, 20),
    .init("vxlan x id 1 remote 239.1.1.1", .invalidValue, 1, 21),
    .init("vxlan x id 1 remote 0.0.0.0", .invalidValue, 1, 21),
    .init("vxlan x id 1 remote 10.0.0.1 local fd00::1", .familyMismatch, 1, 36),
    .init("vxlan x id 1 local 239.0.0.1", .invalidValue, 1, 20),
    .init("ns a\nns b\nveth a:u <-> b:u\nvxlan a:x id 7 link a:u\nvxlan a:y id 7 link a:u", .conflict, 5, 14),
    .init("ns a\nns b\nveth a:u <-> b:u\nvxlan b:x id 7 link a:u\nvxlan a:y id 7 link a:u", .conflict, 5, 14),
    .init("vrf v table 254", .invalidValue, 1, 13),
    .init("vrf v table 253", .invalidValue, 1, 13),
    .init("vrf v table 255", .invalidValue, 1, 13),
    .init("vrf v table 0", .invalidValue, 1, 13),
    .init("vrf v table 4294967296", .invalidValue, 1, 13),
    .init("ns a\nroute a default dev lo table 255", .invalidValue, 2, 30),
    .init("ns a\nroute a default dev lo table 0", .invalidValue, 2, 30),
    .init("vlan v link eth0 id 5", .unknownInterface, 1, 13),
    .init("ns a\nvlan a:v link a:eth0 id 5", .unknownInterface, 2, 15),
    .init("vlan a:v link a:eth0 id 5", .unknownNamespace, 1, 15),
    .init("ns a\nvlan a:v link a:lo id 5", .invalidValue, 2, 15),
    .init("vlan a link b id 1\nvlan b link a id 2", .cycle, 1, 13),
    .init("vlan a link a id 1", .cycle, 1, 13),
    .init("vrf r table 10\nmacvlan m link r", .invalidValue, 2, 16),
    .init("vrf r table 10\nvlan v link r id 5", .invalidValue, 2, 13),
    .init("veth u <-> w\nipvlan i link u\nmacvlan m link i", .invalidValue, 3, 16),
    .init("veth u <-> w\nbridge br < u >\nmacvlan m link u", .conflict, 3, 16),
    .init("veth u <-> w\nmacvlan m link u\nbridge br < u >\nipvlan i link w", .conflict, 2, 16),
    .init("veth u <-> w\nmacvlan m link u\nipvlan i link u", .conflict, 3, 15),
    .init("veth u <-> w\nmacvlan m1 link u\nmacvlan m2 link u mode passthru", .conflict, 3, 17),
    .init("veth u <-> w\nmacvlan m1 link u mode passthru\nmacvlan m2 link u", .conflict, 3, 17),
    .init("veth u <-> w\nvlan v1 link u id 5\nvlan v2 link u id 5", .conflict, 3, 19),
    .init("veth u <-> w\nvlan v link u id 5 mtu 1600", .invalidValue, 2, 24),
    .init("veth u <-> w mtu 1400\nvlan v link u id 5\nmtu v 1450", .invalidValue, 3, 7),
    .init("veth u <-> w\nvxlan x id 1 link u mtu 1451", .invalidValue, 2, 25),
    .init("veth u <-> w\nvxlan x id 1 remote fd00::2 link u mtu 1431", .invalidValue, 2, 40),
    .init("veth u <-> w\nvlan v link u id 5\nvlan v link w id 5", .conflict, 3, 6),
    .init("macvlan m link host:eth0\nmtu host:eth0 9000", .unmodifiable, 2, 5),
    .init("macvlan m link host:eth0\naddr host:eth0 10.0.0.1/24", .unmodifiable, 2, 6),
    .init("macvlan m link host:eth0\ndown host:eth0", .unmodifiable, 2, 6),
    .init("macvlan m link host:eth0\nbridge br < eth0 >", .unmodifiable, 2, 13),
    .init("veth u <-> w\nipvlan i link u\nbridge br < i >", .invalidValue, 3, 13),
    .init("vrf r table 10\nbridge br < r >", .invalidValue, 2, 13),
    .init("veth u <-> w\nbridge br < u >\nvrf r table 10 < u >", .conflict, 3, 18),
    .init("vrf r table 10 < r >", .selfReference, 1, 18),
    .init("vrf r table 10 < lo >", .invalidValue, 1, 18),
    .init("macvlan m link host:\"a b\"", .invalidName, 1, 21),
    // daemons and exec (§13)
    .init("ns a\ndaemon a \"  \"", .invalidValue, 2, 10),
    .init("daemon z \"x\"", .unknownNamespace, 1, 8),
    .init("ns a\ndaemon a \"a\\0b\"", .invalidValue, 2, 10),
    .init("ns a\ndaemon a 5", .typeMismatch, 2, 10),
    .init("ns a\nexec a \"x\" timeout 0s", .invalidValue, 2, 20),
    .init("ns a\nexec a \"x\" timeout 10", .typeMismatch, 2, 20),
    .init("ns a\nexec a \"x\" timeout -1s", .invalidValue, 2, 20),
    .init("ns a\nexec a \"x\" timeout 1mb", .typeMismatch, 2, 20),
]

@Test(arguments: kindErrorCases)
func badKindOrShapingIsRejected(_ c: BadCase) {
    let errors = diagnose(c.source).filter { $0.severity == .error }
    #expect(errors.count >= 1, "no error for \(c.source)")
    guard let first = errors.first else { return }
    #expect(first.kind == c.kind, "\(first)")
    #expect(first.range.start.line == c.line, "\(first)")
    #expect(first.range.start.column == c.column, "\(first)")
    #expect(first.message.first.map { !$0.isUppercase } ?? false)
}

@Test(arguments: [
    WarningCase("veth a <-> b\ntc a rate 1mbps", .ambiguousUnit, 2, 11),
    WarningCase("veth a <-> b\nlet r = 1\ntc a rate {r}mbps", .ambiguousUnit, 3, 11),
    WarningCase("ns a\ndaemon a \"x\"\ndaemon a \"x\"", .duplicate, 3, 10),
    WarningCase("vrf r1 table 10\nvrf r2 table 10", .conflict, 2, 14),
    WarningCase("veth a <-> b mtu 20000\ntc a rate 1mbit", .invalidValue, 2, 1),
    WarningCase("veth a <-> b\ntc a delay 40ms rate 1gbit", .invalidValue, 2, 1),
    WarningCase("bridge br < >\nfor i in 1..1024 {\n  veth p{i} <-> q{i}\n  bridge br < p{i} >\n}", .tooManyPorts, 4, 15),
])
func kindWarningOnly(_ c: WarningCase) {
    let d = diagnose(c.source)
    #expect(!d.hasErrors, "\(d.map(\.message))")
    #expect(d.count == 1, "\(d.map(\.message))")
    guard let w = d.first else { return }
    #expect(w.severity == .warning)
    #expect(w.kind == c.kind)
    #expect(w.range.start.line == c.line && w.range.start.column == c.column, "\(w)")
}

struct KindsCheckerTests {
    @Test func repeatsAndBothEnds() {
        let t = topology("""
        ns a, b
        veth a:e0 <-> b:e0 delay 10ms loss 1%
        tc a:e0 loss 1% delay 10ms
        tc a:lo delay 1ms
        """)
        let s = Shaping(delay: 10_000_000, loss: Percentage(millionths: 1_000_000))
        #expect(iface(t, "a", "e0")?.shaping == s)
        #expect(iface(t, "b", "e0")?.shaping == s)
        #expect(iface(t, "a", "lo")?.shaping == Shaping(delay: 1_000_000))
        #expect(iface(t, "a", "e0")?.shapingRange?.start.line == 2)
    }

    @Test func aQueueThatHoldsWhatIsInFlightGivesNoWarning() {
        // 1 Gbit/s × 40 ms ≈ 3303 frames of 1514 bytes.
        #expect(diagnose("veth a <-> b\ntc a delay 40ms rate 1gbit limit 3400").isEmpty)
        #expect(diagnose("veth a <-> b\ntc a delay 40ms rate 100mbit").isEmpty)
    }

    @Test func burstOfAFullFrameIsEnough() {
        #expect(!diagnose("veth a <-> b\ntc a rate 1mbit burst 1514b").hasErrors)
        #expect(!diagnose("veth a <-> b mtu 1400\ntc a rate 1mbit burst 1414b").hasErrors)
    }

    @Test func aThousandAndTwentyThreePortsGiveNoWarning() {
        let d = diagnose("bridge br < >\nfor i in 1..1023 {\n  veth p{i} <-> q{i}\n  bridge br < p{i} >\n}")
        #expect(d.isEmpty, "\(d.map(\.message))")
    }

    @Test func stackedLinksGoInTheirParentsNamespace() {
        let t = topology("""
        ns r1, h1
        veth r1:eth0 <-> h1:eth0
        vlan eth0.100 link r1:eth0 id 100
        vlan eth0.200 link eth0.100 id 200 protocol 802.1AD
        ns h1 < mv0 >
        macvlan mv0 link r1:eth0
        ipvlan iv0 link h1:eth0
        vxlan vx0 id 42 remote 192.0.2.2 link r1:eth0
        vxlan vx1 id 43 remote 192.0.2.3
        """)
        #expect(iface(t, "r1", "eth0.100")?.options == .vlan(VLAN(parent: LinkID("r1", "eth0"), id: 100)))
        #expect(iface(t, "r1", "eth0.200")?.options == .vlan(VLAN(parent: LinkID("r1", "eth0.100"), id: 200, protocol: .dot1ad)))
        #expect(iface(t, "h1", "mv0")?.options == .macvlan(parent: LinkID("r1", "eth0"), mode: .bridge))
        #expect(iface(t, "h1", "iv0")?.options == .ipvlan(parent: LinkID("h1", "eth0"), mode: .l3))
        #expect(iface(t, "r1", "vx0")?.options == .vxlan(VXLAN(vni: 42, remote: IPAddress("192.0.2.2"), underlay: LinkID("r1", "eth0"))))
        #expect(iface(t, "host", "vx1")?.options == .vxlan(VXLAN(vni: 43, remote: IPAddress("192.0.2.3"), port: 4789)))
        // Parents before children.
        let order = t.interfaces.map(\.id.name)
        #expect(order.firstIndex(of: "eth0.100")! < order.firstIndex(of: "eth0.200")!)
    }

    @Test func hostParentsTheScriptDoesNotDeclareAreExternal() {
        let t = topology("""
        ns h1, h2
        macvlan h1:mv0 link host:eth0
        macvlan h2:mv0 link host:eth0
        dummy d0
        macvlan h1:mv1 link host:d0
        """)
        #expect(iface(t, "host", "eth0")?.kind == .external)
        #expect(iface(t, "host", "d0")?.kind == .dummy)
        let plan = makePlan(t, file: "x")
        // An interface of the machine is never created, brought up or changed.
        #expect(!plan.steps.contains { $0.operation == .setUp(LinkID("host", "eth0")) })
        #expect(plan.steps.filter { if case .addMacvlan = $0.operation { return true } else { return false } }.count == 3)
    }

    @Test func vxlanFollowsItsUnderlaysMTU() {
        let t = topology("""
        ns a
        veth a:u <-> w
        mtu a:u 9000
        vxlan a:x4 id 1 remote 10.0.0.2 link a:u
        vxlan a:x6 id 2 remote fd00::2 link a:u
        vxlan a:x9 id 3 remote 10.0.0.2 link a:u mtu 1500
        veth a:plain <-> p
        vxlan a:x0 id 4 remote 10.0.0.2 link a:plain
        """)
        #expect(iface(t, "a", "x4")?.mtu == 8950)
        #expect(iface(t, "a", "x4")?.mtuRange?.start.line == 3)
        #expect(iface(t, "a", "x6")?.mtu == 8930)
        #expect(iface(t, "a", "x9")?.mtu == 1500)
        #expect(iface(t, "a", "x0")?.mtu == nil)   // the kernel's own 1450
        // The underlay's mtu is set before the tunnel's.
        let mtus = makePlan(t, file: "x").steps.compactMap { s -> String? in
            if case .setMTU(let l, let m) = s.operation { return "\(l.name)=\(m)" }
            return nil
        }
        #expect(mtus == ["u=9000", "x4=8950", "x6=8930", "x9=1500"])
    }

    @Test func vrfPortsAndRouteTables() {
        let t = topology("""
        ns r1
        veth r1:eth1 <-> x
        bridge r1:br0 < >
        vrf r1:blue table 10 < eth1 br0 >
        route r1 10.9.0.0/16 dev eth1 table 10
        route r1 10.9.0.0/16 dev eth1
        route r1 10.8.0.0/16 dev eth1 table 254
        """)
        #expect(iface(t, "r1", "eth1")?.master == "blue")
        #expect(iface(t, "r1", "br0")?.master == "blue")
        #expect(iface(t, "r1", "blue")?.options == .vrf(table: 10))
        #expect(t.routes.map(\.spec.table) == [10, nil, nil])
    }

    @Test func twoVRFsMayReuseAnAddress() {
        #expect(!diagnose("""
        ns r
        veth r:a <-> x
        veth r:b <-> y
        vrf r:red table 10 < a >
        vrf r:blue table 20 < b >
        addr r:a 10.0.0.1/24
        addr r:b 10.0.0.1/24
        """).hasErrors)
        let d = diagnose("ns r\nveth r:a <-> x\nveth r:b <-> y\nvrf r:red table 10 < a b >\naddr r:a 10.0.0.1/24\naddr r:b 10.0.0.1/24")
        #expect(d.map(\.message) == ["address `10.0.0.1` is already on `r:a` in vrf `red` of namespace `r`"])
    }

    @Test func daemonsAndExecTimeouts() {
        let t = topology("""
        ns a
        daemon a "iperf3 -s"
        exec a "true" timeout 1.5s
        exec a "true"
        """)
        #expect(t.daemons.map(\.command) == ["iperf3 -s"])
        #expect(t.actions.map(\.kind) == [.exec(command: "true", timeout: 1.5), .exec(command: "true", timeout: nil)])
    }

    @Test func macvlanAndVxlanMayBeBridgePortsAndABridgeMayBeAVRFPort() {
        #expect(!diagnose("""
        veth u <-> w
        macvlan m link u
        vxlan x id 5 remote 10.0.0.2
        bridge br < m x >
        vrf r table 10 < br >
        """).hasErrors)
    }
}

struct KindsPlannerTests {
    @Test func phasesAndOrder() {
        let t = topology("""
        ns a
        vlan a:e0.10 link a:e0 id 10
        veth a:e0 <-> b
        vxlan a:vx id 42 remote 10.0.0.2 link a:e0.10
        vrf a:blue table 10 < vx >
        tc a:e0 delay 10ms
        daemon a "sleep 100"
        ping a 10.0.0.2
        """)
        let ops = makePlan(t, file: "x").steps.map { PlanText.describe($0.operation) }
        let expected = [
            "add namespace a",
            "add veth a:e0 <-> host:b",
            "add vrf a:blue table 10",
            "add vlan a:e0.10 link a:e0 id 10",
            "add vxlan a:vx id 42 remote 10.0.0.2 link a:e0.10 port 4789",
            "set a:vx master blue",
            "set tc a:e0 delay 10ms",
            "set a:lo up",
            "set a:e0 up",
            "set host:b up",
            "set a:blue up",
            "set a:e0.10 up",
            "set a:vx up",
            "after apply: daemon in a: \"sleep 100\"",
            "after apply: ping 10.0.0.2 from a, count 1",
        ]
        #expect(ops == expected)
    }

    @Test func theLayoutOfEachShaping() {
        #expect(Shaping(rate: 10_000_000).needsNetem == false)
        #expect(Shaping(rate: 10_000_000, limit: 100).needsNetem == false)
        #expect(Shaping(rate: 10_000_000, limit: 100).tbfLimitBytes == 151_400)
        #expect(Shaping(limit: 100).needsNetem == true)
        #expect(Shaping(delay: 1, rate: 10_000_000, limit: 100).needsNetem == true)
        #expect(Shaping(delay: 1, rate: 10_000_000, limit: 100).tbfLimitBytes == 16_384 + 62_500)
        #expect(Shaping(rate: 1_000_000_000).effectiveBurst == 500_000)
    }

    @Test func aVxlanWithoutUnderlayIsCreated() {
        let ops = makePlan(topology("vxlan vx id 1 remote 10.0.0.2"), file: "x").steps.map(\.operation)
        #expect(ops.first == .addVxlan(LinkID("host", "vx"), VXLAN(vni: 1, remote: IPAddress("10.0.0.2"))))
    }
}

struct KindsPrinterAndExportTests {
    /// Every new statement prints as text that reads back as the same declarations.
    @Test func scriptPrinterRoundTrips() {
        let text = """
        ns a, "b c"
        veth a:e0 <-> "b c":e0 mtu 1400 delay 1.5ms jitter 500us loss 0.5% duplicate 1% reorder 2% corrupt 0.1% rate 8mbit burst 32kb limit 100
        tc a:lo delay 10ms
        vlan a:e0.5 link a:e0 id 5 protocol 802.1ad mtu 1400
        vlan a:e0.6 link a:e0 id 6
        macvlan a:mv link a:e0.6 mode passthru
        ipvlan a:iv link a:e0.5 mode l3s
        vxlan a:vx id 42 remote fd00::2 local fd00::1 link a:e0 port 8472 ttl 9 mtu 1300
        vxlan a:vy id 43 group 239.1.1.1 link a:e0
        vrf a:"vrf" table 7 < iv >
        route a 10.0.0.0/8 dev iv table 7
        daemon a "iperf3 -s -p 5201"
        exec a "true" timeout 1.5s
        """
        let first = run(text)
        #expect(!first.diagnostics.hasErrors, "\(first.diagnostics.map(\.message))")
        let printed = ScriptPrinter.print(first.statements.map { ScriptLine.declaration($0.declaration) })
        let second = run(printed)
        #expect(!second.diagnostics.hasErrors, "\(second.diagnostics.map(\.message))\n\(printed)")
        #expect(second.statements.map { show($0.declaration) } == first.statements.map { show($0.declaration) }, "\(printed)")
        #expect(printed.contains("vxlan a:vx id 42 remote fd00::2 local fd00::1 link a:e0 port 8472 ttl 9 mtu 1300\n"))
        #expect(printed.contains("vrf a:\"vrf\" table 7 < iv >\n"))
        #expect(!diagnose(printed).hasErrors, "\(diagnose(printed).map(\.message))")
    }

    @Test func defaultsAreLeftOutAndCommentsStayOnOneLine() {
        let r = SourceRange.none
        func l<T>(_ v: T) -> Located<T> { Located(v, at: r) }
        let out = ScriptPrinter.print([
            .declaration(.vlan(InterfaceRef(name: l("v")), link: InterfaceRef(name: l("p")), id: l(5), protocol: l("802.1Q"), mtu: nil)),
            .declaration(.vxlan(InterfaceRef(name: l("x")), VXLANDeclaration(id: l(1), port: l(4789)))),
            .comment("not modelled: a\nb"),
        ])
        #expect(out == "vlan v link p id 5\nvxlan x id 1\n# not modelled: a b\n")
    }

    /// A link created from a later namespace's block (a vxlan from its underlay's) has its
    /// own namespace configured after that block.
    @Test func exportConfiguresANamespaceAfterTheBlockThatCreatesItsLinks() {
        let t = topology("""
        ns oa, ua
        veth ua:u <-> x
        vxlan oa:vx0 id 7 remote 192.168.7.2 link ua:u
        addr oa:vx0 10.77.0.1/24
        """)
        let sh = renderPlan(makePlan(t, file: "k.topo"), as: .ip, source: nil)
        let lines = sh.split(separator: "\n").map(String.init)
        let create = lines.firstIndex { $0.hasPrefix("link add name vx0 netns oa type vxlan") }
        let configure = lines.firstIndex { $0 == "address add 10.77.0.1/24 dev vx0" }
        let oaBlock = lines.firstIndex { $0 == "ip -n oa -batch - <<'TOPO_EOF'" }
        #expect(create != nil && configure != nil && oaBlock != nil, "\(sh)")
        if let c = create, let f = configure, let o = oaBlock { #expect(c < o && o < f, "\(sh)") }
    }

    @Test func exportOfEveryNewKind() {
        let t = topology("""
        ns a
        veth a:e0 <-> p
        vlan a:e0.5 link a:e0 id 5 protocol 802.1ad
        macvlan a:mv link host:eth0 mode vepa
        ipvlan a:iv link a:e0 mode l2
        vrf a:red table 10 < e0.5 >
        route a 10.9.0.0/16 dev e0.5 table 10
        tc p delay 5ms rate 1mbit
        tc a:e0 loss 1%
        tc a:iv rate 1gbit limit 100
        """)
        let sh = renderPlan(makePlan(t, file: "k.topo"), as: .ip, source: nil)
        for line in [
            "link add link eth0 name mv netns a type macvlan mode vepa",
            "link add link e0 name e0.5 type vlan id 5 protocol 802.1ad",
            "link add link e0 name iv type ipvlan mode l2",
            "link add name red type vrf table 10",
            "link set dev e0.5 master red",
            "route add 10.9.0.0/16 dev e0.5 table 10",
            "tc qdisc replace dev p root handle 1: netem delay 5ms limit 1000",
            "tc qdisc replace dev p parent 1:1 handle 10: tbf rate 1000000bit burst 16384b limit 22634",
            "tc -n a qdisc replace dev e0 root handle 1: netem loss 1% limit 1000",
            "tc -n a qdisc replace dev iv root handle 1: tbf rate 1000000000bit burst 500000b limit 151400",
        ] {
            #expect(sh.contains(line + "\n"), "missing `\(line)` in\n\(sh)")
        }
    }
}
