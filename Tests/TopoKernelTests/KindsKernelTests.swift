import Foundation
import Glibc
import Netlink
import Testing
import TopoLanguage
@testable import TopoKernel

// The backend's link kinds and shaping against the kernel, each test in a sandbox
// (KernelTests.swift), judged by `ip -j`, `tc -j` and pings.
//
// Kinds or qdiscs this kernel lacks are probed (through the backend, in a sandbox of their own)
// and their tests skipped with a message; on the user-mode-Linux lane run the test binary with
// TOPO_REQUIRE_KERNEL_FEATURES=1 (see Tests/NetlinkTests/KindKernelTests.swift) so that a
// missing feature fails. Every body is a plain function of `BackendKindChecks`.

private let requireFeatures = getenv("TOPO_REQUIRE_KERNEL_FEATURES").map { String(cString: $0) == "1" } == true

/// What this kernel can do, tried through the backend once (needs root).
enum BackendFeature: String, Sendable {
    case netem, vlan, ipvlan, vrf, dummy

    private static let probed: [BackendFeature: Bool] = {
        guard getuid() == 0, let sb = try? Sandbox() else { return [:] }
        let b = sb.backend
        func ok(_ ops: [KernelOp]) -> Bool { b.apply(ops, in: hostNamespace).allSatisfy { (try? $0.get()) != nil } }
        _ = b.apply(across: [(hostNamespace, .addVeth(name: "pa", peer: LinkID(hostNamespace, "pb"), group: 1))])
        let pa = LinkID(hostNamespace, "pa")
        return [
            .netem: ok([.setQdisc(link: "pa", shaping: Shaping(delay: 1_000_000))]),
            .vlan: ok([.addLink(name: "pv", options: .vlan(VLAN(parent: pa, id: 5)), group: 1)]),
            .ipvlan: ok([.addLink(name: "pi", options: .ipvlan(parent: pa, mode: .l2), group: 1)]),
            .vrf: ok([.addLink(name: "pr", options: .vrf(table: 10), group: 1)]),
            .dummy: ok([.addDummy(name: "pd", group: 1)]),
        ]
    }()

    var enabled: Bool { requireFeatures || (BackendFeature.probed[self] ?? false) }
    var skipComment: Comment { "the kernel has no \(rawValue); the user-mode-Linux lane runs this" }
}

extension Sandbox {
    /// `ip ARGS` inside the sandbox; its output.
    func ip(_ args: [String]) throws -> String { try thread.run { try spawnCapturing(["/usr/sbin/ip"] + args).output } }

    /// `tc ARGS` inside the sandbox; its output.
    func tc(_ args: String...) throws -> String { try thread.run { try spawnCapturing(["/usr/sbin/tc"] + args).output } }

