import Glibc
import TopoLanguage
@testable import TopoKernel

/// An in-memory kernel that behaves like the real one where the executor cares (duplicate
/// names, veth pairs dying together, namespaces taking their links and the peers of those
/// along, bridge ports released when the bridge goes, group deletion), records every
/// mutating call, and can be told to refuse chosen operations.
final class RecordingBackend: KernelBackend {
    struct FakeLink: Hashable {
        var name: String
        var index: Int
        var kind: String?
        var peer: LinkID?
        var master: String?
        var mtu: Int = 1500
        var up: Bool = false
        var group: UInt32 = 0
        var shaping: Shaping? = nil
        /// A bridge whose mtu was set follows its ports no more (BROPT_MTU_SET_BY_USER).
        var mtuSetByUser = false
    }

    /// Like the kernel: a bridge without an mtu of its own follows the smallest of its ports'.
    func autoMTU(_ n: String, _ bridge: String) {
        guard let i = namespaces[n]?.links.firstIndex(where: { $0.name == bridge && $0.kind == "bridge" }),
              !namespaces[n]!.links[i].mtuSetByUser else { return }
        let ports = namespaces[n]!.links.filter { $0.master == bridge }.map(\.mtu)
        namespaces[n]!.links[i].mtu = ports.min() ?? 1500
    }

    struct FakeNS: Hashable {
        var links: [FakeLink] = []
        var addresses: [LinkAddress] = []
        var routes: [RouteSpec] = []
        var sysctls: [String: String] = ["net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0",
                                         "net.ipv4.conf.all.rp_filter": "0"]
        var nextIndex = 1
        /// The snapshot leaves out `nextIndex` (an allocator, not kernel-visible state).
        var visible: FakeNSSnapshot {
            FakeNSSnapshot(links: Set(links.map { l -> FakeLink in var c = l; c.index = 0; return c }),
                           addresses: Set(addresses), routes: Set(routes), sysctls: sysctls)
        }
    }

    /// What `ip -j` would show, ifindexes aside.
    struct FakeNSSnapshot: Hashable {
        var links: Set<FakeLink>
        var addresses: Set<LinkAddress>
        var routes: Set<RouteSpec>
        var sysctls: [String: String]
    }

    var namespaces: [String: FakeNS] = [hostNamespace: FakeNS(links: [FakeLink(name: "lo", index: 1, kind: nil, mtu: 65536, up: true),
                                                                       FakeLink(name: "eth0", index: 2, kind: nil, up: true)],
                                                               nextIndex: 3)]
    /// Every call that changes something, in order.
    var calls: [String] = []
    /// Return an error to refuse an operation (namespace, op).
    var refuse: (String, KernelOp) -> KernelError? = { _, _ in nil }
    var refuseNamespace: (String) -> KernelError? = { _ in nil }
    var pingAnswer: (String, IPAddress) -> Bool = { _, _ in true }
    var execResult: (String, String) -> ExecResult = { _, _ in ExecResult(status: 0, output: "") }
    /// Number of reads of the live state.
    var reads = 0

    var snapshot: [String: FakeNSSnapshot] { namespaces.mapValues { $0.visible } }

    // MARK: setup helpers

    func addNamespace(_ n: String) {
        var ns = FakeNS()
        ns.links = [FakeLink(name: "lo", index: 1, kind: nil, mtu: 65536, up: false)]
        ns.nextIndex = 2
        namespaces[n] = ns
    }

    func addLink(_ id: LinkID, kind: String?, peer: LinkID? = nil, up: Bool = false, mtu: Int = 1500, group: UInt32 = 0) {
        namespaces[id.namespace, default: FakeNS()].links.append(
            FakeLink(name: id.name, index: namespaces[id.namespace]?.nextIndex ?? 1, kind: kind, peer: peer, mtu: mtu, up: up, group: group))
        namespaces[id.namespace]?.nextIndex += 1
    }

    func link(_ id: LinkID) -> FakeLink? { namespaces[id.namespace]?.links.first { $0.name == id.name } }

    // MARK: KernelBackend

    func listNamespaces() throws -> [String] { namespaces.keys.filter { $0 != hostNamespace }.sorted() }

    func readState(of names: [String], sysctls: [String: [String]]) throws -> [String: LiveNamespace] {
        reads += 1
        var out: [String: LiveNamespace] = [:]
        for n in names {
            guard let ns = namespaces[n] else { throw KernelError.errno(ENOENT) }
            var live = LiveNamespace()
            live.links = ns.links.map { l in
                LiveLink(name: l.name, index: l.index, kind: l.kind,
                         peer: l.peer.flatMap { names.contains($0.namespace) ? $0 : nil },
                         master: l.master, mtu: l.mtu, up: l.up, group: l.group,
                         rootQdisc: l.shaping == nil ? nil : (l.shaping!.needsNetem ? "netem" : "tbf"), shaping: l.shaping)
            }
            live.addresses = ns.addresses
            live.routes = ns.routes
            for k in sysctls[n] ?? [] { if let v = ns.sysctls[k] { live.sysctls[k] = v } }
            out[n] = live
        }
        return out
    }

