import TopoLanguage

/// The live topology of every named namespace, plus the host-side links related to them
/// (veth ends whose peer is in a named namespace, and the bridges those ends are ports of).
public struct LiveTopology: Hashable, Sendable {
    /// The named namespaces, sorted.
    public var namespaces: [String]
    /// Live state by namespace: every named namespace, and `host` filtered to the related links
    /// (their addresses; no host routes or sysctls).
    public var state: [String: LiveNamespace]

    public init(namespaces: [String], state: [String: LiveNamespace]) {
        self.namespaces = namespaces
        self.state = state
    }

    /// The sysctls `show` reads in each named namespace.
    public static let sysctlKeys = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]

    /// Builds it from raw reads: `all` holds `host` and every named namespace, unfiltered.
    public init(namespaces: [String], raw all: [String: LiveNamespace]) {
        let named = namespaces.filter { $0 != hostNamespace }.sorted()
        var state: [String: LiveNamespace] = [:]
        for n in named { state[n] = all[n] ?? LiveNamespace() }
        if let host = all[hostNamespace] {
            let namedSet = Set(named)
            var keep = Set(host.links.filter { $0.kind == "veth" && $0.peer.map { namedSet.contains($0.namespace) } == true }.map(\.name))
            for l in host.links where keep.contains(l.name) { if let m = l.master { keep.insert(m) } }
            let links = host.links.filter { keep.contains($0.name) }
            if !links.isEmpty {
                state[hostNamespace] = LiveNamespace(links: links, addresses: host.addresses.filter { keep.contains($0.link) },
                                                     routes: [], sysctls: [:])
            }
        }
        self.namespaces = named
        self.state = state
    }

    private static let shownKinds: Set<String> = ["veth", "bridge", "dummy"]

    /// True for a link `show` describes: a veth whose peer is known, a bridge, a dummy.
    private func shown(_ ns: String, _ l: LiveLink) -> Bool {
        guard let k = l.kind, Self.shownKinds.contains(k), l.name != "lo" else { return false }
        if k == "veth" {
            guard let p = l.peer, let pl = state[p.namespace]?.link(p.name) else { return false }
            return pl.kind == "veth"
        }
        return true
    }

    /// The topology as declarations (every range `.none`), for `ScriptPrinter.print`:
    /// `ns`, then per namespace (host last) bridges with their ports, veth pairs (once), dummies,
    /// `mtu` when not 1500, `down` when not up, addresses (no IPv6 link-local), routes (the
    /// backend already leaves out kernel-made ones), `forward` when `net.ipv4.ip_forward` is 1.
    public func declarations() -> [Declaration] {
        var out: [Declaration] = []
        func loc<T>(_ v: T) -> Located<T> { Located(v, at: .none) }
        let allNames = state.flatMap { ns, st in st.links.filter { shown(ns, $0) }.map { ($0.name, ns) } }
        func ref(_ ns: String, _ name: String) -> InterfaceRef {
            if ns == hostNamespace {
                let clash = allNames.contains { $0.0 == name && $0.1 != hostNamespace }
                return InterfaceRef(namespace: clash ? loc(hostNamespace) : nil, name: loc(name))
            }
            return InterfaceRef(namespace: loc(ns), name: loc(name))
        }
        for n in namespaces { out.append(.namespace(loc(n), placed: [])) }
        let order = namespaces + (state[hostNamespace] != nil ? [hostNamespace] : [])
        var emittedVeth: Set<LinkID> = []
        var mtuLater: [Declaration] = []
        for ns in order {
            guard let st = state[ns] else { continue }
            let links = st.links.filter { shown(ns, $0) }
            func mtuField(_ l: LiveLink) -> Located<Int>? { l.mtu != 1500 ? loc(l.mtu) : nil }
            for b in links where b.kind == "bridge" {
                let ports = links.filter { $0.master == b.name }.map { ref(ns, $0.name) }
                out.append(.bridge(ref(ns, b.name), ports: ports, mtu: mtuField(b)))
            }
            for v in links where v.kind == "veth" {
                guard let p = v.peer, let pl = state[p.namespace]?.link(p.name) else { continue }
                let me = LinkID(ns, v.name)
                if emittedVeth.contains(me) { continue }
                emittedVeth.insert(me)
                emittedVeth.insert(p)
                if v.mtu == pl.mtu {
                    out.append(.veth(ref(ns, v.name), ref(p.namespace, p.name), mtu: mtuField(v)))
                } else {
                    out.append(.veth(ref(ns, v.name), ref(p.namespace, p.name), mtu: nil))
                    if v.mtu != 1500 { mtuLater.append(.mtu(ref(ns, v.name), loc(v.mtu))) }
                    if pl.mtu != 1500 { mtuLater.append(.mtu(ref(p.namespace, p.name), loc(pl.mtu))) }
                }
            }
            for d in links where d.kind == "dummy" {
                out.append(.dummy(ref(ns, d.name), mtu: mtuField(d)))
            }
        }
        out += mtuLater
        for ns in order {
            guard let st = state[ns] else { continue }
            let links = st.links.filter { shown(ns, $0) }
            let down = links.filter { !$0.up }.map { ref(ns, $0.name) }
            if !down.isEmpty { out.append(.linkState(down, up: false)) }
            // `lo` of a named namespace: only what was added (not 127.0.0.1/8, ::1/128).
            let loopback = ns != hostNamespace ? st.links.filter { $0.name == "lo" && $0.kind == nil } : []
            for l in links + loopback {
                let prefixes = st.addresses.filter {
                    $0.link == l.name && !isLinkLocal($0.prefix) && !(l.name == "lo" && isLoopbackDefault($0.prefix))
                }.map { loc($0.prefix) }
                if !prefixes.isEmpty { out.append(.address(ref(ns, l.name), prefixes)) }
            }
            if ns != hostNamespace {
                for r in st.routes {
                    let dest: RouteDestination = r.isDefault ? .default : .prefix(r.destination)
                    let metric = r.metric.flatMap { $0 == normMetric(RouteSpec(destination: r.destination)) ? nil : $0 }
                    out.append(.route(namespace: loc(ns), destination: loc(dest), via: r.gateway.map { loc($0) },
                                      dev: routeNeedsDevice(r, st) ? r.device.map { ref(ns, $0) } : nil,
                                      metric: metric.map { loc($0) }))
                }
                if let f = st.sysctls["net.ipv4.ip_forward"], normSysctl(f) == "1" {
                    out.append(.forward(loc(ns)))
                }
            }
        }
        return out
    }

    /// The live state as JSON (`topo show --format json`):
    /// `{"namespaces":[{"name":…,"links":[…],"routes":[…],"sysctls":{…}}],"host":{"links":[…]}}`.
    public func json() -> String {
        let str = jsonStringLiteral
        func opt(_ s: String?) -> String { s.map(str) ?? "null" }
        func links(_ st: LiveNamespace) -> String {
            "[" + st.links.map { l in
                let addrs = st.addresses.filter { $0.link == l.name }.map { str($0.prefix.description) }
                return "{\"name\":\(str(l.name)),\"index\":\(l.index),\"kind\":\(opt(l.kind)),"
                    + "\"peer\":\(opt(l.peer?.description)),\"master\":\(opt(l.master)),\"mtu\":\(l.mtu),"
                    + "\"up\":\(l.up),\"group\":\(l.group),\"addresses\":[\(addrs.joined(separator: ","))]}"
            }.joined(separator: ",") + "]"
        }
        func routes(_ st: LiveNamespace) -> String {
            "[" + st.routes.map { r in
                "{\"destination\":\(str(r.isDefault ? "default" : r.destination.description)),"
                    + "\"family\":\(str(r.destination.family.rawValue)),"
                    + "\"gateway\":\(opt(r.gateway?.description)),\"device\":\(opt(r.device)),"
                    + "\"metric\":\(r.metric.map(String.init) ?? "null")}"
            }.joined(separator: ",") + "]"
        }
        var parts: [String] = []
        for n in namespaces {
            let st = state[n] ?? LiveNamespace()
            let sys = st.sysctls.keys.sorted().map { "\(str($0)):\(str(normSysctl(st.sysctls[$0] ?? "")))" }
            parts.append("{\"name\":\(str(n)),\"links\":\(links(st)),\"routes\":\(routes(st)),"
                         + "\"sysctls\":{\(sys.joined(separator: ","))}}")
        }
        let host = state[hostNamespace].map { links($0) } ?? "[]"
        return "{\"namespaces\":[\(parts.joined(separator: ","))],\"host\":{\"links\":\(host)}}"
    }
}

