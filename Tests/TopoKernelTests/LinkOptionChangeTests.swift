import Testing
import TopoLanguage
@testable import TopoKernel

/// The reconciler changes in place what the kernel can change of a stacked link (a macvlan's
/// mode, a vxlan's remote, local, ttl, another underlay) and replaces the link for the rest.
/// Regression: a changed macvlan mode or vxlan ttl used to read as "already in place" (the
/// reconciler never emitted `changeLink`), found by LinkKindKernelTests on the real kernel.
struct LinkOptionChangeTests {
    static func script(ttl: String = " ttl 32", mode: String = "", underlay: String = " link a:u",
                       remote: String = "192.0.2.2", overlay: String = " link a:u") -> String {
        """
        ns a, m, o
        veth a:u <-> a:w
        addr a:u 192.0.2.1/24
        vxlan a:vx0 id 42 remote \(remote) local 192.0.2.1\(underlay)\(ttl)
        vxlan o:vx1 id 43 remote 192.0.2.3 local 192.0.2.1\(overlay)
        macvlan m:mv0 link a:w\(mode)
        """
    }

    /// What the kernel holds after a run of `script()`, the links in topo's group 7.
    static func observed(vxlan: VXLAN, mtu: Int = 1450, mode: MacvlanMode = .bridge) -> Observation {
        let lo = LiveLink(name: "lo", index: 1, kind: nil, mtu: 65536, up: true)
        let a = LiveNamespace(links: [
            lo,
            LiveLink(name: "u", index: 2, kind: "veth", peer: LinkID("a", "w"), up: true, group: 7),
            LiveLink(name: "w", index: 3, kind: "veth", peer: LinkID("a", "u"), up: true, group: 7),
            LiveLink(name: "vx0", index: 4, kind: "vxlan", mtu: mtu, up: true, group: 7, options: .vxlan(vxlan)),
        ], addresses: [LinkAddress(link: "u", prefix: IPPrefix("192.0.2.1/24")!)])
        let m = LiveNamespace(links: [
            lo,
            LiveLink(name: "mv0", index: 2, kind: "macvlan", up: true, group: 7,
                     options: .macvlan(parent: LinkID("a", "w"), mode: mode)),
        ])
        let o = LiveNamespace(links: [
            lo,
            LiveLink(name: "vx1", index: 2, kind: "vxlan", mtu: 1450, up: true, group: 7, options: .vxlan(overlay)),
        ])
        return Observation(existing: ["a", "m", "o"],
                           state: [hostNamespace: LiveNamespace(links: [lo]), "a": a, "m": m, "o": o])
    }

    static let built = VXLAN(vni: 42, remote: IPAddress("192.0.2.2")!, local: IPAddress("192.0.2.1")!,
                             underlay: LinkID("a", "u"), ttl: 32)
    static let overlay = VXLAN(vni: 43, remote: IPAddress("192.0.2.3")!, local: IPAddress("192.0.2.1")!,
                               underlay: LinkID("a", "u"))
    static let record = OwnershipRecord(namespaces: ["a", "m", "o"], linkGroups: ["a": [7], "m": [7], "o": [7]])

    func reconciliation(_ text: String, _ observed: Observation = observed(vxlan: built)) -> Reconciliation {
        reconcile(plan: planOf(text), observed: observed, record: Self.record)
    }

    func changes(_ text: String, _ observed: Observation = observed(vxlan: built)) -> [Change] {
        reconciliation(text, observed).changes
    }

    @Test func unchangedOptionsAreInPlace() {
        #expect(changes(Self.script()) == [])
    }

