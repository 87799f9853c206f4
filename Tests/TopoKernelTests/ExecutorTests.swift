import Glibc
import Testing
import TopoLanguage
@testable import TopoKernel

/// A range on line `n` (column 1, ten bytes), so tests can tell steps apart by line.
func line(_ n: Int) -> SourceRange {
    SourceRange(start: SourceLocation(line: n, column: 1, offset: n * 100),
                end: SourceLocation(line: n, column: 11, offset: n * 100 + 10))
}

func pfx(_ s: String) -> IPPrefix { IPPrefix(s) ?? IPPrefix(address: .v4(0), length: 0) }
func ip(_ s: String) -> IPAddress { IPAddress(s) ?? .v4(0) }

/// The seed's first scenario, as the planner would order it.
let vethPairPlan = Plan(file: "lab.topo", steps: [
    PlanStep(.addNamespace("ns0"), at: line(2)),
    PlanStep(.addNamespace("ns1"), at: line(3)),
    PlanStep(.addVeth(LinkID("ns0", "veth0"), peer: LinkID("ns1", "veth1")), at: line(4)),
    PlanStep(.setUp(LinkID("ns0", "lo")), at: line(2)),
    PlanStep(.setUp(LinkID("ns1", "lo")), at: line(3)),
    PlanStep(.setUp(LinkID("ns0", "veth0")), at: line(4)),
    PlanStep(.setUp(LinkID("ns1", "veth1")), at: line(4)),
    PlanStep(.addAddress(LinkID("ns0", "veth0"), pfx("10.0.1.1/24")), at: line(5)),
    PlanStep(.addAddress(LinkID("ns1", "veth1"), pfx("10.0.1.2/24")), at: line(6)),
    PlanStep(.ping(namespace: "ns1", address: ip("10.0.1.1"), count: 1), at: line(7)),
])

