import TopoLanguage

/// What the kernel holds now, as far as a reconciliation needs it: read once, before any change.
public struct Observation: Hashable, Sendable {
    /// The named namespaces that exist (complete: `/run/netns` was listed).
    public var existing: Set<String>
    /// Live state of the namespaces that were read (`host` included when it was read).
    public var state: [String: LiveNamespace]
    /// The recorded daemons that still run (same pid and start time).
    public var runningDaemons: Set<OwnershipRecord.OwnedDaemon>
    /// The value a sysctl has in a fresh namespace, for sysctls topo set in namespaces it made
    /// (their original is "the kernel's default", recorded as an empty value).
    public var sysctlDefaults: [String: String]

    public init(existing: Set<String> = [], state: [String: LiveNamespace] = [:],
                runningDaemons: Set<OwnershipRecord.OwnedDaemon> = [], sysctlDefaults: [String: String] = [:]) {
        self.existing = existing
        self.state = state
        self.runningDaemons = runningDaemons
        self.sysctlDefaults = sysctlDefaults
    }
}

/// A live object that clashes with the script and is not topo's to change.
public struct Conflict: Hashable, Sendable {
    public var step: PlanStep
    public var message: String
    public init(_ step: PlanStep, _ message: String) {
        self.step = step
        self.message = message
    }
}

/// The diff: what to do to make the kernel match the script, within what topo owns.
public struct Reconciliation: Hashable, Sendable {
    /// Creations and changes in plan order, then removals (addresses, routes, qdiscs first;
    /// then links, namespaces, daemons). Post-apply steps (daemons to start, actions) are not
    /// in here: see `afterApply`.
    public var changes: [Change]
    /// Daemons to start and actions to run after the changes, in plan order.
    public var afterApply: [PlanStep]
    public var conflicts: [Conflict]
    /// Plan operations found in place.
    public var skipped: Int
    /// Links topo owns whose fixed identity changed: removed (made reversible, see the
    /// executor) before the creations, so their names are free. Each is also in `changes` as
    /// a `removeLink`.
    public var replaced: Set<LinkID>
    /// Recorded facts that are no longer true and should be dropped (objects already gone).
    public var stale: [Fact]
    /// The wanted state the changes were computed from (`desiredTopology(plan)`).
    public var desired: Topology = Topology()

    public init(changes: [Change] = [], afterApply: [PlanStep] = [], conflicts: [Conflict] = [], skipped: Int = 0,
                replaced: Set<LinkID> = [], stale: [Fact] = []) {
        self.changes = changes
        self.afterApply = afterApply
        self.conflicts = conflicts
        self.skipped = skipped
        self.replaced = replaced
        self.stale = stale
    }

    /// True when nothing differs.
    public var isEmpty: Bool { changes.isEmpty }
}

/// The namespaces a reconciliation of `plan` against `record` must read: `host`, those the plan
/// touches, and those (not owned whole) where the record holds links, addresses, routes,
/// sysctls or attributes. Owned namespaces the plan drops need no reading: they go whole.
public func namespacesToRead(plan: Plan, record: OwnershipRecord) -> [String] {
    var out: [String] = [hostNamespace]
    var seen: Set<String> = [hostNamespace]
    func add(_ n: String) { if seen.insert(n).inserted { out.append(n) } }
    for s in plan.steps {
        add(s.operation.namespace)
        switch s.operation {
        case .addVeth(_, let p): add(p.namespace)
        case .addVlan(_, let v): add(v.parent.namespace)
        case .addMacvlan(_, let p, _), .addIpvlan(_, let p, _): add(p.namespace)
        case .addVxlan(_, let x): if let u = x.underlay { add(u.namespace) }
        default: break
        }
    }
    let desired = Set(plan.steps.compactMap { s -> String? in
        if case .addNamespace(let n) = s.operation { return n }
        return nil
    })
    // Namespaces topo made that the plan drops go whole: nothing in them needs reading.
    let dropped = record.namespaces.subtracting(desired)
    func fact(_ ns: String) { if !dropped.contains(ns) { add(ns) } }
    for ns in record.linkGroups.keys { fact(ns) }
    for a in record.addresses { fact(a.link.namespace) }
    for r in record.routes { fact(r.namespace) }
    for k in record.sysctls.keys { fact(k.namespace) }
    for l in record.originals.keys { fact(l.namespace) }
    for l in record.shaped { fact(l.namespace) }
    return out
}

