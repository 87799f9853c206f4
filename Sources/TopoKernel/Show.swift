import TopoLanguage

/// The live topology of every named namespace, plus the host-side links related to them
/// (veth ends whose peer is in a named namespace, parents and underlays of links in named
/// namespaces, and the bridges and VRFs those are ports of).
public struct LiveTopology: Hashable, Sendable {
    /// The namespaces to show, sorted (`topo show NS…` names a subset of what `state` holds).
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
            // Host links the named namespaces use: veth peers, parents and underlays.
            var keep = Set(host.links.filter { $0.kind == "veth" && $0.peer.map { namedSet.contains($0.namespace) } == true }.map(\.name))
            for n in named {
                for l in state[n]?.links ?? [] {
                    if let p = l.options?.parent, p.namespace == hostNamespace { keep.insert(p.name) }
                }
            }
            // …their own parents, and the masters of all of them.
            var changed = true
            while changed {
                changed = false
                for l in host.links where keep.contains(l.name) {
                    for extra in [l.master, l.options?.parent?.name] {
                        if let e = extra, !keep.contains(e) { keep.insert(e); changed = true }
                    }
                }
            }
            let links = host.links.filter { keep.contains($0.name) }
            if !links.isEmpty {
                state[hostNamespace] = LiveNamespace(links: links, addresses: host.addresses.filter { keep.contains($0.link) },
                                                     routes: [], sysctls: [:])
            }
        }
        self.namespaces = named
        self.state = state
    }

    /// The link kinds topo declares.
    static let modelledKinds: Set<String> = ["veth", "bridge", "dummy", "vlan", "macvlan", "ipvlan", "vxlan", "vrf"]

    /// The topology as declarations (every range `.none`), without the comment lines of `script()`.
    public func declarations() -> [Declaration] {
        script().compactMap { if case .declaration(let d) = $0 { return d } else { return nil } }
    }

    /// The topology as a script (`ScriptPrinter.print`) that passes `topo check` on its own and
    /// rebuilds what it describes; what topo cannot express becomes a `# not modelled: …` line.
    ///
    /// Order: `ns` (the shown namespaces, then other namespaces holding links they need), then
    /// per namespace (`host` last) bridges with their ports, VRFs with theirs, veth pairs
    /// (once; shaping inline when both ends have the same), dummies; then vlans, macvlans,
    /// ipvlans and vxlans, parents first; `mtu` where a veth's ends differ; then per namespace
    /// `down`, addresses (no IPv6 link-local), routes (`table T` outside main), forwarding
    /// (`forward` only when IPv4 and IPv6 forwarding are both on, else one `sysctl` line per
    /// family that is on), `tc`, and the comments. An mtu is printed where it differs from what
    /// the rebuilt link would get by itself.
    ///
    /// Of a namespace that is not shown only the links that shown ones need are declared (a veth
    /// peer, a parent); of `host`, those and their addresses. A parent in `host` that is not
    /// declared is written `host:NAME`, an existing interface of the machine.
    public func script() -> [ScriptLine] {
        var b = ShowBuilder(self)
        return b.build()
    }

    /// The live state as JSON (`topo show --format json`):
    /// `{"namespaces":[{"name":…,"links":[…],"routes":[…],"sysctls":{…},"unmodelled":[…]}],"host":{"links":[…]}}`.
    /// A link has `options` (its kind's statement clauses, such as `link a:eth0 id 100`),
    /// `tc` (its shaping as `tc` options) and `root_qdisc` (a root qdisc that is not the
    /// kernel's default), each null when absent; a route has its `table` (254 is main).
    public func json() -> String {
        let str = jsonStringLiteral
        func opt(_ s: String?) -> String { s.map(str) ?? "null" }
        func links(_ st: LiveNamespace) -> String {
            "[" + st.links.map { l in
                let addrs = st.addresses.filter { $0.link == l.name }.map { str($0.prefix.description) }
                return "{\"name\":\(str(l.name)),\"index\":\(l.index),\"kind\":\(opt(l.kind)),"
                    + "\"peer\":\(opt(l.peer?.description)),\"master\":\(opt(l.master)),\"mtu\":\(l.mtu),"
                    + "\"up\":\(l.up),\"group\":\(l.group),\"addresses\":[\(addrs.joined(separator: ","))],"
                    + "\"options\":\(opt(l.options.map(ShowBuilder.optionsText))),\"tc\":\(opt(l.shaping?.description)),"
                    + "\"root_qdisc\":\(opt(l.rootQdisc))}"
            }.joined(separator: ",") + "]"
        }
        func routes(_ st: LiveNamespace) -> String {
            "[" + st.routes.map { r in
                "{\"destination\":\(str(r.isDefault ? "default" : r.destination.description)),"
                    + "\"family\":\(str(r.destination.family.rawValue)),"
                    + "\"gateway\":\(opt(r.gateway?.description)),\"device\":\(opt(r.device)),"
                    + "\"metric\":\(r.metric.map(String.init) ?? "null"),\"table\":\(r.table ?? RouteSpec.mainTable)}"
            }.joined(separator: ",") + "]"
        }
        var parts: [String] = []
        for n in namespaces {
            let st = state[n] ?? LiveNamespace()
            let sys = st.sysctls.keys.sorted().map { "\(str($0)):\(str(showSysctl(st.sysctls[$0] ?? "")))" }
            parts.append("{\"name\":\(str(n)),\"links\":\(links(st)),\"routes\":\(routes(st)),"
                         + "\"sysctls\":{\(sys.joined(separator: ","))},"
                         + "\"unmodelled\":[\(st.unmodelled.map(str).joined(separator: ","))]}")
        }
        let host = state[hostNamespace].map { links($0) } ?? "[]"
        return "{\"namespaces\":[\(parts.joined(separator: ","))],\"host\":{\"links\":\(host)}}"
    }
}

