import Foundation
import Glibc
import Testing
@testable import Netlink

// Kernel tests of the link kinds, qdiscs, route tables, rename/alias and echo, each in a
// throwaway sandbox (Sandbox.swift), judged by `ip -j`/`tc -j` and by traffic.
//
// Kinds this machine's kernel lacks (netem, vlan, ipvlan, vrf, dummy) are probed once, in a
// sandbox of their own, and their tests are skipped with a message naming the module. On the
// user-mode-Linux lane (Debian's UML 6.1, which has them all) run the test binary inside UML
// with TOPO_REQUIRE_KERNEL_FEATURES=1: then a missing feature fails the test instead of
// skipping it. E.g. with the lane's runner:
//
//     cat > /tmp/k.sh <<'EOF'
//     TOPO_REQUIRE_KERNEL_FEATURES=1 .build/debug/topoPackageTests.xctest \
//         --testing-library swift-testing --filter 'KindKernelTests'
//     EOF
//     Tests/uml/run.sh -m veth,vxlan,macvlan,sch_tbf,sch_netem,8021q,ipvlan,vrf,dummy -t 600 /tmp/k.sh
//
// Each test body is a plain function of `KindKernelChecks`, so a lane can also call them
// from any other harness.

/// TOPO_REQUIRE_KERNEL_FEATURES=1: a kernel feature the probe does not find fails the test.
let requireKernelFeatures = ProcessInfo.processInfo.environment["TOPO_REQUIRE_KERNEL_FEATURES"] == "1"

/// What this kernel can do, probed once each in a throwaway sandbox (needs root).
enum KernelFeature: String, CaseIterable, Sendable {
    case netem, tbf, vlan, macvlan, ipvlan, vxlan, vrf, dummy

    /// The kernel option and module, for skip messages.
    var module: String {
        switch self {
        case .netem: return "CONFIG_NET_SCH_NETEM, module sch_netem"
        case .tbf: return "CONFIG_NET_SCH_TBF, module sch_tbf"
        case .vlan: return "CONFIG_VLAN_8021Q, module 8021q"
        case .macvlan: return "CONFIG_MACVLAN, module macvlan"
        case .ipvlan: return "CONFIG_IPVLAN, module ipvlan"
        case .vxlan: return "CONFIG_VXLAN, module vxlan"
        case .vrf: return "CONFIG_NET_VRF, module vrf"
        case .dummy: return "CONFIG_DUMMY, module dummy"
        }
    }

    private static let probed: [KernelFeature: Bool] = {
        guard getuid() == 0, let sandbox = try? Sandbox(), let s = try? sandbox.socket() else { return [:] }
        var out: [KernelFeature: Bool] = [:]
        _ = try? s.execute(LinkRequest.addVeth(name: "pa", peer: "pb"))
        let parent = (try? s.link(.name("pa")))??.index ?? 0
        func ok(_ r: Request) -> Bool {
            do { try s.execute(r); return true } catch { return false }
        }
        out[.dummy] = ok(try! LinkRequest.addDummy(name: "pdummy"))
        out[.vrf] = ok(try! LinkRequest.addVRF(name: "pvrf", table: 10))
        out[.vxlan] = ok(try! LinkRequest.addVXLAN(name: "pvx", VXLANInfo(id: 1, port: 4789)))
        if parent > 0 {
            out[.vlan] = ok(try! LinkRequest.addVLAN(name: "pvlan", parentIndex: parent, VLANInfo(id: 5)))
            out[.macvlan] = ok(try! LinkRequest.addMacvlan(name: "pmv", parentIndex: parent, mode: MacvlanInfo.Mode.bridge))
            out[.ipvlan] = ok(try! LinkRequest.addIPVlan(name: "pipv", parentIndex: parent, mode: IPVlanInfo.Mode.l2))
            out[.netem] = ok(try! QdiscRequest.netem(.add, index: parent, handle: TCHandle(major: 1), Netem(delay: 1000)))
            _ = try? s.execute(QdiscRequest.delete(index: parent))
            out[.tbf] = ok(try! QdiscRequest.tbf(.add, index: parent, handle: TCHandle(major: 1),
                                                 TBF(rateBytesPerSecond: 125_000, burst: 16384, limit: 30000)))
        }
        return out
    }()

    /// The kernel has it (or TOPO_REQUIRE_KERNEL_FEATURES=1 says it must).
    var enabled: Bool { requireKernelFeatures || (KernelFeature.probed[self] ?? false) }
    var skipComment: Comment { "the kernel has no \(rawValue) (\(module)); the user-mode-Linux lane runs this" }
}

/// A socket in a named namespace of the sandbox.
private func socket(_ sandbox: Sandbox, in ns: NamespaceFD) throws -> NetlinkSocket {
    try sandbox.thread.run { try NamespaceThread() }.openSocket(inNamespace: ns.fd)
}

private func index(_ s: NetlinkSocket, _ name: String) throws -> Int32 {
    try #require(try s.link(.name(name)), "no link \(name)").index
}

