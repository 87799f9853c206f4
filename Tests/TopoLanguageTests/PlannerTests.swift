import Testing
@testable import TopoLanguage

/// The seed scenarios of LANGUAGE.md §1, with loops unrolled by hand.
enum Scenarios {
    static let vethPair = """
    ns ns0
    ns ns1
    veth ns0:veth0 <-> ns1:veth1
    addr ns0:veth0 10.0.1.1/24
    addr ns1:veth1 10.0.1.2/24
    ping ns1 10.0.1.1
    """

    static let vethPairPlaced = """
    ns ns0 < veth0 >
    ns ns1 < veth1 >
    veth veth0 <-> veth1
    addr veth0 10.0.1.1/24
    addr veth1 10.0.1.2/24
    """

    static let bridge = """
    bridge br0 < p1 p2 p3 >
    addr br0 10.0.0.254/24
    ns h1
    veth h1:eth0 <-> p1
    addr h1:eth0 10.0.0.1/24
    ping h1 10.0.0.254
    ns h2
    veth h2:eth0 <-> p2
    addr h2:eth0 10.0.0.2/24
    ping h2 10.0.0.254
    ns h3
    veth h3:eth0 <-> p3
    addr h3:eth0 10.0.0.3/24
    ping h3 10.0.0.254
    """
}

func L(_ ns: String, _ name: String) -> LinkID { LinkID(ns, name) }
func P(_ s: String) -> IPPrefix { IPPrefix(s)! }
func A(_ s: String) -> IPAddress { IPAddress(s)! }

func plan(_ source: String, file: String = "t.topo") -> Plan {
    let result = check(statements(source))
    #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
    return makePlan(result.topology, file: file)
}

/// The seed's veth pair, as either way of writing it plans it (before its ping).
let vethPairOperations: [Operation] = [
        .addNamespace("ns0"),
        .addNamespace("ns1"),
        .addVeth(L("ns0", "veth0"), peer: L("ns1", "veth1")),
        .setUp(L("ns0", "lo")),
        .setUp(L("ns1", "lo")),
        .setUp(L("ns0", "veth0")),
        .setUp(L("ns1", "veth1")),
        .addAddress(L("ns0", "veth0"), P("10.0.1.1/24")),
        .addAddress(L("ns1", "veth1"), P("10.0.1.2/24")),
]

@Test func vethPairScenarioPlan() {
    let p = plan(Scenarios.vethPair)
    #expect(p.steps.map(\.operation) == vethPairOperations + [.ping(namespace: "ns1", address: A("10.0.1.1"), count: 1)])
    #expect(p.steps.map(\.range.start.line) == [1, 2, 3, 1, 2, 3, 3, 4, 5, 6])
}

@Test func placedVethPairPlansTheSameOperations() {
    let p = plan(Scenarios.vethPairPlaced)
    #expect(p.steps.map(\.operation) == vethPairOperations)
    #expect(p.steps.map(\.range.start.line) == [1, 2, 3, 1, 2, 3, 3, 4, 5])
}

@Test func bridgeScenarioPlan() {
    let p = plan(Scenarios.bridge)
    #expect(p.steps.map(\.operation) == [
        .addNamespace("h1"), .addNamespace("h2"), .addNamespace("h3"),
        .addBridge(L("host", "br0")),
        .addVeth(L("h1", "eth0"), peer: L("host", "p1")),
        .addVeth(L("h2", "eth0"), peer: L("host", "p2")),
        .addVeth(L("h3", "eth0"), peer: L("host", "p3")),
        .setMaster(L("host", "p1"), master: "br0"),
        .setMaster(L("host", "p2"), master: "br0"),
        .setMaster(L("host", "p3"), master: "br0"),
        .setUp(L("h1", "lo")), .setUp(L("h2", "lo")), .setUp(L("h3", "lo")),
        .setUp(L("host", "br0")),
        .setUp(L("h1", "eth0")), .setUp(L("host", "p1")),
        .setUp(L("h2", "eth0")), .setUp(L("host", "p2")),
        .setUp(L("h3", "eth0")), .setUp(L("host", "p3")),
        .addAddress(L("host", "br0"), P("10.0.0.254/24")),
        .addAddress(L("h1", "eth0"), P("10.0.0.1/24")),
        .addAddress(L("h2", "eth0"), P("10.0.0.2/24")),
        .addAddress(L("h3", "eth0"), P("10.0.0.3/24")),
        .ping(namespace: "h1", address: A("10.0.0.254"), count: 1),
        .ping(namespace: "h2", address: A("10.0.0.254"), count: 1),
        .ping(namespace: "h3", address: A("10.0.0.254"), count: 1),
    ])
    #expect(p.steps.map(\.range.start.line) == [
        3, 7, 11, 1, 4, 8, 12, 1, 1, 1, 3, 7, 11, 1, 4, 4, 8, 8, 12, 12, 2, 5, 9, 13, 6, 10, 14,
    ])
}