/// Computes the diff of LANGUAGE.md §9: the checked `topology` (and its `plan`) is the wanted
/// state, `observed` the live one, `record` what earlier runs of the same script made. Pure:
/// testable without a kernel.
///
/// - Missing objects are created; attributes that differ are changed in place; a topo-owned
///   link whose identity changed is replaced; one topo did not make is a conflict.
/// - What `record` owns and the script no longer declares is removed; attributes the script
///   stops setting go back (to the value recorded before topo changed it, or the kernel's
///   default for a link topo made).
/// - Never touched: what topo did not make, kernel-made addresses and routes.
public func reconcile(plan: Plan, observed: Observation, record: OwnershipRecord) -> Reconciliation {
    let desired = desiredTopology(plan)
    var r = Reconciler(plan: plan, topology: desired, observed: observed, record: record)
    var out = r.run()
    out.desired = desired
    return out
}

/// The wanted state as a `Topology`, rebuilt from a plan's steps (the plan holds everything the
/// checker decided; tests and the REPL hand plans around). A link the plan sets attributes on
/// but does not create is taken to exist already (kind `external`).
public func desiredTopology(_ plan: Plan) -> Topology {
    var t = Topology()
    var index: [LinkID: Int] = [:]
    var nsRange: [String: SourceRange] = [:]
    func iface(_ id: LinkID, _ kind: Topology.InterfaceKind, at range: SourceRange) -> Int {
        if let i = index[id] {
            if t.interfaces[i].kind == .external && kind != .external { t.interfaces[i].kind = kind }
            return i
        }
        index[id] = t.interfaces.count
        t.interfaces.append(.init(id: id, kind: kind, range: range))
        return t.interfaces.count - 1
    }
    for s in plan.steps {
        let r = s.range
        switch s.operation {
        case .addNamespace(let n):
            t.namespaces.append(.init(name: n, range: r))
            nsRange[n] = r
            _ = iface(LinkID(n, "lo"), .loopback, at: r)
        case .addVeth(let a, let b):
            let i = iface(a, .veth, at: r), j = iface(b, .veth, at: r)
            t.interfaces[i].peer = b
            t.interfaces[j].peer = a
        case .addBridge(let l): _ = iface(l, .bridge, at: r)
        case .addDummy(let l): _ = iface(l, .dummy, at: r)
        case .addVrf(let l, let table): t.interfaces[iface(l, .vrf, at: r)].options = .vrf(table: table)
        case .addVlan(let l, let v):
            _ = iface(v.parent, .external, at: r)
            t.interfaces[iface(l, .vlan, at: r)].options = .vlan(v)
        case .addMacvlan(let l, let p, let m):
            _ = iface(p, .external, at: r)
            t.interfaces[iface(l, .macvlan, at: r)].options = .macvlan(parent: p, mode: m)
        case .addIpvlan(let l, let p, let m):
            _ = iface(p, .external, at: r)
            t.interfaces[iface(l, .ipvlan, at: r)].options = .ipvlan(parent: p, mode: m)
        case .addVxlan(let l, let x):
            if let u = x.underlay { _ = iface(u, .external, at: r) }
            t.interfaces[iface(l, .vxlan, at: r)].options = .vxlan(x)
        case .setMaster(let l, let m):
            let i = iface(l, l.name == "lo" ? .loopback : .external, at: r)
            t.interfaces[i].master = m
            t.interfaces[i].masterRange = r
        case .setMTU(let l, let m):
            let i = iface(l, l.name == "lo" ? .loopback : .external, at: r)
            t.interfaces[i].mtu = m
            t.interfaces[i].mtuRange = r
        case .setTC(let l, let sh):
            let i = iface(l, l.name == "lo" ? .loopback : .external, at: r)
            t.interfaces[i].shaping = sh
            t.interfaces[i].shapingRange = r
        case .setUp(let l), .setDown(let l):
            let i = iface(l, l.name == "lo" ? .loopback : .external, at: r)
            if case .setDown = s.operation { t.interfaces[i].up = false }
            // An `up NS:lo` of its own (not the one a `ns` statement implies) is explicit.
            if !(l.name == "lo" && nsRange[l.namespace] == r) { t.interfaces[i].stateRange = r }
        case .addAddress(let l, let p):
            _ = iface(l, l.name == "lo" ? .loopback : .external, at: r)
            t.addresses.append(.init(interface: l, prefix: p, range: r))
        case .addRoute(let ns, let spec):
            t.routes.append(.init(namespace: ns, spec: spec, range: r))
        case .setSysctl(let ns, let k, let v):
            t.sysctls.append(.init(namespace: ns, key: k, value: v, range: r))
        case .startDaemon(let ns, let c):
            t.daemons.append(.init(namespace: ns, command: c, range: r))
        default:
            continue
        }
    }
    return t
}

