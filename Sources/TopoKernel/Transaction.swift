#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// One run's kernel changes as a transaction: a reconciliation turned into kernel operations in
/// phases, each with its undo, the facts it records (written ahead to the state file) and the
/// facts it retracts on commit.
///
/// Phases, in order (each phase's intent is journaled before it runs):
/// 0. links being replaced are taken out of the way (set down, renamed, given a doomed group),
/// 1. namespaces are created, 2. links, 3. stacked links (by depth),
/// 4. per namespace, in one batch each: in-place link changes, masters, mtu, qdiscs, up/down,
///    addresses, routes, sysctls,
/// 5. per namespace: qdisc, address and route removals,
/// 6. links being removed are taken out of the way as in phase 0,
/// 7. namespaces being removed are detached (unmounted but held open).
/// Every step so far can be undone; a failure anywhere undoes them all in reverse. Then the
/// commit: doomed links are deleted (one request per namespace), detached namespaces
/// released, daemons stopped, and the record committed (a `commit` line, or the file rewritten compactly).
struct Transaction {
    let backend: KernelBackend
    let store: StateStore
    let key: String?
    let script: String
    let plan: Plan
    let context: Executor.Context
    let prior: OwnershipRecord
    let failAt: Int?
    var group: UInt32?
    let timing: PhaseTimer
    let progress: (@Sendable (Int, Int) -> Void)?
    /// `TOPO_CRASH_AT`: the operation before which the process kills itself (crash tests).
    let crashAt: Int? = getenv("TOPO_CRASH_AT").flatMap { Int(String(cString: $0)) }
    var scriptHash: String? = nil

    init(backend: KernelBackend, store: StateStore, key: String?, script: String, plan: Plan, context: Executor.Context,
         prior: OwnershipRecord, failAt: Int?, group: UInt32?, timing: PhaseTimer, progress: (@Sendable (Int, Int) -> Void)?) {
        self.backend = backend
        self.store = store
        self.key = key
        self.script = script
        self.plan = plan
        self.context = context
        self.prior = prior
        self.failAt = failAt
        self.group = group
        self.timing = timing
        self.progress = progress
    }

    struct Result {
        var executed: [Change]
        var record: OwnershipRecord
        var linkGroup: UInt32?
        /// The journal's run id (nil when nothing was journaled: the run changed nothing).
        var runID: String? = nil
        /// The facts the run retracted (for a commit appended to the journal).
        var retracted: [Fact] = []
    }

    enum Phase: Int, Comparable {
        case retire = 0, namespaces, links, stacked, local, unlocal, unlink, detach
        static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
    }

    enum Action {
        case createNamespace(String)
        case op(KernelOp)
        case detach(String)
    }

    /// One kernel operation of the run.
    struct Item {
        /// The reconciliation's change it implements (index into its `changes`; nil for the
        /// helper steps of a removal or a replacement). An index, not a copy: a large run has
        /// a hundred thousand items.
        var change: Int32?
        var namespace: String
        var action: Action
        var phase: Phase
        /// Order inside a namespace's batch in phases 4 and 5.
        var rank: Int = 0
        /// Depth of a stacked link (phase 3).
        var depth: Int = 0
        /// Undo, in namespaces: run in reverse item order, each item's list in order.
        var undo: [(String, KernelOp)] = []
        /// Undo that may meet "already there" (re-adding an address or route a retired link lost).
        var softUndo: [(String, KernelOp)] = []
        var facts: [Fact] = []
        var retract: [Fact] = []
        /// "Already there" / "already gone" counts as done (and then there is nothing to undo).
        var soft: Bool = false
    }

    var items: [Item] = []
    var live: [LinkID: LiveLink] = [:]
    var doomed: UInt32 = 0
    var doomedNamespaces: [String] = []
    var tombstones: [String: Set<String>] = [:]
    /// The links this run removes or replaces (each is retired).
    var removedLinks: Set<LinkID> = []
    var desired = Topology()
    var desiredIndex: [LinkID: Int] = [:]
    var removedAddresses: Set<OwnershipRecord.OwnedAddress> = []

    // MARK: building