    /// `ip -j ARGS` parsed.
    func ipJSON(_ args: String...) throws -> [[String: Any]] {
        let out = try thread.run { try spawnCapturing(["/usr/sbin/ip", "-j"] + args).output }
        return (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    /// `tc -j qdisc show dev DEV` (in NS) parsed.
    func qdiscJSON(_ dev: String, in ns: String? = nil) throws -> [[String: Any]] {
        let args = (ns.map { ["-n", $0] } ?? []) + ["-j", "qdisc", "show", "dev", dev]
        let out = try thread.run { try spawnCapturing(["/usr/sbin/tc"] + args).output }
        return (try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]) ?? []
    }

    /// `ip -n NS -d -j link show DEV`'s info_data.
    func infoData(_ ns: String, _ dev: String) throws -> [String: Any] {
        let j = try ipJSON("-n", ns, "-d", "link", "show", "dev", dev).first ?? [:]
        return ((j["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
    }
}

private func ok(_ results: [Result<Void, KernelError>], _ what: String = "", line: Int = #line) {
    for (i, r) in results.enumerated() {
        if case .failure(let e) = r { Issue.record("\(what) op \(i) failed at line \(line): \(e)") }
    }
}

private func addr(_ s: String) -> IPAddress { IPAddress(s)! }
private func prefix(_ s: String) -> IPPrefix { IPPrefix(s)! }
private let ms: Int64 = 1_000_000

enum BackendKindChecks {
    /// vxlan over a veth underlay between two namespaces, each end created in its overlay
    /// namespace from the underlay's (apply(across:)); readState gives the options back, with
    /// the underlay resolved across namespaces; ping across; change in place; VNI refused.
    static func vxlanOverlay() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["ua", "ub", "oa", "ob"]))
        ok(b.apply(across: [("ua", .addVeth(name: "u_a", peer: LinkID("ub", "u_b"), group: 7))]))
        ok(b.apply([.addAddress(link: "u_a", prefix: prefix("192.168.1.1/24")), .setUp(link: "u_a", up: true)], in: "ua"))
        ok(b.apply([.addAddress(link: "u_b", prefix: prefix("192.168.1.2/24")), .setUp(link: "u_b", up: true)], in: "ub"))
        let xa = VXLAN(vni: 100, remote: addr("192.168.1.2"), local: addr("192.168.1.1"), underlay: LinkID("ua", "u_a"))
        let xb = VXLAN(vni: 100, remote: addr("192.168.1.1"), local: addr("192.168.1.2"), underlay: LinkID("ub", "u_b"))
        ok(b.apply(across: [("oa", .addLink(name: "vxa", options: .vxlan(xa), group: 7)),
                            ("ob", .addLink(name: "vxb", options: .vxlan(xb), group: 7))]), "vxlan")
        let d = try sb.infoData("oa", "vxa")
        #expect(d["id"] as? Int == 100 && d["remote"] as? String == "192.168.1.2" && d["local"] as? String == "192.168.1.1")
        #expect(d["port"] as? Int == 4789 && d["learning"] as? Bool == true)
        var st = try b.readState(of: ["ua", "ub", "oa", "ob"], sysctls: [:])
        let vxa = try #require(st["oa"]?.link("vxa"))
        #expect(vxa.options == .vxlan(xa) && !vxa.parentUnresolved && vxa.group == 7 && vxa.mtu == 1450 && vxa.kind == "vxlan")
        #expect(st["ob"]?.link("vxb")?.options == .vxlan(xb))
        // The overlay alone: the underlay's namespace was not read.
        let alone = try #require(try b.readState(of: ["oa"], sysctls: [:])["oa"]?.link("vxa"))
        #expect(alone.parentUnresolved)
        if case .vxlan(let x)? = alone.options { #expect(x.underlay?.namespace == "" && x.vni == 100) } else { Issue.record("\(alone)") }

        ok(b.apply([.addAddress(link: "vxa", prefix: prefix("10.100.0.1/24")), .setUp(link: "vxa", up: true)], in: "oa"))
        ok(b.apply([.addAddress(link: "vxb", prefix: prefix("10.100.0.2/24")), .setUp(link: "vxb", up: true)], in: "ob"))
        #expect(try b.ping(from: "oa", to: addr("10.100.0.2"), count: 2, timeout: 3).received == 2, "no ping across the overlay")

        // In place: another remote, a ttl, no local; back again. The link stays (same ifindex).
        let moved = VXLAN(vni: 100, remote: addr("192.168.1.3"), underlay: LinkID("ua", "u_a"), ttl: 9)
        ok(b.apply([.changeLink(name: "vxa", options: .vxlan(moved))], in: "oa"), "change")
        st = try b.readState(of: ["ua", "oa"], sysctls: [:])
        #expect(st["oa"]?.link("vxa")?.options == .vxlan(moved))
        #expect(st["oa"]?.link("vxa")?.index == vxa.index)
        ok(b.apply([.changeLink(name: "vxa", options: .vxlan(xa))], in: "oa"), "change back")
        #expect(try b.readState(of: ["ua", "oa"], sysctls: [:])["oa"]?.link("vxa")?.options == .vxlan(xa))
        #expect(try b.ping(from: "oa", to: addr("10.100.0.2"), count: 2, timeout: 3).received == 2)
        // The VNI is identity: refused in place (the reconciler recreates the link instead).
        var other = xa
        other.vni = 101
        let r = b.apply([.changeLink(name: "vxa", options: .vxlan(other))], in: "oa")
        if case .failure(let e) = r[0] { #expect(e.errnoValue == EOPNOTSUPP, "\(e)") } else { Issue.record("a VNI change was accepted") }
    }

    /// macvlan children of a parent in one namespace, created in two others; bridge mode pings,
    /// the mode changes in place; a parent created in the same apply(across:) call; a missing
    /// parent is named.
    static func macvlanAcrossNamespaces() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["lan", "m1", "m2"]))
        let p = LinkID("lan", "p0")
        // The parent and both children in one call: the parent goes first.
        ok(b.apply(across: [("lan", .addVeth(name: "p0", peer: LinkID("lan", "p1"), group: 3)),
                            ("m1", .addLink(name: "mv0", options: .macvlan(parent: p, mode: .bridge), group: 3)),
                            ("m2", .addLink(name: "mv0", options: .macvlan(parent: p, mode: .bridge), group: 3))]), "macvlans")
        ok(b.apply([.setUp(link: "p0", up: true), .setUp(link: "p1", up: true)], in: "lan"))
        let st = try b.readState(of: ["lan", "m1", "m2"], sysctls: [:])
        #expect(st["m1"]?.link("mv0")?.options == .macvlan(parent: p, mode: .bridge))
        #expect(st["m2"]?.link("mv0")?.options == .macvlan(parent: p, mode: .bridge))
        #expect(try sb.infoData("m1", "mv0")["mode"] as? String == "bridge")
        ok(b.apply([.addAddress(link: "mv0", prefix: prefix("10.200.0.1/24")), .setUp(link: "mv0", up: true)], in: "m1"))
        ok(b.apply([.addAddress(link: "mv0", prefix: prefix("10.200.0.2/24")), .setUp(link: "mv0", up: true)], in: "m2"))
        #expect(try b.ping(from: "m1", to: addr("10.200.0.2"), count: 2, timeout: 3).received == 2)
        ok(b.apply([.changeLink(name: "mv0", options: .macvlan(parent: p, mode: .private))], in: "m1"))
        #expect(try b.readState(of: ["lan", "m1"], sysctls: [:])["m1"]?.link("mv0")?.options == .macvlan(parent: p, mode: .private))
        #expect(try b.ping(from: "m1", to: addr("10.200.0.2"), count: 1, timeout: 1).received == 0, "private mode still reached its sibling")
        // A parent that does not exist (an undeclared host: NIC, say): named in the error.
        let missing = b.apply([.addLink(name: "mvx", options: .macvlan(parent: LinkID(hostNamespace, "nope0"), mode: .bridge), group: 3)],
                              in: "m1")
        if case .failure(let e) = missing[0] {
            #expect(e.errnoValue == ENODEV && e.description.contains("`host:nope0`"), "\(e)")
        } else { Issue.record("a macvlan on a missing parent was created") }
    }

