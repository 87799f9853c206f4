import Glibc
import Testing
import TopoLanguage
@testable import TopoKernel

/// A fresh private directory under /tmp, removed by `cleanup`.
func tempDir() -> String {
    var template = Array("/tmp/topo-kernel-test-XXXXXX".utf8CString)
    let ok = template.withUnsafeMutableBufferPointer { buf -> Bool in
        guard let base = buf.baseAddress else { return false }
        return mkdtemp(base) != nil
    }
    return ok ? String(cString: template) : "/tmp/topo-kernel-test-fallback"
}

func cleanup(_ dir: String) {
    if let d = opendir(dir) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink(dir + "/" + name) }
        }
        closedir(d)
    }
    rmdir(dir)
}

func files(_ dir: String) -> [String] {
    var out: [String] = []
    if let d = opendir(dir) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        closedir(d)
    }
    return out.sorted()
}

@Suite struct DestroyTests {
    @Test func destroyRemovesOnlyWhatWasRecorded() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let b = mixedBackend()
        let before = b.snapshot
        let ex = Executor(backend: b)
        let opts = ApplyOptions(stateKey: "mixed", scriptPath: "/m.topo", stateDirectory: dir)
        try ex.apply(mixedPlan, options: opts)
        let rec = try #require(try StateStore(directory: dir).load("mixed"))
        #expect(rec.namespaces == ["h1", "h2"])
        #expect(Set(rec.linkGroups.keys) == ["h1", "h2", "host", "pre"])
        #expect(rec.addresses.count == 5)
        #expect(rec.routes.count == 2)
        #expect(rec.originals[LinkID("pre", "dum0")] == .init(mtu: 1500, up: false, master: .some(nil)))
        #expect(rec.originals[LinkID("pre", "dum1")] == .init(up: true))
        #expect(rec.sysctls[.init("pre", "net.ipv4.ip_forward")] == "0")
        // Second run: nothing new, the record stays as it was.
        #expect(try ex.apply(mixedPlan, options: opts).changes.count == 0)
        #expect(try StateStore(directory: dir).load("mixed") == rec)

        b.calls = []
        let report = try ex.destroy(stateKey: "mixed", stateDirectory: dir)
        #expect(report.namespaces == ["h1", "h2"])
        #expect(report.addresses == 2, "\(report)")
        #expect(report.routes == 1 && report.restored == 5, "\(report)")
        // One bulk delete per namespace, before the namespaces go.
        #expect(b.calls.filter { $0.hasPrefix("delete group") }.count == 2)
        #expect(b.calls.suffix(2) == ["delete h1", "delete h2"])
        // Everything is back as found: what topo made is gone, what it changed on pre-existing
        // objects (mtu, state, master, sysctl) is restored.
        #expect(b.snapshot == before)
        #expect(b.link(LinkID("host", "user0")) != nil)
        #expect(try StateStore(directory: dir).load("mixed") == nil)
        #expect(try ex.destroy(stateKey: "mixed", stateDirectory: dir).hadState == false)
    }

    @Test func destroyNeverTouchesWhatTopoFoundInPlace() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let b = RecordingBackend()
        try Executor(backend: b).apply(vethPairPlan)   // built by "someone else" (no state key)
        let before = b.snapshot
        let ex = Executor(backend: b)
        let r = try ex.apply(vethPairPlan, options: ApplyOptions(stateKey: "k", stateDirectory: dir))
        #expect(r.changes.count == 0)
        b.calls = []
        let d = try ex.destroy(stateKey: "k", stateDirectory: dir)
        #expect(d.hadState == false)
        #expect(b.calls.isEmpty)
        #expect(b.snapshot == before)
    }

    @Test func failedRunRecordsNothing() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let b = RecordingBackend()
        #expect(throws: ExecutionError.self) {
            try Executor(backend: b).apply(vethPairPlan, options: ApplyOptions(stateKey: "k", stateDirectory: dir, failAt: 4))
        }
        #expect(try StateStore(directory: dir).load("k") == nil)
    }

    @Test func destroyToleratesObjectsAlreadyGone() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let b = mixedBackend()
        let ex = Executor(backend: b)
        try ex.apply(mixedPlan, options: ApplyOptions(stateKey: "m", stateDirectory: dir))
        try b.deleteNamespace("h1")
        _ = b.apply([.deleteAddress(link: "dum0", prefix: pfx("fd00::1/64"))], in: "pre")
        let r = try ex.destroy(stateKey: "m", stateDirectory: dir)
        #expect(r.namespaces == ["h2"])
        #expect(try b.listNamespaces() == ["pre"])
    }
}