    @Test func inPlaceChangesAreChangeLink() {
        var ttl = Self.built
        ttl.ttl = 16
        var remote = Self.built
        remote.remote = IPAddress("192.0.2.9")!
        let rows: [(script: String, expected: Operation, old: String)] = [
            (Self.script(ttl: " ttl 16"), .changeLink(LinkID("a", "vx0"), .vxlan(ttl)),
             "vxlan id 42 remote 192.0.2.2 local 192.0.2.1 link a:u port 4789 ttl 32"),
            (Self.script(remote: "192.0.2.9"), .changeLink(LinkID("a", "vx0"), .vxlan(remote)),
             "vxlan id 42 remote 192.0.2.2 local 192.0.2.1 link a:u port 4789 ttl 32"),
            (Self.script(mode: " mode private"), .changeLink(LinkID("m", "mv0"), .macvlan(parent: LinkID("a", "w"), mode: .private)),
             "macvlan mode bridge"),
        ]
        for row in rows {
            let c = changes(row.script)
            #expect(c.count == 1 && c.first?.mark == .change && c.first?.operation == row.expected && c.first?.old == row.old,
                    "\(row.script): \(c)")
        }
    }

    /// The kernel keeps a vxlan's underlay when a change asks for none; a new vxlan with the
    /// same VNI cannot be made beside the old one in the same socket namespace (the old one
    /// stays until the run commits): a conflict that says so, and nothing changes.
    @Test func droppingAnUnderlayInTheTunnelsNamespaceIsAConflict() {
        let r = reconciliation(Self.script(underlay: ""))
        #expect(r.conflicts.count == 1 && r.conflicts.first?.message.contains("cannot drop the underlay of `a:vx0` in place") == true,
                "\(r.conflicts)")
    }

    /// An underlay in another namespace than the tunnel: without it the tunnel's socket moves to
    /// its own namespace, so the vxlan is replaced (no clash of VNIs).
    @Test func droppingAnUnderlayInAnotherNamespaceReplaces() {
        let r = reconciliation(Self.script(overlay: ""))
        #expect(r.conflicts.isEmpty, "\(r.conflicts)")
        let c = r.changes
        #expect(c.contains { $0.mark == .remove && $0.operation == .removeLink(LinkID("o", "vx1")) && $0.old == "vxlan, replaced" }, "\(c)")
        func creates(_ c: Change) -> Bool {
            if case .addVxlan(LinkID("o", "vx1"), _) = c.operation { return c.mark == .create }
            return false
        }
        func changesInPlace(_ c: Change) -> Bool {
            if case .changeLink = c.operation { return true }
            return false
        }
        #expect(c.contains(where: creates), "\(c)")
        #expect(!c.contains(where: changesInPlace), "\(c)")
    }

    /// Another underlay in the socket's namespace is changed in place; one elsewhere is not.
    @Test func anotherUnderlay() {
        var w = Self.overlay
        w.underlay = LinkID("a", "w")
        let c = changes(Self.script(overlay: " link a:w"))
        #expect(c.count == 1 && c.first?.operation == .changeLink(LinkID("o", "vx1"), .vxlan(w)), "\(c)")
        let moved = changes(Self.script(overlay: " link m:mv0"))
        #expect(moved.contains { $0.operation == .removeLink(LinkID("o", "vx1")) }, "\(moved)")
    }

    // MARK: children of a replaced parent

    /// `a:u <-> a:w` with a macvlan `m:mv0` on `a:u` (and a vxlan `a:vx0` over it), topo's own
    /// unless `childGroup` says otherwise.
    static func parentObserved(childGroup: UInt32 = 7, vxlan: Bool = false) -> Observation {
        let lo = LiveLink(name: "lo", index: 1, kind: nil, mtu: 65536, up: true)
        var a = [lo,
                 LiveLink(name: "u", index: 2, kind: "veth", peer: LinkID("a", "w"), up: true, group: 7),
                 LiveLink(name: "w", index: 3, kind: "veth", peer: LinkID("a", "u"), up: true, group: 7)]
        if vxlan {
            a.append(LiveLink(name: "vx0", index: 4, kind: "vxlan", mtu: 1450, up: true, group: 7,
                              options: .vxlan(VXLAN(vni: 5, remote: IPAddress("192.0.2.9")!, underlay: LinkID("a", "u")))))
        }
        let m = LiveNamespace(links: [lo, LiveLink(name: "mv0", index: 2, kind: "macvlan", up: true, group: childGroup,
                                                   options: .macvlan(parent: LinkID("a", "u"), mode: .bridge))])
        return Observation(existing: ["a", "m"],
                           state: [hostNamespace: LiveNamespace(links: [lo]), "a": LiveNamespace(links: a), "m": m])
    }
    static let parentRecord = OwnershipRecord(namespaces: ["a", "m"], linkGroups: ["a": [7], "m": [7]])

    /// The parent's veth gets another peer: it is replaced, and the kernel would delete the
    /// macvlan with the old one, so the macvlan is replaced too (made again on the new parent).
    /// Regression: it was kept, and was gone after the run (LinkKindKernelTests).
    @Test func aReplacedParentReplacesItsChildren() {
        let v1 = "ns a, m\nveth a:u <-> a:w\nmacvlan m:mv0 link a:u\n"
        #expect(reconcile(plan: planOf(v1), observed: Self.parentObserved(), record: Self.parentRecord).changes == [])
        let v2 = "ns a, m\nveth a:u <-> m:w\nmacvlan m:mv0 link a:u\n"
        let r = reconcile(plan: planOf(v2), observed: Self.parentObserved(), record: Self.parentRecord)
        #expect(r.conflicts.isEmpty, "\(r.conflicts)")
        #expect(r.replaced == [LinkID("a", "u"), LinkID("a", "w"), LinkID("m", "mv0")], "\(r.replaced)")
        func creates(_ c: Change) -> Bool {
            if case .addMacvlan(LinkID("m", "mv0"), LinkID("a", "u"), .bridge) = c.operation { return c.mark == .create }
            return false
        }
        #expect(r.changes.contains(where: creates), "\(r.changes)")
    }

    /// A macvlan topo did not make on a parent it replaces: the kernel would delete it, so the
    /// run is a conflict naming it.
    @Test func aForeignChildOfAReplacedParentIsAConflict() {
        let v2 = "ns a, m\nveth a:u <-> m:w\nmacvlan m:mv0 link a:u\n"
        let r = reconcile(plan: planOf(v2), observed: Self.parentObserved(childGroup: 0), record: Self.parentRecord)
        #expect(r.conflicts.map(\.message).contains { $0.contains("replacing `a:u` would delete `m:mv0` with it, which topo did not make") },
                "\(r.conflicts)")
    }

    /// A vxlan over a replaced underlay cannot be made again beside the old one (same VNI, same
    /// socket namespace): a conflict that says why.
    @Test func aVxlanOverAReplacedUnderlayIsAConflict() {
        let v2 = "ns a, m\nveth a:u <-> m:w\nmacvlan m:mv0 link a:u\nvxlan a:vx0 id 5 remote 192.0.2.9 link a:u\n"
        let r = reconcile(plan: planOf(v2), observed: Self.parentObserved(vxlan: true), record: Self.parentRecord)
        #expect(r.conflicts.map(\.message).contains { $0.contains("`a:u`, the underlay of `a:vx0`, is replaced (the tunnel goes with it)") },
                "\(r.conflicts)")
    }
}