private struct Reconciler {
    let plan: Plan
    let topology: Topology
    let observed: Observation
    let record: OwnershipRecord

    var out = Reconciliation()
    /// Every live link of the namespaces read.
    var live: [LinkID: LiveLink] = [:]
    var desired: [LinkID: Topology.Interface] = [:]
    var desiredNamespaces: Set<String> = []
    /// Links that will exist anew after this run (created or replaced).
    var fresh: Set<LinkID> = []
    /// Links whose pair/identity is being removed (veth pairs once).
    var removing: Set<LinkID> = []
    var removedNamespaces: Set<String> = []
    /// Pass 1's decisions for link-creating steps, by step index.
    var linkDecisions: [Int: Change] = [:]
    /// Links replaced (removed before being created again), listed with the removals.
    var replacedRemovals: [Change] = []

    init(plan: Plan, topology: Topology, observed: Observation, record: OwnershipRecord) {
        self.plan = plan
        self.topology = topology
        self.observed = observed
        self.record = record
        for (ns, st) in observed.state { for l in st.links { live[LinkID(ns, l.name)] = l } }
        for i in topology.interfaces { desired[i.id] = i }
        desiredNamespaces = Set(topology.namespaces.map(\.name))
    }

    func owned(_ id: LinkID, _ l: LiveLink) -> Bool {
        if record.ownsLink(id.namespace, group: l.group) { return true }
        // Version-1 state: links in namespaces topo made were not recorded by group.
        return record.legacy && record.namespaces.contains(id.namespace) && l.group != 0 && l.name != "lo"
    }

    mutating func add(_ mark: Change.Mark, _ op: Operation, at range: SourceRange, old: String? = nil) {
        out.changes.append(Change(mark, PlanStep(op, at: range), old: old))
    }

    /// True when the live link is what `want` declares, as far as fixed identity goes.
    func sameIdentity(_ l: LiveLink, _ want: Topology.Interface) -> Bool {
        switch want.kind {
        case .veth: return l.kind == "veth" && l.peer == want.peer
        case .bridge: return l.kind == "bridge"
        case .dummy: return l.kind == "dummy"
        case .loopback, .external: return true
        case .vlan, .macvlan, .ipvlan, .vxlan, .vrf:
            guard l.kind == want.kind.rawValue, let a = l.options, let b = want.options else { return false }
            if case .vrf(let t1) = a, case .vrf(let t2) = b { return t1 == t2 }
            if case .vxlan(let have) = a, case .vxlan(let x) = b {
                // The kernel looks a new underlay up in the tunnel's socket namespace (where it
                // was created from: the underlay's, else its own) and keeps the old underlay when
                // a change names none (vxlan_config_apply): both are identity.
                if vxlanSocketNamespace(have, want.id) != vxlanSocketNamespace(x, want.id) { return false }
                if have.underlay != nil && x.underlay == nil { return false }
            }
            return a.sameIdentity(as: b)
        }
    }

    func vxlanSocketNamespace(_ x: VXLAN, _ id: LinkID) -> String { x.underlay?.namespace ?? id.namespace }

