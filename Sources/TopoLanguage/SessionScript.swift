/// The REPL's session as a script (LANGUAGE.md §10): the checked topology printed back as plain
/// statements, every interface qualified, one object per statement — so latest-wins settings
/// and `no` removals leave a script that checks on its own (`:save`, `:edit`).

/// Declarations that check back to `t` (what can be expressed; actions are not kept: they ran).
public func sessionDeclarations(_ t: Topology) -> [Declaration] {
    func loc<T>(_ v: T) -> Located<T> { Located(v, at: .none) }
    func ref(_ id: LinkID) -> InterfaceRef { InterfaceRef(namespace: loc(id.namespace), name: loc(id.name)) }
    var out: [Declaration] = []
    for n in t.namespaces { out.append(.namespace(loc(n.name), placed: [])) }
    var paired: Set<LinkID> = []
    for i in t.interfaces {
        switch i.kind {
        case .veth:
            guard let p = i.peer, !paired.contains(i.id) else { continue }
            paired.insert(i.id)
            paired.insert(p)
            out.append(.veth(ref(i.id), ref(p), mtu: nil))
        case .bridge:
            let ports = t.interfaces.filter { $0.master == i.id.name && $0.id.namespace == i.id.namespace }.map { ref($0.id) }
            _ = ports
            out.append(.bridge(ref(i.id), ports: ports, mtu: nil))
        case .dummy:
            out.append(.dummy(ref(i.id), mtu: nil))
        case .vrf:
            guard case .vrf(let table)? = i.options else { continue }
            let ports = t.interfaces.filter { $0.master == i.id.name && $0.id.namespace == i.id.namespace }.map { ref($0.id) }
            out.append(.vrf(ref(i.id), table: loc(Int(table)), ports: ports, mtu: nil))
        case .vlan:
            guard case .vlan(let v)? = i.options else { continue }
            out.append(.vlan(ref(i.id), link: ref(v.parent), id: loc(v.id),
                             protocol: v.protocol == .dot1q ? nil : loc(v.protocol.rawValue), mtu: nil))
        case .macvlan:
            guard case .macvlan(let p, let m)? = i.options else { continue }
            out.append(.macvlan(ref(i.id), link: ref(p), mode: loc(m.rawValue), mtu: nil))
        case .ipvlan:
            guard case .ipvlan(let p, let m)? = i.options else { continue }
            out.append(.ipvlan(ref(i.id), link: ref(p), mode: loc(m.rawValue), mtu: nil))
        case .vxlan:
            guard case .vxlan(let x)? = i.options else { continue }
            out.append(.vxlan(ref(i.id), VXLANDeclaration(
                id: loc(Int(x.vni)), remote: x.remote.map { loc($0) }, group: x.group.map { loc($0) },
                local: x.local.map { loc($0) }, link: x.underlay.map(ref),
                port: x.port == VXLAN.defaultPort ? nil : loc(x.port), ttl: x.ttl.map { loc($0) })))
        case .loopback, .external:
            continue
        }
    }
    // Shaping, then the rest (the checker does not care about order).
    for i in t.interfaces where i.kind != .external {
        if let sh = i.shaping, !sh.isEmpty { out.append(.tc(ref(i.id), sh.options)) }
    }
    for i in t.interfaces where i.kind != .external {
        if let m = i.mtu { out.append(.mtu(ref(i.id), loc(m))) }
    }
    for i in t.interfaces where i.kind != .external {
        if !i.up { out.append(.linkState([ref(i.id)], up: false)) } else if i.stateRange != nil && i.kind == .loopback {
            out.append(.linkState([ref(i.id)], up: true))
        }
    }
    var order: [LinkID] = []
    var byLink: [LinkID: [IPPrefix]] = [:]
    for a in t.addresses {
        if byLink[a.interface] == nil { order.append(a.interface) }
        byLink[a.interface, default: []].append(a.prefix)
    }
    for l in order { out.append(.address(ref(l), byLink[l]!.map { loc($0) })) }
    for r in t.routes {
        let dest: RouteDestination = r.spec.isDefault ? .default : .prefix(r.spec.destination)
        out.append(.route(namespace: loc(r.namespace), destination: loc(dest), via: r.spec.gateway.map { loc($0) },
                          dev: r.spec.device.map { ref(LinkID(r.namespace, $0)) }, metric: r.spec.metric.map { loc($0) },
                          table: r.spec.table.map { loc(Int($0)) }))
    }
    // `forward` for the pair it stands for; other sysctls as they are.
    let forwarded = Set(t.namespaces.map(\.name) + [hostNamespace]).filter { ns in
        t.sysctls.contains { $0.namespace == ns && $0.key == "net.ipv4.ip_forward" && $0.value == "1" }
            && t.sysctls.contains { $0.namespace == ns && $0.key == "net.ipv6.conf.all.forwarding" && $0.value == "1" }
    }
    var said: Set<String> = []
    for s in t.sysctls {
        if forwarded.contains(s.namespace) && (s.key == "net.ipv4.ip_forward" || s.key == "net.ipv6.conf.all.forwarding") {
            if said.insert(s.namespace).inserted { out.append(.forward(loc(s.namespace))) }
            continue
        }
        out.append(.sysctl(namespace: loc(s.namespace), key: loc(s.key), value: loc(s.value)))
    }
    for d in t.daemons { out.append(.daemon(namespace: loc(d.namespace), command: loc(d.command))) }
    return out
}

