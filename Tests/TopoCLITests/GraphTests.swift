import Foundation
import Testing
import TopoLanguage

/// Graphviz must accept a dot text as it is: `dot -Tsvg` exits 0 and says nothing.
private func expectDotAccepts(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let r = try runProcess(["/usr/bin/dot", "-Tsvg"], stdin: text, timeout: 60)
    #expect(r.status == 0 && r.stderr.isEmpty, "dot rejects the graph of \(name): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stdout.contains("<svg"), sourceLocation: sourceLocation)
}

private let hasDot = FileManager.default.isExecutableFile(atPath: "/usr/bin/dot")
    || ProcessInfo.processInfo.environment["CI"] == "true"

/// `topo graph` of every example (and of awkward names) against goldens; dot renders each.
@Suite struct GraphGoldenTests {
    static let files = exampleNames.map { example($0) } + ["Tests/TopoCLITests/Fixtures/kernel/awkward-names.topo"]

    @Test(arguments: files)
    func dotAndMermaid(_ file: String) throws {
        let base = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let dot = try topo("graph", file)
        #expect(dot.status == 0, "\(dot.stderr)")
        expectGolden(dot.stdout, "graph/\(base).dot")
        let mermaid = try topo("graph", "--format", "mermaid", file)
        #expect(mermaid.status == 0, "\(mermaid.stderr)")
        expectGolden(mermaid.stdout, "graph/\(base).mmd")
    }

    @Test(.enabled(if: hasDot, "graphviz is not installed (apt-get install graphviz)"), arguments: files)
    func graphvizAcceptsIt(_ file: String) throws {
        try expectDotAccepts(try topo("graph", file).stdout, file)
    }

    @Test func aScriptWithErrorsDrawsNothing() throws {
        let r = try topo("graph", "-", stdin: "ns a\nveth a:x <-> b:y\n")
        #expect(r.status == 1 && r.stdout.isEmpty)
    }

    @Test func anUnknownFormatIsAUsageError() throws {
        let r = try topo("graph", "--format", "png", example("veth-pair"))
        #expect(r.status == 2)
    }
}

/// The link kinds no example uses yet (vlan, macvlan, vxlan, vrf, dummy, an external NIC, a
/// veth end as a parent), drawn from a topology made by hand.
@Suite struct GraphKindsTests {
    static func id(_ ns: String, _ n: String) -> LinkID { LinkID(ns, n) }
    static let r = SourceRange.none

    static var topology: Topology {
        var ifs: [Topology.Interface] = []
        func add(_ ns: String, _ n: String, _ kind: Topology.InterfaceKind, peer: LinkID? = nil, master: String? = nil,
                 up: Bool = true, options: LinkOptions? = nil, shaping: Shaping? = nil) {
            var i = Topology.Interface(id: id(ns, n), kind: kind, peer: peer, master: master, up: up, range: r)
            i.options = options
            i.shaping = shaping
            ifs.append(i)
        }
        for ns in ["a", "b", "r"] { add(ns, "lo", .loopback) }
        add("host", "eth0", .external)
        add("a", "mv0", .macvlan, options: .macvlan(parent: id("host", "eth0"), mode: .bridge))
        add("a", "e0", .veth, peer: id("r", "e0"))
        add("r", "e0", .veth, peer: id("a", "e0"), shaping: Shaping(delay: 10_000_000))
        add("a", "e0.10", .vlan, options: .vlan(VLAN(parent: id("a", "e0"), id: 10)))
        add("r", "e0.10", .vlan, master: "red", options: .vlan(VLAN(parent: id("r", "e0"), id: 10, protocol: .dot1ad)))
        add("r", "red", .vrf, options: .vrf(table: 10))
        add("r", "d0", .dummy, master: "red")
        add("b", "u0", .veth, peer: id("r", "u1"), up: false)
        add("r", "u1", .veth, peer: id("b", "u0"))
        add("b", "vx0", .vxlan, master: "br0",
            options: .vxlan(VXLAN(vni: 42, remote: IPAddress("10.30.0.2"), underlay: id("b", "u0"), port: 8472)))
        add("b", "br0", .bridge)
        let addrs: [(LinkID, String)] = [
            (id("a", "mv0"), "192.0.2.10/24"), (id("a", "e0.10"), "10.10.0.1/24"), (id("r", "e0.10"), "10.10.0.2/24"),
            (id("r", "d0"), "10.255.0.1/32"), (id("b", "u0"), "10.30.0.1/30"), (id("r", "u1"), "10.30.0.2/30"),
            (id("b", "br0"), "10.20.0.1/24"), (id("b", "lo"), "fd00::b/128"), (id("host", "eth0"), "198.51.100.7/24"),
        ]
        return Topology(namespaces: ["a", "b", "r"].map { Topology.Namespace(name: $0, range: r) }, interfaces: ifs,
                        addresses: addrs.map { Topology.Address(interface: $0.0, prefix: IPPrefix($0.1)!, range: r) })
    }

    @Test func dotAndMermaid() throws {
        expectGolden(renderGraph(Self.topology, as: .dot, title: "kinds"), "graph/kinds.dot")
        expectGolden(renderGraph(Self.topology, as: .mermaid, title: "it's \"kinds\" #1"), "graph/kinds.mmd")
    }

    @Test(.enabled(if: hasDot, "graphviz is not installed (apt-get install graphviz)"))
    func graphvizAcceptsIt() throws {
        try expectDotAccepts(renderGraph(Self.topology, as: .dot, title: "it's \"kinds\" \\ #1"), "kinds")
    }

    @Test func theSameTopologyGivesTheSameText() {
        #expect(renderGraph(Self.topology, as: .dot, title: "t") == renderGraph(Self.topology, as: .dot, title: "t"))
    }
}