private func v4(_ s: String) -> [UInt8] { ipv4(s) }

/// The kernel's errno and extack of a failed request.
private func refusal(_ body: () throws -> Void) -> (errno: Int32, message: String?)? {
    do { try body(); return nil } catch NetlinkError.kernel(let e, let m) { return (e, m) } catch { return (-1, "\(error)") }
}

/// `ping -c N` from a named namespace of the sandbox: how many replies came back.
private func ping(_ sandbox: Sandbox, from ns: String, _ address: String, count: Int = 3) throws -> Int {
    let (_, out) = try sandbox.observe(["ip", "netns", "exec", ns, "ping", "-c", String(count), "-i", "0.2", "-W", "2", address])
    return out.split(separator: "\n").filter { $0.contains("bytes from") }.count
}

private func linkJSON(_ sandbox: Sandbox, _ ns: String?, _ name: String) throws -> [String: Any] {
    let args = (ns.map { ["-n", $0] } ?? []) + ["-d", "link", "show", "dev", name]
    return try #require(try sandbox.ipJSON(args).first, "ip shows no \(name)")
}

private func infoData(_ j: [String: Any]) -> [String: Any] {
    ((j["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
}

private func tcJSON(_ sandbox: Sandbox, _ dev: String) throws -> [[String: Any]] {
    let (status, out) = try sandbox.observe(["tc", "-j", "qdisc", "show", "dev", dev])
    guard status == 0 else { throw NetlinkError.invalidArgument("tc failed: \(out)") }
    return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
}

enum KindKernelChecks {
    /// vxlan (TC-LINKS §9 V1): two underlay namespaces joined by a veth, each creating its tunnel
    /// end directly into an overlay namespace in one request; read back, ping across, changed in
    /// place, VNI and port changes refused.
    static func vxlanAcrossNamespaces() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        for n in ["ua", "ub", "oa", "ob"] { try named.create(n) }
        let ua = try named.open("ua"), ub = try named.open("ub"), oa = try named.open("oa"), ob = try named.open("ob")
        let root = try sandbox.socket()
        try root.execute(try LinkRequest.addVeth(name: "u_a", peer: "u_b", namespaceFD: ua.fd, peerNamespaceFD: ub.fd))
        let sua = try socket(sandbox, in: ua), sub = try socket(sandbox, in: ub)
        let soa = try socket(sandbox, in: oa), sob = try socket(sandbox, in: ob)
        let ia = try index(sua, "u_a"), ib = try index(sub, "u_b")
        try sua.execute(try AddressRequest.add(index: ia, address: v4("192.168.1.1"), prefixLength: 24))
        try sub.execute(try AddressRequest.add(index: ib, address: v4("192.168.1.2"), prefixLength: 24))
        try sua.execute(try LinkRequest.setUp(.index(ia)))
        try sub.execute(try LinkRequest.setUp(.index(ib)))

        // One request each, from the underlay's namespace, the device placed in the overlay's.
        try sua.execute(try LinkRequest.addVXLAN(name: "vxa", VXLANInfo(id: 100, group: v4("192.168.1.2"), local: v4("192.168.1.1"),
                                                                       link: UInt32(ia), learning: 1, port: 4789), namespaceFD: oa.fd))
        try sub.execute(try LinkRequest.addVXLAN(name: "vxb", VXLANInfo(id: 100, group: v4("192.168.1.1"), local: v4("192.168.1.2"),
                                                                       link: UInt32(ib), learning: 1, port: 4789), namespaceFD: ob.fd))
        #expect(try sua.link(.name("vxa")) == nil)  // not in the underlay namespace
        let j = try linkJSON(sandbox, "oa", "vxa")
        let d = infoData(j)
        #expect(d["id"] as? Int == 100 && d["remote"] as? String == "192.168.1.2" && d["local"] as? String == "192.168.1.1")
        #expect(d["port"] as? Int == 4789)
        #expect(j["mtu"] as? Int == 1450)  // the kernel's underlay − 50
        #expect(j["link_netnsid"] != nil)

        // Our decoder, from the overlay namespace: VXLAN_LINK is the underlay's index *there*.
        let vxa = try #require(try soa.link(.name("vxa")))
        #expect(vxa.linkNetnsID != nil)
        guard case .vxlan(let x) = vxa.kindInfo else { Issue.record("not a vxlan: \(String(describing: vxa.kindInfo))"); return }
        #expect(x.id == 100 && x.link == UInt32(ia) && x.group == v4("192.168.1.2") && x.local == v4("192.168.1.1"))
        #expect(x.port == 4789 && x.ttl == 0)
        // The nsid it reports is the one oa gives ua.
        #expect(try soa.namespaceID(of: ua.fd) == vxa.linkNetnsID)

        for (s, name, addr) in [(soa, "vxa", "10.100.0.1"), (sob, "vxb", "10.100.0.2")] {
            let i = try index(s, name)
            try s.execute(try AddressRequest.add(index: i, address: v4(addr), prefixLength: 24))
            try s.execute(try LinkRequest.setUp(.index(i)))
        }
        #expect(try ping(sandbox, from: "oa", "10.100.0.2") >= 2, "no ping across the overlay")

        // Change in place (from the device's namespace): remote and ttl. The underlay index is
        // the one in the link namespace (ua).
        try soa.execute(try LinkRequest.changeVXLAN(.name("vxa"), VXLANInfo(id: 100, group: v4("192.168.1.3"), local: v4("192.168.1.1"),
                                                                            link: UInt32(ia), ttl: 7, port: 4789)))
        var e = infoData(try linkJSON(sandbox, "oa", "vxa"))
        #expect(e["remote"] as? String == "192.168.1.3" && e["ttl"] as? Int == 7 && e["port"] as? Int == 4789)
        #expect(e["link"] != nil)
        // The default destination moved (learned MACs keep theirs).
        let fdb = try sandbox.observe(["bridge", "-n", "oa", "fdb", "show", "dev", "vxa"]).output
        #expect(fdb.contains("00:00:00:00:00:00 dst 192.168.1.3"), "\(fdb)")
        // Back, ttl to auto (0): as created.
        try soa.execute(try LinkRequest.changeVXLAN(.name("vxa"), VXLANInfo(id: 100, group: v4("192.168.1.2"), local: v4("192.168.1.1"),
                                                                            link: UInt32(ia), ttl: 0)))
        e = infoData(try linkJSON(sandbox, "oa", "vxa"))
        #expect(e["remote"] as? String == "192.168.1.2" && e["ttl"] as? Int == 0)
        #expect(try ping(sandbox, from: "oa", "10.100.0.2") >= 2)

        // A VNI change is refused; so is the port, even unchanged (hence changeAttributes).
        let vni = refusal { try soa.execute(try LinkRequest.changeVXLAN(.name("vxa"), VXLANInfo(id: 101))) }
        #expect(vni?.errno == EOPNOTSUPP && vni?.message?.contains("VNI") == true, "\(String(describing: vni))")
        let port = refusal {
            try soa.execute(try LinkRequest.change(.name("vxa"), kind: "vxlan",
                                                   data: [RawAttribute(type: VXLANInfo.Attribute.port, payload: [0x12, 0xb5])]))
        }
        #expect(port?.errno == EOPNOTSUPP, "\(String(describing: port))")
        // A second vxlan of the same VNI and port in the underlay namespace: EEXIST.
        let dup = refusal { try sua.execute(try LinkRequest.addVXLAN(name: "vxc", VXLANInfo(id: 100, link: UInt32(ia), port: 4789))) }
        #expect(dup?.errno == EEXIST, "\(String(describing: dup))")
        // Deleting the underlay namespace takes the overlay's vxlan with it.
        try named.delete("ua")
        withExtendedLifetime([ua]) {}
    }

    /// macvlan: the four modes topo writes, children of one parent created directly in two
    /// namespaces (bridge mode: they reach each other), the mode changed in place (private: they
    /// do not), passthru alone on its parent.
    static func macvlanModesAndNamespaces() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        try named.create("m1")
        try named.create("m2")
        let m1 = try named.open("m1"), m2 = try named.open("m2")
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "p0", peer: "p1"))
        let p0 = try index(s, "p0")
        for n in ["p0", "p1"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        try s.execute(try LinkRequest.addMacvlan(name: "mva", parentIndex: p0, mode: MacvlanInfo.Mode.bridge, namespaceFD: m1.fd))
        try s.execute(try LinkRequest.addMacvlan(name: "mvb", parentIndex: p0, mode: MacvlanInfo.Mode.bridge, namespaceFD: m2.fd))
        let j = try linkJSON(sandbox, "m1", "mva")
        #expect(infoData(j)["mode"] as? String == "bridge" && j["link_netnsid"] != nil)
        let s1 = try socket(sandbox, in: m1), s2 = try socket(sandbox, in: m2)
        let mva = try #require(try s1.link(.name("mva")))
        #expect(mva.peerIndex == p0 && mva.linkNetnsID != nil)
        if case .macvlan(let m) = mva.kindInfo { #expect(m.mode == MacvlanInfo.Mode.bridge) } else { Issue.record("not a macvlan") }
        for (so, name, addr) in [(s1, "mva", "10.200.0.1"), (s2, "mvb", "10.200.0.2")] {
            let i = try index(so, name)
            try so.execute(try AddressRequest.add(index: i, address: v4(addr), prefixLength: 24))
            try so.execute(try LinkRequest.setUp(.index(i)))
        }
        #expect(try ping(sandbox, from: "m1", "10.200.0.2") >= 2, "bridge-mode macvlans do not reach each other")
        try s1.execute(try LinkRequest.changeMacvlan(.name("mva"), mode: MacvlanInfo.Mode.private))
        #expect(infoData(try linkJSON(sandbox, "m1", "mva"))["mode"] as? String == "private")
        #expect(try ping(sandbox, from: "m1", "10.200.0.2", count: 2) == 0, "a private macvlan answered its sibling")
        try s1.execute(try LinkRequest.changeMacvlan(.name("mva"), mode: MacvlanInfo.Mode.bridge))
        #expect(try ping(sandbox, from: "m1", "10.200.0.2") >= 2)

        // vepa and private, read back by us and by ip; no MODE means VEPA.
        for (name, mode, word) in [("mvv", MacvlanInfo.Mode.vepa, "vepa"), ("mvp", MacvlanInfo.Mode.private, "private")] {
            try s.execute(try LinkRequest.addMacvlan(name: name, parentIndex: p0, mode: mode))
            #expect(infoData(try linkJSON(sandbox, nil, name))["mode"] as? String == word)
            guard case .macvlan(let m) = try s.link(.name(name))?.kindInfo else { Issue.record("\(name)"); continue }
            #expect(m.mode == mode)
        }
        try s.execute(try LinkRequest.add(name: "mvn", kind: "macvlan", data: nil, parentIndex: p0))
        guard case .macvlan(let n) = try s.link(.name("mvn"))?.kindInfo else { Issue.record("mvn"); return }
        #expect(n.effectiveMode == MacvlanInfo.Mode.vepa)
        // passthru: only as the one macvlan of its parent.
        try s.execute(try LinkRequest.addVeth(name: "q0", peer: "q1"))
        let q0 = try index(s, "q0")
        try s.execute(try LinkRequest.addMacvlan(name: "mvt", parentIndex: q0, mode: MacvlanInfo.Mode.passthru))
        #expect(infoData(try linkJSON(sandbox, nil, "mvt"))["mode"] as? String == "passthru")
        let second = refusal { try s.execute(try LinkRequest.addMacvlan(name: "mvu", parentIndex: q0, mode: MacvlanInfo.Mode.bridge)) }
        #expect(second?.errno == EINVAL)
    }

    /// tbf: add, replace in place, change, read back (rate, burst and limit round trip through
    /// the kernel's arithmetic), a child at 1:1, RATE64, get with ECHO, delete.
    static func tbfRoundTrip() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "t0", peer: "t1"))
        for n in ["t0", "t1"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        let t0 = try index(s, "t0")
        let one = TCHandle(major: 1)
        func root() throws -> QdiscInfo { try #require(try s.qdiscs().first { $0.index == t0 && $0.isRoot }) }
        func check(_ rate: UInt64, _ burst: UInt32, _ limit: UInt32, line: Int = #line) throws {
            let q = try root()
            #expect(q.kind == "tbf" && q.handle == one, "line \(line)")
            let t = try #require(q.tbf)
            #expect(t.rateBytesPerSecond == rate && t.limit == limit, "line \(line): \(t)")
            #expect(t.burstRange?.contains(burst) == true, "line \(line): \(String(describing: t.burstRange)) ∌ \(burst)")
            let tc = try #require(try tcJSON(sandbox, "t0").first)
            let o = tc["options"] as? [String: Any] ?? [:]
            #expect(tc["kind"] as? String == "tbf" && tc["handle"] as? String == "1:", "line \(line)")
            #expect((o["rate"] as? NSNumber)?.uint64Value == rate, "line \(line)")
            // tc prints its own rounding of the same ticks: within one tick's bytes (tc's own
            // µs arithmetic loses more above ~1 Gbit/s: 1 MiB at 100 Gbit/s prints 1037500).
            let tick = Double(rate) * 64e-9
            if rate <= 125_000_000 {
                #expect(abs(((o["burst"] as? NSNumber)?.doubleValue ?? 0) - Double(burst)) <= tick + 1, "line \(line)")
            }
        }
        try s.execute(try QdiscRequest.tbf(.add, index: t0, handle: one, TBF(rateBytesPerSecond: 1_250_000, burst: 10240, limit: 30000)))
        try check(1_250_000, 10240, 30000)
        // add again: EEXIST; replace with the same kind and handle: changed in place.
        let again = refusal { try s.execute(try QdiscRequest.tbf(.add, index: t0, handle: one, TBF(rateBytesPerSecond: 1, burst: 1, limit: 1))) }
        #expect(again?.errno == EEXIST)
        try s.execute(try QdiscRequest.tbf(.replace, index: t0, handle: one, TBF(rateBytesPerSecond: 2_500_000, burst: 32768, limit: 50000)))
        try check(2_500_000, 32768, 50000)
        try s.execute(try QdiscRequest.tbf(.change, index: t0, handle: one, TBF(rateBytesPerSecond: 125_000, burst: 16384, limit: 22634)))
        try check(125_000, 16384, 22634)
        // 100 Gbit/s: RATE64; one tick is 800 bytes, and 1 MiB is among the bursts it allows.
        try s.execute(try QdiscRequest.tbf(.replace, index: t0, handle: one,
                                           TBF(rateBytesPerSecond: 12_500_000_000, burst: 1 << 20, limit: 10 << 20)))
        try check(12_500_000_000, 1 << 20, 10 << 20)
        #expect(try root().tbf?.rate64 == 12_500_000_000)
        // A child at 1:1, handle 10: (the header of topo's netem + tbf layout, under a tbf here).
        try s.execute(try QdiscRequest.tbf(.add, index: t0, handle: TCHandle(major: 0x10), parent: TCHandle(major: 1, minor: 1),
                                           TBF(rateBytesPerSecond: 625_000, burst: 16384, limit: 20000)))
        let child = try #require(try s.qdiscs().first { $0.index == t0 && $0.handle == TCHandle(major: 0x10) })
        #expect(child.parent == TCHandle(major: 1, minor: 1) && child.tbf?.rateBytesPerSecond == 625_000)
        #expect(try tcJSON(sandbox, "t0").contains { $0["handle"] as? String == "10:" && $0["parent"] as? String == "1:1" })
        // RTM_GETQDISC with ECHO: the root alone.
        #expect(try s.qdisc(index: t0)?.handle == one)
        // Delete: the default returns; a second delete is ENOENT.
        try s.execute(try QdiscRequest.delete(index: t0))
        #expect(try tcJSON(sandbox, "t0").first?["kind"] as? String == "noqueue")
        #expect(try s.qdiscs().first { $0.index == t0 }?.isDefault == true)
        #expect(refusal { try s.execute(try QdiscRequest.delete(index: t0)) }?.errno == ENOENT)
        // An unknown ifindex: ENODEV.
        #expect(refusal { try s.execute(try QdiscRequest.delete(index: 999)) }?.errno == ENODEV)
    }

    /// netem: every field topo writes, the full-replace form (all kept sub-attributes zeroed)
    /// accepted on add and on replace in place, read back exactly.
    static func netemRoundTrip() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "n0", peer: "n1"))
        let n0 = try index(s, "n0")
        let one = TCHandle(major: 1)
        func root() throws -> Netem { try #require(try s.qdiscs().first { $0.index == n0 && $0.isRoot }?.netem) }
        let first = Netem(delay: 40_000_000, jitter: 1_000_000, loss: Netem.probability(percent: 1),
                          duplicate: Netem.probability(percent: 0.5), reorder: Netem.probability(percent: 25),
                          corrupt: Netem.probability(percent: 0.1), limit: 2000).completedForReplace()
        try s.execute(try QdiscRequest.netem(.add, index: n0, handle: one, first))
        var n = try root()
        #expect(n.delayNanoseconds == 40_000_000 && n.jitterNanoseconds == 1_000_000 && n.limit == 2000)
        #expect(n.loss == first.loss && n.duplicate == first.duplicate && n.gap == 1)
        #expect(n.reorder?.probability == first.reorder?.probability && n.corrupt?.probability == first.corrupt?.probability)
        #expect(n.rateBytesPerSecond == 0 && (n.ecn ?? 0) == 0 && n.slot == nil && n.lossModel == nil)
        // Some other tool's netem with correlations, a rate and ECN, then topo's replace in place:
        // nothing of them survives.
        var foreign = Netem(delay: 5_000_000, loss: Netem.probability(percent: 2), corrupt: Netem.probability(percent: 3),
                            rateBytesPerSecond: 1_250_000)
        foreign.correlation = .init(delay: 7, loss: 8, duplicate: 9)
        foreign.ecn = 1
        try s.execute(try QdiscRequest.netem(.replace, index: n0, handle: one, foreign))
        #expect(try root().rateBytesPerSecond == 1_250_000 && (try root().ecn) == 1)
        try s.execute(try QdiscRequest.netem(.replace, index: n0, handle: one, Netem(delay: 10_000_000).completedForReplace()))
        n = try root()
        #expect(n.delayNanoseconds == 10_000_000 && n.loss == 0 && n.gap == 0 && n.effectiveReorder == 0)
        #expect((n.corrupt?.probability ?? 0) == 0 && n.rateBytesPerSecond == 0 && (n.ecn ?? 0) == 0)
        #expect(n.correlation == nil || n.correlation == Netem.Correlation())
        #expect(try s.qdiscs().first { $0.index == n0 && $0.isRoot }?.handle == one)  // in place: same handle
        // tc agrees.
        let tc = try #require(try tcJSON(sandbox, "n0").first)
        #expect(tc["kind"] as? String == "netem" && tc["handle"] as? String == "1:")
        // Our child tbf at 1:1 under netem (topo's netem + tbf layout).
        try s.execute(try QdiscRequest.tbf(.add, index: n0, handle: TCHandle(major: 0x10), parent: TCHandle(major: 1, minor: 1),
                                           TBF(rateBytesPerSecond: 1_250_000, burst: 16384, limit: 78884)))
        #expect(try s.qdiscs().contains { $0.index == n0 && $0.kind == "tbf" && $0.parent == TCHandle(major: 1, minor: 1) })
        try s.execute(try QdiscRequest.delete(index: n0))
        #expect(try s.qdiscs().first { $0.index == n0 && $0.isRoot }?.kind != "netem")
    }

    /// vlan: 802.1Q and 802.1ad, read back by ip and by us.
    static func vlanRoundTrip() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "e0", peer: "e1"))
        let e0 = try index(s, "e0")
        try s.execute(try LinkRequest.addVLAN(name: "e0.100", parentIndex: e0, VLANInfo(id: 100)))
        try s.execute(try LinkRequest.addVLAN(name: "e0.200", parentIndex: e0, VLANInfo(id: 200, protocolEthertype: VLANInfo.ethertype8021AD)))
        let a = infoData(try linkJSON(sandbox, nil, "e0.100")), b = infoData(try linkJSON(sandbox, nil, "e0.200"))
        #expect(a["id"] as? Int == 100 && a["protocol"] as? String == "802.1Q")
        #expect(b["id"] as? Int == 200 && b["protocol"] as? String == "802.1ad")
        let l = try #require(try s.link(.name("e0.200")))
        #expect(l.peerIndex == e0)
        guard case .vlan(let v) = l.kindInfo else { Issue.record("not a vlan"); return }
        #expect(v.id == 200 && v.protocolEthertype == VLANInfo.ethertype8021AD)
        #expect(refusal { try s.execute(try LinkRequest.add(name: "e0.x", kind: "vlan", data: [], parentIndex: e0)) }?.errno == EINVAL)
    }

    /// ipvlan: the three modes, and a mode change in place.
    static func ipvlanModes() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "e0", peer: "e1"))
        let e0 = try index(s, "e0")
        for (name, mode, word) in [("iv2", IPVlanInfo.Mode.l2, "l2"), ("iv3", IPVlanInfo.Mode.l3, "l3"), ("iv3s", IPVlanInfo.Mode.l3s, "l3s")] {
            try s.execute(try LinkRequest.addIPVlan(name: name, parentIndex: e0, mode: mode))
            #expect(infoData(try linkJSON(sandbox, nil, name))["mode"] as? String == word)
            guard case .ipvlan(let i) = try s.link(.name(name))?.kindInfo else { Issue.record("\(name)"); continue }
            #expect(i.mode == mode && i.flags == 0)
        }
        try s.execute(try LinkRequest.changeIPVlan(.name("iv2"), mode: IPVlanInfo.Mode.l3))
        #expect(infoData(try linkJSON(sandbox, nil, "iv2"))["mode"] as? String == "l3")
    }

    /// vrf: a table, a port, a route in that table (RTA_TABLE above 255 too); no changelink.
    static func vrfWithTables() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVRF(name: "blue", table: 10))
        try s.execute(try LinkRequest.addVRF(name: "red", table: 1000))
        #expect(infoData(try linkJSON(sandbox, nil, "blue"))["table"] as? Int == 10)
        #expect(try s.link(.name("red"))?.kindInfo == .vrf(VRFInfo(table: 1000)))
        try s.execute(try LinkRequest.addVeth(name: "e0", peer: "e1"))
        let e0 = try index(s, "e0"), red = try index(s, "red")
        try s.execute(try LinkRequest.setMaster(.index(e0), masterIndex: red))
        for n in ["e0", "e1", "red"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        try s.execute(try AddressRequest.add(index: e0, address: v4("10.5.0.1"), prefixLength: 24))
        try s.execute(try RouteRequest.add(destination: v4("10.9.0.0"), prefixLength: 16, gateway: v4("10.5.0.2"), table: 1000))
        #expect(try sandbox.ipJSON(["route", "show", "table", "1000"]).contains { $0["dst"] as? String == "10.9.0.0/16" })
        #expect(try s.allRoutes().contains { $0.table == 1000 && $0.destination == v4("10.9.0.0") && $0.gateway == v4("10.5.0.2") })
        // No changelink: a table change needs a new device.
        #expect(refusal { try s.execute(try LinkRequest.change(.name("blue"), kind: "vrf", data: VRFInfo(table: 11).attributes)) }?.errno
                == EOPNOTSUPP)
        // The first VRF installed the l3mdev rule (a kernel default, not someone's rule).
        let rules = try s.rules(family: AddressFamily.inet)
        #expect(rules.contains { $0.l3mdev && $0.isKernelDefault })
    }

    /// dummy: created, with an address.
    static func dummyWithAddress() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addDummy(name: "dm0", group: 4))
        let i = try index(s, "dm0")
        try s.execute(try AddressRequest.add(index: i, address: v4("10.7.7.7"), prefixLength: 32))
        let j = try linkJSON(sandbox, nil, "dm0")
        #expect((j["linkinfo"] as? [String: Any])?["info_kind"] as? String == "dummy" && j["group"] as? String == "4")
        #expect(try s.link(.name("dm0"))?.kind == "dummy")
    }
}