/// A REPL `no STATEMENT` (LANGUAGE.md §10), parsed.
public enum NoStatement: Hashable, Sendable {
    case namespaces([String])
    /// `no veth A` (the pair), `no bridge BR`, `no dummy IF`, `no link IF`: the link goes.
    case link(kind: String, String)
    /// `no bridge BR < P… >`: the ports leave the bridge.
    case ports(bridge: String, [String])
    /// `no addr IF [PREFIX…]` (all of its addresses when none is given).
    case addresses(String, [IPPrefix])
    /// `no route NS DEST`
    case route(namespace: String, destination: IPPrefix?)
    case mtu(String)
    /// `no down IF…` / `no up IF…`: back to the default state (up).
    case state([String])
    case forward(String)
    case sysctl(namespace: String, key: String)
    case tc(String)
}

/// Parses the text after `no`: `ns c`, `veth a:e1`, `addr a:e0 10.0.0.9/24`, `route a default`,
/// `tc a:e0`, `bridge br0 < p3 >`. Nil with a message when it is not one of those.
public func parseNoStatement(_ text: String) -> Result<NoStatement, NoError> {
    var words: [String] = []
    var cur = ""
    var inQuote = false
    let chars = Array(text)
    var i = 0
    func flush() { if !cur.isEmpty { words.append(cur); cur = "" } }
    while i < chars.count {
        let ch = chars[i]
        defer { i += 1 }
        if inQuote {
            if ch == "\"" { inQuote = false; words.append(cur); cur = "" } else { cur.append(ch) }
            continue
        }
        switch ch {
        case "\"": inQuote = true
        case " ", "\t", "\n", ",", ";": flush()
        case "#": i = chars.count
        case "<":
            flush()
            if i + 2 < chars.count, chars[i + 1] == "-", chars[i + 2] == ">" { words.append("<->"); i += 2 } else { words.append("<") }
        case ">":
            flush()
            words.append(">")
        default: cur.append(ch)
        }
    }
    flush()
    guard let kw = words.first else { return .failure(NoError("`no` needs a statement: `no ns NAME`, `no veth IF`, `no addr IF PREFIX`, …")) }
    let args = Array(words.dropFirst())
    func one() -> String? { args.count == 1 ? args[0] : nil }
    let usage: [String: String] = [
        "ns": "no ns NAME…", "veth": "no veth IF", "bridge": "no bridge BR [< PORT… >]", "dummy": "no dummy IF",
        "addr": "no addr IF [PREFIX…]", "route": "no route NS DEST", "mtu": "no mtu IF", "down": "no down IF…",
        "up": "no up IF…", "forward": "no forward NS", "sysctl": "no sysctl NS KEY", "tc": "no tc IF",
        "link": "no link IF", "vlan": "no vlan IF", "macvlan": "no macvlan IF", "ipvlan": "no ipvlan IF",
        "vxlan": "no vxlan IF", "vrf": "no vrf IF",
    ]
    func bad() -> Result<NoStatement, NoError> {
        if let u = usage[kw] { return .failure(NoError("usage: \(u)")) }
        let known = usage.keys.sorted()
        let hint = uniqueSuggestion(for: kw, among: known).map { " (did you mean `\($0)`?)" } ?? ""
        return .failure(NoError("`no \(kw)` is not something the REPL can remove\(hint); `no` takes \(known.map { "`\($0)`" }.joined(separator: ", "))"))
    }
    switch kw {
    case "ns":
        return args.isEmpty ? bad() : .success(.namespaces(args))
    case "veth", "dummy", "link", "vlan", "macvlan", "ipvlan", "vxlan", "vrf":
        // `no veth A <-> B` names the pair by either end.
        if kw == "veth", args.count == 3, args[1] == "<->" { return .success(.link(kind: kw, args[0])) }
        return one().map { .success(.link(kind: kw, $0)) } ?? bad()
    case "bridge":
        guard let br = args.first else { return bad() }
        if args.count == 1 { return .success(.link(kind: kw, br)) }
        guard args.count >= 3, args[1] == "<", args.last == ">" else { return bad() }
        return .success(.ports(bridge: br, Array(args[2..<(args.count - 1)])))
    case "addr":
        guard let l = args.first else { return bad() }
        var ps: [IPPrefix] = []
        for a in args.dropFirst() {
            guard let p = IPPrefix(a) else { return .failure(NoError("`\(a)` is not an address with a prefix length (`10.0.0.1/24`)")) }
            ps.append(p)
        }
        return .success(.addresses(l, ps))
    case "route":
        guard args.count >= 2 else { return bad() }
        if args[1] == "default" { return .success(.route(namespace: args[0], destination: nil)) }
        guard let p = IPPrefix(args[1]) else { return .failure(NoError("`\(args[1])` is not a route destination (a prefix or `default`)")) }
        return .success(.route(namespace: args[0], destination: p))
    case "mtu": return args.first.map { .success(.mtu($0)) } ?? bad()
    case "down", "up": return args.isEmpty ? bad() : .success(.state(args))
    case "forward": return one().map { .success(.forward($0)) } ?? bad()
    case "sysctl": return args.count >= 2 ? .success(.sysctl(namespace: args[0], key: args[1])) : bad()
    case "tc": return args.first.map { .success(.tc($0)) } ?? bad()
    default: return bad()
    }
}