    mutating func build() {
        let obs = context.observation
        for (ns, st) in obs.state { for l in st.links { live[LinkID(ns, l.name)] = l } }
        desired = context.reconciliation.desired
        for (k, i) in desired.interfaces.enumerated() { desiredIndex[i.id] = k }
        for c in context.reconciliation.changes {
            if case .removeAddress(let l, let p) = c.operation { removedAddresses.insert(.init(link: l, prefix: p)) }
        }
        // Fresh link groups, unused in every namespace read.
        var used: Set<UInt32> = [0]
        for st in obs.state.values { for l in st.links { used.insert(l.group) } }
        for gs in prior.linkGroups.values { used.formUnion(gs) }
        var rng = SystemRandomNumberGenerator()
        func fresh() -> UInt32 {
            var g: UInt32
            repeat { g = UInt32.random(in: 0x1000_0000...0x7fff_fff0, using: &rng) } while used.contains(g)
            used.insert(g)
            return g
        }
        if group == nil { group = fresh() }
        doomed = fresh()

        let rec = context.reconciliation
        removedLinks = Set(rec.changes.compactMap { c -> LinkID? in
            if case .removeLink(let l) = c.operation { return l }
            return nil
        })
        let creating = Set(rec.changes.compactMap { c -> String? in
            if case .addNamespace(let n) = c.operation { return n }
            return nil
        })
        var depthOf: [LinkID: Int] = [:]
        for i in desired.interfaces where i.options?.parent != nil {
            var d = 0
            var cur = i.options?.parent
            while let p = cur, let next = desiredInterface(p)?.options?.parent, d < 64 {
                d += 1
                cur = next
            }
            _ = cur
            depthOf[i.id] = d
        }
        let sysctlWanted = Set(desired.sysctls.map { OwnershipRecord.SysctlKey($0.namespace, $0.key) })
        func isOwned(_ id: LinkID) -> Bool {
            guard let l = live[id] else { return true }  // created by this run
            return prior.ownsLink(id.namespace, group: l.group)
                || (prior.legacy && prior.namespaces.contains(id.namespace) && l.group != 0)
        }
        // Links this run creates (their settings are part of creating them), found once.
        var freshLinks: Set<LinkID> = []
        for c in rec.changes where c.mark == .create {
            switch c.operation {
            case .addVeth(let a, let b): freshLinks.insert(a); freshLinks.insert(b)
            case .addBridge(let l), .addDummy(let l), .addVlan(let l, _), .addMacvlan(let l, _, _), .addIpvlan(let l, _, _),
                 .addVxlan(let l, _), .addVrf(let l, _):
                freshLinks.insert(l)
            default: break
            }
        }
        func isFresh(_ id: LinkID) -> Bool { creating.contains(id.namespace) || freshLinks.contains(id) }
        func inPlace(_ id: LinkID) -> Bool { !isFresh(id) && !isOwned(id) }
        let g = group!

        for (index, c) in rec.changes.enumerated() {
            let ci = Int32(index)
            let op = c.operation
            switch op {
            case .addNamespace(let n):
                items.append(Item(change: ci, namespace: n, action: .createNamespace(n), phase: .namespaces,
                                  facts: [.namespace(n)]))
            case .addVeth(let a, let b):
                var facts: [Fact] = [.link(a), .link(b)]
                for ns in Set([a.namespace, b.namespace]) { facts.append(.group(ns, g)) }
                items.append(Item(change: ci, namespace: a.namespace, action: .op(.addVeth(name: a.name, peer: b, group: g)),
                                  phase: .links, facts: facts))
            case .addBridge(let l), .addDummy(let l):
                let k: KernelOp
                if case .addBridge = op { k = .addBridge(name: l.name, group: g) } else { k = .addDummy(name: l.name, group: g) }
                items.append(Item(change: ci, namespace: l.namespace, action: .op(k), phase: .links,
                                  facts: [.link(l), .group(l.namespace, g)]))
            case .addVrf(let l, let t):
                items.append(Item(change: ci, namespace: l.namespace, action: .op(.addLink(name: l.name, options: .vrf(table: t), group: g)),
                                  phase: .links, facts: [.link(l), .group(l.namespace, g)]))
            case .addVlan(let l, _), .addMacvlan(let l, _, _), .addIpvlan(let l, _, _), .addVxlan(let l, _):
                guard let o = desiredInterface(l)?.options else { continue }
                items.append(Item(change: ci, namespace: l.namespace, action: .op(.addLink(name: l.name, options: o, group: g)),
                                  phase: .stacked, depth: depthOf[l] ?? 0, facts: [.link(l), .group(l.namespace, g)]))
            case .changeLink(let l, let o):
                var it = Item(change: ci, namespace: l.namespace, action: .op(.changeLink(name: l.name, options: o)), phase: .local, rank: 0)
                if let old = live[l]?.options { it.undo = [(l.namespace, .changeLink(name: l.name, options: old))] }
                items.append(it)
            case .setMaster, .setNoMaster:
                let l: LinkID, master: String?
                if case .setMaster(let x, let m) = op { l = x; master = m } else if case .setNoMaster(let x) = op { l = x; master = nil } else { continue }
                var it = Item(change: ci, namespace: l.namespace, action: .op(.setMaster(link: l.name, master: master)), phase: .local, rank: 1)
                if let old = live[l], !isFresh(l) {
                    it.undo = [(l.namespace, .setMaster(link: l.name, master: old.master))]
                    // Into or out of a VRF, an up link is cycled (vrf.c): it loses its IPv6
                    // addresses and the routes through it, which the undo puts back (the undo
                    // of a retired old master does, when it is one: after it is back).
                    if old.up, !removedLinks.contains(LinkID(l.namespace, old.master ?? "")) {
                        it.softUndo += cycleLosses(l, old)
                    }
                    if inPlace(l) {
                        if desiredMaster(l) == nil { it.retract = [.master(l, nil)] } else { it.facts = [.master(l, old.master)] }
                    }
                }
                items.append(it)
            case .setMTU(let l, let m):
                var it = Item(change: ci, namespace: l.namespace, action: .op(.setMTU(link: l.name, mtu: m)), phase: .local, rank: 2)
                if let old = live[l], !isFresh(l) {
                    it.undo = [(l.namespace, .setMTU(link: l.name, mtu: old.mtu))]
                    if inPlace(l) {
                        if desiredInterface(l)?.mtu == nil { it.retract = [.mtu(l, 0)] } else { it.facts = [.mtu(l, old.mtu)] }
                    }
                }
                items.append(it)
            case .setTC(let l, let t):
                var it = Item(change: ci, namespace: l.namespace, action: .op(.setQdisc(link: l.name, shaping: t)), phase: .local, rank: 3,
                              facts: [.shaped(l)])
                if let old = live[l], !isFresh(l) {
                    it.undo = [(l.namespace, old.shaping.map { .setQdisc(link: l.name, shaping: $0) } ?? .deleteQdisc(link: l.name))]
                }
                items.append(it)
            case .removeTC(let l):
                var it = Item(change: ci, namespace: l.namespace, action: .op(.deleteQdisc(link: l.name)), phase: .unlocal, rank: 0,
                              retract: [.shaped(l)])
                if let old = live[l]?.shaping { it.undo = [(l.namespace, .setQdisc(link: l.name, shaping: old))] }
                items.append(it)
            case .setUp(let l), .setDown(let l):
                let up: Bool
                if case .setUp = op { up = true } else { up = false }
                var it = Item(change: ci, namespace: l.namespace, action: .op(.setUp(link: l.name, up: up)), phase: .local, rank: 4)
                if let old = live[l], !isFresh(l) {
                    it.undo = [(l.namespace, .setUp(link: l.name, up: old.up))]
                    if inPlace(l) {
                        if desiredInterface(l) == nil { it.retract = [.up(l, false)] } else { it.facts = [.up(l, old.up)] }
                    }
                }
                items.append(it)
            case .addAddress(let l, let p):
                var it = Item(change: ci, namespace: l.namespace, action: .op(.addAddress(link: l.name, prefix: p)), phase: .local, rank: 8,
                              facts: [.address(.init(link: l, prefix: p))])
                if !creating.contains(l.namespace) { it.undo = [(l.namespace, .deleteAddress(link: l.name, prefix: p))] }
                items.append(it)
            case .removeAddress(let l, let p):
                // IPv4 removals go before the additions, with the link's other addresses of the
                // subnet put back after: deleting an interface's primary IPv4 address deletes
                // its secondaries (a renumbering inside one subnet would lose the new address).
                let v4 = p.family == .ipv4
                var it = Item(change: ci, namespace: l.namespace, action: .op(.deleteAddress(link: l.name, prefix: p)),
                              phase: v4 ? .local : .unlocal, rank: v4 ? 6 : 1,
                              undo: [(l.namespace, .addAddress(link: l.name, prefix: p))],
                              retract: [.address(.init(link: l, prefix: p))])
                items.append(it)
                if v4 {
                    let others = (context.observation.state[l.namespace]?.addresses ?? []).filter { a in
                        a.link == l.name && a.prefix != p && a.prefix.family == .ipv4 && a.prefix.network == p.network
                            && !removingAddress(l, a.prefix)
                    }
                    for a in others {
                        it = Item(change: nil, namespace: l.namespace, action: .op(.addAddress(link: l.name, prefix: a.prefix)),
                                  phase: .local, rank: 7, soft: true)
                        items.append(it)
                    }
                }
            case .addRoute(let ns, let r):
                let fact = Fact.route(.init(namespace: ns, route: r))
                if c.mark == .change, let old = (context.observation.state[ns]?.routes ?? []).first(where: { sameRouteKey($0, r) }) {
                    // Replacing a route of ours with the same key: delete it, then add.
                    let oldFacts = prior.routes.filter { $0.namespace == ns && routeMatches(old, $0.route) }.map { Fact.route($0) }
                    items.append(Item(change: nil, namespace: ns, action: .op(.deleteRoute(old)), phase: .local, rank: 5,
                                      undo: [(ns, .addRoute(old))], retract: oldFacts))
                }
                var it = Item(change: ci, namespace: ns, action: .op(.addRoute(r)), phase: .local, rank: 9, facts: [fact])
                if !creating.contains(ns) { it.undo = [(ns, .deleteRoute(r))] }
                items.append(it)
            case .removeRoute(let ns, let r):
                let facts = prior.routes.filter { $0.namespace == ns && routeMatches(r, $0.route) }.map { Fact.route($0) }
                // Before address removals: removing an address flushes the routes through it.
                items.append(Item(change: ci, namespace: ns, action: .op(.deleteRoute(r)), phase: .local, rank: 5,
                                  undo: [(ns, .addRoute(r))], retract: facts))
            case .setSysctl(let ns, let k, let v):
                let old = context.observation.state[ns]?.sysctls[k]
                var it = Item(change: ci, namespace: ns, action: .op(.setSysctl(key: k, value: v)), phase: .local, rank: 10)
                if let old, !creating.contains(ns) { it.undo = [(ns, .setSysctl(key: k, value: old))] }
                let sk = OwnershipRecord.SysctlKey(ns, k)
                if sysctlWanted.contains(sk) {
                    // In a namespace this run makes, the original is the kernel's default ("").
                    it.facts = [.sysctl(sk, old ?? "")]
                } else {
                    it.retract = [.sysctl(sk, v)]
                }
                items.append(it)
            case .removeLink(let l):
                retire(l, change: ci, phase: rec.replaced.contains(l) ? .retire : .unlink)
            case .removeNamespace(let n):
                items.append(Item(change: ci, namespace: n, action: .detach(n), phase: .detach, retract: [.namespace(n)]))
                doomedNamespaces.append(n)
            case .stopDaemon:
                continue  // at commit
            case .startDaemon, .ping, .exec:
                continue
            }
        }
        // Stable order by phase, then (phases 4/5) by namespace batches, ranks inside.
        items = items.enumerated().sorted { a, b in
            if a.element.phase != b.element.phase { return a.element.phase < b.element.phase }
            if a.element.phase == .stacked, a.element.depth != b.element.depth { return a.element.depth < b.element.depth }
            return a.offset < b.offset
        }.map(\.element)
    }