/// Builds `LiveTopology.script()`.
private struct ShowBuilder {
    let topo: LiveTopology
    let shown: [String]
    let shownSet: Set<String>
    /// Why a link cannot be declared (nil: it can), memoised.
    var reasons: [LinkID: String?] = [:]

    init(_ topo: LiveTopology) {
        self.topo = topo
        shown = topo.namespaces.filter { $0 != hostNamespace }
        shownSet = Set(shown)
    }

    func live(_ id: LinkID) -> LiveLink? { topo.state[id.namespace]?.link(id.name) }

    static func loc<T>(_ v: T) -> Located<T> { Located(v, at: .none) }

    /// Why the link cannot be written as a statement, or nil when it can.
    mutating func reason(_ id: LinkID, depth: Int = 0) -> String? {
        if let r = reasons[id] { return r }
        let r = computeReason(id, depth: depth)
        reasons[id] = r
        return r
    }

    mutating func computeReason(_ id: LinkID, depth: Int) -> String? {
        guard let l = live(id) else { return "it was not read" }
        guard let kind = l.kind else { return "a device without a link kind, such as a physical NIC" }
        guard LiveTopology.modelledKinds.contains(kind) else { return "kind \(kind)" }
        if depth > 32 { return "its parents nest too deep" }
        switch kind {
        case "veth":
            guard let p = l.peer, let pl = live(p), pl.kind == "veth" else {
                return "its peer is in a namespace that was not read"
            }
        case "vlan", "macvlan", "ipvlan", "vxlan":
            if l.parentUnresolved { return "its parent is in a namespace that was not read" }
            guard let o = l.options else { return "its \(kind) options were not read" }
            if let p = o.parent, !parentUsable(p, depth: depth) {
                return "its parent `\(p)` is not modelled"
            }
        case "vrf":
            guard case .vrf(let t)? = l.options else { return "its table was not read" }
            if [0, 253, 254, 255].contains(t) { return "it uses table \(t), which a topo vrf cannot" }
        default:
            break
        }
        return nil
    }

    /// True when a link's parent can be named: declared itself, or in `host` (an existing
    /// interface of the machine, written `host:NAME`).
    mutating func parentUsable(_ p: LinkID, depth: Int) -> Bool {
        if p.namespace == hostNamespace { return true }
        return reason(p, depth: depth + 1) == nil
    }