    func apply(_ ops: [KernelOp], in n: String) -> [Result<Void, KernelError>] {
        calls.append("apply \(n): " + ops.map(\.description).joined(separator: "; "))
        return ops.map { op in
            if let e = refuse(n, op) { return .failure(e) }
            return run(op, in: n)
        }
    }

    private func run(_ op: KernelOp, in n: String) -> Result<Void, KernelError> {
        guard namespaces[n] != nil else { return .failure(.errno(ENOENT)) }
        func has(_ id: LinkID) -> Bool { link(id) != nil }
        func modify(_ name: String, _ f: (inout FakeLink) -> KernelError?) -> Result<Void, KernelError> {
            guard let i = namespaces[n]?.links.firstIndex(where: { $0.name == name }) else { return .failure(.errno(ENODEV)) }
            if let e = f(&namespaces[n]!.links[i]) { return .failure(e) }
            return .success(())
        }
        switch op {
        case .addVeth(let name, let peer, let group):
            guard namespaces[peer.namespace] != nil else { return .failure(.errno(ENOENT)) }
            if has(LinkID(n, name)) || has(peer) || LinkID(n, name) == peer { return .failure(.errno(EEXIST)) }
            addLink(LinkID(n, name), kind: "veth", peer: peer, group: group)
            addLink(peer, kind: "veth", peer: LinkID(n, name), group: group)
        case .addBridge(let name, let group), .addDummy(let name, let group):
            if has(LinkID(n, name)) { return .failure(.errno(EEXIST)) }
            if case .addBridge = op { addLink(LinkID(n, name), kind: "bridge", group: group) } else {
                addLink(LinkID(n, name), kind: "dummy", group: group)
            }
        case .setMaster(let l, let m):
            if let m = m {
                guard let ml = link(LinkID(n, m)) else { return .failure(.errno(ENODEV)) }
                guard ml.kind == "bridge" else { return .failure(.errno(EOPNOTSUPP)) }
            }
            let old = link(LinkID(n, l))?.master
            let r = modify(l) { $0.master = m; return nil }
            for b in [old, m].compactMap({ $0 }) { autoMTU(n, b) }
            return r
        case .setMTU(let l, let mtu):
            let r = modify(l) {
                guard mtu >= 68 && mtu <= 65535 else { return .errno(EINVAL) }
                $0.mtu = mtu
                if $0.kind == "bridge" { $0.mtuSetByUser = true }
                return nil
            }
            if let b = link(LinkID(n, l))?.master { autoMTU(n, b) }
            return r
        case .setUp(let l, let up):
            // Like the kernel: going down costs a link its IPv6 addresses and the routes through it.
            if !up, link(LinkID(n, l))?.up == true {
                namespaces[n]!.addresses.removeAll { $0.link == l && $0.prefix.family == .ipv6 }
                namespaces[n]!.routes.removeAll { $0.device == l }
            }
            return modify(l) { $0.up = up; return nil }
        case .renameLink(let from, let to, let group):
            guard has(LinkID(n, from)) else { return .failure(.errno(ENODEV)) }
            if has(LinkID(n, to)) { return .failure(.errno(EEXIST)) }
            if link(LinkID(n, from))?.up == true { return .failure(.errno(EBUSY)) }
            for i in namespaces[n]!.addresses.indices where namespaces[n]!.addresses[i].link == from { namespaces[n]!.addresses[i].link = to }
            for i in namespaces[n]!.routes.indices where namespaces[n]!.routes[i].device == from { namespaces[n]!.routes[i].device = to }
            for i in namespaces[n]!.links.indices where namespaces[n]!.links[i].master == from { namespaces[n]!.links[i].master = to }
            for (ons, o) in namespaces {
                for i in o.links.indices where o.links[i].peer == LinkID(n, from) { namespaces[ons]!.links[i].peer = LinkID(n, to) }
            }
            return modify(from) { $0.name = to; if let g = group { $0.group = g }; return nil }
        case .setQdisc(let l, let t):
            return modify(l) { $0.shaping = t; return nil }
        case .deleteQdisc(let l):
            return modify(l) { $0.shaping = nil; return nil }
        case .addAddress(let l, let p):
            guard has(LinkID(n, l)) else { return .failure(.errno(ENODEV)) }
            let a = LinkAddress(link: l, prefix: p)
            if namespaces[n]!.addresses.contains(a) {
                return .failure(.errno(EEXIST, extack: p.family == .ipv4 ? "ipv4: Address already assigned" : nil))
            }
            namespaces[n]!.addresses.append(a)
        case .deleteAddress(let l, let p):
            guard let i = namespaces[n]!.addresses.firstIndex(of: LinkAddress(link: l, prefix: p)) else {
                return .failure(.errno(EADDRNOTAVAIL))
            }
            namespaces[n]!.addresses.remove(at: i)
        case .addRoute(var r):
            if let d = r.device, !has(LinkID(n, d)) { return .failure(.errno(ENODEV)) }
            if namespaces[n]!.routes.contains(where: { $0.destination == r.destination && normMetric($0) == normMetric(r) }) {
                return .failure(.errno(EEXIST))
            }
            // Like the kernel: a route via a gateway goes out of the up link whose subnet holds it.
            if r.device == nil, let gw = r.gateway {
                guard let a = namespaces[n]!.addresses.first(where: {
                    $0.prefix.network.contains(gw) && link(LinkID(n, $0.link))?.up == true
                }) else {
                    return .failure(.errno(ENETUNREACH))
                }
                r.device = a.link
            }
            namespaces[n]!.routes.append(r)
        case .deleteRoute(let r):
            guard let i = namespaces[n]!.routes.firstIndex(where: { routeMatches($0, r) }) else { return .failure(.errno(ESRCH)) }
            namespaces[n]!.routes.remove(at: i)
        case .setSysctl(let k, let v):
            guard namespaces[n]!.sysctls[k] != nil else { return .failure(.errno(ENOENT)) }
            namespaces[n]!.sysctls[k] = v
        case .deleteLink(let name):
            guard has(LinkID(n, name)) else { return .failure(.errno(ENODEV)) }
            removeLink(LinkID(n, name))
        default:
            return .failure(.errno(EOPNOTSUPP))
        }
        return .success(())
    }