@Suite("link kinds and qdiscs against the kernel",
       .enabled(if: kernelTestsEnabled, "needs root (runs in an unshare'd net+mount sandbox); set CI=true to force"),
       .serialized)
struct KindKernelTests {
    @Test(.enabled(if: KernelFeature.vxlan.enabled, KernelFeature.vxlan.skipComment))
    func vxlanAcrossNamespaces() throws { try KindKernelChecks.vxlanAcrossNamespaces() }

    @Test(.enabled(if: KernelFeature.macvlan.enabled, KernelFeature.macvlan.skipComment))
    func macvlanModesAndNamespaces() throws { try KindKernelChecks.macvlanModesAndNamespaces() }

    @Test(.enabled(if: KernelFeature.tbf.enabled, KernelFeature.tbf.skipComment))
    func tbfRoundTrip() throws { try KindKernelChecks.tbfRoundTrip() }

    @Test(.enabled(if: KernelFeature.netem.enabled, KernelFeature.netem.skipComment))
    func netemRoundTrip() throws { try KindKernelChecks.netemRoundTrip() }

    @Test(.enabled(if: KernelFeature.vlan.enabled, KernelFeature.vlan.skipComment))
    func vlanRoundTrip() throws { try KindKernelChecks.vlanRoundTrip() }

