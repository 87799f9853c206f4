import Glibc
import Testing
import TopoLanguage
@testable import TopoKernel

/// The plan of a script (it must check).
func planOf(_ text: String, file: String = "t.topo") -> Plan {
    let c = compile(SourceFile(name: file, text: text))
    precondition(!c.hasErrors, "\(c.diagnostics)")
    return c.plan!
}

/// The fake kernel's state with the run-specific link groups blanked (they are random).
func comparable(_ b: RecordingBackend) -> [String: RecordingBackend.FakeNSSnapshot] {
    b.snapshot.mapValues { ns in
        var n = ns
        n.links = Set(ns.links.map { l in var c = l; if c.group != 7 { c.group = 0 }; return c })
        return n
    }
}

/// An edit: the script before and after.
struct Edit: CustomTestStringConvertible, Sendable {
    var name: String
    var v1: String
    var v2: String
    var testDescription: String { name }
}

let edits: [Edit] = [
    Edit(name: "remove hosts", v1: """
        bridge hub:br0 < p1 p2 p3 >
        ns hub
        for i in 1..3 { ns h{i}; veth h{i}:eth0 <-> hub:p{i}; addr h{i}:eth0 10.0.0.{i}/24 }
        addr hub:br0 10.0.0.254/24
        """, v2: """
        bridge hub:br0 < p1 >
        ns hub
        for i in 1..1 { ns h{i}; veth h{i}:eth0 <-> hub:p{i}; addr h{i}:eth0 10.0.0.{i}/24 }
        addr hub:br0 10.0.0.254/24
        """),
    Edit(name: "renumber addresses", v1: """
        ns a; ns b; veth a:e0 <-> b:e0
        addr a:e0 10.0.0.1/24, fd00::1/64; addr b:e0 10.0.0.2/24
        """, v2: """
        ns a; ns b; veth a:e0 <-> b:e0
        addr a:e0 10.0.0.5/24, fd00::5/64; addr b:e0 10.9.0.2/24
        """),
    Edit(name: "change and drop mtu", v1: """
        ns a; ns b; veth a:e0 <-> b:e0 mtu 9000
        dummy a:d0; mtu a:d0 1400
        """, v2: """
        ns a; ns b; veth a:e0 <-> b:e0 mtu 1400
        dummy a:d0
        """),
    Edit(name: "drop down", v1: "ns a; ns b; veth a:e0 <-> b:e0; down a:e0 b:e0", v2: "ns a; ns b; veth a:e0 <-> b:e0"),
    Edit(name: "drop and change routes", v1: """
        ns a; ns b; veth a:e0 <-> b:e0; addr a:e0 10.0.0.1/24; addr b:e0 10.0.0.2/24
        route a default via 10.0.0.2
        route a 10.9.0.0/16 via 10.0.0.2
        """, v2: """
        ns a; ns b; veth a:e0 <-> b:e0; addr a:e0 10.0.0.1/24; addr b:e0 10.0.0.2/24
        route a 10.9.0.0/16 dev e0
        """),
    Edit(name: "drop forward and sysctl", v1: """
        ns r; forward r; sysctl r net.ipv4.conf.all.rp_filter = 2
        """, v2: "ns r"),
    Edit(name: "move a port to another bridge", v1: """
        ns s; bridge s:br0 < p1 p2 >; bridge s:br1 < >
        veth s:p1 <-> s:q1; veth s:p2 <-> s:q2
        """, v2: """
        ns s; bridge s:br0 < p1 >; bridge s:br1 < p2 >
        veth s:p1 <-> s:q1; veth s:p2 <-> s:q2
        """),
    Edit(name: "change a veth's peer", v1: """
        ns a; ns b; ns c; veth a:e0 <-> b:e0; addr a:e0 10.0.0.1/24
        """, v2: """
        ns a; ns b; ns c; veth a:e0 <-> c:e0; addr a:e0 10.0.0.1/24
        """),
    Edit(name: "kind change of a link topo made", v1: "ns a; dummy a:x; addr a:x 10.1.0.1/24",
         v2: "ns a; bridge a:x < >; addr a:x 10.1.0.1/24"),
    Edit(name: "pre-existing objects: restored when dropped", v1: """
        ns pre
        mtu pre:dum0 9000
        sysctl pre net.ipv4.ip_forward = 1
        addr pre:dum0 10.3.0.1/24
        """, v2: "ns pre"),
    // The kernel drops the routes through a link topo replaces; one the script keeps is added again.
    Edit(name: "re-peer a routed link", v1: """
        ns a; ns b; ns c; veth a:e1 <-> b:e0; addr a:e1 10.0.0.1/30; addr b:e0 10.0.0.2/30
        route a 10.9.0.0/16 via 10.0.0.2
        """, v2: """
        ns a; ns b; ns c; veth a:e1 <-> c:e0; addr a:e1 10.0.0.1/30; addr c:e0 10.0.0.2/30
        route a 10.9.0.0/16 via 10.0.0.2
        """),
]

/// A fake kernel with a namespace `pre` the scripts do not create, holding `dum0`.
func prepared() -> RecordingBackend {
    let b = RecordingBackend()
    b.addNamespace("pre")
    b.addLink(LinkID("pre", "dum0"), kind: "dummy", up: true)
    return b
}

/// Plans written by the language cannot name an undeclared `pre:dum0`; the pre-existing edit
/// builds its plan by hand.
func plan(_ text: String) -> Plan {
    if text.contains("pre:dum0") {
        return Plan(file: "t.topo", steps: [
            PlanStep(.addNamespace("pre"), at: line(1)),
            PlanStep(.setUp(LinkID("pre", "lo")), at: line(1)),
            PlanStep(.setMTU(LinkID("pre", "dum0"), 9000), at: line(2)),
            PlanStep(.setUp(LinkID("pre", "dum0")), at: line(2)),
            PlanStep(.addAddress(LinkID("pre", "dum0"), pfx("10.3.0.1/24")), at: line(4)),
            PlanStep(.setSysctl(namespace: "pre", key: "net.ipv4.ip_forward", value: "1"), at: line(3)),
        ])
    }
    return planOf(text)
}

