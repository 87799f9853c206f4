import Foundation
import Testing
import TopoLanguage
@testable import TopoKernel

/// `topo show` of live states built by hand (no kernel): every link kind, shaping, route
/// tables, per-family forwarding, and what topo cannot express, against golden scripts in
/// Fixtures/show/ (TOPO_UPDATE_GOLDEN=1 regenerates them). Every printed script must pass
/// `topo check` on its own.

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/show")

private func expectGolden(_ actual: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let url = fixtures.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["TOPO_UPDATE_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(at: fixtures, withIntermediateDirectories: true)
        try? actual.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("missing golden file \(name); run with TOPO_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
        return
    }
    #expect(actual == expected, "show output differs from \(name)", sourceLocation: sourceLocation)
}

/// The printed script, checked: no errors (warnings are allowed and returned).
private func checked(_ script: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Compilation {
    let c = compile(SourceFile(name: "show.topo", text: script))
    let errors = c.diagnostics.filter { $0.severity == .error }
    #expect(errors.isEmpty, "the printed script does not pass check: \(errors.map { "\($0.range.start): \($0.message)" })\n\(script)",
            sourceLocation: sourceLocation)
    return c
}

private func link(_ name: String, _ index: Int, _ kind: String?, peer: LinkID? = nil, master: String? = nil, mtu: Int = 1500,
                  up: Bool = true, options: LinkOptions? = nil, parentUnresolved: Bool = false, rootQdisc: String? = nil,
                  shaping: Shaping? = nil) -> LiveLink {
    LiveLink(name: name, index: index, kind: kind, peer: peer, master: master, mtu: mtu, up: up, options: options,
             parentUnresolved: parentUnresolved, rootQdisc: rootQdisc ?? (shaping == nil ? nil : "tbf"), shaping: shaping)
}

private func lo(up: Bool = true) -> LiveLink { link("lo", 1, nil, mtu: 65536, up: up) }

private func L(_ ns: String, _ n: String) -> LinkID { LinkID(ns, n) }

/// A lab built by hand with every kind, shaping, route tables, a rule, a blackhole route,
/// IPv4-only forwarding, an unknown link kind and a veth whose peer cannot be seen.
private let lab: [String: LiveNamespace] = {
    let wan = Shaping(delay: 40_000_000, loss: Percentage(millionths: 1_000_000))
    let both = Shaping(delay: 10_000_000, rate: 10_000_000)
    var all: [String: LiveNamespace] = [:]
    all[hostNamespace] = LiveNamespace(
        links: [lo(), link("eth0", 2, nil), link("hostbr", 3, "bridge"), link("p1", 4, "veth", peer: L("h1", "eth0"), master: "hostbr"),
                link("docker0", 5, "bridge")],
        addresses: [LinkAddress(link: "hostbr", prefix: IPPrefix("10.0.0.254/24")!), LinkAddress(link: "eth0", prefix: IPPrefix("192.168.1.5/24")!)])
    all["r1"] = LiveNamespace(
        links: [lo(), link("eth0", 2, "veth", peer: L("h2", "up"), shaping: wan),
                link("eth0.100", 3, "vlan", master: "blue", options: .vlan(VLAN(parent: L("r1", "eth0"), id: 100))),
                link("eth0.200", 4, "vlan", options: .vlan(VLAN(parent: L("r1", "eth0"), id: 200, protocol: .dot1ad))),
                link("blue", 5, "vrf", mtu: 65575, options: .vrf(table: 10)),
                link("vx0", 6, "vxlan", mtu: 1450, options: .vxlan(VXLAN(vni: 42, remote: IPAddress("192.0.2.2"), local: IPAddress("192.0.2.1"),
                                                                            underlay: L("r1", "eth0")))),
                link("wg0", 7, "wireguard", mtu: 1420),
                link("lost", 8, "veth", peer: nil),
                link("shaped", 9, "dummy", rootQdisc: "htb")],
        addresses: [LinkAddress(link: "eth0", prefix: IPPrefix("10.1.0.1/24")!), LinkAddress(link: "eth0", prefix: IPPrefix("fe80::1/64")!),
                    LinkAddress(link: "eth0.100", prefix: IPPrefix("10.100.0.1/24")!), LinkAddress(link: "wg0", prefix: IPPrefix("10.200.0.1/24")!)],
        routes: [RouteSpec(destination: IPPrefix("10.9.0.0/16")!, gateway: IPAddress("10.100.0.2"), device: "eth0.100", table: 10),
                 RouteSpec(destination: .any(.ipv4), gateway: IPAddress("10.1.0.2"), device: "eth0"),
                 RouteSpec(destination: IPPrefix("10.201.0.0/16")!, device: "wg0")],
        sysctls: ["net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "0"],
        unmodelled: ["rule 1000: from all lookup 10", "blackhole route 10.99.0.0/16", "link wg0 (wireguard)"])
    all["h1"] = LiveNamespace(
        links: [lo(), link("eth0", 2, "veth", peer: L(hostNamespace, "p1"), shaping: Shaping(rate: 10_000_000)),
                link("mv0", 3, "macvlan", options: .macvlan(parent: L(hostNamespace, "eth0"), mode: .bridge)),
                link("mv1", 4, "macvlan", parentUnresolved: true)],
        addresses: [LinkAddress(link: "eth0", prefix: IPPrefix("10.0.0.1/24")!), LinkAddress(link: "lo", prefix: IPPrefix("127.0.0.1/8")!),
                    LinkAddress(link: "lo", prefix: IPPrefix("10.255.0.1/32")!)],
        sysctls: ["net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"])
    all["h2"] = LiveNamespace(
        links: [lo(), link("up", 2, "veth", peer: L("r1", "eth0")),
                link("iv0", 3, "ipvlan", options: .ipvlan(parent: L("h1", "eth0"), mode: .l2)),
                link("a", 4, "veth", peer: L("h2", "b"), mtu: 9000, shaping: both),
                link("b", 5, "veth", peer: L("h2", "a"), mtu: 9000, up: false, shaping: both),
                link("d0", 6, "dummy", mtu: 1400)],
        addresses: [LinkAddress(link: "d0", prefix: IPPrefix("fd00::1/128")!)],
        sysctls: ["net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "1"])
    return all
}()

@Suite struct ShowKindsTests {
    @Test func everyKindAndWhatCannotBeExpressed() throws {
        let topo = LiveTopology(namespaces: ["h1", "h2", "r1"], raw: lab)
        let text = ScriptPrinter.print(topo.script())
        expectGolden(text, "lab.topo")
        let c = checked(text)
        // What the script rebuilds is what was read.
        guard let t = c.topology else { return }
        #expect(t.interface(L("r1", "eth0.200"))?.options == .vlan(VLAN(parent: L("r1", "eth0"), id: 200, protocol: .dot1ad)))
        #expect(t.interface(L("r1", "eth0.100"))?.master == "blue")
        #expect(t.interface(L("r1", "blue"))?.options == .vrf(table: 10))
        #expect(t.interface(L("r1", "vx0"))?.options == lab["r1"]?.link("vx0")?.options)
        #expect(t.interface(L("h1", "mv0"))?.options == LinkOptions.macvlan(parent: L(hostNamespace, "eth0"), mode: .bridge))
        #expect(t.interface(L(hostNamespace, "eth0"))?.kind == .external)
        #expect(t.interface(L("h2", "iv0"))?.options == LinkOptions.ipvlan(parent: L("h1", "eth0"), mode: .l2))
        #expect(t.interface(L("r1", "eth0"))?.shaping == lab["r1"]?.link("eth0")?.shaping)
        #expect(t.interface(L("h2", "a"))?.shaping == Shaping(delay: 10_000_000, rate: 10_000_000))
        #expect(t.interface(L("h2", "b"))?.shaping == Shaping(delay: 10_000_000, rate: 10_000_000))
        let tableRoutes = t.routes.filter { (r: Topology.Route) in r.namespace == "r1" && r.spec.table == 10 }
        #expect(tableRoutes.count == 1)
        let r1Keys: [String] = t.sysctls.filter { $0.namespace == "r1" }.map { $0.key }
        let h2Keys: [String] = t.sysctls.filter { $0.namespace == "h2" }.map { $0.key }
        #expect(r1Keys == ["net.ipv4.ip_forward"])
        #expect(h2Keys == ["net.ipv6.conf.all.forwarding"])
        #expect(t.sysctls.filter { $0.namespace == "h1" }.count == 2)
        // Nothing is dropped silently: every object not expressed is named in a comment.
        for needle in ["r1:wg0 (kind wireguard)", "r1:lost (its peer", "h1:mv1 (its parent", "qdisc htb at the root of r1:shaped",
                       "rule 1000: from all lookup 10", "blackhole route 10.99.0.0/16", "addr r1:wg0 10.200.0.1/24",
                       "route 10.201.0.0/16 dev wg0"] {
            #expect(text.contains(needle), "\(needle) is not named")
        }
        // The backend's own line for wg0 is not repeated.
        #expect(!text.contains("link wg0 (wireguard)"))
        // Kernel defaults are not printed: the VRF's 65575, the vxlan's 1450.
        #expect(!text.contains("65575") && !text.contains("1450"))
        // Unrelated host links are not shown.
        #expect(!text.contains("docker0"))
    }

    @Test func aSubsetDeclaresWhatItNeedsElsewhere() throws {
        let all = LiveTopology(namespaces: ["h1", "h2", "r1"], raw: lab)
        // As `topo show h2` builds it: the subset named, the state of everything.
        let topo = LiveTopology(namespaces: ["h2"], state: all.state)
        let text = ScriptPrinter.print(topo.script())
        expectGolden(text, "lab-h2.topo")
        _ = checked(text)
        // h2's veth `up` needs r1:eth0, and its ipvlan needs h1:eth0 (whose peer is host:p1, a
        // port of hostbr); nothing else of r1 or h1.
        #expect(text.contains("ns h1") && text.contains("ns r1"))
        #expect(text.contains("bridge hostbr < p1 >"))
        #expect(!text.contains("eth0.100") && !text.contains("mv0") && !text.contains("10.1.0.1"))
    }

    @Test func forwardingIsPrintedPerFamily() {
        func script(_ v4: String, _ v6: String) -> [String] {
            let st = LiveNamespace(links: [lo()], sysctls: ["net.ipv4.ip_forward": v4, "net.ipv6.conf.all.forwarding": v6])
            return ScriptPrinter.print(LiveTopology(namespaces: ["a"], state: ["a": st]).script())
                .split(separator: "\n").map(String.init)
        }
        #expect(script("1", "1") == ["ns a", "forward a"])
        #expect(script("1", "0") == ["ns a", "sysctl a net.ipv4.ip_forward = 1"])
        #expect(script("0", "1") == ["ns a", "sysctl a net.ipv6.conf.all.forwarding = 1"])
        #expect(script("0", "0") == ["ns a"])
    }

    @Test func stackedMTUsArePrintedWhereTheyDifferFromWhatTheLinkGetsByItself() {
        var all: [String: LiveNamespace] = [:]
        all[hostNamespace] = LiveNamespace(links: [lo(), link("eth0", 2, nil, mtu: 9000)])
        all["a"] = LiveNamespace(links: [
            lo(), link("u", 2, "veth", peer: L("a", "w"), mtu: 9000), link("w", 3, "veth", peer: L("a", "u"), mtu: 9000),
            // created at 1500 before u's mtu is raised: stays 1500 (no mtu printed)
            link("u.1", 4, "vlan", options: .vlan(VLAN(parent: L("a", "u"), id: 1))),
            // raised with its parent: printed
            link("u.2", 5, "vlan", mtu: 9000, options: .vlan(VLAN(parent: L("a", "u"), id: 2))),
            // on a NIC of 9000: created with its mtu (not printed)
            link("m", 6, "macvlan", mtu: 9000, options: .macvlan(parent: L(hostNamespace, "eth0"), mode: .private)),
            // the checker derives 8950 from u's 9000 (not printed); 1450 must be printed
            link("x", 7, "vxlan", mtu: 8950, options: .vxlan(VXLAN(vni: 1, remote: IPAddress("10.0.0.2"), underlay: L("a", "u")))),
            link("y", 8, "vxlan", mtu: 1450, options: .vxlan(VXLAN(vni: 2, remote: IPAddress("10.0.0.2"), underlay: L("a", "u")))),
        ])
        let text = ScriptPrinter.print(LiveTopology(namespaces: ["a"], raw: all).script())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("vlan a:u.1 link a:u id 1"))
        #expect(lines.contains("vlan a:u.2 link a:u id 2 mtu 9000"))
        #expect(lines.contains("macvlan a:m link host:eth0 mode private"))
        #expect(lines.contains("vxlan a:x id 1 remote 10.0.0.2 link a:u"))
        #expect(lines.contains("vxlan a:y id 2 remote 10.0.0.2 link a:u mtu 1450"))
        let c = checked(text)
        #expect(c.topology?.interface(L("a", "x"))?.mtu == 8950)
    }

    @Test func jsonCarriesTheNewFields() {
        let topo = LiveTopology(namespaces: ["h1", "h2", "r1"], raw: lab)
        let json = topo.json()
        #expect(json.contains("\"options\":\"vlan link r1:eth0 id 200 protocol 802.1ad\""))
        #expect(json.contains("\"tc\":\"delay 40ms loss 1%\""))
        #expect(json.contains("\"root_qdisc\":\"htb\""))
        #expect(json.contains("\"table\":10}"))
        #expect(json.contains("\"unmodelled\":[\"rule 1000: from all lookup 10\",\"blackhole route 10.99.0.0/16\",\"link wg0 (wireguard)\"]"))
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
    }
}