    func desiredInterface(_ id: LinkID) -> Topology.Interface? { desiredIndex[id].map { desired.interfaces[$0] } }

    /// What an up link loses when a VRF takes or releases it (vrf.c cycles it down and up): its
    /// IPv6 addresses and the routes through it, as they were before the run.
    func cycleLosses(_ l: LinkID, _ link: LiveLink) -> [(String, KernelOp)] {
        let st = context.observation.state[l.namespace]
        var out: [(String, KernelOp)] = []
        for a in st?.addresses ?? [] where a.link == l.name && a.prefix.address.family == .ipv6 && !a.prefix.address.isLinkLocal {
            out.append((l.namespace, .addAddress(link: l.name, prefix: a.prefix)))
        }
        for r in st?.routes ?? [] where r.device == l.name {
            out.append((l.namespace, .addRoute(r)))
        }
        return out
    }


    func removingAddress(_ l: LinkID, _ p: IPPrefix) -> Bool {
        removedAddresses.contains(OwnershipRecord.OwnedAddress(link: l, prefix: p))
    }
    func desiredMaster(_ id: LinkID) -> String? { desiredInterface(id)?.master }

    /// Takes a link (both ends of a veth) out of the way, reversibly: down, then renamed to a
    /// tombstone name and given the doomed group; deleted at commit.
    mutating func retire(_ l: LinkID, change: Int32, phase: Phase) {
        guard let info = live[l] else { return }
        var ends = [(l, info)]
        if info.kind == "veth", let p = info.peer, let pl = live[p] { ends.append((p, pl)) }
        for (k, (id, li)) in ends.enumerated() {
            let ns = id.namespace
            let tomb = tombstone(in: ns)
            if li.up {
                // Going down costs a link its IPv6 addresses and the routes through it: its undo
                // brings it up and puts them back (run after the rename's undo, in reverse order).
                var down = Item(change: nil, namespace: ns, action: .op(.setUp(link: id.name, up: false)), phase: phase,
                                undo: [(ns, .setUp(link: id.name, up: true))])
                let st = context.observation.state[ns]
                for a in st?.addresses ?? [] where a.link == id.name && !a.prefix.address.isLinkLocal {
                    down.softUndo.append((ns, .addAddress(link: id.name, prefix: a.prefix)))
                }
                for r in st?.routes ?? [] where r.device == id.name {
                    down.softUndo.append((ns, .addRoute(r)))
                }
                items.append(down)
            }
            var it = Item(change: k == 0 ? change : nil, namespace: ns,
                          action: .op(.renameLink(name: id.name, newName: tomb, group: doomed)), phase: phase,
                          facts: [.group(ns, doomed)], retract: [.link(id)])
            it.undo = [(ns, .renameLink(name: tomb, newName: id.name, group: li.group))]
            // A master's ports that stay were moved to its replacement (or released); their own
            // undo names the master, which is then the replacement: put them back in this one.
            for port in context.observation.state[ns]?.links ?? [] where port.master == id.name {
                let pid = LinkID(ns, port.name)
                guard !removedLinks.contains(pid) else { continue }
                it.undo.append((ns, .setMaster(link: port.name, master: id.name)))
                if port.up && li.kind == "vrf" { it.softUndo += cycleLosses(pid, port) }
            }
            items.append(it)
            tombstones[ns, default: []].insert(tomb)
        }
    }