/// False when the kernel would pick the route's device by itself: the gateway lies in a
/// connected network of that device and of no other device (a link-local gateway always
/// needs its device; a route without gateway always names it).
func routeNeedsDevice(_ r: RouteSpec, _ st: LiveNamespace) -> Bool {
    guard let dev = r.device else { return false }
    guard let gw = r.gateway, !isLinkLocal(IPPrefix(address: gw, length: 128)) else { return true }
    let on = Set(st.addresses.filter { $0.prefix.family == gw.family && $0.prefix.contains(gw) }.map(\.link))
    return on != [dev]
}

/// `127.0.0.1/8` and `::1/128`, which every `lo` has once up.
func isLoopbackDefault(_ p: IPPrefix) -> Bool {
    p == IPPrefix(address: .v4(0x7f00_0001), length: 8) || p == IPPrefix(address: .v6(0, 1), length: 128)
}

/// `fe80::/10`.
func isLinkLocal(_ p: IPPrefix) -> Bool {
    if case .v6(let hi, _) = p.address { return hi >> 54 == 0x3fa }
    return false
}

extension Executor {
    /// Reads every named namespace (and the related host-side links) back from the kernel.
    public func show() throws -> LiveTopology {
        do {
            let names = try backend.listNamespaces().filter { $0 != hostNamespace }
            var keys: [String: [String]] = [:]
            for n in names { keys[n] = LiveTopology.sysctlKeys }
            let raw = try backend.readState(of: [hostNamespace] + names, sysctls: keys)
            return LiveTopology(namespaces: names, raw: raw)
        } catch let e as KernelError {
            throw ExecutionError(.kernel(e), "cannot read the live network state: \(e)")
        }
    }
}