/// `t` without what `no` names. Fails with a message when it names nothing in the session.
public func removing(_ what: NoStatement, from t: Topology) -> Result<Topology, NoError> {
    var t = t
    func resolve(_ s: String) -> Result<LinkID, NoError> {
        if let colon = s.firstIndex(of: ":") {
            let id = LinkID(String(s[..<colon]), String(s[s.index(after: colon)...]))
            return t.interfaces.contains { $0.id == id } ? .success(id) : .failure(NoError("the session has no interface `\(s)`"))
        }
        let matches = t.interfaces.filter { $0.id.name == s && $0.kind != .loopback }
        if matches.count == 1 { return .success(matches[0].id) }
        if matches.isEmpty { return .failure(NoError("the session has no interface `\(s)`")) }
        return .failure(NoError("`\(s)` is in more than one namespace; qualify it: " + matches.map { "`\($0.id)`" }.joined(separator: " or ")))
    }
    /// Removes links (and what hangs on them: addresses, routes through them, ports, children).
    func dropLinks(_ ids: Set<LinkID>) {
        var doomed = ids
        for i in t.interfaces where doomed.contains(i.id) { if let p = i.peer { doomed.insert(p) } }
        // Stacked links on a doomed parent go too.
        var grew = true
        while grew {
            grew = false
            for i in t.interfaces where !doomed.contains(i.id) {
                if let p = i.options?.parent, doomed.contains(p) { doomed.insert(i.id); grew = true }
            }
        }
        t.interfaces.removeAll { doomed.contains($0.id) }
        for k in t.interfaces.indices {
            if let m = t.interfaces[k].master, doomed.contains(LinkID(t.interfaces[k].id.namespace, m)) { t.interfaces[k].master = nil }
        }
        t.addresses.removeAll { doomed.contains($0.interface) }
        t.routes.removeAll { r in r.spec.device.map { doomed.contains(LinkID(r.namespace, $0)) } ?? false }
    }
    switch what {
    case .namespaces(let names):
        for n in names where !t.namespaces.contains(where: { $0.name == n }) {
            return .failure(NoError("the session has no namespace `\(n)`"))
        }
        let set = Set(names)
        dropLinks(Set(t.interfaces.filter { set.contains($0.id.namespace) }.map(\.id)))
        t.namespaces.removeAll { set.contains($0.name) }
        t.interfaces.removeAll { set.contains($0.id.namespace) }
        t.routes.removeAll { set.contains($0.namespace) }
        t.sysctls.removeAll { set.contains($0.namespace) }
        t.daemons.removeAll { set.contains($0.namespace) }
        t.actions.removeAll { set.contains($0.namespace) }
    case .link(let kind, let name):
        switch resolve(name) {
        case .failure(let m): return .failure(m)
        case .success(let id):
            let i = t.interfaces.first { $0.id == id }!
            if kind != "link" && i.kind.rawValue != kind {
                return .failure(NoError("`\(id)` is a \(i.kind.rawValue), not a \(kind): write `no \(i.kind.rawValue) \(name)`"))
            }
            if i.kind == .loopback { return .failure(NoError("`lo` cannot be removed")) }
            dropLinks([id])
        }
    case .ports(let bridge, let ports):
        guard case .success(let br) = resolve(bridge) else { return .failure(NoError("the session has no bridge `\(bridge)`")) }
        for p in ports {
            var id: LinkID? = LinkID(br.namespace, p)
            if p.contains(":") { if case .success(let x) = resolve(p) { id = x } else { id = nil } }
            guard let id, let k = t.interfaces.firstIndex(where: { $0.id == id }), t.interfaces[k].master == br.name else {
                return .failure(NoError("`\(p)` is not a port of `\(br)`"))
            }
            t.interfaces[k].master = nil
        }
    case .addresses(let name, let ps):
        switch resolve(name) {
        case .failure(let m): return .failure(m)
        case .success(let id):
            if ps.isEmpty {
                guard t.addresses.contains(where: { $0.interface == id }) else { return .failure(NoError("`\(id)` has no addresses")) }
                t.addresses.removeAll { $0.interface == id }
            }
            for p in ps {
                guard t.addresses.contains(where: { $0.interface == id && $0.prefix == p }) else {
                    return .failure(NoError("`\(id)` has no address \(p)"))
                }
                t.addresses.removeAll { $0.interface == id && $0.prefix == p }
            }
        }
    case .route(let ns, let dest):
        let before = t.routes.count
        t.routes.removeAll { r in r.namespace == ns && (dest.map { r.spec.destination == $0 } ?? r.spec.isDefault) }
        if t.routes.count == before {
            return .failure(NoError("the session has no route to `\(dest.map(\.description) ?? "default")` in `\(ns)`"))
        }
    case .mtu(let name):
        guard case .success(let id) = resolve(name), let k = t.interfaces.firstIndex(where: { $0.id == id }) else {
            return .failure(NoError("the session has no interface `\(name)`"))
        }
        guard t.interfaces[k].mtu != nil else { return .failure(NoError("`\(id)` has no mtu set")) }
        t.interfaces[k].mtu = nil
        t.interfaces[k].mtuRange = nil
    case .state(let names):
        for name in names {
            guard case .success(let id) = resolve(name), let k = t.interfaces.firstIndex(where: { $0.id == id }) else {
                return .failure(NoError("the session has no interface `\(name)`"))
            }
            t.interfaces[k].up = true
            t.interfaces[k].stateRange = nil
        }
    case .forward(let ns):
        let before = t.sysctls.count
        t.sysctls.removeAll { $0.namespace == ns && ($0.key == "net.ipv4.ip_forward" || $0.key == "net.ipv6.conf.all.forwarding") }
        if before == t.sysctls.count { return .failure(NoError("`\(ns)` does not forward")) }
    case .sysctl(let ns, let key):
        let before = t.sysctls.count
        t.sysctls.removeAll { $0.namespace == ns && $0.key == key }
        if before == t.sysctls.count { return .failure(NoError("the session sets no sysctl `\(key)` in `\(ns)`")) }
    case .tc(let name):
        guard case .success(let id) = resolve(name), let k = t.interfaces.firstIndex(where: { $0.id == id }) else {
            return .failure(NoError("the session has no interface `\(name)`"))
        }
        guard t.interfaces[k].shaping != nil else { return .failure(NoError("`\(id)` has no tc")) }
        t.interfaces[k].shaping = nil
        t.interfaces[k].shapingRange = nil
    }
    return .success(t)
}

/// Why a `no` names nothing in the session.
public struct NoError: Error, Hashable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