    /// tbf shaping: set, read back equal, idempotent, converged 10 → 20 mbit in place, removed
    /// (the default returns), someone's qdisc replaced; netem asked where the kernel lacks it
    /// names the module and leaves nothing.
    static func tbfShaping() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "t0", peer: LinkID(hostNamespace, "t1"), group: 2))]))
        ok(b.apply([.setUp(link: "t0", up: true), .setUp(link: "t1", up: true)], in: hostNamespace))
        func live() throws -> LiveLink { try #require(try b.readState(of: [hostNamespace], sysctls: [:])[hostNamespace]?.link("t0")) }
        func tcRoot() throws -> [String: Any] { try #require(try sb.qdiscJSON("t0").first { $0["root"] as? Bool == true }) }

        let ten = Shaping(rate: 10_000_000)
        ok(b.apply([.setQdisc(link: "t0", shaping: ten)], in: hostNamespace))
        var l = try live()
        #expect(l.rootQdisc == "tbf" && l.shaping == ten.normalized)
        var root = try tcRoot()
        #expect(root["kind"] as? String == "tbf" && root["handle"] as? String == "1:")
        #expect(((root["options"] as? [String: Any])?["rate"] as? NSNumber)?.intValue == 1_250_000)
        // Again: nothing changes.
        ok(b.apply([.setQdisc(link: "t0", shaping: ten)], in: hostNamespace))
        #expect(try live().shaping == ten.normalized)
        // Converge to 20 mbit with a burst: changed in place.
        let twenty = Shaping(rate: 20_000_000, burst: 32 * 1024)
        ok(b.apply([.setQdisc(link: "t0", shaping: twenty)], in: hostNamespace))
        l = try live()
        #expect(l.shaping == twenty.normalized && l.shaping?.burst == 32 * 1024)
        root = try tcRoot()
        #expect(((root["options"] as? [String: Any])?["rate"] as? NSNumber)?.intValue == 2_500_000 && root["handle"] as? String == "1:")
        // 100 gbit with a 1 MiB bucket: still read back exactly.
        let fast = Shaping(rate: 100_000_000_000, burst: 1 << 20)
        ok(b.apply([.setQdisc(link: "t0", shaping: fast)], in: hostNamespace))
        #expect(try live().shaping == fast)
        // Removed: the default (noqueue) returns; removing again is no error.
        ok(b.apply([.deleteQdisc(link: "t0")], in: hostNamespace))
        l = try live()
        #expect(l.rootQdisc == nil && l.shaping == nil)
        #expect(try tcRoot()["kind"] as? String == "noqueue")
        ok(b.apply([.deleteQdisc(link: "t0")], in: hostNamespace))
        // Someone's htb: read as such (no shaping), replaced by topo's tbf on request.
        _ = try sb.tc("qdisc", "add", "dev", "t0", "root", "handle", "1:", "htb", "default", "10")
        l = try live()
        #expect(l.rootQdisc == "htb" && l.shaping == nil)
        ok(b.apply([.setQdisc(link: "t0", shaping: ten)], in: hostNamespace))
        #expect(try live().shaping == ten.normalized)
        // A rate on a device that was never up (only the hidden noop qdisc): fine too.
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "d0", peer: LinkID(hostNamespace, "d1"), group: 2))]))
        ok(b.apply([.setQdisc(link: "d0", shaping: ten)], in: hostNamespace))
        #expect(try b.readState(of: [hostNamespace], sysctls: [:])[hostNamespace]?.link("d0")?.shaping == ten.normalized)
        // A link that does not exist: ENODEV, named.
        let none = b.apply([.setQdisc(link: "nope", shaping: ten)], in: hostNamespace)
        if case .failure(let e) = none[0] { #expect(e.errnoValue == ENODEV) } else { Issue.record("shaped a missing link") }
    }

    /// Where the kernel has no netem: the failure names the module, the device is left alone.
    static func netemMissingNamesTheModule() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "t0", peer: LinkID(hostNamespace, "t1"), group: 2))]))
        ok(b.apply([.setUp(link: "t0", up: true)], in: hostNamespace))
        let r = b.apply([.setQdisc(link: "t0", shaping: Shaping(delay: 10 * ms, rate: 10_000_000))], in: hostNamespace)
        guard case .failure(let e) = r[0] else { Issue.record("netem was accepted: this kernel has it"); return }
        #expect(e.errnoValue == ENOENT)
        #expect(e.description.contains("the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem)"), "\(e)")
        #expect(try sb.qdiscJSON("t0").allSatisfy { $0["kind"] as? String == "noqueue" })
    }

    /// netem, and netem with a tbf below it: set, read back equal, converged through every
    /// layout (netem → netem + tbf → tbf → netem → none), with the delay seen by ping.
    static func netemLayouts() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["a", "b"]))
        ok(b.apply(across: [("a", .addVeth(name: "e0", peer: LinkID("b", "e0"), group: 2))]))
        ok(b.apply([.addAddress(link: "e0", prefix: prefix("10.0.0.1/24")), .setUp(link: "e0", up: true)], in: "a"))
        ok(b.apply([.addAddress(link: "e0", prefix: prefix("10.0.0.2/24")), .setUp(link: "e0", up: true)], in: "b"))
        func live() throws -> LiveLink { try #require(try b.readState(of: ["a"], sysctls: [:])["a"]?.link("e0")) }
        let steps: [Shaping] = [
            Shaping(delay: 50 * ms, loss: Percentage(millionths: 1_000_000), limit: 2000),
            Shaping(delay: 50 * ms, jitter: 1 * ms, duplicate: Percentage(millionths: 500_000), reorder: Percentage(millionths: 25_000_000),
                    corrupt: Percentage(millionths: 100_000), rate: 10_000_000),
            Shaping(rate: 5_000_000, burst: 32 * 1024),
            Shaping(delay: 30 * ms),
        ]
        for s in steps {
            ok(b.apply([.setQdisc(link: "e0", shaping: s)], in: "a"), "\(s)")
            let l = try live()
            #expect(l.shaping == s.normalized, "\(s) read back as \(String(describing: l.shaping))")
            #expect(l.rootQdisc == (s.needsNetem ? "netem" : "tbf"))
            ok(b.apply([.setQdisc(link: "e0", shaping: s)], in: "a"), "again \(s)")
            #expect(try live().shaping == s.normalized)
        }
        // 30 ms one way on a: ping from a sees ≥ 30 ms.
        let out = try sb.ip("netns", "exec", "a", "ping", "-c", "3", "-i", "0.2", "10.0.0.2")
        let times = out.split(separator: "\n").compactMap { line -> Double? in
            guard let r = line.range(of: "time=") else { return nil }
            return Double(line[r.upperBound...].prefix { $0 != " " })
        }
        // (The first may also wait for ARP, itself delayed.)
        let median = times.sorted()[times.count / 2]
        #expect(times.count == 3 && times.allSatisfy { $0 >= 29 } && median < 45, "\(times): \(out)")
        ok(b.apply([.deleteQdisc(link: "e0")], in: "a"))
        #expect(try live().rootQdisc == nil)
    }

    /// vlan (802.1Q and 802.1ad) on a veth, created in another namespace than its parent.
    static func vlanAcrossNamespaces() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["trunk", "r1"]))
        let p = LinkID("trunk", "t0")
        let q = VLAN(parent: p, id: 100), ad = VLAN(parent: p, id: 200, protocol: .dot1ad)
        ok(b.apply(across: [("trunk", .addVeth(name: "t0", peer: LinkID("trunk", "t1"), group: 4)),
                            ("r1", .addLink(name: "t0.100", options: .vlan(q), group: 4)),
                            ("trunk", .addLink(name: "t0.200", options: .vlan(ad), group: 4))]), "vlans")
        let st = try b.readState(of: ["trunk", "r1"], sysctls: [:])
        #expect(st["r1"]?.link("t0.100")?.options == .vlan(q))
        #expect(st["trunk"]?.link("t0.200")?.options == .vlan(ad))
        #expect(try sb.infoData("trunk", "t0.200")["protocol"] as? String == "802.1ad")
        // Nothing to change in place: the same options succeed, others do not.
        ok(b.apply([.changeLink(name: "t0.100", options: .vlan(q))], in: "r1"))
        let r = b.apply([.changeLink(name: "t0.100", options: .vlan(VLAN(parent: p, id: 101)))], in: "r1")
        if case .success = r[0] { Issue.record("a vlan id changed in place") }
    }

    /// ipvlan modes, changed in place.
    static func ipvlanModes() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "e0", peer: LinkID(hostNamespace, "e1"), group: 4))]))
        let p = LinkID(hostNamespace, "e0")
        ok(b.apply([.addLink(name: "iv0", options: .ipvlan(parent: p, mode: .l2), group: 4)], in: hostNamespace))
        #expect(try b.readState(of: [hostNamespace], sysctls: [:])[hostNamespace]?.link("iv0")?.options == .ipvlan(parent: p, mode: .l2))
        ok(b.apply([.changeLink(name: "iv0", options: .ipvlan(parent: p, mode: .l3s))], in: hostNamespace))
        #expect(try b.readState(of: [hostNamespace], sysctls: [:])[hostNamespace]?.link("iv0")?.options == .ipvlan(parent: p, mode: .l3s))
    }

    /// vrf with a port and a route in its table (above 255 too); read back with the table.
    static func vrfWithRoutes() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["r"]))
        ok(b.apply(across: [("r", .addLink(name: "blue", options: .vrf(table: 1000), group: 5)),
                            ("r", .addVeth(name: "e0", peer: LinkID("r", "e1"), group: 5))]))
        ok(b.apply([.setMaster(link: "e0", master: "blue"), .setUp(link: "blue", up: true), .setUp(link: "e0", up: true),
                    .setUp(link: "e1", up: true), .addAddress(link: "e0", prefix: prefix("10.5.0.1/24")),
                    .addRoute(RouteSpec(destination: prefix("10.9.0.0/16"), gateway: addr("10.5.0.2"), table: 1000))], in: "r"))
        let st = try #require(try b.readState(of: ["r"], sysctls: [:])["r"])
        #expect(st.link("blue")?.options == .vrf(table: 1000))
        #expect(st.routes.contains(RouteSpec(destination: prefix("10.9.0.0/16"), gateway: addr("10.5.0.2"), device: "e0", table: 1000)))
        #expect(!st.unmodelled.contains { $0.hasPrefix("rule") }, "the l3mdev rule is the kernel's: \(st.unmodelled)")
        ok(b.apply([.deleteRoute(RouteSpec(destination: prefix("10.9.0.0/16"), gateway: addr("10.5.0.2"), device: "e0", table: 1000))], in: "r"))
        #expect(try b.readState(of: ["r"], sysctls: [:])["r"]?.routes.contains { $0.table == 1000 && $0.destination == prefix("10.9.0.0/16") } == false)
    }

    /// dummy through the backend.
    static func dummy() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply([.addDummy(name: "dm0", group: 6)], in: hostNamespace))
        ok(b.apply([.addAddress(link: "dm0", prefix: prefix("10.7.7.7/32"))], in: hostNamespace))
        #expect(try b.readState(of: [hostNamespace], sysctls: [:])[hostNamespace]?.link("dm0")?.kind == "dummy")
    }
}