    /// Why a topo-owned vxlan cannot be replaced by `want`, or nil: the old one stays (renamed)
    /// until the run commits, and the kernel refuses a second vxlan with the same VNI, port and
    /// family in one socket namespace ("A VXLAN device with the specified VNI already exists").
    func vxlanReplacementClash(_ l: LiveLink, _ want: Topology.Interface) -> String? {
        guard case .vxlan(let have)? = l.options, case .vxlan(let x)? = want.options,
              have.vni == x.vni, have.port == x.port, have.isIPv6 == x.isIPv6,
              vxlanSocketNamespace(have, want.id) == vxlanSocketNamespace(x, want.id) else { return nil }
        let why = replacedParent(want).map { "`\($0)`, the underlay of `\(want.id)`, is replaced (the tunnel goes with it)" }
            ?? "the kernel cannot drop the underlay of `\(want.id)` in place"
        return why + ", and a new vxlan with VNI \(x.vni) on port \(x.port) cannot be made beside the old one "
            + "while the run can still be undone; change the VNI too, or destroy the topology and run it again"
    }

    /// The parent (or vxlan underlay) of `want` when this run replaces it: the kernel deletes a
    /// stacked link with its lower device, so the link must be made again on the new one.
    func replacedParent(_ want: Topology.Interface) -> LinkID? {
        want.options?.parent.flatMap { out.replaced.contains($0) ? $0 : nil }
    }

    mutating func run() -> Reconciliation {
        let mainSteps = plan.steps.filter { !$0.operation.isAfterApply }
        // Namespaces the record owns and the script dropped.
        for n in record.namespaces.sorted() where !desiredNamespaces.contains(n) {
            if observed.existing.contains(n) { removedNamespaces.insert(n) } else { out.stale.append(.namespace(n)) }
        }
        // External parents must exist.
        for i in topology.interfaces where i.kind == .external && live[i.id] == nil && !(fresh.contains(i.id)) {
            let user = topology.interfaces.first { $0.options?.parent == i.id }
            let what = user.map { " (the parent of `\($0.id)`)" } ?? ""
            out.conflicts.append(Conflict(PlanStep(.addNamespace(i.id.namespace), at: user?.range ?? i.range),
                                          "`\(i.id)`\(what) does not exist; topo does not create links it is only told to use"))
        }
        // Pass 1: link identities, so attribute steps know which links are fresh.
        for (k, s) in mainSteps.enumerated() { identity(s, k) }
        // Pass 2: every step, in plan order.
        for (k, s) in mainSteps.enumerated() {
            if let c = linkDecisions[k] { out.changes.append(c) } else { step(s) }
        }
        // Attributes the script stopped setting.
        restoreDefaults()
        // What a VRF's enslaving or release takes from a link.
        readdAfterVRFCycle(mainSteps)
        // Removals.
        removals()
        out.afterApply = plan.steps.filter { $0.operation.isAfterApply }
        // Daemons: a running one of the same namespace and command is in place.
        var running: [String: [OwnershipRecord.OwnedDaemon]] = [:]
        for d in record.daemons where observed.runningDaemons.contains(d) { running[d.namespace + "\u{0}" + d.command, default: []].append(d) }
        out.afterApply = out.afterApply.filter { s in
            if case .startDaemon(let ns, let cmd) = s.operation, running[ns + "\u{0}" + cmd] != nil, !removedNamespaces.contains(ns) {
                out.skipped += 1
                return false
            }
            return true
        }
        return out
    }

    // MARK: creations