    /// Removes a link, its veth peer, their addresses and routes, and releases their ports.
    private func removeLink(_ id: LinkID) {
        var doomed = [id]
        if let p = link(id)?.peer { doomed.append(p) }
        for d in doomed {
            guard namespaces[d.namespace] != nil else { continue }
            namespaces[d.namespace]!.links.removeAll { $0.name == d.name }
            namespaces[d.namespace]!.addresses.removeAll { $0.link == d.name }
            namespaces[d.namespace]!.routes.removeAll { $0.device == d.name }
            for i in namespaces[d.namespace]!.links.indices where namespaces[d.namespace]!.links[i].master == d.name {
                namespaces[d.namespace]!.links[i].master = nil
            }
        }
    }

    func createNamespace(_ name: String) throws {
        calls.append("create \(name)")
        if let e = refuseNamespace(name) { throw e }
        if namespaces[name] != nil { throw KernelError.errno(EEXIST) }
        addNamespace(name)
    }

    func deleteNamespace(_ name: String) throws {
        calls.append("delete \(name)")
        guard let ns = namespaces[name] else { throw KernelError.errno(ENOENT) }
        for l in ns.links { if let p = l.peer { removeLink(p) } }
        namespaces[name] = nil
    }

    /// Namespaces taken out of the list but kept (held open).
    var detached: [String: FakeNS] = [:]

    func detachNamespace(_ name: String) throws {
        calls.append("detach \(name)")
        if let e = refuseNamespace(name) { throw e }
        guard let ns = namespaces[name] else { throw KernelError.errno(ENOENT) }
        detached[name] = ns
        namespaces[name] = nil
    }
    func reattachNamespace(_ name: String) throws {
        calls.append("reattach \(name)")
        guard let ns = detached[name] else { throw KernelError.errno(ENOENT) }
        namespaces[name] = ns
        detached[name] = nil
    }
    func releaseDetachedNamespaces() {
        for (name, ns) in detached {
            calls.append("release \(name)")
            for l in ns.links { if let p = l.peer, p.namespace != name { removeLink(p) } }
        }
        detached = [:]
    }

    func deleteLinks(group: UInt32, in name: String) throws {
        calls.append("delete group \(group) in \(name)")
        guard let ns = namespaces[name] else { throw KernelError.errno(ENOENT) }
        for l in ns.links where l.group == group { removeLink(LinkID(name, l.name)) }
    }

    func ping(from ns: String, to address: IPAddress, count: Int, timeout: Double) throws -> PingResult {
        calls.append("ping \(ns) \(address)")
        return PingResult(sent: count, received: pingAnswer(ns, address) ? count : 0)
    }

    func freshNamespaceSysctls(_ keys: [String]) throws -> [String: String] {
        let fresh = FakeNS().sysctls
        return fresh.filter { keys.contains($0.key) }
    }

    func exec(in ns: String, command: String, timeout: Double) throws -> ExecResult {
        calls.append("exec \(ns) \(command)")
        return execResult(ns, command)
    }
}
