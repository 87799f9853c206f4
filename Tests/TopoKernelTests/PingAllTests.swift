import Testing
import TopoLanguage
@testable import TopoKernel

private func topology(_ text: String) throws -> Topology {
    let c = compile(SourceFile(name: "t.topo", text: text))
    try #require(!c.hasErrors, "\(c.diagnostics)")
    return try #require(c.topology)
}

private let threeHosts = """
    ns a, b, c
    bridge br0 < pa pb pc >
    veth a:eth0 <-> pa
    veth b:eth0 <-> pb
    veth c:eth0 <-> pc
    addr a:eth0 10.0.0.1/24, fd00::1/64
    addr b:eth0 fe80::2/64, 10.0.0.2/24
    addr c:lo 10.9.9.9/32
    addr c:eth0 10.0.0.3/24
    addr br0 10.0.0.254/24
    """

@Suite struct PingAllTests {
    @Test func oneAddressPerNamespaceAndFamilyInScriptOrder() throws {
        let t = try topology(threeHosts)
        let ts = PingAll.targets(t)
        #expect(ts.map(\.namespace) == ["a", "b", "c", "host"])
        #expect(ts.map { $0.v4?.description } == ["10.0.0.1", "10.0.0.2", "10.9.9.9", "10.0.0.254"])
        // b's only IPv6 address is link-local: skipped (it would need a scope).
        #expect(ts.map { $0.v6?.description } == ["fd00::1", nil, nil, nil])
    }

    @Test func everyOrderedPairOfEachFamily() throws {
        let t = try topology(threeHosts)
        let ps = PingAll.pairs(t).map { "\($0.from)>\($0.to) \($0.address)" }
        #expect(ps == ["a>b 10.0.0.2", "a>c 10.9.9.9", "a>host 10.0.0.254",
                       "b>a 10.0.0.1", "b>c 10.9.9.9", "b>host 10.0.0.254",
                       "c>a 10.0.0.1", "c>b 10.0.0.2", "c>host 10.0.0.254",
                       "host>a 10.0.0.1", "host>b 10.0.0.2", "host>c 10.9.9.9"])
        #expect(PingAll.pairCount(t) == ps.count)
        // On-link targets: one entry each; 10.9.9.9 is off every subnet: one gateway entry per source.
        #expect(PingAll.neighbourEntries(t) == 12)
    }

    @Test func fewerThanTwoNamespacesWithAnAddressPingNothing() throws {
        let t = try topology("ns a, b\nveth a:e <-> b:e\naddr a:e 10.0.0.1/24\n")
        let backend = RecordingBackend()
        backend.addNamespace("a")
        backend.addNamespace("b")
        let r = PingAll.run(t, backend: backend)
        #expect(r.results.isEmpty && r.allReachable)
        #expect(r.summary() == "pingall: nothing to ping (fewer than two namespaces have an address)")
    }

    @Test func aMissingNamespaceIsReportedAndNothingIsPinged() throws {
        let t = try topology(threeHosts)
        let backend = RecordingBackend()
        backend.addNamespace("a")
        let r = PingAll.run(t, backend: backend)
        #expect(r.missing == ["b", "c"])
        #expect(!r.allReachable)
        #expect(backend.calls.isEmpty)
        #expect(r.summary() == "pingall: not running: no namespace `b`, `c`")
    }

    @Test func matrixFailuresAndSummary() throws {
        let t = try topology(threeHosts)
        let backend = RecordingBackend()
        for n in ["a", "b", "c"] { backend.addNamespace(n) }
        backend.pingAnswer = { _, address in address.description != "10.9.9.9" }
        let r = PingAll.run(t, backend: backend)
        #expect(r.reachable == 9 && r.results.count == 12)
        #expect(r.text() == """
            IPv4  a   b   c   host
            a     -   ok  X   ok
            b     ok  -   X   ok
            c     ok  ok  -   ok
            host  ok  ok  X   -

            X a -> c 10.9.9.9: no answer (1 sent)
            X b -> c 10.9.9.9: no answer (1 sent)
            X host -> c 10.9.9.9: no answer (1 sent)
            pingall: 9/12 reachable; failed: a -> c (10.9.9.9), b -> c (10.9.9.9), host -> c (10.9.9.9)

            """)
        #expect(r.summary(listed: 1) == "pingall: 9/12 reachable; failed: a -> c (10.9.9.9) and 2 more")
    }

    @Test func theNeighbourTableNoteAppearsOnlyWithFailuresInALargeLab() {
        let pair = PingPair(from: "a", to: "b", address: IPAddress("10.0.0.2")!)
        var r = PingAllReport(namespaces: ["a", "b"], results: [PingPairResult(pair: pair, sent: 3, received: 0)],
                              neighbourEntries: 2000)
        #expect(r.text().contains("net.ipv4.neigh.default.gc_thresh3"))
        r.neighbourEntries = 1000
        #expect(!r.text().contains("gc_thresh3"))
        r.neighbourEntries = 2000
        r.results[0].received = 1
        #expect(!r.text().contains("gc_thresh3"))
    }

    @Test func tooManyPairsAreRefusedBeforeAnyPing() throws {
        let t = try topology("for i in 1..600 {\n ns n{i}\n addr n{i}:lo cidrhost(10.1.0.0/16, i)\n}\n")
        let backend = RecordingBackend()
        for i in 1...600 { backend.addNamespace("n\(i)") }
        let r = PingAll.run(t, backend: backend)
        #expect(r.refusal != nil && r.results.isEmpty && !r.allReachable)
        #expect(backend.calls.isEmpty)
        #expect(r.summary().hasPrefix("pingall: 359400 pairs to ping, more than the 250000"))
    }

    @Test func json() throws {
        let ok = PingPairResult(pair: PingPair(from: "a", to: "b", address: IPAddress("10.0.0.2")!), sent: 1, received: 1)
        let bad = PingPairResult(pair: PingPair(from: "b", to: "a", address: IPAddress("fd00::1")!), sent: 0, received: 0,
                                 error: "Operation not permitted")
        let r = PingAllReport(namespaces: ["a", "b"], results: [ok, bad])
        #expect(r.json(file: "x \"y\".topo") == """
            {
              "version": 1,
              "file": "x \\"y\\".topo",
              "ok": false,
              "reachable": 1,
              "total": 2,
              "missing": [],
              "refused": null,
              "pairs": [
                {"from": "a", "to": "b", "family": "ipv4", "address": "10.0.0.2", "sent": 1, "received": 1, "reachable": true, "error": null},
                {"from": "b", "to": "a", "family": "ipv6", "address": "fd00::1", "sent": 0, "received": 0, "reachable": false, "error": "Operation not permitted"}
              ]
            }

            """)
    }
}