    mutating func tombstone(in ns: String) -> String {
        var n = (tombstones[ns]?.count ?? 0) + 1
        while true {
            let name = "topo-rm\(n)"
            if live[LinkID(ns, name)] == nil && tombstones[ns]?.contains(name) != true { return name }
            n += 1
        }
    }

    // MARK: running

    mutating func run() throws -> Result {
        build()
        var record = prior
        var retracted: [Fact] = context.reconciliation.stale
        for f in context.reconciliation.stale { record.apply(f, adding: false) }
        let changes = context.reconciliation.changes
        if items.isEmpty && changes.allSatisfy({ if case .stopDaemon = $0.operation { return false }; return true }) {
            return Result(executed: [], record: record, linkGroup: nil, retracted: retracted)
        }
        let runID = "\(time(nil))-\(getpid())"
        try journal(["begin \(runID) \(time(nil))"] + (scriptHash.map { ["hash \($0)"] } ?? []))

        // Batches: phases 0, 4, 5, 6 per namespace (namespaces that enslave ports last, see
        // below); 1 one batch; 2 one cross-namespace batch; 3 one batch per depth; 7 one batch.
        var batches: [[Int]] = []
        var i = 0
        while i < items.count {
            let phase = items[i].phase
            var j = i
            while j < items.count && items[j].phase == phase && (phase != .stacked || items[j].depth == items[i].depth) { j += 1 }
            switch phase {
            case .namespaces, .links, .stacked, .detach:
                batches.append(Array(i..<j))
            case .retire, .local, .unlocal, .unlink:
                var order: [String] = []
                var byNS: [String: [Int]] = [:]
                for k in i..<j {
                    if byNS[items[k].namespace] == nil { order.append(items[k].namespace) }
                    byNS[items[k].namespace, default: []].append(k)
                }
                // Namespaces that enslave ports to a bridge go last: their ports then come up
                // and the bridge floods the IPv6 start-up traffic of the other ends only once
                // everything else is in place (star 1000: phase 1.0 s -> 0.7 s).
                if phase == .local {
                    let enslaving = Set(order.filter { ns in
                        byNS[ns]!.contains { k in if case .op(.setMaster) = items[k].action { return true }; return false }
                    })
                    order = order.filter { !enslaving.contains($0) } + order.filter { enslaving.contains($0) }
                }
                for ns in order {
                    let ks = byNS[ns]!
                    batches.append(phase == .local || phase == .unlocal
                                   ? ks.enumerated().sorted { (items[$0.element].rank, $0.offset) < (items[$1.element].rank, $1.offset) }.map(\.element)
                                   : ks)
                }
            }
            i = j
        }

        var done: [Int] = []
        var failure: (Int, KernelError)? = nil
        var counter = 0
        var journaledPhase: Phase? = nil
        var lastPhase: Phase? = nil
        let total = items.count
        batchLoop: for batch in batches {
            let phase = items[batch[0]].phase
            if lastPhase != phase {
                if let lp = lastPhase { timing.mark("phase \(lp.rawValue)") }
                lastPhase = phase
            }
            if journaledPhase != phase {
                // Write-ahead: everything this phase is about to create or change.
                var lines: [String] = []
                for k in items.indices where items[k].phase == phase { lines += items[k].facts.map { "+ " + $0.line } }
                do { try journal(lines) } catch {
                    failure = (batch[0], .failure("cannot write the state file: \(error)"))
                    break batchLoop
                }
                journaledPhase = phase
            }
            // Test hook: die by SIGKILL before operation k, as a crash would (TOPO_CRASH_AT).
            if let k = crashAt, k >= counter, k < counter + batch.count {
                let prefix = Array(batch[..<(k - counter)])
                _ = execute(prefix, phase: phase)
                kill(getpid(), SIGKILL)
            }
            var run = batch
            var injected: Int? = nil
            if let k = failAt, k >= counter, k < counter + batch.count {
                injected = batch[k - counter]
                run = Array(batch[..<(k - counter)])
            }
            let results = execute(run, phase: phase)
            for (k, r) in zip(run, results) {
                switch r {
                case .success: done.append(k)
                case .failure(let e):
                    if let n = e.errnoValue, tolerated(items[k], n) {
                        // Already as wanted (a route gone with its address, …): nothing to undo.
                        items[k].undo = []
                        items[k].softUndo = []
                        done.append(k)
                    } else if failure == nil {
                        failure = (k, e)
                    }
                }
            }
            counter += batch.count
            progress?(min(counter, total), total)
            if let k = injected, failure == nil {
                failure = (k, .refused(errno: EPERM, text: errnoText(EPERM), extack: "injected failure at operation \(failAt!) (TOPO_FAIL_AT)"))
            }
            if failure != nil { break }
        }
        if let lp = lastPhase { timing.mark("phase \(lp.rawValue)") }

        if let (k, err) = failure {
            let errors = rollback(done)
            if errors.isEmpty, let key {
                // Back to the record as it was (the journal of this run is void).
                try? store.save(prior, key: key)
            }
            let step = items[k].change.map { changes[Int($0)].step } ?? PlanStep(items[k].opDescriptionStep, at: .none)
            throw ExecutionError(.kernel(err), "\(failureText(step.operation)): \(err)", step: step.range == .none ? nil : step,
                                 rollbackErrors: errors)
        }

        // Commit: from here on nothing is undone.
        var commitErrors: [String] = []
        for (ns, _) in tombstones.sorted(by: { $0.key < $1.key }) {
            do { try backend.deleteLinks(group: doomed, in: ns) } catch {
                commitErrors.append("delete removed links in `\(ns)`: \(error)")
            }
        }
        backend.releaseDetachedNamespaces()
        if let key { for n in doomedNamespaces { store.unclaim(n, key: key) } }
        var executedIndices: [Int] = []
        for k in done {
            for f in items[k].facts { record.apply(f, adding: true) }
            if let c = items[k].change { executedIndices.append(Int(c)) }
        }
        for k in done {
            for f in items[k].retract {
                record.apply(f, adding: false)
                retracted.append(f)
            }
        }
        if commitErrors.isEmpty {
            for (ns, _) in tombstones {
                record.apply(.group(ns, doomed), adding: false)
                retracted.append(.group(ns, doomed))
            }
        }
        // Daemons the reconciliation stops.
        for (i, c) in changes.enumerated() {
            guard case .stopDaemon(let ns, let cmd) = c.operation else { continue }
            for d in prior.daemons where d.namespace == ns && d.command == cmd {
                stopDaemon(pid: d.pid, startTime: d.startTime)
                record.apply(.daemon(d), adding: false)
                retracted.append(.daemon(d))
            }
            executedIndices.append(i)
        }
        // In the reconciliation's order (a change of several items once).
        executedIndices.sort()
        var executed: [Change] = []
        executed.reserveCapacity(executedIndices.count)
        var last = -1
        for i in executedIndices where i != last {
            executed.append(changes[i])
            last = i
        }
        let createdLinks = done.contains { k in
            switch items[k].action {
            case .op(.addVeth), .op(.addBridge), .op(.addDummy), .op(.addLink): return true
            default: return false
            }
        }
        _ = commitErrors
        return Result(executed: executed, record: record, linkGroup: createdLinks ? group : nil, runID: runID,
                      retracted: retracted)
    }

