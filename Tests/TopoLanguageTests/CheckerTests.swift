import Testing
@testable import TopoLanguage

/// One bad topology per row: the first error's kind, line and column.
struct BadCase: CustomTestStringConvertible, Sendable {
    let source: String
    let kind: Diagnostic.Kind
    let line: Int
    let column: Int
    init(_ source: String, _ kind: Diagnostic.Kind, _ line: Int, _ column: Int) {
        self.source = source
        self.kind = kind
        self.line = line
        self.column = column
    }
    var testDescription: String { source.replacingOccurrences("\n", "; ") }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String { split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b) }
}

let badCases: [BadCase] = [
    .init("ns host", .reservedName, 1, 4),
    .init("veth ns0:a <-> b", .unknownNamespace, 1, 6),
    .init("ns a\nveth a:x <-> y\naddr z 10.0.0.1/24", .unknownInterface, 3, 6),
    .init("ns a\nns b\nveth a:eth0 <-> p1\nveth b:eth0 <-> p2\naddr eth0 10.0.0.1/24", .ambiguousInterface, 5, 6),
    .init("veth abcdefghijklmnop <-> b", .invalidName, 1, 6),
    .init("veth a%d <-> b", .invalidName, 1, 6),
    .init("ns a < x >\nns b\nveth b:x <-> y", .placementConflict, 1, 8),
    .init("ns a < x >\nns b < x >\nveth x <-> y", .placementConflict, 2, 8),
    .init("veth a <-> b\ndummy a", .conflict, 2, 7),
    .init("veth a <-> b\nveth a <-> c", .conflict, 2, 6),
    .init("veth a <-> b mtu 1400\nmtu a 1500", .conflict, 2, 7),
    .init("dummy d\nmtu d 40", .invalidValue, 2, 7),
    .init("veth a <-> a", .selfReference, 1, 12),
    .init("bridge br0 < br0 >", .selfReference, 1, 14),
    .init("ns a\nbridge br0 < p1 >\nveth a:p1 <-> q", .portNamespace, 2, 14),
    .init("bridge b1 < p >\nbridge b2 < p >\ndummy p", .conflict, 2, 13),
    .init("bridge b1 < b2 >\nbridge b2 < >", .invalidValue, 1, 13),
    .init("bridge br0 < br-a br-d >\ndummy br-a\ndummy br-b\ndummy br-c", .unknownInterface, 1, 19),
    .init("dummy a\ndummy b\naddr a 10.0.0.1/24\naddr b 10.0.0.1/24", .conflict, 4, 8),
    .init("dummy a\naddr a 10.0.0.1/24\naddr a 10.0.0.1/16", .conflict, 3, 8),
    .init("dummy a\naddr a 224.0.0.1/24", .invalidPrefix, 2, 8),
    .init("dummy a\naddr a 0.0.0.0/8", .invalidPrefix, 2, 8),
    .init("dummy a\naddr a ff02::1/64", .invalidPrefix, 2, 8),
    .init("ns a\nroute a 10.0.0.0/24 via fd00::1", .familyMismatch, 2, 25),
    .init("ns a\nroute a 10.0.0.1/24 via 10.0.0.2", .invalidPrefix, 2, 9),
    .init("ns a\nroute a 10.0.0.0/24 metric 5", .invalidValue, 2, 9),
    .init("ns a\nroute a default dev eth9", .unknownInterface, 2, 21),
    .init("ns a\nns b\nveth b:x <-> y\nroute a default dev x", .portNamespace, 4, 21),
    .init("route nz default via 10.0.0.1", .unknownNamespace, 1, 7),
    .init("ns a\nsysctl a kernel.panic = 1", .invalidSysctl, 2, 10),
    .init("ns a\nsysctl a net..x = 1", .invalidSysctl, 2, 10),
    .init("ns a\nforward a\nsysctl a net.ipv4.ip_forward = 0", .conflict, 3, 10),
    .init("ns a\nping a 10.0.0.1 count 0", .invalidValue, 2, 23),
    .init("ns a\nping a 10.0.0.1 count 101", .invalidValue, 2, 23),
    .init("ns a\nping b 10.0.0.1", .unknownNamespace, 2, 6),
    .init("exec c \"true\"", .unknownNamespace, 1, 6),
    .init("dummy a\ndown a\nup a", .conflict, 3, 4),
    .init("veth lo <-> b", .reservedName, 1, 6),
    .init("ns a < lo >", .invalidValue, 1, 8),
    .init("ns a\naddr a:x 10.0.0.1/24", .unknownInterface, 2, 6),
    .init("ns a/b", .invalidName, 1, 4),
    .init("dummy ..", .invalidName, 1, 7),
    .init("ns a < b:x >\nns b", .placementConflict, 1, 8),
    .init("ns a < x >", .unknownInterface, 1, 8),
    .init("dummy zz:d", .unknownNamespace, 1, 7),
    .init("ns a\nmtu a:lo 99999", .invalidValue, 2, 10),
    .init("bridge br0 < lo >", .invalidValue, 1, 14),
    .init("ns a\nns b\ndummy a:d\nroute a default dev b:d", .unknownInterface, 4, 21),
    .init("ns a\nns b\ndummy a:d\ndummy b:d\nroute a default dev b:d", .portNamespace, 5, 21),
]