@Test func mtuDownRoutesSysctlsAndExecArePlannedInPhases() {
    let p = plan("""
    exec a "ip addr"
    ns a
    ns b
    veth a:x <-> b:y mtu 1400
    down b:y
    forward a
    addr a:x 10.1.0.1/24
    route a 10.2.0.0/16 via 10.1.0.2 metric 10
    sysctl b net.ipv4.conf.all.rp_filter = 2
    ping a 10.1.0.1 count 3
    """)
    #expect(p.steps.map(\.operation) == [
        .addNamespace("a"), .addNamespace("b"),
        .addVeth(L("a", "x"), peer: L("b", "y")),
        .setMTU(L("a", "x"), 1400), .setMTU(L("b", "y"), 1400),
        .setUp(L("a", "lo")), .setUp(L("b", "lo")), .setUp(L("a", "x")), .setDown(L("b", "y")),
        .addAddress(L("a", "x"), P("10.1.0.1/24")),
        .addRoute(namespace: "a", RouteSpec(destination: P("10.2.0.0/16"), gateway: A("10.1.0.2"), metric: 10)),
        .setSysctl(namespace: "a", key: "net.ipv4.ip_forward", value: "1"),
        .setSysctl(namespace: "a", key: "net.ipv6.conf.all.forwarding", value: "1"),
        .setSysctl(namespace: "b", key: "net.ipv4.conf.all.rp_filter", value: "2"),
        .exec(namespace: "a", command: "ip addr", timeout: nil),
        .ping(namespace: "a", address: A("10.1.0.1"), count: 3),
    ])
    #expect(p.steps.map(\.range.start.line) == [2, 3, 4, 4, 4, 2, 3, 4, 5, 7, 8, 6, 6, 9, 1, 10])
}

@Test func accumulatedStatementsMergeAndRepeatsAreIdempotent() {
    let p = plan("""
    bridge br0 < p1 >
    bridge br0 < p2 >
    dummy p1
    dummy p2
    dummy p1
    addr p1 10.0.0.1/24
    addr p1 10.0.0.1/24
    """)
    #expect(p.steps.map(\.operation) == [
        .addBridge(L("host", "br0")), .addDummy(L("host", "p1")), .addDummy(L("host", "p2")),
        .setMaster(L("host", "p1"), master: "br0"), .setMaster(L("host", "p2"), master: "br0"),
        .setUp(L("host", "br0")), .setUp(L("host", "p1")), .setUp(L("host", "p2")),
        .addAddress(L("host", "p1"), P("10.0.0.1/24")),
    ])
}

@Test func loopbackAddressesAndDefaultRoutes() {
    let p = plan("""
    ns r
    addr r:lo 10.255.0.1/32, fd00::1/128
    veth r:e0 <-> e1
    addr r:e0 fd01::1/64
    addr e1 fd01::2/64
    route r default via fd01::2
    route host 10.255.0.1/32 dev e1
    """)
    #expect(p.steps.map(\.operation) == [
        .addNamespace("r"),
        .addVeth(L("r", "e0"), peer: L("host", "e1")),
        .setUp(L("r", "lo")), .setUp(L("r", "e0")), .setUp(L("host", "e1")),
        .addAddress(L("r", "lo"), P("10.255.0.1/32")),
        .addAddress(L("r", "lo"), P("fd00::1/128")),
        .addAddress(L("r", "e0"), P("fd01::1/64")),
        .addAddress(L("host", "e1"), P("fd01::2/64")),
        .addRoute(namespace: "r", RouteSpec(destination: .any(.ipv6), gateway: A("fd01::2"))),
        .addRoute(namespace: "host", RouteSpec(destination: P("10.255.0.1/32"), device: "e1")),
    ])
}

@Test func largeTopologyChecksAndPlans() {
    // 50 000 veth pairs = 100 000 interfaces, in 1000 namespaces.
    var stmts: [Statement] = []
    let r = SourceRange.none
    for n in 0..<1000 { stmts.append(Statement(.namespace(Located("n\(n)", at: r), placed: []), at: r)) }
    for i in 0..<50_000 {
        let a = InterfaceRef(namespace: Located("n\(i % 1000)", at: r), name: Located("a\(i)", at: r))
        let b = InterfaceRef(namespace: Located("n\((i + 1) % 1000)", at: r), name: Located("b\(i)", at: r))
        stmts.append(Statement(.veth(a, b, mtu: nil), at: r))
        stmts.append(Statement(.address(a, [Located(IPPrefix(address: .v4(0x0A00_0000 + UInt32(i) * 4 + 1), length: 30), at: r)]), at: r))
    }
    stmts.append(Statement(.bridge(InterfaceRef(name: Located("br", at: r)),
                                   ports: (0..<2000).map { InterfaceRef(name: Located("p\($0)", at: r)) }, mtu: nil), at: r))
    for i in 0..<2000 { stmts.append(Statement(.dummy(InterfaceRef(name: Located("p\(i)", at: r)), mtu: nil), at: r)) }
    let clock = ContinuousClock()
    var plan: Plan?
    let elapsed = clock.measure {
        let result = check(stmts)
        #expect(!result.diagnostics.hasErrors)
        plan = makePlan(result.topology, file: "big.topo")
    }
    #expect(plan!.steps.count > 150_000)
    print("check+plan of \(stmts.count) statements (102 001 interfaces): \(elapsed)")
}

@Test func vethPairIsCreatedOnceWhetherItsEndsAreNeighboursOrNot() {
    let r = SourceRange.none
    func veth(_ ns: String, _ name: String, _ peer: LinkID) -> Topology.Interface {
        Topology.Interface(id: LinkID(ns, name), kind: .veth, peer: peer, range: r)
    }
    let a = LinkID("x", "a"), b = LinkID("y", "b"), c = LinkID("x", "c"), d = LinkID("y", "d")
    // a-b are neighbours; c ... d are apart, with d listed before c.
    let topology = Topology(interfaces: [veth("x", "a", b), veth("y", "b", a), veth("y", "d", c),
                                         Topology.Interface(id: LinkID("x", "dm"), kind: .dummy, range: r),
                                         veth("x", "c", d)])
    let creations = makePlan(topology, file: "t.topo").steps.compactMap { step -> Operation? in
        switch step.operation {
        case .addVeth, .addDummy: return step.operation
        default: return nil
        }
    }
    #expect(creations == [.addVeth(a, peer: b), .addVeth(d, peer: c), .addDummy(LinkID("x", "dm"))])
}
