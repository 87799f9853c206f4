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

@Suite struct StateFileTests {
    @Test func recordRoundTrips() {
        let rec = OwnershipRecord(
            script: "/home/me/lab one.topo",
            namespaces: ["ns0", "odd name", "per%cent", "-", ""],
            linkGroups: ["host": [0x1234_5678, 42], "pre": [9]],
            links: [LinkID("host", "p1"), LinkID("pre", "x-0")],
            addresses: [.init(link: LinkID("pre", "dum0"), prefix: pfx("fd00::1/64"))],
            routes: [.init(namespace: "pre", route: RouteSpec(destination: pfx("10.9.0.0/16"), device: "dum0")),
                     .init(namespace: "host", route: RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.0.1"), metric: 7))])
        #expect(OwnershipRecord(parsing: rec.serialized()) == rec)
    }

    @Test(arguments: ["", "garbage", "topo-state 1\nnamespace\n", "topo-state 1\ngroup host x\n",
                      "topo-state 1\naddress a b 10.0.0.1\n", "topo-state 1\nnamespace %4\n", "topo-state 2\n"])
    func malformedTextIsRejected(text: String) {
        #expect(OwnershipRecord(parsing: text) == nil)
    }

    @Test func saveIsAtomicAndLoadReadsItBack() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir + "/sub/dir")
        #expect(try store.load("k") == nil)
        let rec = OwnershipRecord(script: "/x.topo", namespaces: ["a", "b"])
        try store.save(rec, key: "k")
        try store.save(OwnershipRecord(script: "/x.topo", namespaces: ["c"]), key: "k")
        #expect(try store.load("k") == OwnershipRecord(script: "/x.topo", namespaces: ["c"]))
        #expect(files(dir + "/sub/dir") == ["k.state"])
        try store.remove("k")
        try store.remove("k")
        #expect(try store.load("k") == nil)
        defer { rmdir(dir + "/sub/dir"); rmdir(dir + "/sub") }
    }

    @Test func malformedStateFileIsAnErrorNotACrash() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir)
        let fd = open(store.statePath("bad"), O_WRONLY | O_CREAT, 0o644)
        _ = "nonsense".withCString { write(fd, $0, 8) }
        close(fd)
        #expect(throws: StateFileError.self) { try store.load("bad") }
    }

    @Test func lockSerialisesRuns() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir)
        let held = try store.lock("t")
        #expect(throws: StateFileError.self) { try store.lock("t", wait: false) }
        let other = try store.lock("u", wait: false)   // another topology is independent
        other.unlock()
        held.unlock()
        let again = try store.lock("t", wait: false)
        again.unlock()
    }

    @Test func keysAreStableDistinctAndClean() {
        let a = StateStore.key(forScriptPath: "/home/me/lab.topo")
        #expect(a == StateStore.key(forScriptPath: "/home/me/lab.topo"))
        #expect(a.hasPrefix("lab.topo-"))
        #expect(a.utf8.count == "lab.topo-".utf8.count + 16)
        #expect(a != StateStore.key(forScriptPath: "/tmp/lab.topo"))
        let odd = StateStore.key(forScriptPath: "/x/../we ird/.hidden name")
        #expect(!odd.contains(" ") && !odd.contains("/") && !odd.hasPrefix("."))
    }
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
        #expect(Set(rec.linkGroups.keys) == ["host", "pre"])
        #expect(rec.addresses.count == 2)
        #expect(rec.routes.count == 1)
        // Second run: nothing new, the record stays as it was.
        #expect(try ex.apply(mixedPlan, options: opts).changes == 0)
        #expect(try StateStore(directory: dir).load("mixed") == rec)

        b.calls = []
        let report = try ex.destroy(stateKey: "mixed", stateDirectory: dir)
        #expect(report.namespaces == ["h2", "h1"])
        #expect(report.addresses == 2 && report.routes == 1)
        // One bulk delete per namespace, before the namespaces go.
        #expect(b.calls.filter { $0.hasPrefix("delete group") }.count == 2)
        #expect(b.calls.suffix(2) == ["delete h2", "delete h1"])
        var after = b.snapshot
        // What destroy does not restore (documented): changed mtu/up/master/sysctl of pre-existing objects.
        after["pre"]?.links = before["pre"]?.links ?? []
        after["pre"]?.sysctls = before["pre"]?.sysctls ?? [:]
        #expect(after == before)
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
        #expect(r.changes == 0)
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
            .linkState([r("h2", "b")], up: false),
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