@Suite("backend: link kinds and shaping against the kernel", .serialized,
       .enabled(if: kernelTestsEnabled, "needs root: runs in an unshare --net --mount sandbox"))
struct BackendKindsKernelTests {
    @Test func vxlanOverlay() throws { try BackendKindChecks.vxlanOverlay() }
    @Test func macvlanAcrossNamespaces() throws { try BackendKindChecks.macvlanAcrossNamespaces() }
    @Test func tbfShaping() throws { try BackendKindChecks.tbfShaping() }

    @Test(.enabled(if: !BackendFeature.netem.enabled, "the kernel has netem"))
    func netemMissingNamesTheModule() throws { try BackendKindChecks.netemMissingNamesTheModule() }

    @Test(.enabled(if: BackendFeature.netem.enabled, BackendFeature.netem.skipComment))
    func netemLayouts() throws { try BackendKindChecks.netemLayouts() }

    @Test(.enabled(if: BackendFeature.vlan.enabled, BackendFeature.vlan.skipComment))
    func vlanAcrossNamespaces() throws { try BackendKindChecks.vlanAcrossNamespaces() }

    @Test(.enabled(if: BackendFeature.ipvlan.enabled, BackendFeature.ipvlan.skipComment))
    func ipvlanModes() throws { try BackendKindChecks.ipvlanModes() }