    mutating func build() -> [ScriptLine] {
        var out: [ScriptLine] = []
        var comments: [String: [String]] = [:]
        var notedLinks: [String: Set<String>] = [:]
        func note(_ ns: String, _ text: String) { comments[ns, default: []].append(text) }

        // 1. Which links are declared: every modelled link of a shown namespace, and what they need.
        var printed: Set<LinkID> = []
        var queue: [LinkID] = []
        for ns in shown {
            for l in topo.state[ns]?.links ?? [] where l.name != "lo" {
                let id = LinkID(ns, l.name)
                if let why = reason(id) {
                    let kind = l.kind.flatMap { LiveTopology.modelledKinds.contains($0) ? $0 : nil } ?? "link"
                    note(ns, "\(kind) \(id) (\(why))")
                    notedLinks[ns, default: []].insert(l.name)
                } else if printed.insert(id).inserted {
                    queue.append(id)
                }
            }
        }
        var k = 0
        while k < queue.count {
            let id = queue[k]
            k += 1
            guard let l = live(id) else { continue }
            var needs: [LinkID] = []
            if l.kind == "veth", let p = l.peer { needs.append(p) }
            if let p = l.options?.parent, reason(p) == nil { needs.append(p) }
            if let m = l.master {
                let mid = LinkID(id.namespace, m)
                if let ml = live(mid), ml.kind == "bridge" || ml.kind == "vrf", reason(mid) == nil {
                    needs.append(mid)
                } else if shownSet.contains(id.namespace) || id.namespace == hostNamespace {
                    note(id.namespace, "\(id) is a port of `\(m)` (\(live(mid)?.kind.map { "kind \($0)" } ?? "not read"))")
                }
            }
            for n in needs where reason(n) == nil && printed.insert(n).inserted { queue.append(n) }
        }
        // Namespaces that hold needed links but are not shown are declared too.
        var extra: [String] = []
        for id in printed where id.namespace != hostNamespace && !shownSet.contains(id.namespace) {
            if !extra.contains(id.namespace) { extra.append(id.namespace) }
        }
        extra.sort()
        let order = shown + extra + (printed.contains { $0.namespace == hostNamespace } ? [hostNamespace] : [])
        func links(_ ns: String) -> [LiveLink] {
            (topo.state[ns]?.links ?? []).filter { printed.contains(LinkID(ns, $0.name)) }
        }

        // Names: qualified, but host links bare unless a declared link elsewhere has the name.
        let namesElsewhere = Set(printed.filter { $0.namespace != hostNamespace }.map(\.name))
        func ref(_ id: LinkID) -> InterfaceRef {
            if id.namespace == hostNamespace && !namesElsewhere.contains(id.name) {
                return InterfaceRef(name: Self.loc(id.name))
            }
            return InterfaceRef(namespace: Self.loc(id.namespace), name: Self.loc(id.name))
        }
        /// A parent: `host:NAME` when it is an interface of the machine (not declared).
        func parentRef(_ p: LinkID) -> InterfaceRef {
            if p.namespace == hostNamespace && !printed.contains(p) {
                return InterfaceRef(namespace: Self.loc(hostNamespace), name: Self.loc(p.name))
            }
            return ref(p)
        }

        for n in shown { out.append(.declaration(.namespace(Self.loc(n), placed: []))) }
        for n in extra {
            out.append(.comment("namespace \(n) is not shown; declared for the links shown ones need"))
            out.append(.declaration(.namespace(Self.loc(n), placed: [])))
        }

        // 2. Links.
        func mtuField(_ m: Int, default d: Int? = 1500) -> Located<Int>? {
            guard let d else { return m <= 65535 ? Self.loc(m) : nil }
            return m != d ? Self.loc(m) : nil
        }
        var emittedVeth: Set<LinkID> = []
        var inlineShaping: Set<LinkID> = []
        var mtuLater: [Declaration] = []
        var stacked: [(depth: Int, order: Int, decl: Declaration)] = []
        var orderIndex = 0
        for ns in order {
            let ls = links(ns)
            for b in ls where b.kind == "bridge" {
                let ports = ls.filter { $0.master == b.name }.map { ref(LinkID(ns, $0.name)) }
                out.append(.declaration(.bridge(ref(LinkID(ns, b.name)), ports: ports, mtu: mtuField(b.mtu))))
            }
            for v in ls where v.kind == "vrf" {
                guard case .vrf(let t)? = v.options else { continue }
                let ports = ls.filter { $0.master == v.name }.map { ref(LinkID(ns, $0.name)) }
                out.append(.declaration(.vrf(ref(LinkID(ns, v.name)), table: Self.loc(Int(t)), ports: ports,
                                             mtu: mtuField(v.mtu, default: nil))))
            }
            for v in ls where v.kind == "veth" {
                let me = LinkID(ns, v.name)
                guard let p = v.peer, let pl = live(p), !emittedVeth.contains(me) else { continue }
                emittedVeth.insert(me)
                emittedVeth.insert(p)
                var shaping: [ShapingOption] = []
                if let s = v.shaping, s == pl.shaping {
                    shaping = Self.options(s)
                    inlineShaping.insert(me)
                    inlineShaping.insert(p)
                }
                if v.mtu == pl.mtu {
                    out.append(.declaration(.veth(ref(me), ref(p), mtu: mtuField(v.mtu), shaping: shaping)))
                } else {
                    out.append(.declaration(.veth(ref(me), ref(p), mtu: nil, shaping: shaping)))
                    if v.mtu != 1500 { mtuLater.append(.mtu(ref(me), Self.loc(v.mtu))) }
                    if pl.mtu != 1500 { mtuLater.append(.mtu(ref(p), Self.loc(pl.mtu))) }
                }
            }
            for d in ls where d.kind == "dummy" {
                out.append(.declaration(.dummy(ref(LinkID(ns, d.name)), mtu: mtuField(d.mtu))))
            }
            for l in ls {
                guard let o = l.options, let kind = l.kind, ["vlan", "macvlan", "ipvlan", "vxlan"].contains(kind) else { continue }
                let id = LinkID(ns, l.name)
                let decl: Declaration
                switch o {
                case .vlan(let v):
                    decl = .vlan(ref(id), link: parentRef(v.parent), id: Self.loc(v.id),
                                 protocol: v.protocol == .dot1q ? nil : Self.loc(v.protocol.rawValue),
                                 mtu: mtuField(l.mtu, default: stackedDefault(v.parent, printed: printed)))
                case .macvlan(let p, let m):
                    decl = .macvlan(ref(id), link: parentRef(p), mode: Self.loc(m.rawValue),
                                    mtu: mtuField(l.mtu, default: stackedDefault(p, printed: printed)))
                case .ipvlan(let p, let m):
                    decl = .ipvlan(ref(id), link: parentRef(p), mode: Self.loc(m.rawValue),
                                   mtu: mtuField(l.mtu, default: stackedDefault(p, printed: printed)))
                case .vxlan(let x):
                    let d = x.underlay.map { (live($0)?.mtu ?? 1500) - x.overhead } ?? 1500
                    decl = .vxlan(ref(id), VXLANDeclaration(
                        id: Self.loc(Int(x.vni)), remote: x.remote.map { Self.loc($0) }, group: x.group.map { Self.loc($0) },
                        local: x.local.map { Self.loc($0) }, link: x.underlay.map(parentRef),
                        port: x.port == VXLAN.defaultPort ? nil : Self.loc(x.port), ttl: x.ttl.map { Self.loc($0) },
                        mtu: mtuField(l.mtu, default: d)))
                case .vrf:
                    continue
                }
                stacked.append((depth(id), orderIndex, decl))
                orderIndex += 1
            }
        }
        stacked.sort { ($0.depth, $0.order) < ($1.depth, $1.order) }
        out += stacked.map { .declaration($0.decl) }
        out += mtuLater.map { .declaration($0) }

        // 3. State, addresses, routes, sysctls, shaping, comments.
        for ns in order {
            guard let st = topo.state[ns] else { continue }
            let ls = links(ns)
            let isShown = shownSet.contains(ns)
            // Of a namespace that is not shown, only the links themselves.
            if !isShown && ns != hostNamespace { continue }
            // `lo` of a named namespace is up in what topo makes; `ip netns add` leaves it down.
            let loDown = isShown && ns != hostNamespace && st.links.contains { $0.name == "lo" && $0.kind == nil && !$0.up }
            let down = ls.filter { !$0.up }.map { ref(LinkID(ns, $0.name)) } + (loDown ? [ref(LinkID(ns, "lo"))] : [])
            if !down.isEmpty { out.append(.declaration(.linkState(down, up: false))) }
            do {
                // `lo` of a named namespace: only what was added (not 127.0.0.1/8, ::1/128).
                let loopback = ns != hostNamespace ? st.links.filter { $0.name == "lo" && $0.kind == nil } : []
                for l in ls + loopback {
                    let prefixes = st.addresses.filter {
                        $0.link == l.name && !isLinkLocal($0.prefix) && !(l.name == "lo" && isLoopbackDefault($0.prefix))
                    }.map { Self.loc($0.prefix) }
                    if !prefixes.isEmpty { out.append(.declaration(.address(ref(LinkID(ns, l.name)), prefixes))) }
                }
                if isShown {
                    let known = Set(ls.map(\.name) + ["lo"])
                    for a in st.addresses where !known.contains(a.link) && !isLinkLocal(a.prefix) {
                        note(ns, "addr \(LinkID(ns, a.link)) \(a.prefix) (on a link topo does not model)")
                    }
                }
            }
            if isShown {
                for r in st.routes {
                    if let d = r.device, d != "lo", !printed.contains(LinkID(ns, d)) {
                        note(ns, "route \(routeText(r)) in \(ns) (its device is not modelled)")
                        continue
                    }
                    let dest: RouteDestination = r.isDefault ? .default : .prefix(r.destination)
                    let metric = r.metric.flatMap { $0 == showMetricDefault(r) ? nil : $0 }
                    out.append(.declaration(.route(
                        namespace: Self.loc(ns), destination: Self.loc(dest), via: r.gateway.map { Self.loc($0) },
                        dev: routeNeedsDevice(r, st) ? r.device.map { ref(LinkID(ns, $0)) } : nil,
                        metric: metric.map { Self.loc($0) }, table: r.table.map { Self.loc(Int($0)) })))
                }
                let v4 = st.sysctls["net.ipv4.ip_forward"].map(showSysctl) == "1"
                let v6 = st.sysctls["net.ipv6.conf.all.forwarding"].map(showSysctl) == "1"
                if v4 && v6 {
                    out.append(.declaration(.forward(Self.loc(ns))))
                } else {
                    for (on, key) in [(v4, "net.ipv4.ip_forward"), (v6, "net.ipv6.conf.all.forwarding")] where on {
                        out.append(.declaration(.sysctl(namespace: Self.loc(ns), key: Self.loc(key), value: Self.loc("1"))))
                    }
                }
            }
            for l in ls {
                let id = LinkID(ns, l.name)
                if let s = l.shaping, !s.isEmpty {
                    if !inlineShaping.contains(id) { out.append(.declaration(.tc(ref(id), Self.options(s)))) }
                } else if let q = l.rootQdisc {
                    note(ns, "qdisc \(q) at the root of \(id) (not topo's layout)")
                }
            }
        }
        for ns in order {
            var lines = comments[ns] ?? []
            if shownSet.contains(ns) {
                // The backend's own list; a link already described above is not repeated.
                let noted = notedLinks[ns] ?? []
                for u in topo.state[ns]?.unmodelled ?? [] {
                    let words = u.split(separator: " ", maxSplits: 2)
                    if words.count >= 2, words[0] == "link", noted.contains(String(words[1])) { continue }
                    lines.append("in \(ns): \(u)")
                }
            }
            for c in lines { out.append(.comment("not modelled: " + c)) }
        }
        return out
    }