@Test(arguments: badCases)
func badTopologyIsRejected(_ c: BadCase) {
    let result = check(statements(c.source))
    let errors = result.diagnostics.filter { $0.severity == .error }
    #expect(errors.count >= 1, "no error for \(c.source)")
    guard let first = errors.first else { return }
    #expect(first.kind == c.kind, "\(first)")
    #expect(first.range.start.line == c.line, "\(first)")
    #expect(first.range.start.column == c.column, "\(first)")
    // Messages are lowercase.
    #expect(first.message.first.map { !$0.isUppercase } ?? false)
}

/// Warning rows have the shape of the error rows: the diagnostic's kind, line and column.
typealias WarningCase = BadCase

@Test(arguments: [
    WarningCase("ns a\nroute a default via 10.9.9.9", .unreachableGateway, 2, 21),
    WarningCase("dummy a\naddr a 10.0.0.0/24", .invalidPrefix, 2, 8),
    WarningCase("dummy a\naddr a 10.0.0.255/24", .invalidPrefix, 2, 8),
    WarningCase("dummy a\nmtu a 1000\naddr a fd00::1/64", .invalidValue, 2, 7),
    WarningCase("ns a\ndummy a:d\naddr a:d 10.0.0.1/24\nroute a 10.1.0.0/16 via 10.0.1.1 dev d", .unreachableGateway, 4, 25),
])
func warningOnly(_ c: WarningCase) {
    let result = check(statements(c.source))
    #expect(!result.diagnostics.hasErrors, "\(result.diagnostics)")
    #expect(result.diagnostics.count == 1)
    guard let d = result.diagnostics.first else { return }
    #expect(d.severity == .warning)
    #expect(d.kind == c.kind)
    #expect(d.range.start.line == c.line && d.range.start.column == c.column, "\(d)")
}

@Test func reachableGatewaysGiveNoWarning() {
    let result = check(statements("""
    ns a
    dummy a:d
    addr a:d 10.0.0.1/24
    route a 10.1.0.0/16 via 10.0.0.2
    route a 192.168.0.0/24 dev d
    route a 10.2.0.0/16 via 192.168.0.9
    route a default via fe80::1 dev d
    """))
    #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
}

@Test func unknownPortHelpListsDeclaredInterfacesLikeTheLanguageContract() {
    let source = "bridge br0 < br-a br-d >\ndummy br-a\ndummy br-b\ndummy br-c"
    let result = check(statements(source))
    #expect(result.diagnostics.count == 1)
    let d = result.diagnostics[0]
    #expect(d.message == "unknown interface `br-d`")
    #expect(d.help == "declared interfaces are `br-a`, `br-b`, `br-c`")
    #expect(d.range.end.column - d.range.start.column == 4)
}

@Test func didYouMeanForASingleNearCandidate() {
    let r1 = check(statements("veth veth0 <-> veth1\naddr vteh0 10.0.0.1/24\nup vethx"))
    #expect(r1.diagnostics.map(\.help) == ["did you mean `veth0`?", "declared interfaces are `veth0`, `veth1`"])
    let r2 = check(statements("ns ns1\nping ns2 10.0.0.1"))
    #expect(r2.diagnostics.map(\.help) == ["did you mean `ns1`?"])
    let r3 = check(statements("ns alpha\nping lab 10.0.0.1"))
    #expect(r3.diagnostics.map(\.help) == ["declare it with `ns lab`"])
    let r4 = check(statements("ns a\nns b\nveth b:x <-> y\naddr a:x 10.0.0.1/24"))
    #expect(r4.diagnostics.map(\.help) == ["`x` is declared in `b`: write `b:x`"])
}

