#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// How `Executor.apply` runs a plan.
public struct ApplyOptions: Sendable {
    /// The topology's ownership key (`StateStore.key(forScriptPath:)`). Nil: record nothing and
    /// take no lock (the REPL's scratch runs, unit tests).
    public var stateKey: String?
    /// The script's absolute path, written into the state file for humans.
    public var scriptPath: String
    /// Where state and lock files live (default `/run/topo`).
    public var stateDirectory: String
    /// `exec` actions are refused unless this is true (`--allow-exec`).
    public var allowExec: Bool
    /// Test hook: make the k-th (0-based, in execution order) kernel change fail as if the kernel
    /// had refused it with EPERM. Defaults to the environment variable `TOPO_FAIL_AT`.
    public var failAt: Int?
    /// Seconds a `ping` action waits for its first answer (echo requests are resent every
    /// 200 ms meanwhile, as a fresh link's carrier and the first ARP/ND may lag); each further
    /// answer wanted (`count`) adds 200 ms.
    public var pingTimeout: Double
    /// Run the `ping`/`exec` actions after the changes (default true).
    public var runActions: Bool
    /// The `IFLA_GROUP` id this run gives the links it creates. Nil: a fresh random id not used
    /// by any link in the namespaces the plan touches.
    public var linkGroup: UInt32?

    public init(stateKey: String? = nil, scriptPath: String = "",
                stateDirectory: String = StateStore.defaultDirectory, allowExec: Bool = false,
                failAt: Int? = ApplyOptions.environmentFailAt(), pingTimeout: Double = 5,
                runActions: Bool = true, linkGroup: UInt32? = nil) {
        self.stateKey = stateKey
        self.scriptPath = scriptPath
        self.stateDirectory = stateDirectory
        self.allowExec = allowExec
        self.failAt = failAt
        self.pingTimeout = pingTimeout
        self.runActions = runActions
        self.linkGroup = linkGroup
    }

    /// `TOPO_FAIL_AT` as a non-negative integer, or nil.
    public static func environmentFailAt() -> Int? {
        guard let p = getenv("TOPO_FAIL_AT") else { return nil }
        guard let k = Int(String(cString: p)), k >= 0 else { return nil }
        return k
    }
}

/// The result of one `ping`/`exec` action.
public struct ActionOutcome: Hashable, Sendable {
    public var step: PlanStep
    public var ping: PingResult?
    public var exec: ExecResult?
    public init(step: PlanStep, ping: PingResult? = nil, exec: ExecResult? = nil) {
        self.step = step
        self.ping = ping
        self.exec = exec
    }
}

/// What `apply` did.
public struct ApplyReport: Hashable, Sendable {
    /// The plan steps that changed the kernel, in execution order. Empty on a re-run.
    public var executed: [PlanStep]
    /// Plan operations found already in place.
    public var skipped: Int
    /// The actions that ran (all succeeded, or `apply` would have thrown).
    public var actions: [ActionOutcome]
    /// The link group this run gave its links (nil when it created no link).
    public var linkGroup: UInt32?

    /// Number of kernel changes.
    public var changes: Int { executed.count }
    /// `0 changes (already in place)`, `1 change`, `12 changes`.
    public var summary: String {
        switch changes {
        case 0: return "0 changes (already in place)"
        case 1: return "1 change"
        default: return "\(changes) changes"
        }
    }
}