    /// Decides create / keep / replace / conflict for a link-creating step (`k`: its index).
    mutating func identity(_ s: PlanStep, _ k: Int) {
        let ends: [LinkID]
        switch s.operation {
        case .addVeth(let a, let b): ends = [a, b]
        case .addBridge(let l), .addDummy(let l), .addVlan(let l, _), .addMacvlan(let l, _, _), .addIpvlan(let l, _, _),
             .addVxlan(let l, _), .addVrf(let l, _):
            ends = [l]
        default: return
        }
        var clash: [String] = []
        var allInPlace = true
        for e in ends {
            guard let want = desired[e] else { continue }
            guard let l = live[e], observed.existing.contains(e.namespace) || e.namespace == hostNamespace else {
                allInPlace = false
                continue
            }
            if sameIdentity(l, want) && !out.replaced.contains(e) && replacedParent(want) == nil { continue }
            allInPlace = false
            if owned(e, l), let why = vxlanReplacementClash(l, want) {
                clash.append(why)
            } else if owned(e, l) {
                replace(e, l)
            } else if let p = replacedParent(want), sameIdentity(l, want) {
                clash.append("replacing `\(p)` would delete `\(e)` with it, which topo did not make")
            } else {
                clash.append("`\(e)` exists already as \(describe(l))")
            }
        }
        if !clash.isEmpty {
            out.conflicts.append(Conflict(s, "\(failureText(s.operation)): " + clash.joined(separator: "; ")))
            return
        }
        if allInPlace {
            // The same link; what the kernel can change in place (a macvlan's or ipvlan's mode,
            // a vxlan's remote, group, local, underlay, ttl: LinkOptions) is changed.
            if ends.count == 1, let e = ends.first, let want = desired[e]?.options,
               let have = live[e]?.options, have != want {
                linkDecisions[k] = Change(.change, PlanStep(.changeLink(e, want), at: s.range), old: PlanText.options(have))
                return
            }
            out.skipped += 1
            return
        }
        for e in ends { fresh.insert(e) }
        linkDecisions[k] = Change(.create, s)
    }

    /// Removes a topo-owned link (both ends of a veth) before the creations.
    mutating func replace(_ id: LinkID, _ l: LiveLink) {
        guard !removing.contains(id) else { return }
        removing.insert(id)
        out.replaced.insert(id)
        if l.kind == "veth", let p = l.peer {
            removing.insert(p)
            out.replaced.insert(p)
        }
        replacedRemovals.append(Change(.remove, PlanStep(.removeLink(id), at: .none), old: (l.kind ?? "link") + ", replaced"))
    }

    // MARK: attribute steps

    /// The live link as it will be before this step, or nil when it is created by this run.
    func existingLink(_ id: LinkID) -> LiveLink? {
        if fresh.contains(id) { return nil }
        return live[id]
    }

    mutating func step(_ s: PlanStep) {
        let op = s.operation
        switch op {
        case .addNamespace(let n):
            if observed.existing.contains(n) { out.skipped += 1 } else { add(.create, op, at: s.range) }
        case .addVeth, .addBridge, .addDummy, .addVlan, .addMacvlan, .addIpvlan, .addVxlan, .addVrf:
            return  // pass 1
        case .setMaster(let id, let m):
            // A master this run creates or replaces (a vrf given another table) is a new link of
            // the old name: its ports are enslaved again, or they would leave with the old one.
            let newMaster = fresh.contains(LinkID(id.namespace, m))
            attribute(s, id) { l in
                l.master == m && !newMaster ? nil : (l.master.map { "master \($0)" } ?? "nomaster")
            }
        case .setMTU(let id, let m):
            attribute(s, id) { l in l.mtu == m ? nil : "\(l.mtu)" }
        case .setUp(let id), .setDown(let id):
            let up: Bool
            if case .setUp = op { up = true } else { up = false }
            // A namespace that exists already keeps its `lo` as it is unless the script names it.
            if id.name == "lo", up, observed.existing.contains(id.namespace), !record.namespaces.contains(id.namespace),
               desired[id]?.stateRange == nil {
                out.skipped += 1
                return
            }
            attribute(s, id) { l in l.up == up ? nil : (l.up ? "up" : "down") }
        case .setTC(let id, let t):
            if let l = existingLink(id), l.rootQdisc != nil, l.shaping == nil, !owned(id, l), !record.shaped.contains(id) {
                out.conflicts.append(Conflict(s, "`\(id)` has a `\(l.rootQdisc!)` qdisc that topo did not set; topo does not replace it"))
                return
            }
            // The kernel reads back the normalized form (explicit defaults filled in).
            attribute(s, id) { l in l.shaping == t.normalized ? nil : (l.shaping?.description ?? l.rootQdisc ?? "none") }
        case .addAddress(let id, let p):
            if existingLink(id) != nil,
               observed.state[id.namespace]?.addresses.contains(LinkAddress(link: id.name, prefix: p)) == true {
                out.skipped += 1
            } else {
                add(.create, op, at: s.range)
            }
        case .addRoute(let ns, let want):
            let routes = observed.state[ns]?.routes ?? []
            if let r = routes.first(where: { routeMatches($0, want) }) {
                // A route through a link this run replaces goes with the old link (taken down
                // first): it is added again, on the new one.
                if let d = r.device, fresh.contains(LinkID(ns, d)) { add(.create, op, at: s.range) } else { out.skipped += 1 }
            } else if let other = routes.first(where: { sameRouteKey($0, want) }) {
                let ours = record.routes.contains(where: { $0.namespace == ns && routeMatches(other, $0.route) })
                if ours {
                    add(.change, op, at: s.range, old: routeText(other))
                } else {
                    out.conflicts.append(Conflict(s, "cannot add route \(routeText(want)) in `\(ns)`: the route \(routeText(other)) exists already"))
                }
            } else {
                add(.create, op, at: s.range)
            }
        case .setSysctl(let ns, let k, let v):
            let cur = observed.state[ns]?.sysctls[k]
            if let cur, normSysctl(cur) == normSysctl(v) { out.skipped += 1 } else {
                add(observed.existing.contains(ns) || ns == hostNamespace ? .change : .create, op, at: s.range, old: cur)
            }
        default:
            return
        }
    }