@Test func ambiguousReferenceListsBothCandidates() {
    let result = check(statements("ns a\nns b\nveth a:eth0 <-> p1\nveth b:eth0 <-> p2\nup eth0"))
    #expect(result.diagnostics.count == 1)
    #expect(result.diagnostics[0].message == "`eth0` is declared in more than one namespace")
    #expect(result.diagnostics[0].help == "qualify it: `a:eth0` or `b:eth0`")
}

@Test func conflictsNameBothPositions() {
    let result = check(statements("veth a <-> b mtu 1400\nmtu a 1500"))
    #expect(result.diagnostics.count == 1)
    let d = result.diagnostics[0]
    #expect(d.range.start.line == 2)
    #expect(d.notes.map(\.range.start.line) == [1])
}

@Test func allErrorsAreReportedInOnePassInSourceOrder() {
    let result = check(statements("""
    ping nowhere 10.0.0.1
    ns host
    veth abcdefghijklmnopq <-> b
    addr b 224.1.1.1/24
    mtu b 20
    ping nowhere 10.0.0.2
    """))
    // `nowhere` is reported once, at its first use.
    #expect(result.diagnostics.map(\.kind) == [.unknownNamespace, .reservedName, .invalidName, .invalidPrefix, .invalidValue])
    #expect(result.diagnostics.map(\.range.start.line) == [1, 2, 3, 4, 5])
}

@Test func namespaceOrderDoesNotMatter() {
    let result = check(statements("veth a:x <-> b:y\nns a\nns b"))
    #expect(result.diagnostics.isEmpty)
    #expect(result.topology.namespaces.map(\.name) == ["a", "b"])
    #expect(result.topology.interfaces.map(\.id) == [LinkID("a", "lo"), LinkID("b", "lo"), LinkID("a", "x"), LinkID("b", "y")])
}

@Test func hostQualifiedAndBareLoopback() {
    let result = check(statements("addr lo 10.255.255.1/32\naddr host:lo fd00::9/128"))
    #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
    #expect(result.topology.addresses.map(\.interface) == [LinkID("host", "lo"), LinkID("host", "lo")])
    // host:lo is not brought up unless the script says so.
    #expect(!makePlan(result.topology, file: "x").steps.contains { $0.operation == .setUp(LinkID("host", "lo")) })
}

@Test func interfaceAndNamespaceNameRules() {
    #expect(interfaceNameProblem("eth0") == nil)
    #expect(interfaceNameProblem("123456789012345") == nil)
    #expect(interfaceNameProblem("1234567890123456") != nil)
    for bad in ["", ".", "..", "a/b", "a:b", "a b", "a\tb", "x%d", "a\u{0}"] { #expect(interfaceNameProblem(bad) != nil, "\(bad)") }
    #expect(namespaceNameProblem(String(repeating: "n", count: 255)) == nil)
    #expect(namespaceNameProblem(String(repeating: "n", count: 256)) != nil)
    for bad in ["", ".", "..", "a/b"] { #expect(namespaceNameProblem(bad) != nil) }
    #expect(namespaceNameProblem("with space") == nil)
}

@Test func sysctlKeys() {
    #expect(sysctlKeyProblem("net.ipv4.ip_forward") == nil)
    #expect(sysctlKeyProblem("net.ipv4.conf.eth0/100.rp_filter") == nil)
    #expect(sysctlKeyProblem("net.ipv6.conf.h1-eth0.disable_ipv6") == nil)
    for bad in ["kernel.panic", "net.", "net..a", "net.a b", "net.a;rm", "net.ipv4.ip_forward."] {
        #expect(sysctlKeyProblem(bad) != nil, "\(bad)")
    }
}

@Test func interfaceSettingsReadBackAndEqualityIgnoresHowTheyWereSet() {
    let r = SourceRange.none
    let plain = Topology.Interface(id: LinkID("a", "e0"), kind: .veth, range: r)
    var changed = plain
    #expect(changed.mtu == nil && changed.master == nil && changed.stateRange == nil)
    changed.mtu = 1400
    changed.mtuRange = r
    changed.master = "br0"
    #expect(changed.mtu == 1400 && changed.mtuRange == r && changed.master == "br0")
    #expect(changed != plain)
    #expect(changed == Topology.Interface(id: LinkID("a", "e0"), kind: .veth, master: "br0", mtu: 1400, mtuRange: r, range: r))
    changed.mtu = nil
    changed.mtuRange = nil
    changed.master = nil
    #expect(changed == plain)
    #expect(changed.hashValue == plain.hashValue)
}