/// An error of apply or destroy, ready for the CLI: a message, the plan step (and so the source
/// range) it concerns, and an exit code.
///
///     lab.topo:7:1: error: cannot add address 10.0.0.1/24 to `h1:eth0`: File exists (ipv4: Address already assigned)
public struct ExecutionError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// A live object clashes with the plan (found before any change). Exit 3.
        case conflict
        /// The plan uses a namespace that does not exist and is not created by it. Exit 3.
        case missingNamespace
        /// The kernel refused an operation; this run's changes were rolled back. Exit 3.
        case kernel(KernelError)
        /// A `ping` got no answer or an `exec` failed; the topology stays. Exit 1.
        case actionFailed
        /// The plan has `exec` but `allowExec` is false; nothing was changed. Exit 2.
        case execNotAllowed
        /// The state directory, state file or lock. Exit 3.
        case state(String)
    }

    public var reason: Reason
    /// The one-line message (without `file:line:col: error:`).
    public var message: String
    /// The step it concerns (nil for destroy and state-file errors).
    public var step: PlanStep?
    /// More positions (other conflicts).
    public var notes: [Diagnostic.Note]
    /// Problems met while rolling back (empty: the kernel state is as it was before the run).
    public var rollbackErrors: [String]

    public init(_ reason: Reason, _ message: String, step: PlanStep? = nil, notes: [Diagnostic.Note] = [],
                rollbackErrors: [String] = []) {
        self.reason = reason
        self.message = message
        self.step = step
        self.notes = notes
        self.rollbackErrors = rollbackErrors
    }

    /// The source range of the failing statement, if any.
    public var range: SourceRange? { step?.range }

    /// 1: an action failed; 2: usage (`exec` without `--allow-exec`); 3: the kernel refused.
    public var exitCode: Int32 {
        switch reason {
        case .actionFailed: return 1
        case .execNotAllowed: return 2
        case .conflict, .missingNamespace, .kernel, .state: return 3
        }
    }

    /// A `help:` line: what rollback could not undo, or a hint.
    public var help: String? {
        if !rollbackErrors.isEmpty {
            return "rollback incomplete, the system may be left partly changed: " + rollbackErrors.joined(separator: "; ")
        }
        switch reason {
        case .execNotAllowed: return "pass --allow-exec to run commands from the script"
        case .conflict: return "topo does not delete what it did not create; remove or rename the interface"
        default: return nil
        }
    }

    /// As a diagnostic (range `.none` when there is no step), for `DiagnosticRenderer`.
    public var diagnostic: Diagnostic {
        Diagnostic(.error, reason == .conflict ? .conflict : .other, message, at: range ?? .none,
                   help: help, notes: notes)
    }

    /// The full text: rendered against the script when there is a range and a file, otherwise
    /// `error: MESSAGE` (plus `help:`).
    public func rendered(in file: SourceFile?, renderer: DiagnosticRenderer = DiagnosticRenderer()) -> String {
        if let f = file, step != nil { return renderer.render(diagnostic, in: f) }
        return "error: \(message)" + (help.map { "\nhelp: \($0)" } ?? "")
    }

    public var description: String { message }
}

/// Runs plans against a `KernelBackend`: diff, apply, roll back, actions; destroy; show.
public final class Executor {
    public let backend: KernelBackend

    public init(backend: KernelBackend) {
        self.backend = backend
    }

    // MARK: apply

    private enum Target {
        case namespace(String)
        case op(String, KernelOp)
    }

    private struct Pending {
        var step: PlanStep
        var target: Target
        var phase: Int
    }

    private enum Undo {
        case op(String, KernelOp)
    }