@Suite struct ShowTests {
    @Test func showDescribesTheLiveTopology() throws {
        let b = RecordingBackend()
        let plan = Plan(file: "s.topo", steps: [
            PlanStep(.addNamespace("h1"), at: line(1)),
            PlanStep(.addNamespace("h2"), at: line(1)),
            PlanStep(.addBridge(LinkID("host", "br0")), at: line(2)),
            PlanStep(.addVeth(LinkID("h1", "eth0"), peer: LinkID("host", "p1")), at: line(3)),
            PlanStep(.addVeth(LinkID("h1", "a"), peer: LinkID("h2", "b")), at: line(4)),
            PlanStep(.setMaster(LinkID("host", "p1"), master: "br0"), at: line(2)),
            PlanStep(.setMTU(LinkID("h1", "a"), 9000), at: line(4)),
            PlanStep(.setMTU(LinkID("h2", "b"), 9000), at: line(4)),
            PlanStep(.setUp(LinkID("h1", "lo")), at: line(1)),
            PlanStep(.setUp(LinkID("h1", "eth0")), at: line(3)),
            PlanStep(.setUp(LinkID("host", "p1")), at: line(3)),
            PlanStep(.setUp(LinkID("host", "br0")), at: line(3)),
            PlanStep(.setUp(LinkID("h1", "a")), at: line(3)),
            PlanStep(.addAddress(LinkID("h1", "eth0"), pfx("10.0.0.1/24")), at: line(5)),
            PlanStep(.addAddress(LinkID("h1", "eth0"), pfx("fe80::1/64")), at: line(5)),
            PlanStep(.addAddress(LinkID("host", "br0"), pfx("10.0.0.254/24")), at: line(5)),
            PlanStep(.addRoute(namespace: "h1", RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.0.254"))), at: line(6)),
            PlanStep(.addRoute(namespace: "h1", RouteSpec(destination: pfx("fd01::/64"), device: "eth0", metric: 1024)), at: line(6)),
            PlanStep(.setSysctl(namespace: "h1", key: "net.ipv4.ip_forward", value: "1"), at: line(7)),
        ])
        try Executor(backend: b).apply(plan)
        let topo = try Executor(backend: b).show()
        #expect(topo.namespaces == ["h1", "h2"])
        #expect(topo.state["host"]?.links.map(\.name) == ["br0", "p1"])   // not lo, eth0
        func r(_ ns: String?, _ n: String) -> InterfaceRef {
            InterfaceRef(namespace: ns.map { Located($0, at: .none) }, name: Located(n, at: .none))
        }
        func l<T>(_ v: T) -> Located<T> { Located(v, at: .none) }
        let expected: [Declaration] = [
            .namespace(l("h1"), placed: []),
            .namespace(l("h2"), placed: []),
            .veth(r("h1", "eth0"), r(nil, "p1"), mtu: nil),
            .veth(r("h1", "a"), r("h2", "b"), mtu: l(9000)),
            .bridge(r(nil, "br0"), ports: [r(nil, "p1")], mtu: nil),
            .address(r("h1", "eth0"), [l(pfx("10.0.0.1/24"))]),
            .route(namespace: l("h1"), destination: l(.default), via: l(ip("10.0.0.254")), dev: nil, metric: nil),
            .route(namespace: l("h1"), destination: l(.prefix(pfx("fd01::/64"))), via: nil, dev: r("h1", "eth0"), metric: nil),
            // IPv4 forwarding only: exactly that, not `forward` (which would switch IPv6 on too).
            .sysctl(namespace: l("h1"), key: l("net.ipv4.ip_forward"), value: l("1")),
            // h2's lo was never brought up (the plan above has no `set h2:lo up`): shown down.
            .linkState([r("h2", "b"), r("h2", "lo")], up: false),
            .address(r(nil, "br0"), [l(pfx("10.0.0.254/24"))]),
        ]
        #expect(topo.declarations() == expected)
        let json = topo.json()
        #expect(json.hasPrefix("{\"namespaces\":[{\"name\":\"h1\",\"links\":[{\"name\":\"lo\""))
        #expect(json.contains("\"peer\":\"host:p1\""))
        #expect(json.contains("\"sysctls\":{\"net.ipv4.ip_forward\":\"1\",\"net.ipv6.conf.all.forwarding\":\"0\"}"))
        #expect(json.hasSuffix("\"up\":true,\"group\":\(b.link(LinkID("host", "p1"))?.group ?? 0),\"addresses\":[],"
                               + "\"options\":null,\"tc\":null,\"root_qdisc\":null}]}}"))
        #expect(json.contains("\"metric\":1024,\"table\":254}"))
    }

    @Test func hostLinksCollidingWithNamespacedOnesAreQualified() throws {
        var all: [String: LiveNamespace] = [:]
        all["host"] = LiveNamespace(links: [LiveLink(name: "eth0", index: 5, kind: "veth", peer: LinkID("a", "eth0"), up: true)])
        all["a"] = LiveNamespace(links: [LiveLink(name: "eth0", index: 2, kind: "veth", peer: LinkID("host", "eth0"), up: true)])
        let d = LiveTopology(namespaces: ["a"], raw: all).declarations()
        #expect(d.count == 2)
        if case .veth(let x, let y, _, _) = d[1] {
            #expect(x.description == "a:eth0")
            #expect(y.description == "host:eth0")
        } else {
            Issue.record("expected a veth, got \(d[1])")
        }
    }

    @Test func jsonEscapesNames() {
        let t = LiveTopology(namespaces: ["q\"x\n"], state: ["q\"x\n": LiveNamespace()])
        #expect(t.json() == "{\"namespaces\":[{\"name\":\"q\\\"x\\n\",\"links\":[],\"routes\":[],\"sysctls\":{},\"unmodelled\":[]}],\"host\":{\"links\":[]}}")
    }
}