    /// An attribute step on a link: skipped when in place, `+` on a fresh link, `~` otherwise
    /// (`differs` gives the old value's text, nil when equal).
    mutating func attribute(_ s: PlanStep, _ id: LinkID, _ differs: (LiveLink) -> String?) {
        guard let l = existingLink(id) else {
            add(.create, s.operation, at: s.range)
            return
        }
        if let old = differs(l) { add(.change, s.operation, at: s.range, old: old) } else { out.skipped += 1 }
    }

    /// Enslaving an up link to a VRF, or releasing it from one, cycles it down and up (vrf.c,
    /// cycle_netdev): the kernel drops its IPv6 addresses and every route through it. Those
    /// the script wants, found in place before the run, are added again (after the master
    /// change: the executor orders masters before addresses and routes).
    mutating func readdAfterVRFCycle(_ steps: [PlanStep]) {
        var cycled: Set<LinkID> = []
        for c in out.changes {
            let id: LinkID, newMaster: String?
            switch c.operation {
            case .setMaster(let l, let m): (id, newMaster) = (l, m)
            case .setNoMaster(let l): (id, newMaster) = (l, nil)
            default: continue
            }
            guard let l = existingLink(id), l.up else { continue }
            func isVRF(_ name: String?) -> Bool {
                guard let name else { return false }
                let m = LinkID(id.namespace, name)
                return desired[m]?.kind == .vrf || live[m]?.kind == "vrf"
            }
            if isVRF(l.master) || isVRF(newMaster) { cycled.insert(id) }
        }
        guard !cycled.isEmpty else { return }
        func planned(_ op: Operation) -> Bool { out.changes.contains { $0.operation == op } }
        for s in steps {
            switch s.operation {
            case .addAddress(let id, let p):
                guard cycled.contains(id), p.address.family == .ipv6, !p.address.isLinkLocal, !planned(s.operation) else { continue }
            case .addRoute(let ns, let want):
                guard let r = observed.state[ns]?.routes.first(where: { routeMatches($0, want) }), let d = r.device,
                      cycled.contains(LinkID(ns, d)), !planned(s.operation) else { continue }
            default:
                continue
            }
            add(.create, s.operation, at: s.range)
            out.skipped -= 1
        }
    }

    // MARK: dropped attributes