    /// Applies `plan`: reads the live state of the namespaces it touches once, skips what is
    /// in place, reports conflicts before any change, runs the missing steps (pipelined per
    /// namespace and phase), rolls back this run's changes if one fails, records ownership,
    /// then runs the `ping`/`exec` actions in script order.
    ///
    /// - Throws: `ExecutionError`. When `reason` is `.kernel`, the kernel state is as before the run
    ///   (unless `rollbackErrors` is not empty). When `.actionFailed`, the topology stays applied.
    @discardableResult
    public func apply(_ plan: Plan, options: ApplyOptions = ApplyOptions()) throws -> ApplyReport {
        let steps = plan.steps
        let changeSteps = steps.filter { !$0.operation.isAction }
        let actionSteps = steps.filter { $0.operation.isAction }

        if !options.allowExec, let s = actionSteps.first(where: { if case .exec = $0.operation { return true }; return false }) {
            throw ExecutionError(.execNotAllowed, "`exec` is not allowed without --allow-exec", step: s)
        }

        // Ownership lock and record.
        let store = StateStore(directory: options.stateDirectory)
        var lock: StateLock? = nil
        var prior = OwnershipRecord()
        if let key = options.stateKey {
            do {
                lock = try store.lock(key)
                prior = try store.load(key) ?? OwnershipRecord()
            } catch let e as StateFileError {
                throw ExecutionError(.state(e.description), "cannot use state file: \(e)")
            }
        }
        defer { lock?.unlock() }

        let timing = PhaseTimer()
        // Live state, read once.
        let existing: Set<String>
        do { existing = Set(try backend.listNamespaces()) } catch let e as KernelError {
            throw ExecutionError(.kernel(e), "cannot list network namespaces: \(e)")
        }
        var touched: [String] = []
        var touchedSet: Set<String> = []
        var sysctlKeys: [String: [String]] = [:]
        var created: Set<String> = []
        for s in changeSteps {
            var names = [s.operation.namespace]
            if case .addVeth(_, let peer) = s.operation { names.append(peer.namespace) }
            if case .addNamespace(let n) = s.operation { created.insert(n) }
            if case .setSysctl(let ns, let k, _) = s.operation { sysctlKeys[ns, default: []].append(k) }
            for n in names where touchedSet.insert(n).inserted { touched.append(n) }
        }
        for s in actionSteps where touchedSet.insert(s.operation.namespace).inserted { touched.append(s.operation.namespace) }
        for n in touched where n != hostNamespace && !existing.contains(n) && !created.contains(n) {
            let s = steps.first { $0.operation.namespace == n || { if case .addVeth(_, let p) = $0.operation { return p.namespace == n }; return false }($0) }
            throw ExecutionError(.missingNamespace, "network namespace `\(n)` does not exist", step: s)
        }
        let readable = touched.filter { $0 == hostNamespace || existing.contains($0) }
        var live: [String: LiveNamespace]
        do {
            live = try backend.readState(of: readable, sysctls: sysctlKeys.filter { readable.contains($0.key) })
        } catch let e as KernelError {
            throw ExecutionError(.kernel(e), "cannot read the live network state: \(e)")
        }
        // Every live link by (namespace, name), built once: the diff looks links up per step.
        var liveLinks: [LinkID: LiveLink] = [:]
        for (ns, state) in live { for l in state.links { liveLinks[LinkID(ns, l.name)] = l } }
        func liveLink(_ id: LinkID) -> LiveLink? { liveLinks[id] }

        // Link group for this run: unused in every namespace read.
        var used: Set<UInt32> = [0]
        for ns in live.values { for l in ns.links { used.insert(l.group) } }
        var group = options.linkGroup ?? 0
        if options.linkGroup == nil {
            var rng = SystemRandomNumberGenerator()
            repeat { group = UInt32.random(in: 0x1000_0000...0x7fff_fff0, using: &rng) } while used.contains(group)
        }

        // The `lo` up that a `ns` statement implies is for namespaces topo creates: a namespace
        // that exists already keeps its `lo` as it is, unless the script says `up NS:lo`.
        var impliedLoopback: Set<PlanStep> = []
        for s in changeSteps {
            guard case .addNamespace(let n) = s.operation, existing.contains(n) else { continue }
            impliedLoopback.insert(PlanStep(.setUp(LinkID(n, "lo")), at: s.range))
        }

        // Diff.
        var pending: [Pending] = []
        var conflicts: [(PlanStep, String)] = []
        var skipped = 0
        var willCreate: Set<LinkID> = []
        for s in changeSteps {
            switch s.operation {
            case .addNamespace(let n):
                if existing.contains(n) { skipped += 1 } else { pending.append(Pending(step: s, target: .namespace(n), phase: 0)) }
            case .addVeth(let a, let b):
                let la = liveLink(a), lb = liveLink(b)
                if let la = la {
                    if la.kind == "veth" && la.peer == b { skipped += 1 } else {
                        conflicts.append((s, "cannot create veth `\(a)` <-> `\(b)`: `\(a)` exists already as \(describe(la))"))
                    }
                } else if let lb = lb {
                    conflicts.append((s, "cannot create veth `\(a)` <-> `\(b)`: `\(b)` exists already as \(describe(lb))"))
                } else {
                    willCreate.insert(a)
                    willCreate.insert(b)
                    pending.append(Pending(step: s, target: .op(a.namespace, .addVeth(name: a.name, peer: b, group: group)), phase: 1))
                }
            case .addBridge(let l), .addDummy(let l):
                let kind: String
                let op: KernelOp
                if case .addBridge = s.operation { kind = "bridge"; op = .addBridge(name: l.name, group: group) } else {
                    kind = "dummy"; op = .addDummy(name: l.name, group: group)
                }
                if let ll = liveLink(l) {
                    if ll.kind == kind { skipped += 1 } else {
                        conflicts.append((s, "cannot create \(kind) `\(l)`: it exists already as \(describe(ll))"))
                    }
                } else {
                    willCreate.insert(l)
                    pending.append(Pending(step: s, target: .op(l.namespace, op), phase: 1))
                }
            case .setMaster(let l, let m):
                if let ll = liveLink(l), ll.master == m { skipped += 1 } else {
                    pending.append(Pending(step: s, target: .op(l.namespace, .setMaster(link: l.name, master: m)), phase: 2))
                }
            case .setMTU(let l, let m):
                if let ll = liveLink(l), ll.mtu == m { skipped += 1 } else {
                    pending.append(Pending(step: s, target: .op(l.namespace, .setMTU(link: l.name, mtu: m)), phase: 3))
                }
            case .setUp(let l):
                if impliedLoopback.contains(s) { skipped += 1 } else if let ll = liveLink(l), ll.up { skipped += 1 } else {
                    pending.append(Pending(step: s, target: .op(l.namespace, .setUp(link: l.name, up: true)), phase: 4))
                }
            case .setDown(let l):
                // New links start down; only a live link that is up needs it.
                if let ll = liveLink(l), ll.up {
                    pending.append(Pending(step: s, target: .op(l.namespace, .setUp(link: l.name, up: false)), phase: 4))
                } else { skipped += 1 }
            case .addAddress(let l, let p):
                if live[l.namespace]?.addresses.contains(LinkAddress(link: l.name, prefix: p)) == true { skipped += 1 } else {
                    pending.append(Pending(step: s, target: .op(l.namespace, .addAddress(link: l.name, prefix: p)), phase: 5))
                }
            case .addRoute(let ns, let r):
                let routes = live[ns]?.routes ?? []
                if routes.contains(where: { routeMatches($0, r) }) { skipped += 1 } else if
                    let other = routes.first(where: { $0.destination == r.destination && normMetric($0) == normMetric(r) }) {
                    conflicts.append((s, "cannot add route \(routeText(r)) in `\(ns)`: the route \(routeText(other)) exists already"))
                } else {
                    pending.append(Pending(step: s, target: .op(ns, .addRoute(r)), phase: 6))
                }
            case .setSysctl(let ns, let k, let v):
                if let cur = live[ns]?.sysctls[k], normSysctl(cur) == normSysctl(v) { skipped += 1 } else {
                    pending.append(Pending(step: s, target: .op(ns, .setSysctl(key: k, value: v)), phase: 7))
                }
            case .ping, .exec, .startDaemon:
                break
            default:
                conflicts.append((s, "not supported yet: \(s.operation)"))
            }
        }
        if let (first, msg) = conflicts.first {
            let notes = conflicts.dropFirst().map { Diagnostic.Note($0.1, at: $0.0.range) }
            throw ExecutionError(.conflict, msg, step: first, notes: Array(notes))
        }

        // Execution order. Namespaces first (one batch per consecutive run), then the links of
        // all namespaces in one batch (a backend may create them all through one socket), then,
        // for the following steps, one batch per namespace holding its steps in phase order:
        // after the links exist nothing in one namespace waits for another (masters, MTUs,
        // up, addresses, routes and sysctls all act within their namespace), so each namespace
        // needs one round trip instead of one per phase.
        enum BatchKind { case namespaces, links, local(String) }
        var batches: [(kind: BatchKind, items: [Pending])] = []
        var i = 0
        while i < pending.count {
            let phase = pending[i].phase
            var j = i
            if phase <= 1 {
                while j < pending.count && pending[j].phase == phase { j += 1 }
                batches.append((phase == 0 ? .namespaces : .links, Array(pending[i..<j])))
            } else {
                while j < pending.count && pending[j].phase >= 2 { j += 1 }
                var order: [String] = []
                var byNS: [String: [Pending]] = [:]
                for p in pending[i..<j] {
                    guard case .op(let ns, _) = p.target else { continue }
                    if byNS[ns] == nil { order.append(ns) }
                    byNS[ns, default: []].append(p)
                }
                // Namespaces that enslave ports to a bridge go last (stable otherwise). Their
                // ports then come up, and the bridge starts flooding the IPv6 start-up traffic
                // of the namespaces at the other ends (N² packets for N ports), only when
                // everything else is in place, instead of slowing every later batch while the
                // rest is still being built. Measured at star 1000 (sandbox, phase 2 of apply):
                // 1.0 s -> 0.7 s; whole run median 1.48 s -> 1.26 s. Nothing in one namespace's
                // batch waits for another's, so any order of these batches is correct.
                let enslaving = Set(order.filter { ns in
                    (byNS[ns] ?? []).contains { p in
                        if case .op(_, .setMaster) = p.target { return true }
                        return false
                    }
                })
                order = order.filter { !enslaving.contains($0) } + order.filter { enslaving.contains($0) }
                for ns in order {
                    // Stable sort by phase (the plan normally lists them in phase order already).
                    let items = (byNS[ns] ?? []).enumerated().sorted { ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset) }
                    batches.append((.local(ns), items.map(\.element)))
                }
            }
            i = j
        }