    /// Errors that mean the item's goal already holds.
    func tolerated(_ it: Item, _ errno: Int32) -> Bool {
        guard case .op(let op) = it.action else { return false }
        switch op {
        case .deleteRoute, .deleteAddress, .deleteQdisc: return [ESRCH, ENOENT, EADDRNOTAVAIL, ENODEV].contains(errno)
        case .addAddress, .addRoute: return it.soft && errno == EEXIST
        default: return false
        }
    }

    func journal(_ lines: [String]) throws {
        guard let key, !lines.isEmpty else { return }
        try store.append(lines, key: key, script: script)
    }

    /// Runs the items of one batch; one result each, in order.
    func execute(_ batch: [Int], phase: Phase) -> [Swift.Result<Void, KernelError>] {
        guard !batch.isEmpty else { return [] }
        switch phase {
        case .namespaces:
            var names: [String] = []
            var claimErrors: [Int: KernelError] = [:]
            for (n, k) in batch.enumerated() {
                guard case .createNamespace(let name) = items[k].action else { continue }
                if let key {
                    do { try store.claim(name, key: key) } catch {
                        claimErrors[n] = .failure("namespace `\(name)` is \(error)")
                        continue
                    }
                }
                names.append(name)
            }
            var results = backend.createNamespaces(names)[...]
            return batch.indices.map { n in
                if let e = claimErrors[n] { return .failure(e) }
                return results.popFirst() ?? .failure(.failure("no result"))
            }
        case .links, .stacked:
            let pairs = batch.compactMap { k -> (namespace: String, op: KernelOp)? in
                if case .op(let op) = items[k].action { return (items[k].namespace, op) }
                return nil
            }
            return backend.apply(across: pairs)
        case .detach:
            return batch.map { k in
                guard case .detach(let n) = items[k].action else { return .success(()) }
                return Swift.Result { try backend.detachNamespace(n) }.mapError(kernelErrorOf)
            }
        case .retire, .local, .unlocal, .unlink:
            let ns = items[batch[0]].namespace
            let ops = batch.compactMap { k -> KernelOp? in
                if case .op(let op) = items[k].action { return op }
                return nil
            }
            let t0 = timing.enabled ? monotonicNow() : 0
            let r = backend.apply(ops, in: ns)
            if timing.enabled { timing.batch(ns, ops: ops.count, seconds: monotonicNow() - t0) }
            return r
        }
    }