    /// The MTU the kernel gives a new link of this kind.
    func defaultMTU(_ i: Topology.Interface) -> Int? {
        func mtu(_ id: LinkID) -> Int? { desired[id]?.mtu ?? live[id]?.mtu }
        switch i.kind {
        case .veth, .dummy: return 1500
        case .bridge:
            // A bridge without an mtu of its own follows its ports.
            let ports = topology.interfaces.filter { $0.master == i.id.name && $0.id.namespace == i.id.namespace }
            return ports.compactMap { mtu($0.id) }.min() ?? 1500
        case .vlan, .macvlan, .ipvlan:
            return i.options?.parent.flatMap(mtu)
        case .vxlan:
            guard case .vxlan(let x)? = i.options else { return nil }
            guard let u = x.underlay else { return 1500 }
            return mtu(u).map { $0 - x.overhead }
        case .vrf, .loopback, .external:
            return nil
        }
    }

    mutating func restoreDefaults() {
        // Links topo made that the script still declares, with an attribute no longer set.
        for i in topology.interfaces {
            guard let l = existingLink(i.id) else { continue }
            let mine = owned(i.id, l)
            let original = record.originals[i.id]
            if i.mtu == nil {
                let target = mine ? defaultMTU(i) : original?.mtu
                if let t = target, t != l.mtu {
                    add(.change, .setMTU(i.id, t), at: i.range, old: "\(l.mtu)")
                }
            }
            if i.master == nil, let m = l.master {
                if mine || original?.master != nil {
                    let target = mine ? nil : original!.master!
                    if target != m {
                        add(.change, target.map { .setMaster(i.id, master: $0) } ?? .setNoMaster(i.id), at: i.range,
                            old: "master \(m)")
                    }
                }
            }
            if i.shaping == nil, l.rootQdisc != nil, mine || record.shaped.contains(i.id) {
                add(.remove, .removeTC(i.id), at: i.range, old: l.shaping?.description ?? l.rootQdisc)
            }
        }
        // Pre-existing links the script no longer names: everything topo changed goes back.
        for (id, o) in record.originals.sorted(by: { $0.key < $1.key }) where desired[id] == nil {
            guard let l = live[id], !removedNamespaces.contains(id.namespace) else { continue }
            if let m = o.mtu, m != l.mtu { add(.change, .setMTU(id, m), at: .none, old: "\(l.mtu)") }
            if let m = o.master, m != l.master {
                add(.change, m.map { .setMaster(id, master: $0) } ?? .setNoMaster(id), at: .none,
                    old: l.master.map { "master \($0)" } ?? "nomaster")
            }
            if let u = o.up, u != l.up { add(.change, u ? .setUp(id) : .setDown(id), at: .none, old: l.up ? "up" : "down") }
        }
        for id in record.shaped.sorted() where desired[id] == nil {
            guard let l = live[id], l.rootQdisc != nil, !removedNamespaces.contains(id.namespace) else { continue }
            add(.remove, .removeTC(id), at: .none, old: l.shaping?.description ?? l.rootQdisc)
        }
        // Sysctls the script no longer sets go back to the value topo found.
        let wanted = Set(topology.sysctls.map { OwnershipRecord.SysctlKey($0.namespace, $0.key) })
        for (k, recorded) in record.sysctls.sorted(by: { $0.key < $1.key }) where !wanted.contains(k) {
            guard !removedNamespaces.contains(k.namespace), observed.existing.contains(k.namespace) || k.namespace == hostNamespace
            else { continue }
            // An empty original is "the kernel's default" (topo made the namespace).
            guard let v = recorded.isEmpty ? observed.sysctlDefaults[defaultSysctlKey(k.key)] : recorded else { continue }
            let cur = observed.state[k.namespace]?.sysctls[k.key]
            if cur.map(normSysctl) != normSysctl(v) {
                add(.change, .setSysctl(namespace: k.namespace, key: k.key, value: v), at: .none, old: cur)
            } else {
                out.stale.append(.sysctl(k, v))
            }
        }
    }

    // MARK: removals