    @Test(.enabled(if: KernelFeature.ipvlan.enabled, KernelFeature.ipvlan.skipComment))
    func ipvlanModes() throws { try KindKernelChecks.ipvlanModes() }

    @Test(.enabled(if: KernelFeature.vrf.enabled, KernelFeature.vrf.skipComment))
    func vrfWithTables() throws { try KindKernelChecks.vrfWithTables() }

    @Test(.enabled(if: KernelFeature.dummy.enabled, KernelFeature.dummy.skipComment))
    func dummyWithAddress() throws { try KindKernelChecks.dummyWithAddress() }

    /// The missing kinds fail as the backend's messages expect: EOPNOTSUPP "Unknown device
    /// type" for a link kind, ENOENT "Specified qdisc kind is unknown" for a qdisc.
    @Test func missingKindsAreRefusedAsDocumented() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "e0", peer: "e1"))
        let e0 = try index(s, "e0")
        let kind = refusal { try s.execute(try LinkRequest.add(name: "x0", kind: "topo-no-such-kind", data: nil)) }
        #expect(kind?.errno == EOPNOTSUPP && kind?.message == "Unknown device type", "\(String(describing: kind))")
        let q = refusal { try s.execute(try QdiscRequest.modify(.add, index: e0, handle: TCHandle(major: 1), kind: "topo-none", options: [])) }
        #expect(q?.errno == ENOENT && q?.message == "Specified qdisc kind is unknown", "\(String(describing: q))")
    }

    /// Route tables, rename with group, alias, per-device IPv4 conf, rules: all with kinds this
    /// kernel has.
    @Test func tablesRenameAliasConfAndRules() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "r0", peer: "r1"))
        let r0 = try index(s, "r0")
        for n in ["r0", "r1"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        try s.execute(try AddressRequest.add(index: r0, address: v4("10.1.0.1"), prefixLength: 24))
        for t: UInt32 in [10, 1000, 70000] {
            try s.execute(try RouteRequest.add(destination: v4("10.9.0.0"), prefixLength: 16, gateway: v4("10.1.0.2"), table: t))
            #expect(try sandbox.ipJSON(["route", "show", "table", String(t)]).first?["dst"] as? String == "10.9.0.0/16", "table \(t)")
        }
        let tables = Set(try s.allRoutes(family: AddressFamily.inet).filter { $0.destination == v4("10.9.0.0") }.map(\.table))
        #expect(tables == [10, 1000, 70000])
        #expect(try s.routes().allSatisfy { $0.destination != v4("10.9.0.0") })  // main only
        try s.execute(try RouteRequest.delete(destination: v4("10.9.0.0"), prefixLength: 16, gateway: v4("10.1.0.2"), table: 70000))
        #expect(try sandbox.ipJSON(["route", "show", "table", "70000"]).isEmpty)

        // Rename (down) with the group in the same request; alias set and removed.
        try s.execute(try LinkRequest.setDown(.index(r0)))
        try s.execute(try LinkRequest.rename(index: r0, to: "r9", group: 7))
        let j = try linkJSON(sandbox, nil, "r9")
        #expect(j["ifindex"] as? Int == Int(r0) && j["group"] as? String == "7")
        try s.execute(try LinkRequest.setAlias(.index(r0), alias: "uplink to the core"))
        #expect(try linkJSON(sandbox, nil, "r9")["ifalias"] as? String == "uplink to the core")
        #expect(try s.link(.index(r0))?.alias == "uplink to the core")
        try s.execute(try LinkRequest.setAlias(.index(r0), alias: ""))
        #expect(try s.link(.index(r0))?.alias == nil)
        // Renaming a link that is up: EBUSY on older kernels; newer ones allow it.
        try s.execute(try LinkRequest.setUp(.index(r0)))
        let busy = refusal { try s.execute(try LinkRequest.rename(index: r0, to: "r8")) }
        #expect(busy == nil || busy?.errno == EBUSY)
        print("NOTE kernel \(kernelRelease()): renaming an up link \(busy == nil ? "is allowed" : "fails EBUSY")")
        if busy == nil { try s.execute(try LinkRequest.rename(index: r0, to: "r9")) }

        // Per-device IPv4 forwarding over netlink, seen by sysctl.
        try s.execute(try LinkRequest.setIPv4Conf(.index(r0), [(id: IPv4DeviceConf.ids["forwarding"]!, value: 1)]))
        let seen = try sandbox.observe(["sysctl", "-n", "net.ipv4.conf.r9.forwarding"]).output
        #expect(seen.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try s.link(.index(r0))?.ipv4Conf?.first == 1)
        #expect(refusal { try s.execute(try LinkRequest.setIPv4Conf(.index(r0), [(id: 999, value: 1)])) }?.errno == EINVAL)

        // Someone's rule, told apart from the defaults; one AF_UNSPEC dump has both families.
        _ = try sandbox.observe(["ip", "rule", "add", "from", "10.0.0.0/8", "lookup", "10"])
        _ = try sandbox.observe(["ip", "-6", "rule", "add", "to", "fd00::/8", "lookup", "20"])
        let all = try s.rules(family: AddressFamily.unspecified)
        let mine = all.filter { !$0.isKernelDefault && ($0.family == AddressFamily.inet || $0.family == AddressFamily.inet6) }
        #expect(mine.map(\.description).sorted() == ["from 10.0.0.0/8 lookup 10", "from all to fd00::/8 lookup 20"])
    }

    /// The sysctl accessor: writes land in the right namespaces through its private procfs
    /// (remounted every 8 here), reads agree, and none of its mounts shows in the sandbox.
    @Test func sysctlAccessorWritesEachNamespaceThroughItsOwnProc() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        let names = (0..<40).map { "s\($0)" }
        for n in names { try named.create(n) }
        let fds = try names.map { try named.open($0) }
        let mountsBefore = try sandbox.observe(["cat", "/proc/self/mountinfo"]).output
        let acc = try SysctlAccessor(parent: sandbox.thread, remountEvery: 8)
        #expect(acc.usesPrivateProc)
        for (i, f) in fds.enumerated() {
            let r = acc.write([("net.ipv4.ip_forward", i % 2 == 0 ? "1" : "0"), ("net.ipv4.conf.default.forwarding", "1"),
                               ("net.ipv4.no_such_key", "1")], inNamespace: f.fd)
            #expect((try? r[0].get()) != nil && (try? r[1].get()) != nil)
            if case .failure(let e) = r[2] { #expect(e.errno == ENOENT) } else { Issue.record("a missing key was written") }
        }
        for (i, n) in names.enumerated() where i % 7 == 0 || i == names.count - 1 {
            let v = try sandbox.observe(["ip", "netns", "exec", n, "sysctl", "-n", "net.ipv4.ip_forward"]).output
            #expect(v.trimmingCharacters(in: .whitespacesAndNewlines) == (i % 2 == 0 ? "1" : "0"), "\(n)")
        }
        #expect(try acc.read(["net.ipv4.ip_forward", "net.ipv4.no_such_key"], inNamespace: fds[2].fd) == ["net.ipv4.ip_forward": "1"])
        #expect(try acc.read(["net.ipv4.ip_forward"], inNamespace: fds[3].fd) == ["net.ipv4.ip_forward": "0"])
        // The sandbox itself is untouched, and sees none of the accessor's proc mounts.
        #expect(try sandbox.observe(["sysctl", "-n", "net.ipv4.ip_forward"]).output.hasPrefix("0"))
        #expect(try sandbox.observe(["cat", "/proc/self/mountinfo"]).output == mountsBefore)
    }

    /// NLM_F_ECHO on a link creation: 6.18 sends the new link back (its ifindex), 6.1 does not;
    /// `createLink` gets the index either way.
    @Test func echoOnLinkCreation() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        let r = s.executeBatchCollecting([try LinkRequest.addBridge(name: "b0").echoing, try LinkRequest.addBridge(name: "b1")])
        let replies = try r.map { try $0.get() }
        let echoed = NetlinkSocket.createdLinkIndex(replies[0], name: "b0")
        #expect(replies[1].isEmpty)  // no ECHO asked: the ack alone
        let ipIndex = try linkJSON(sandbox, nil, "b0")["ifindex"] as? Int
        if let echoed { #expect(Int(echoed) == ipIndex) }
        print("NOTE kernel \(kernelRelease()): \(echoed == nil ? "does not echo" : "echoes") RTM_NEWLINK with NLM_F_ECHO")
        let i = try s.createLink(try LinkRequest.addBridge(name: "b2"), name: "b2")
        #expect(Int(i) == (try linkJSON(sandbox, nil, "b2")["ifindex"] as? Int))
    }
}

func kernelRelease() -> String {
    var u = utsname()
    uname(&u)
    return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