    /// The mtu a stacked link gets by itself when rebuilt: 1500 (it is created before its
    /// parent's mtu is set, and follows it only down), or the parent's when the parent is an
    /// interface of the machine (it exists with its mtu when the link is created).
    func stackedDefault(_ p: LinkID, printed: Set<LinkID>) -> Int {
        let pm = live(p)?.mtu ?? 1500
        if p.namespace == hostNamespace && !printed.contains(p) { return pm }
        return min(1500, pm)
    }

    /// How many stacked parents a link has below it.
    func depth(_ id: LinkID) -> Int {
        var d = 0
        var cur = live(id)?.options?.parent
        while let p = cur, d < 32 {
            d += 1
            cur = live(p)?.options?.parent
        }
        return d
    }

    /// A shaping as the options of a `tc` statement.
    static func options(_ s: Shaping) -> [ShapingOption] { s.options }

    /// A link kind's options as statement clauses, for JSON: `vlan link a:eth0 id 100`.
    static func optionsText(_ o: LinkOptions) -> String {
        switch o {
        case .vlan(let v): return "vlan link \(v.parent) id \(v.id) protocol \(v.protocol.rawValue)"
        case .macvlan(let p, let m): return "macvlan link \(p) mode \(m.rawValue)"
        case .ipvlan(let p, let m): return "ipvlan link \(p) mode \(m.rawValue)"
        case .vrf(let t): return "vrf table \(t)"
        case .vxlan(let x):
            var s = "vxlan id \(x.vni)"
            if let r = x.remote { s += " remote \(r)" }
            if let g = x.group { s += " group \(g)" }
            if let l = x.local { s += " local \(l)" }
            if let u = x.underlay { s += " link \(u)" }
            s += " port \(x.port)"
            if let t = x.ttl { s += " ttl \(t)" }
            return s
        }
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

/// The metric the kernel gives a route without one: 0 for IPv4, 1024 for IPv6.
private func showMetricDefault(_ r: RouteSpec) -> Int { r.destination.family == .ipv6 ? 1024 : 0 }

/// A sysctl value with its blanks collapsed (the kernel pads some with tabs).
private func showSysctl(_ s: String) -> String {
    s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
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