        // Execute, recording what to undo.
        var executed: [PlanStep] = []
        var createdNS: [String] = []
        var createdLinks: Set<LinkID> = []
        var groupNamespaces: [String] = []
        var undo: [Undo] = []
        var record = OwnershipRecord(script: options.scriptPath)
        let ownedNS = Set(prior.namespaces)
        let ownedLinks = Set(prior.links)
        var failure: (PlanStep, KernelError)? = nil
        var counter = 0

        func succeeded(_ p: Pending) {
            executed.append(p.step)
            switch p.target {
            case .namespace(let n):
                createdNS.append(n)
            case .op(let ns, let op):
                let inCreatedNS = createdNS.contains(ns)
                func linkIsNew(_ name: String) -> Bool { createdLinks.contains(LinkID(ns, name)) }
                switch op {
                case .addVeth(let name, let peer, _):
                    let a = LinkID(ns, name)
                    createdLinks.insert(a)
                    createdLinks.insert(peer)
                    for end in [a, peer] where !createdNS.contains(end.namespace) {
                        if !groupNamespaces.contains(end.namespace) { groupNamespaces.append(end.namespace) }
                        if !ownedNS.contains(end.namespace) { record.links.append(end) }
                    }
                case .addBridge(let name, _), .addDummy(let name, _):
                    createdLinks.insert(LinkID(ns, name))
                    if !inCreatedNS {
                        if !groupNamespaces.contains(ns) { groupNamespaces.append(ns) }
                        if !ownedNS.contains(ns) { record.links.append(LinkID(ns, name)) }
                    }
                case .setMaster(let l, _):
                    if !inCreatedNS && !linkIsNew(l) {
                        undo.append(.op(ns, .setMaster(link: l, master: live[ns]?.link(l)?.master)))
                    }
                case .setMTU(let l, _):
                    if !inCreatedNS && !linkIsNew(l), let old = live[ns]?.link(l)?.mtu {
                        undo.append(.op(ns, .setMTU(link: l, mtu: old)))
                    }
                case .setUp(let l, let up):
                    if !inCreatedNS && !linkIsNew(l) { undo.append(.op(ns, .setUp(link: l, up: !up))) }
                case .addAddress(let l, let prefix):
                    if !inCreatedNS && !linkIsNew(l) {
                        undo.append(.op(ns, .deleteAddress(link: l, prefix: prefix)))
                        if !ownedNS.contains(ns) && !ownedLinks.contains(LinkID(ns, l)) {
                            record.addresses.append(.init(link: LinkID(ns, l), prefix: prefix))
                        }
                    }
                case .addRoute(let r):
                    if !inCreatedNS {
                        undo.append(.op(ns, .deleteRoute(r)))
                        if !ownedNS.contains(ns) { record.routes.append(.init(namespace: ns, route: r)) }
                    }
                case .setSysctl(let k, _):
                    if !inCreatedNS, let old = live[ns]?.sysctls[k] {
                        undo.append(.op(ns, .setSysctl(key: k, value: old)))
                    }
                case .deleteAddress, .deleteRoute, .deleteLink, .addLink, .changeLink, .setQdisc, .deleteQdisc, .renameLink:
                    break
                }
            }
        }