/// Touches pre-existing objects too: a host bridge with host-side veth ends, and a
/// pre-existing namespace `pre` with a pre-existing dummy `pre:dum0` whose mtu, state,
/// master, address, route and sysctl the plan changes.
let mixedPlan = Plan(file: "mixed.topo", steps: [
    PlanStep(.addNamespace("h1"), at: line(1)),
    PlanStep(.setUp(LinkID("h1", "lo")), at: line(1)),
    PlanStep(.addNamespace("h2"), at: line(2)),
    PlanStep(.setUp(LinkID("h2", "lo")), at: line(2)),
    PlanStep(.addBridge(LinkID("host", "br0")), at: line(3)),
    PlanStep(.addVeth(LinkID("h1", "eth0"), peer: LinkID("host", "p1")), at: line(4)),
    PlanStep(.addVeth(LinkID("h2", "eth0"), peer: LinkID("host", "p2")), at: line(5)),
    PlanStep(.addBridge(LinkID("pre", "pbr")), at: line(6)),
    PlanStep(.addVeth(LinkID("pre", "x0"), peer: LinkID("h1", "x1")), at: line(7)),
    PlanStep(.setMaster(LinkID("host", "p1"), master: "br0"), at: line(3)),
    PlanStep(.setMaster(LinkID("host", "p2"), master: "br0"), at: line(3)),
    PlanStep(.setMaster(LinkID("pre", "dum0"), master: "pbr"), at: line(6)),
    PlanStep(.setMTU(LinkID("pre", "dum0"), 9000), at: line(8)),
    PlanStep(.setUp(LinkID("host", "br0")), at: line(3)),
    PlanStep(.setUp(LinkID("host", "p1")), at: line(4)),
    PlanStep(.setUp(LinkID("h1", "eth0")), at: line(4)),
    PlanStep(.setUp(LinkID("host", "p2")), at: line(5)),
    PlanStep(.setUp(LinkID("h2", "eth0")), at: line(5)),
    PlanStep(.setUp(LinkID("pre", "dum0")), at: line(9)),
    PlanStep(.setDown(LinkID("pre", "dum1")), at: line(9)),
    PlanStep(.addAddress(LinkID("host", "br0"), pfx("10.0.0.254/24")), at: line(10)),
    PlanStep(.addAddress(LinkID("h1", "eth0"), pfx("10.0.0.1/24")), at: line(11)),
    PlanStep(.addAddress(LinkID("h2", "eth0"), pfx("10.0.0.2/24")), at: line(12)),
    PlanStep(.addAddress(LinkID("pre", "dum0"), pfx("192.168.9.1/24")), at: line(13)),
    PlanStep(.addAddress(LinkID("pre", "dum0"), pfx("fd00::1/64")), at: line(13)),
    PlanStep(.addRoute(namespace: "h1", RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.0.254"))), at: line(14)),
    PlanStep(.addRoute(namespace: "pre", RouteSpec(destination: pfx("10.9.0.0/16"), device: "dum0")), at: line(15)),
    PlanStep(.setSysctl(namespace: "pre", key: "net.ipv4.ip_forward", value: "1"), at: line(16)),
    PlanStep(.setSysctl(namespace: "h1", key: "net.ipv4.ip_forward", value: "1"), at: line(17)),
])

func mixedBackend() -> RecordingBackend {
    let b = RecordingBackend()
    b.addNamespace("pre")
    b.addLink(LinkID("pre", "dum0"), kind: "dummy", mtu: 1500)
    b.addLink(LinkID("pre", "dum1"), kind: "dummy", up: true)
    b.addLink(LinkID("host", "user0"), kind: "dummy", up: true, group: 7)
    b.namespaces["pre"]!.addresses.append(LinkAddress(link: "dum0", prefix: pfx("172.16.0.1/24")))
    return b
}

func changeCount(_ p: Plan) -> Int { p.steps.filter { !$0.operation.isAction }.count }

@Suite struct ApplyTests {
    @Test func freshApplyBuildsTheTopology() throws {
        let b = RecordingBackend()
        let report = try Executor(backend: b).apply(vethPairPlan)
        #expect(report.changes.count == 9)
        #expect(report.skipped == 0)
        #expect(b.reads == 1)
        #expect(b.link(LinkID("ns0", "veth0"))?.peer == LinkID("ns1", "veth1"))
        #expect(b.link(LinkID("ns1", "veth1"))?.up == true)
        #expect(b.link(LinkID("ns0", "lo"))?.up == true)
        #expect(b.namespaces["ns1"]?.addresses == [LinkAddress(link: "veth1", prefix: pfx("10.0.1.2/24"))])
        #expect(report.actions.count == 1)
        #expect(b.calls.last == "ping ns1 10.0.1.1")
    }

    @Test func rerunChangesNothing() throws {
        let b = RecordingBackend()
        let ex = Executor(backend: b)
        try ex.apply(vethPairPlan)
        let before = b.snapshot
        b.calls = []
        let report = try ex.apply(vethPairPlan)
        #expect(report.changes.count == 0)
        #expect(report.summary == "0 changes (already in place)")
        #expect(report.skipped == 9)
        #expect(b.calls == ["ping ns1 10.0.1.1"])
        #expect(b.snapshot == before)
    }

    @Test func mixedRerunChangesNothing() throws {
        let b = mixedBackend()
        let ex = Executor(backend: b)
        let first = try ex.apply(mixedPlan)
        // setDown of pre:dum1 (up) is a change; everything else is new.
        #expect(first.changes.count == changeCount(mixedPlan))
        #expect(try ex.apply(mixedPlan).changes.count == 0)
    }

    @Test func partlyInPlaceIsCompleted() throws {
        let b = RecordingBackend()
        b.addNamespace("ns0")
        b.namespaces["ns0"]!.links[0].up = true
        let report = try Executor(backend: b).apply(vethPairPlan)
        #expect(report.skipped == 2)
        #expect(report.changes.count == 7)
        #expect(!b.calls.contains("create ns0"))
    }

    @Test func linksInOneBatchThenOneBatchPerNamespace() throws {
        let b = RecordingBackend()
        try Executor(backend: b).apply(vethPairPlan, options: ApplyOptions(runActions: false))
        // Namespaces, then all links (one cross-namespace batch), then each namespace's
        // remaining steps in phase order, one batch per namespace.
        #expect(b.calls == [
            "create ns0", "create ns1",
            "apply ns0: add veth veth0 peer ns1:veth1 group \(b.link(LinkID("ns0", "veth0"))?.group ?? 0)",
            "apply ns0: set lo up; set veth0 up; addr add 10.0.1.1/24 dev veth0",
            "apply ns1: set lo up; set veth1 up; addr add 10.0.1.2/24 dev veth1",
        ])
    }

    @Test func namespacesThatEnslavePortsToABridgeGoLast() throws {
        let b = RecordingBackend()
        // A small star as the planner orders it: the hub (with the bridge) first.
        let plan = Plan(file: "star.topo", steps: [
            PlanStep(.addNamespace("hub"), at: line(1)),
            PlanStep(.addNamespace("h1"), at: line(2)),
            PlanStep(.addNamespace("h2"), at: line(2)),
            PlanStep(.addBridge(LinkID("hub", "br0")), at: line(3)),
            PlanStep(.addVeth(LinkID("h1", "eth0"), peer: LinkID("hub", "p1")), at: line(4)),
            PlanStep(.addVeth(LinkID("h2", "eth0"), peer: LinkID("hub", "p2")), at: line(4)),
            PlanStep(.setMaster(LinkID("hub", "p1"), master: "br0"), at: line(5)),
            PlanStep(.setMaster(LinkID("hub", "p2"), master: "br0"), at: line(5)),
            PlanStep(.setUp(LinkID("hub", "br0")), at: line(3)),
            PlanStep(.setUp(LinkID("hub", "p1")), at: line(4)),
            PlanStep(.setUp(LinkID("h1", "eth0")), at: line(4)),
            PlanStep(.setUp(LinkID("hub", "p2")), at: line(4)),
            PlanStep(.setUp(LinkID("h2", "eth0")), at: line(4)),
        ])
        try Executor(backend: b).apply(plan, options: ApplyOptions(runActions: false))
        let batches = b.calls.filter { $0.hasPrefix("apply ") && !$0.contains("add veth") && !$0.contains("add bridge") }
        #expect(batches.map { String($0.prefix(while: { $0 != ":" })) } == ["apply h1", "apply h2", "apply hub"])
        #expect(b.snapshot["hub"]?.links.first { $0.name == "p2" }?.master == "br0")
    }

    @Test func stepsOfANamespaceKeepPhaseOrderEvenIfThePlanInterleaves() throws {
        let b = RecordingBackend()
        b.addNamespace("n")
        // Route before address before up in the plan: executed up, address, route.
        let plan = Plan(file: "x.topo", steps: [
            PlanStep(.addDummy(LinkID("n", "d0")), at: line(1)),
            PlanStep(.addRoute(namespace: "n", RouteSpec(destination: pfx("10.1.0.0/16"), gateway: ip("10.0.0.1"))), at: line(2)),
            PlanStep(.addAddress(LinkID("n", "d0"), pfx("10.0.0.2/24")), at: line(3)),
            PlanStep(.setUp(LinkID("n", "d0")), at: line(4)),
        ])
        try Executor(backend: b).apply(plan, options: ApplyOptions(runActions: false))
        #expect(b.calls.last == "apply n: set d0 up; addr add 10.0.0.2/24 dev d0; route add 10.1.0.0/16 via 10.0.0.1")
    }

    @Test func conflictingKindIsReportedBeforeAnyChange() throws {
        let b = RecordingBackend()
        b.addNamespace("ns0")
        b.addLink(LinkID("ns0", "veth0"), kind: "bridge")
        let before = b.snapshot
        #expect {
            try Executor(backend: b).apply(vethPairPlan)
        } throws: { e in
            guard let e = e as? ExecutionError else { return false }
            return e.reason == .conflict && e.exitCode == 3 && e.range == line(4)
                && e.message == "cannot create veth `ns0:veth0` <-> `ns1:veth1`: `ns0:veth0` exists already as a bridge"
        }
        #expect(b.calls.isEmpty)
        #expect(b.snapshot == before)
    }

    @Test func vethWithAnotherPeerIsAConflict() throws {
        let b = RecordingBackend()
        b.addNamespace("ns1")
        b.addNamespace("other")
        b.addLink(LinkID("ns1", "veth1"), kind: "veth", peer: LinkID("other", "v"))
        b.addLink(LinkID("other", "v"), kind: "veth", peer: LinkID("ns1", "veth1"))
        let before = b.snapshot
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(vethPairPlan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.reason == .conflict)
        // `other` is not read, so the peer is unknown from the plan's point of view.
        #expect(caught?.message == "cannot create veth `ns0:veth0` <-> `ns1:veth1`: `ns1:veth1` exists already as a veth whose peer is outside the namespaces read")
        #expect(b.calls.isEmpty)
        #expect(b.snapshot == before)
    }

    @Test func allConflictsAreListed() throws {
        let b = mixedBackend()
        b.addLink(LinkID("host", "br0"), kind: "dummy")
        b.addLink(LinkID("host", "p2"), kind: "dummy")
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(mixedPlan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.range == line(3))
        #expect(caught?.notes.map(\.range) == [line(5)])
        #expect(b.calls.isEmpty)
    }

    @Test func conflictingRouteIsReportedBeforeAnyChange() throws {
        let b = RecordingBackend()
        b.addNamespace("r")
        b.addLink(LinkID("r", "d0"), kind: "dummy")
        b.namespaces["r"]!.routes.append(RouteSpec(destination: pfx("10.1.0.0/16"), device: "d0"))
        let plan = Plan(file: "r.topo", steps: [
            PlanStep(.addDummy(LinkID("r", "d1")), at: line(1)),
            PlanStep(.addRoute(namespace: "r", RouteSpec(destination: pfx("10.1.0.0/16"), device: "d1")), at: line(2)),
        ])
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(plan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.reason == .conflict)
        #expect(caught?.range == line(2))
        #expect(b.calls.isEmpty)
    }

    @Test func missingNamespaceIsAnError() throws {
        let b = RecordingBackend()
        let plan = Plan(file: "m.topo", steps: [PlanStep(.addDummy(LinkID("nowhere", "d")), at: line(3))])
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(plan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.reason == .missingNamespace)
        #expect(caught?.range == line(3))
    }

    @Test(arguments: 0..<9)
    func injectedFailureRollsBackVethPair(k: Int) throws {
        let b = RecordingBackend()
        let before = b.snapshot
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(vethPairPlan, options: ApplyOptions(failAt: k)) } catch let e as ExecutionError { caught = e }
        #expect(caught != nil)
        #expect(caught?.exitCode == 3)
        #expect(caught?.rollbackErrors == [])
        #expect(b.snapshot == before)
        #expect(!b.calls.contains { $0.hasPrefix("ping") })
    }

    @Test(arguments: 0..<changeCount(mixedPlan))
    func injectedFailureRollsBackMixedPlan(k: Int) throws {
        let b = mixedBackend()
        let before = b.snapshot
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(mixedPlan, options: ApplyOptions(failAt: k)) } catch let e as ExecutionError { caught = e }
        #expect(caught?.rollbackErrors == [])
        guard case .kernel(let ke)? = caught?.reason else {
            Issue.record("expected a kernel error, got \(String(describing: caught))")
            return
        }
        #expect(ke.errnoValue == EPERM)
        #expect(b.snapshot == before)
        // The user's link in group 7 is never touched.
        #expect(b.link(LinkID("host", "user0"))?.group == 7)
    }

    @Test func failAtPastTheEndChangesNothingAboutSuccess() throws {
        let b = RecordingBackend()
        let r = try Executor(backend: b).apply(vethPairPlan, options: ApplyOptions(failAt: 9))
        #expect(r.changes.count == 9)
    }

    @Test func kernelRefusalNamesTheStep() throws {
        let b = RecordingBackend()
        b.refuse = { ns, op in
            if case .addAddress(_, let p) = op, ns == "ns1", p == pfx("10.0.1.2/24") {
                return .errno(EEXIST, extack: "ipv4: Address already assigned")
            }
            return nil
        }
        let before = b.snapshot
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(vethPairPlan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.message == "cannot add address 10.0.1.2/24 to `ns1:veth1`: File exists (ipv4: Address already assigned)")
        #expect(caught?.range == line(6))
        #expect(caught?.exitCode == 3)
        #expect(b.snapshot == before)
        let file = SourceFile(name: "lab.topo", text: String(repeating: "x\n", count: 5) + "addr ns1:veth1 10.0.1.2/24\n")
        var err = caught
        err?.step?.range = SourceRange(start: SourceLocation(line: 6, column: 1, offset: 10),
                                       end: SourceLocation(line: 6, column: 27, offset: 36))
        #expect(err?.rendered(in: file).hasPrefix(
            "lab.topo:6:1: error: cannot add address 10.0.1.2/24 to `ns1:veth1`: File exists (ipv4: Address already assigned)\n") == true)
    }

    @Test func refusalInTheMiddleOfABatchUndoesLaterSuccesses() throws {
        // The kernel runs every message of a pipelined batch; the ones after a failure may succeed.
        let b = mixedBackend()
        b.refuse = { ns, op in
            if ns == "host", case .addAddress = op { return .errno(EINVAL) }
            return nil
        }
        let before = b.snapshot
        #expect(throws: ExecutionError.self) { try Executor(backend: b).apply(mixedPlan) }
        #expect(b.snapshot == before)
    }

    @Test func namespaceCreationFailureRollsBack() throws {
        let b = RecordingBackend()
        b.refuseNamespace = { $0 == "ns1" ? .errno(EPERM) : nil }
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(vethPairPlan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.message == "cannot create network namespace `ns1`: Operation not permitted")
        #expect(caught?.range == line(3))
        #expect(try b.listNamespaces() == [])
    }

    @Test func execIsRefusedWithoutPermission() throws {
        let b = RecordingBackend()
        var plan = vethPairPlan
        plan.steps.append(PlanStep(.exec(namespace: "ns0", command: "true", timeout: nil), at: line(8)))
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(plan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.reason == .execNotAllowed)
        #expect(caught?.exitCode == 2)
        #expect(caught?.range == line(8))
        #expect(b.calls.isEmpty)
        let r = try Executor(backend: b).apply(plan, options: ApplyOptions(allowExec: true))
        #expect(r.actions.map { $0.exec } == [nil, ExecResult(status: 0, output: "")])
    }

    @Test func failedPingFailsTheRunButKeepsTheTopology() throws {
        let b = RecordingBackend()
        b.pingAnswer = { _, _ in false }
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(vethPairPlan) } catch let e as ExecutionError { caught = e }
        #expect(caught?.reason == .actionFailed)
        #expect(caught?.exitCode == 1)
        #expect(caught?.range == line(7))
        #expect(caught?.message == "ping from `ns1` to 10.0.1.1: no answer (1 sent)")
        #expect(try b.listNamespaces() == ["ns0", "ns1"])
    }

    @Test func failingExecFailsTheRun() throws {
        let b = RecordingBackend()
        b.execResult = { _, _ in ExecResult(status: 3, output: "boom\n") }
        let plan = Plan(file: "e.topo", steps: [
            PlanStep(.addNamespace("a"), at: line(1)),
            PlanStep(.exec(namespace: "a", command: "false", timeout: nil), at: line(2)),
        ])
        var caught: ExecutionError? = nil
        do { try Executor(backend: b).apply(plan, options: ApplyOptions(allowExec: true)) } catch let e as ExecutionError { caught = e }
        #expect(caught?.message == "`false` in `a` exited with status 3: boom")
        #expect(caught?.exitCode == 1)
    }

    @Test func linkGroupAvoidsGroupsInUse() throws {
        let b = mixedBackend()
        let r = try Executor(backend: b).apply(mixedPlan, options: ApplyOptions(linkGroup: nil))
        let g = try #require(r.linkGroup)
        #expect(g != 0 && g != 7)
        #expect(b.link(LinkID("host", "p1"))?.group == g)
        #expect(b.link(LinkID("host", "br0"))?.group == g)
        #expect(b.link(LinkID("pre", "dum0"))?.group == 0)
    }

    @Test func environmentHookIsRead() {
        setenv("TOPO_FAIL_AT", "4", 1)
        #expect(ApplyOptions.environmentFailAt() == 4)
        setenv("TOPO_FAIL_AT", "-1", 1)
        #expect(ApplyOptions.environmentFailAt() == nil)
        unsetenv("TOPO_FAIL_AT")
        #expect(ApplyOptions.environmentFailAt() == nil)
    }
}