    /// Undoes the done items in reverse; returns what could not be undone.
    func rollback(_ done: [Int]) -> [String] {
        var errors: [String] = []
        let createdNS = done.compactMap { k -> String? in
            if case .createNamespace(let n) = items[k].action { return n }
            return nil
        }
        let createdSet = Set(createdNS)
        var groupNamespaces: [String] = []
        // Undo in reverse: first what was done after the links were created (on them or on
        // others), then the created links go, then links taken out of the way before the
        // creations come back (their names are free again), then the created namespaces go.
        var late: [(String, KernelOp, Bool)] = []
        var early: [(String, KernelOp, Bool)] = []
        for k in done.reversed() {
            let it = items[k]
            switch it.action {
            case .createNamespace:
                continue
            case .detach(let n):
                do { try backend.reattachNamespace(n) } catch { errors.append("put back namespace `\(n)`: \(error)") }
                continue
            case .op(let op):
                switch op {
                case .addVeth(_, let peer, _):
                    for ns in [it.namespace, peer.namespace] where !createdSet.contains(ns) && !groupNamespaces.contains(ns) {
                        groupNamespaces.append(ns)
                    }
                    continue
                case .addBridge, .addDummy, .addLink:
                    if !createdSet.contains(it.namespace) && !groupNamespaces.contains(it.namespace) { groupNamespaces.append(it.namespace) }
                    continue
                default:
                    break
                }
            }
            var list: [(String, KernelOp, Bool)] = []
            for (ns, op) in it.undo where !createdSet.contains(ns) { list.append((ns, op, false)) }
            for (ns, op) in it.softUndo where !createdSet.contains(ns) { list.append((ns, op, true)) }
            if it.phase == .retire { early += list } else { late += list }
        }
        func run(_ ops: [(String, KernelOp, Bool)]) {
            // Consecutive undo operations of one namespace go in one batch.
            var i = 0
            while i < ops.count {
                var j = i
                while j < ops.count && ops[j].0 == ops[i].0 { j += 1 }
                let slice = Array(ops[i..<j])
                for (u, r) in zip(slice, backend.apply(slice.map(\.1), in: slice[0].0)) {
                    if case .failure(let e) = r {
                        if u.2, e.errnoValue == EEXIST { continue }
                        errors.append("\(u.1) in `\(u.0)`: \(e)")
                    }
                }
                i = j
            }
        }
        run(late)
        for ns in groupNamespaces.reversed() {
            do { try backend.deleteLinks(group: group ?? 0, in: ns) } catch {
                errors.append("delete links of group \(group ?? 0) in `\(ns)`: \(error)")
            }
        }
        run(early)
        let doomedNS = Array(createdNS.reversed())
        for (n, r) in zip(doomedNS, backend.deleteNamespaces(doomedNS)) {
            if case .failure(let e) = r { errors.append("delete namespace `\(n)`: \(e)") }
            if let key { store.unclaim(n, key: key) }
        }
        return errors
    }
}

extension Transaction.Item {
    /// A plan operation describing an internal item (for error messages).
    var opDescriptionStep: Operation {
        switch action {
        case .createNamespace(let n): return .addNamespace(n)
        case .detach(let n): return .removeNamespace(n)
        case .op(let op):
            switch op {
            case .renameLink(let n, _, _), .deleteLink(let n): return .removeLink(LinkID(namespace, n))
            case .setUp(let l, let up): return up ? .setUp(LinkID(namespace, l)) : .setDown(LinkID(namespace, l))
            case .deleteRoute(let r): return .removeRoute(namespace: namespace, r)
            default: return .removeNamespace(namespace)
            }
        }
    }
}

extension IPAddress {
    /// `fe80::/10`.
    var isLinkLocal: Bool {
        if case .v6(let hi, _) = self { return hi >> 54 == 0x3fa }
        return false
    }
}