        func injected(_ k: Int) -> KernelError {
            .refused(errno: EPERM, text: errnoText(EPERM), extack: "injected failure at operation \(k) (TOPO_FAIL_AT)")
        }

        timing.mark("read state and diff")
        var lastPhase = -1
        batchLoop: for batch in batches {
            if let p = batch.items.first?.phase, min(p, 2) != lastPhase {
                if lastPhase >= 0 { timing.mark("phase \(lastPhase)") }
                lastPhase = min(p, 2)
            }
            var items = batch.items
            var inject: Pending? = nil
            if let k = options.failAt, k >= counter, k < counter + items.count {
                inject = items[k - counter]
                items = Array(items[..<(k - counter)])
            }
            func record(_ p: Pending, _ r: Result<Void, KernelError>?) {
                switch r {
                case .success?: succeeded(p)
                case .failure(let e)?: if failure == nil { failure = (p.step, e) }
                case nil: if failure == nil { failure = (p.step, .failure("no reply from the kernel")) }
                }
            }
            switch batch.kind {
            case .namespaces:
                let names = items.compactMap { p -> String? in
                    if case .namespace(let n) = p.target { return n }
                    return nil
                }
                let results = names.isEmpty ? [] : backend.createNamespaces(names)
                for (n, p) in items.enumerated() { record(p, n < results.count ? results[n] : nil) }
            case .links, .local:
                let pairs = items.compactMap { p -> (String, KernelOp)? in
                    if case .op(let ns, let op) = p.target { return (ns, op) }
                    return nil
                }
                var results: [Result<Void, KernelError>] = []
                if case .local(let ns) = batch.kind {
                    let t0 = timing.enabled ? monotonicNow() : 0
                    if !pairs.isEmpty { results = backend.apply(pairs.map { $0.1 }, in: ns) }
                    if timing.enabled { timing.batch(ns, ops: pairs.count, seconds: monotonicNow() - t0) }
                } else if !pairs.isEmpty {
                    results = backend.apply(across: pairs)
                }
                for (n, p) in items.enumerated() { record(p, n < results.count ? results[n] : nil) }
            }
            counter += items.count
            if let p = inject, failure == nil { failure = (p.step, injected(options.failAt ?? 0)) }
            if failure != nil { break batchLoop }
        }