    mutating func removals() {
        let wantedAddresses = Set(topology.addresses.map { OwnershipRecord.OwnedAddress(link: $0.interface, prefix: $0.prefix) })
        var wantedRoutes: [String: [RouteSpec]] = [:]
        for rt in topology.routes { wantedRoutes[rt.namespace, default: []].append(rt.spec) }
        func gone(_ ns: String) -> Bool { removedNamespaces.contains(ns) }

        var removeAddresses: [Change] = []
        for a in record.addresses.sorted() where !wantedAddresses.contains(a) {
            let ns = a.link.namespace
            guard !gone(ns), let l = live[a.link], observed.state[ns]?.addresses.contains(LinkAddress(link: a.link.name, prefix: a.prefix)) == true,
                  !removing.contains(a.link) || !owned(a.link, l) else {
                out.stale.append(.address(a))
                continue
            }
            removeAddresses.append(Change(.remove, PlanStep(.removeAddress(a.link, a.prefix), at: .none)))
        }
        var removeRoutes: [Change] = []
        // Sorted by their record lines, each line made once (not twice per comparison).
        for (_, o) in record.routes.map({ (Fact.route($0).line, $0) }).sorted(by: { $0.0 < $1.0 }) {
            let ns = o.namespace
            if (wantedRoutes[ns] ?? []).contains(where: { routeMatches(o.route, $0) || sameRouteKey(o.route, $0) }) { continue }
            guard !gone(ns), let liveRoute = (observed.state[ns]?.routes ?? []).first(where: { routeMatches($0, o.route) }) else {
                out.stale.append(.route(o))
                continue
            }
            removeRoutes.append(Change(.remove, PlanStep(.removeRoute(namespace: ns, liveRoute), at: .none)))
        }
        // Links topo made that the script dropped: veth pairs once; also the surviving end of
        // a veth whose other end is in a namespace being removed, so it goes at once instead of
        // when the kernel gets round to destroying that namespace.
        var removeLinks: [Change] = []
        for ns in observed.state.keys.sorted() where !gone(ns) {
            for l in observed.state[ns]!.links {
                let id = LinkID(ns, l.name)
                guard owned(id, l), !removing.contains(id) else { continue }
                if let want = desired[id], sameIdentity(l, want), !(l.peer.map { gone($0.namespace) } ?? false) { continue }
                removing.insert(id)
                if l.kind == "veth", let p = l.peer { removing.insert(p) }
                removeLinks.append(Change(.remove, PlanStep(.removeLink(id), at: .none), old: l.kind ?? "link"))
            }
        }
        var removeNamespaces: [Change] = []
        for n in removedNamespaces.sorted() {
            removeNamespaces.append(Change(.remove, PlanStep(.removeNamespace(n), at: .none)))
        }
        // Daemons the script dropped (or whose namespace goes).
        var wantedDaemons: Set<String> = []
        for d in topology.daemons where !gone(d.namespace) { wantedDaemons.insert(d.namespace + "\u{0}" + d.command) }
        var stopDaemons: [Change] = []
        for d in record.daemons.sorted(by: { ($0.namespace, $0.command, $0.pid) < ($1.namespace, $1.command, $1.pid) }) {
            if wantedDaemons.contains(d.namespace + "\u{0}" + d.command) && observed.runningDaemons.contains(d) { continue }
            if observed.runningDaemons.contains(d) {
                stopDaemons.append(Change(.remove, PlanStep(.stopDaemon(namespace: d.namespace, command: d.command), at: .none)))
            } else {
                out.stale.append(.daemon(d))
            }
        }
        out.changes += removeAddresses + removeRoutes + replacedRemovals + removeLinks + removeNamespaces + stopDaemons
    }
}

/// Same destination, metric and table: the kernel's key for a unicast route.
func sameRouteKey(_ a: RouteSpec, _ b: RouteSpec) -> Bool {
    a.destination == b.destination && normMetric(a) == normMetric(b) && (a.table ?? 254) == (b.table ?? 254)
}

/// The key whose value in a fresh namespace is the default of `key`: a per-device IPv4/IPv6
/// setting (`net.ipv4.conf.eth0.forwarding`) takes its default from `conf.default`.
public func defaultSysctlKey(_ key: String) -> String {
    let parts = key.split(separator: key.contains("/") && !key.contains(".") ? "/" : ".", omittingEmptySubsequences: false)
    if parts.count >= 5, parts[0] == "net", parts[1] == "ipv4" || parts[1] == "ipv6", parts[2] == "conf",
       parts[3] != "all", parts[3] != "default" {
        var p = parts.map(String.init)
        p[3] = "default"
        return p.joined(separator: ".")
    }
    return key
}