func withoutHandMade(_ s: [String: RecordingBackend.FakeNSSnapshot], _ ns: String) -> [String: RecordingBackend.FakeNSSnapshot] {
    var s = s
    if var n = s[ns] {
        n.links = n.links.filter { $0.name != "hand0" }
        n.addresses = n.addresses.filter { $0.link != "hand0" }
        s[ns] = n
    }
    return s
}

@Suite struct ConvergeTests {
    /// run v1; run v2 == a fresh run v2; the re-run and the diff are empty; hand-made objects
    /// survive; destroy leaves the kernel as it was.
    @Test(arguments: edits)
    func convergeEqualsAFreshBuild(edit: Edit) throws {
        let dir = tempDir()
        defer { cleanup(dir + "/netns"); cleanup(dir) }
        let b = prepared()
        let initial = comparable(b)
        let ex = Executor(backend: b)
        let opts = ApplyOptions(stateKey: "k", scriptPath: "/t.topo", stateDirectory: dir)
        try ex.apply(plan(edit.v1), options: opts)
        // Made by hand inside the topology's namespaces: never touched.
        let handNS = b.namespaces.keys.sorted().first { $0 != "host" && $0 != "pre" } ?? "pre"
        b.addLink(LinkID(handNS, "hand0"), kind: "dummy", up: true)
        _ = b.apply([.addAddress(link: "hand0", prefix: pfx("192.168.77.1/24"))], in: handNS)
        let r = try ex.apply(plan(edit.v2), options: opts)
        #expect(!r.changes.isEmpty)
        #expect(b.link(LinkID(handNS, "hand0")) != nil || !b.namespaces.keys.contains(handNS))
        let converged = withoutHandMade(comparable(b), handNS)

        let fresh = prepared()
        let dir2 = tempDir()
        defer { cleanup(dir2 + "/netns"); cleanup(dir2) }
        try Executor(backend: fresh).apply(plan(edit.v2), options: ApplyOptions(stateKey: "k", stateDirectory: dir2))
        #expect(converged == comparable(fresh))

        #expect(try ex.apply(plan(edit.v2), options: opts).changes.isEmpty)
        #expect(try ex.diff(plan(edit.v2), options: opts).changes.isEmpty)
        try ex.destroy(stateKey: "k", stateDirectory: dir)
        #expect(withoutHandMade(comparable(b), handNS) == initial)
    }

    /// A failure at any operation of a converge leaves the kernel and the record as before it.
    @Test(arguments: [0, 1, 4, 7, 8, 10])
    func failedConvergeRestoresEverything(which: Int) throws {
        let edit = edits[which]
        let dir = tempDir()
        defer { cleanup(dir + "/netns"); cleanup(dir) }
        let b = prepared()
        let ex = Executor(backend: b)
        var opts = ApplyOptions(stateKey: "k", scriptPath: "/t.topo", stateDirectory: dir, failAt: nil)
        try ex.apply(plan(edit.v1), options: opts)
        let before = comparable(b)
        let record = try StateStore(directory: dir).load("k")
        let count = try ex.diff(plan(edit.v2), options: opts).changes.count
        #expect(count > 0)
        // More kernel operations than changes (a veth's removal is two ends, a route
        // replacement two): try every index up to twice the changes.
        var failures = 0
        for k in 0..<(2 * count + 4) {
            opts.failAt = k
            do {
                try ex.apply(plan(edit.v2), options: opts)
                // Past the last operation: it went through; undo it for the next index.
                opts.failAt = nil
                try ex.apply(plan(edit.v1), options: opts)
                continue
            } catch let e as ExecutionError {
                #expect(e.rollbackErrors == [], "\(edit.name) at \(k)")
                failures += 1
            }
            #expect(comparable(b) == before, "\(edit.name): failure at \(k) left a change")
            #expect(try StateStore(directory: dir).load("k") == record, "\(edit.name): failure at \(k) changed the record")
        }
        #expect(failures >= count)
    }

    @Test func aForeignLinkWithTheWantedNameIsAConflictNotAReplacement() throws {
        let b = RecordingBackend()
        b.addNamespace("a")
        b.addLink(LinkID("a", "x"), kind: "dummy")
        let before = b.snapshot
        #expect(throws: ExecutionError.self) {
            try Executor(backend: b).apply(planOf("ns a; bridge a:x < >"), options: ApplyOptions())
        }
        #expect(b.snapshot == before)
    }

    @Test func summaryCountsObjects() throws {
        let b = RecordingBackend()
        let dir = tempDir()
        defer { cleanup(dir + "/netns"); cleanup(dir) }
        let ex = Executor(backend: b)
        let opts = ApplyOptions(stateKey: "k", stateDirectory: dir)
        let r1 = try ex.apply(planOf(edits[2].v1), options: opts)
        #expect(r1.summary == "4 created, 0 changed, 0 removed")   // a, b, the veth, the dummy
        let r2 = try ex.apply(planOf(edits[2].v2), options: opts)
        #expect(r2.summary == "0 created, 3 changed, 0 removed")   // a:e0, b:e0, a:d0
        #expect(ChangeSummary(r2.changes).lines.contains("~ a:d0: mtu 1400 → 1500"))
        #expect(try ex.apply(planOf(edits[2].v2), options: opts).summary == "0 changes (already in place)")
    }
}