        func rollback() -> [String] {
            var errors: [String] = []
            // Reverse order, batched per consecutive namespace.
            var rev = undo.reversed().map { u -> (String, KernelOp) in
                switch u { case .op(let ns, let op): return (ns, op) }
            }[...]
            while let first = rev.first {
                let ns = first.0
                var ops: [KernelOp] = []
                while let x = rev.first, x.0 == ns {
                    ops.append(x.1)
                    rev = rev.dropFirst()
                }
                for (op, r) in zip(ops, backend.apply(ops, in: ns)) {
                    if case .failure(let e) = r { errors.append("\(op) in `\(ns)`: \(e)") }
                }
            }
            for ns in groupNamespaces.reversed() {
                do { try backend.deleteLinks(group: group, in: ns) } catch {
                    errors.append("delete links of group \(group) in `\(ns)`: \(error)")
                }
            }
            let doomed = Array(createdNS.reversed())
            for (n, r) in zip(doomed, backend.deleteNamespaces(doomed)) {
                if case .failure(let e) = r { errors.append("delete namespace `\(n)`: \(e)") }
            }
            return errors
        }

        if let (step, err) = failure {
            let rb = rollback()
            throw ExecutionError(.kernel(err), "\(failureText(step.operation)): \(err)", step: step, rollbackErrors: rb)
        }

        // Record ownership.
        if let key = options.stateKey {
            record.namespaces = createdNS
            for ns in groupNamespaces where !ownedNS.contains(ns) { record.linkGroups[ns] = [group] }
            if !record.isEmpty {
                var merged = prior
                merged.merge(record)
                do { try store.save(merged, key: key) } catch {
                    let rb = rollback()
                    throw ExecutionError(.state("\(error)"), "cannot record what was created: \(error)", rollbackErrors: rb)
                }
            }
        }

        timing.mark("phase \(lastPhase), state file")
        var report = ApplyReport(executed: executed, skipped: skipped, actions: [],
                                 linkGroup: groupNamespaces.isEmpty ? nil : group)
        if options.runActions {
            for s in actionSteps {
                report.actions.append(try runAction(s, options: options))
            }
        }
        return report
    }

    private func runAction(_ s: PlanStep, options: ApplyOptions) throws -> ActionOutcome {
        switch s.operation {
        case .ping(let ns, let addr, let count):
            let r: PingResult
            do { r = try backend.ping(from: ns, to: addr, count: max(1, count), timeout: options.pingTimeout) } catch {
                throw ExecutionError(.actionFailed, "ping from `\(ns)` to \(addr) failed: \(error)", step: s)
            }
            if r.received == 0 {
                throw ExecutionError(.actionFailed, "ping from `\(ns)` to \(addr): no answer (\(r.sent) sent)", step: s)
            }
            return ActionOutcome(step: s, ping: r)
        case .exec(let ns, let cmd, _):
            let r: ExecResult
            do { r = try backend.exec(in: ns, command: cmd) } catch {
                throw ExecutionError(.actionFailed, "cannot run `\(cmd)` in `\(ns)`: \(error)", step: s)
            }
            if r.status != 0 {
                var msg = "`\(cmd)` in `\(ns)` exited with status \(r.status)"
                let out = r.output.split(separator: "\n").suffix(3).joined(separator: " / ")
                if !out.isEmpty { msg += ": \(out)" }
                throw ExecutionError(.actionFailed, msg, step: s)
            }
            return ActionOutcome(step: s, exec: r)
        default:
            return ActionOutcome(step: s)
        }
    }
}