    @Test(.enabled(if: BackendFeature.vrf.enabled, BackendFeature.vrf.skipComment))
    func vrfWithRoutes() throws { try BackendKindChecks.vrfWithRoutes() }

    @Test(.enabled(if: BackendFeature.dummy.enabled, BackendFeature.dummy.skipComment))
    func dummy() throws { try BackendKindChecks.dummy() }

    /// A missing link kind names its module (vlan here; on the lane every kind exists).
    @Test(.enabled(if: !BackendFeature.vlan.enabled, "the kernel has vlan"))
    func missingKindNamesTheModule() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "e0", peer: LinkID(hostNamespace, "e1"), group: 4))]))
        let r = b.apply(across: [(hostNamespace, .addLink(name: "e0.5", options: .vlan(VLAN(parent: LinkID(hostNamespace, "e0"), id: 5)),
                                                          group: 4))])
        guard case .failure(let e) = r[0] else { Issue.record("vlan accepted"); return }
        #expect(e.errnoValue == EOPNOTSUPP && e.description.contains("the kernel has no vlan support (CONFIG_VLAN_8021Q, module 8021q)"),
                "\(e)")
    }

    /// What readState lists as not modelled: someone's rules, blackhole/unreachable/prohibit
    /// routes, a link kind topo lacks (ifb here), an alias read back; route tables; and the
    /// sysctls through the accessor.
    @Test func unmodelledRulesRoutesKindsAliasesAndTables() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.createNamespaces(["n"]))
        ok(b.apply(across: [("n", .addVeth(name: "e0", peer: LinkID("n", "e1"), group: 8))]))
        ok(b.apply([.setUp(link: "e0", up: true), .setUp(link: "e1", up: true), .addAddress(link: "e0", prefix: prefix("10.1.0.1/24")),
                    .addRoute(RouteSpec(destination: prefix("10.9.0.0/16"), gateway: addr("10.1.0.2"), table: 10)),
                    .addRoute(RouteSpec(destination: prefix("10.8.0.0/16"), device: "e0", metric: 5, table: 70000)),
                    .setSysctl(key: "net.ipv4.ip_forward", value: "1")], in: "n"))
        for cmd in [["rule", "add", "from", "10.0.0.0/8", "lookup", "10"], ["-6", "rule", "add", "to", "fd00::/8", "lookup", "20", "pref", "300"],
                    ["route", "add", "blackhole", "10.66.0.0/16"], ["route", "add", "unreachable", "10.67.0.0/16", "table", "10"],
                    ["route", "add", "prohibit", "default", "table", "1000"], ["link", "add", "ifb0", "type", "ifb"],
                    ["link", "set", "e1", "alias", "to the lab"]] {
            _ = try sb.ip(["-n", "n"] + cmd)
        }
        let st = try #require(try b.readState(of: ["n"], sysctls: ["n": ["net.ipv4.ip_forward", "net.ipv4.no_such"]])["n"])
        #expect(st.sysctls == ["net.ipv4.ip_forward": "1"])
        #expect(st.routes.contains(RouteSpec(destination: prefix("10.9.0.0/16"), gateway: addr("10.1.0.2"), device: "e0", table: 10)))
        #expect(st.routes.contains(RouteSpec(destination: prefix("10.8.0.0/16"), device: "e0", metric: 5, table: 70000)))
        #expect(!st.routes.contains { $0.destination == prefix("10.66.0.0/16") })
        #expect(Set(st.unmodelled) == [
            "rule from 10.0.0.0/8 lookup 10 pref 32765", "rule -6 from all to fd00::/8 lookup 20 pref 300",
            "blackhole route 10.66.0.0/16", "unreachable route 10.67.0.0/16 table 10", "prohibit route default table 1000",
            "link ifb0 (ifb)",
        ], "\(st.unmodelled)")
        #expect(st.link("e1")?.alias == "to the lab" && st.link("e0")?.alias == nil)
        // A fresh namespace lists nothing.
        ok(b.createNamespaces(["fresh"]))
        #expect(try b.readState(of: ["fresh"], sysctls: [:])["fresh"]?.unmodelled == [])
    }

    /// renameLink: down, with the group in the same request (how a removal is made reversible).
    @Test func renameWithGroup() throws {
        let sb = try Sandbox()
        let b = sb.backend
        ok(b.apply(across: [(hostNamespace, .addVeth(name: "e0", peer: LinkID(hostNamespace, "e1"), group: 4))]))
        ok(b.apply([.renameLink(name: "e0", newName: "topo-old-e0", group: 9), .setUp(link: "topo-old-e0", up: true)], in: hostNamespace))
        let j = try #require(try sb.ipJSON("link", "show", "dev", "topo-old-e0").first)
        #expect(j["group"] as? String == "9" && (j["flags"] as? [String])?.contains("UP") == true)
    }
}