/// `a bridge`, `a veth with peer `x:y``, …
func describe(_ l: LiveLink) -> String {
    switch l.kind {
    case "veth"?:
        if let p = l.peer { return "a veth with peer `\(p)`" }
        return "a veth whose peer is outside the namespaces read"
    case let k?:
        return (k.first.map { "aeiou".contains($0) } == true ? "an " : "a ") + k
    case nil:
        return "a device that is not a veth, bridge or dummy"
    }
}

/// The message head for a failed step: `cannot add address 10.0.0.1/24 to `h1:eth0``.
public func failureText(_ op: Operation) -> String {
    switch op {
    case .addNamespace(let n): return "cannot create network namespace `\(n)`"
    case .addVeth(let a, let b): return "cannot create veth `\(a)` <-> `\(b)`"
    case .addBridge(let l): return "cannot create bridge `\(l)`"
    case .addDummy(let l): return "cannot create dummy `\(l)`"
    case .setMaster(let l, let m): return "cannot attach `\(l)` to bridge `\(m)`"
    case .setMTU(let l, let m): return "cannot set mtu \(m) on `\(l)`"
    case .setUp(let l): return "cannot set `\(l)` up"
    case .setDown(let l): return "cannot set `\(l)` down"
    case .addAddress(let l, let p): return "cannot add address \(p) to `\(l)`"
    case .addRoute(let ns, let r): return "cannot add route \(routeText(r)) in `\(ns)`"
    case .setSysctl(let ns, let k, let v): return "cannot set sysctl \(k)=\(v) in `\(ns)`"
    case .ping(let ns, let a, _): return "ping from `\(ns)` to \(a) failed"
    case .exec(let ns, let c, _): return "cannot run `\(c)` in `\(ns)`"
    default: return "cannot \(PlanText.describeForErrors(op))"
    }
}

func normMetric(_ r: RouteSpec) -> Int { r.metric ?? (r.destination.family == .ipv6 ? 1024 : 0) }

func routeMatches(_ live: RouteSpec, _ want: RouteSpec) -> Bool {
    live.destination == want.destination && live.gateway == want.gateway
        && (want.device == nil || live.device == want.device) && normMetric(live) == normMetric(want)
}

func normSysctl(_ s: String) -> String {
    s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
}

/// `TOPO_TIMING=1`: prints how long each part of `apply` took to stderr (for profiling).
final class PhaseTimer {
    let enabled = getenv("TOPO_TIMING") != nil
    private var last = monotonicNow()
    private var batches: [(ns: String, ops: Int, seconds: Double)] = []
    func mark(_ what: String) {
        guard enabled else { return }
        let now = monotonicNow()
        fputs("timing: \(what): \(Int(((now - last) * 1e6).rounded())) us\n", stderr)
        if !batches.isEmpty {
            let slow = batches.sorted { $0.seconds > $1.seconds }
            let rest = slow.dropFirst(3)
            for b in slow.prefix(3) { fputs("timing:   batch \(b.ns) (\(b.ops) ops): \(Int((b.seconds * 1e6).rounded())) us\n", stderr) }
            if !rest.isEmpty {
                let sum = rest.reduce(0) { $0 + $1.seconds }
                fputs("timing:   \(rest.count) other batches: \(Int((sum * 1e6).rounded())) us (\(Int((sum / Double(rest.count) * 1e6).rounded())) us each)\n", stderr)
            }
            batches = []
        }
        last = now
    }
    /// One namespace's batch (printed with the next `mark`: the slowest three, the rest summed).
    func batch(_ ns: String, ops: Int, seconds: Double) { batches.append((ns, ops, seconds)) }
}
