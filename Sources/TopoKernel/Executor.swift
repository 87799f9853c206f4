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
    /// A hash of the script's text, recorded for `topo ls` ("script changed since").
    public var scriptHash: String?
    /// Called after each batch with (operations done, operations in all) — for a progress line.
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Only these namespaces are read and reconciled (the REPL: the namespaces an input
    /// touches); what the plan and the record hold elsewhere is taken to be in place. Nil: all.
    public var scope: Set<String>?

    public init(stateKey: String? = nil, scriptPath: String = "",
                stateDirectory: String = StateStore.defaultDirectory, allowExec: Bool = false,
                failAt: Int? = ApplyOptions.environmentFailAt(), pingTimeout: Double = 5,
                runActions: Bool = true, linkGroup: UInt32? = nil, scriptHash: String? = nil,
                progress: (@Sendable (Int, Int) -> Void)? = nil, scope: Set<String>? = nil) {
        self.stateKey = stateKey
        self.scriptPath = scriptPath
        self.stateDirectory = stateDirectory
        self.allowExec = allowExec
        self.failAt = failAt
        self.pingTimeout = pingTimeout
        self.runActions = runActions
        self.linkGroup = linkGroup
        self.scriptHash = scriptHash
        self.progress = progress
        self.scope = scope
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
    /// What changed the kernel, in the reconciliation's order (creations and changes, then
    /// removals), plus the daemons started. Empty on a run that found everything in place.
    public var changes: [Change]
    /// Plan operations found already in place.
    public var skipped: Int
    /// The actions that ran (all succeeded, or `apply` would have thrown).
    public var actions: [ActionOutcome]
    /// The link group this run gave its links (nil when it created no link).
    public var linkGroup: UInt32?
    /// Things worth telling that are not changes (a half-made namespace file cleaned up, …).
    public var notes: [String]
    /// The daemons this run started.
    public var daemons: [OwnershipRecord.OwnedDaemon]

    public init(changes: [Change] = [], skipped: Int = 0, actions: [ActionOutcome] = [], linkGroup: UInt32? = nil,
                notes: [String] = [], daemons: [OwnershipRecord.OwnedDaemon] = []) {
        self.changes = changes
        self.skipped = skipped
        self.actions = actions
        self.linkGroup = linkGroup
        self.notes = notes
        self.daemons = daemons
    }

    /// The operations that changed the kernel, as plan steps (execution order).
    public var executed: [PlanStep] { changes.map(\.step) }

    /// `3 created, 1 changed, 2 removed`, or `0 changes (already in place)`.
    public var summary: String { ChangeSummary(changes).headline }
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
    /// A `help:` line of the error's own (else `help` derives one from the reason).
    public var extraHelp: String?
    /// For `.actionFailed`: what the run had applied (it stays applied).
    public var applied: ApplyReport?

    public init(_ reason: Reason, _ message: String, step: PlanStep? = nil, notes: [Diagnostic.Note] = [],
                rollbackErrors: [String] = [], help: String? = nil) {
        self.reason = reason
        self.message = message
        self.step = step
        self.notes = notes
        self.rollbackErrors = rollbackErrors
        self.extraHelp = help
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
        if let h = extraHelp { return h }
        switch reason {
        case .execNotAllowed: return "pass --allow-exec to run commands (exec, daemon) from the script"
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

/// Runs plans against a `KernelBackend`: diff, apply (transactionally), roll back, actions;
/// destroy; show.
public final class Executor {
    public let backend: KernelBackend
    /// The record last read or written per state key, with the file's stamp: reused while the
    /// file is unchanged (the REPL applies many small inputs to one large record).
    private var cache: [String: (stamp: FileStamp, state: LoadedState)] = [:]

    func loadCached(_ store: StateStore, _ key: String) throws -> LoadedState? {
        let path = store.statePath(key)
        if let stamp = store.fileStamp(key), let c = cache[path], c.stamp == stamp { return c.state }
        let l = try store.loadState(key)
        if let l, let stamp = store.fileStamp(key) { cache[path] = (stamp, l) } else { cache[path] = nil }
        return l
    }

    func remember(_ store: StateStore, _ key: String, _ record: OwnershipRecord) {
        let path = store.statePath(key)
        if let stamp = store.fileStamp(key) {
            cache[path] = (stamp, LoadedState(record: record, unfinishedRun: false, tornTail: false))
        } else {
            cache[path] = nil
        }
    }

    public init(backend: KernelBackend) {
        self.backend = backend
    }

    // MARK: diff

    /// What a run of `plan` would do now: reads the live state (nothing is changed) and
    /// reconciles it with the plan and the topology's record.
    public func diff(_ plan: Plan, options: ApplyOptions = ApplyOptions()) throws -> Reconciliation {
        let store = StateStore(directory: options.stateDirectory)
        var record = OwnershipRecord()
        if let key = options.stateKey {
            do { record = try store.load(key) ?? OwnershipRecord() } catch let e as StateFileError {
                throw ExecutionError(.state(e.description), "cannot use state file: \(e)", help: stateHelp(e, options))
            }
            record = adoptMarked(record, key: key, store: store)
        }
        let ctx = try observe(plan, record: record, store: store, options: options, cleanHalfMade: false)
        return ctx.reconciliation
    }

    // MARK: apply

    /// Applies `plan` the way LANGUAGE.md §9 says: reads the live state of the namespaces it
    /// needs once, reconciles it with the plan and what earlier runs of the same script made,
    /// reports conflicts before any change, then creates and changes (pipelined per namespace
    /// and phase) and removes last; records intent in the state file before each phase; rolls
    /// everything back if one operation fails; commits; then starts daemons and runs the
    /// `ping`/`exec` actions in script order.
    ///
    /// - Throws: `ExecutionError`. When `reason` is `.kernel`, the kernel state is as before the run
    ///   (unless `rollbackErrors` is not empty). When `.actionFailed`, the topology stays applied.
    @discardableResult
    public func apply(_ plan: Plan, options: ApplyOptions = ApplyOptions()) throws -> ApplyReport {
        if !options.allowExec, let s = plan.steps.first(where: { s in
            switch s.operation {
            case .exec, .startDaemon: return true
            default: return false
            }
        }) {
            let what: String
            if case .startDaemon = s.operation { what = "`daemon`" } else { what = "`exec`" }
            throw ExecutionError(.execNotAllowed, "\(what) is not allowed without --allow-exec", step: s)
        }

        let store = StateStore(directory: options.stateDirectory)
        var lock: StateLock? = nil
        var loaded: LoadedState? = nil
        if let key = options.stateKey {
            do {
                lock = try store.lock(key)
                loaded = try loadCached(store, key)
            } catch let e as StateFileError {
                throw ExecutionError(.state(e.description), "cannot use state file: \(e)", help: stateHelp(e, options))
            }
        }
        defer { lock?.unlock() }
        var prior = loaded?.record ?? OwnershipRecord()
        if let key = options.stateKey, options.scope == nil { prior = adoptMarked(prior, key: key, store: store) }

        let timing = PhaseTimer()
        // A run limited to some namespaces reconciles only them; the record is updated whole.
        let scopedPlan = options.scope.map { plan.restricted(to: $0) } ?? plan
        let scopedRecord = options.scope.map { prior.restricted(to: $0) } ?? prior
        let ctx = try observe(scopedPlan, record: scopedRecord, store: store, options: options, cleanHalfMade: true,
                              scope: options.scope)
        let rec = ctx.reconciliation
        if let first = rec.conflicts.first {
            let notes = rec.conflicts.dropFirst().map { Diagnostic.Note($0.message, at: $0.step.range) }
            throw ExecutionError(.conflict, first.message, step: first.step, notes: Array(notes))
        }
        timing.mark("read state and diff")

        var tx = Transaction(backend: backend, store: store, key: options.stateKey, script: options.scriptPath,
                             plan: scopedPlan, context: ctx, prior: prior, failAt: options.failAt, group: options.linkGroup,
                             timing: timing, progress: options.progress)
        tx.scriptHash = options.scriptHash
        let result = try tx.run()

        var report = ApplyReport(changes: result.executed, skipped: rec.skipped, actions: [],
                                 linkGroup: result.linkGroup, notes: ctx.notes)
        // Record the script's hash and time even when nothing changed, so `topo ls` knows the
        // lab matches this text.
        if let key = options.stateKey {
            var record = result.record
            let stateChanged = !result.executed.isEmpty || !rec.stale.isEmpty || loaded?.unfinishedRun == true
                || prior.namespaces != (loaded?.record.namespaces ?? [])
            if stateChanged || record.scriptHash != options.scriptHash {
                if stateChanged || record.appliedAt == nil { record.appliedAt = Int64(time(nil)) }
                record.scriptHash = options.scriptHash ?? record.scriptHash
                record.script = options.scriptPath.isEmpty ? record.script : options.scriptPath
                do {
                    // A small run on a large record ends its journal; otherwise (or when the
                    // journal has grown as large as the record) the file is rewritten compactly.
                    let size = store.fileStamp(key)?.size ?? 0
                    // (A compact file is about 60 bytes a fact.)
                    if let run = result.runID, !record.isEmpty, loaded?.unfinishedRun != true,
                       size < Int64(record.factCount * 200 + (64 << 10)) {
                        try store.commit(runID: run, retracted: result.retracted, record: record, key: key)
                    } else {
                        try store.save(record, key: key)
                    }
                    remember(store, key, record)
                } catch {
                    throw ExecutionError(.state("\(error)"), "cannot record what was done: \(error)")
                }
            }
            // Daemons, after the commit (they are not part of the transaction).
            if options.runActions {
                do {
                    try startDaemons(rec.afterApply, record: &record, store: store, key: key, options: options, report: &report)
                } catch var e as ExecutionError {
                    e.applied = report
                    throw e
                }
            }
        }
        timing.mark("commit")
        if options.runActions {
            for s in rec.afterApply where s.operation.isAction {
                do { report.actions.append(try runAction(s, options: options)) } catch var e as ExecutionError {
                    e.applied = report
                    throw e
                }
            }
        }
        return report
    }

    /// Everything the run decides before changing anything.
    struct Context {
        var observation: Observation
        var reconciliation: Reconciliation
        var notes: [String]
    }

    /// Lists and reads the kernel, cleans half-made namespace files this topology left, and
    /// reconciles.
    func observe(_ plan: Plan, record: OwnershipRecord, store: StateStore, options: ApplyOptions,
                 cleanHalfMade: Bool, scope: Set<String>? = nil) throws -> Context {
        var notes: [String] = []
        var existing: Set<String>
        var halfMade: [String]
        do {
            if let scope {
                // Scoped: look at those namespaces only, not the whole directory.
                var names = Set(scope)
                names.remove(hostNamespace)
                (existing, halfMade) = try backend.namespaceStatus(names.sorted())
            } else {
                existing = Set(try backend.listNamespaces())
                // Half-made namespace files (`/run/netns/NAME` with nothing mounted on it), left
                // by a crash between creating the file and binding the namespace onto it.
                halfMade = (try? backend.halfMadeNamespaces()) ?? []
            }
        } catch let e as KernelError {
            throw ExecutionError(.kernel(e), "cannot list network namespaces: \(e)")
        }
        if !halfMade.isEmpty {
            let wanted = Set(plan.steps.compactMap { s -> String? in
                if case .addNamespace(let n) = s.operation { return n }
                return nil
            })
            for n in halfMade {
                let ours = options.stateKey != nil && (store.markerOwner(n) == options.stateKey || record.namespaces.contains(n))
                if ours && cleanHalfMade {
                    do {
                        try backend.removeHalfMadeNamespace(n)
                        notes.append("removed `/run/netns/\(n)`, a namespace file a crashed run of this topology left half-made")
                    } catch {
                        throw ExecutionError(.kernel(kernelErrorOf(error)), "cannot remove the half-made namespace file `/run/netns/\(n)`: \(error)")
                    }
                } else if wanted.contains(n) {
                    let s = plan.steps.first { if case .addNamespace(n) = $0.operation { return true }; return false }
                    throw ExecutionError(.conflict, "`/run/netns/\(n)` is a half-made namespace (a file with no namespace mounted on it, left by a crash)",
                                         step: s, help: "remove it with `ip netns delete \(n)` (or `rm /run/netns/\(n)`) and run again")
                }
            }
        }
        // Namespaces the plan uses must exist or be created by it.
        var created: Set<String> = []
        for s in plan.steps { if case .addNamespace(let n) = s.operation { created.insert(n) } }
        for s in plan.steps {
            var names = [s.operation.namespace]
            if case .addVeth(_, let p) = s.operation { names.append(p.namespace) }
            for n in names where n != hostNamespace && !existing.contains(n) && !created.contains(n) {
                throw ExecutionError(.missingNamespace, "network namespace `\(n)` does not exist", step: s)
            }
        }
        let toRead = namespacesToRead(plan: plan, record: record).filter {
            ($0 == hostNamespace || existing.contains($0)) && (scope?.contains($0) ?? true)
        }
        var sysctls: [String: [String]] = [:]
        for s in plan.steps { if case .setSysctl(let ns, let k, _) = s.operation { sysctls[ns, default: []].append(k) } }
        for k in record.sysctls.keys where !(sysctls[k.namespace]?.contains(k.key) ?? false) { sysctls[k.namespace, default: []].append(k.key) }
        let state: [String: LiveNamespace]
        var peers: [LinkID: LinkID] = [:]
        for s in plan.steps { if case .addVeth(let a, let b) = s.operation { peers[a] = b; peers[b] = a } }
        do {
            state = try backend.readState(of: toRead, sysctls: sysctls.filter { toRead.contains($0.key) }, expectedPeers: peers)
        } catch let e as KernelError {
            throw ExecutionError(.kernel(e), "cannot read the live network state: \(e)")
        }
        let running = Set(record.daemons.filter { daemonIsRunning(pid: $0.pid, startTime: $0.startTime) })
        // Sysctls set in namespaces topo made and now dropped go back to a fresh namespace's value.
        let wantedSysctls = Set(plan.steps.compactMap { s -> String? in
            if case .setSysctl(let ns, let k, _) = s.operation { return ns + "\u{0}" + k }
            return nil
        })
        let defaultsNeeded = Set(record.sysctls.filter { $0.value.isEmpty && !wantedSysctls.contains($0.key.namespace + "\u{0}" + $0.key.key) }
            .map { defaultSysctlKey($0.key.key) })
        let defaults = defaultsNeeded.isEmpty ? [:] : ((try? backend.freshNamespaceSysctls(defaultsNeeded.sorted())) ?? [:])
        let observation = Observation(existing: existing, state: state, runningDaemons: running, sysctlDefaults: defaults)
        let rec = reconcile(plan: plan, observed: observation, record: record)
        return Context(observation: observation, reconciliation: rec, notes: notes)
    }

    /// Namespaces whose marker names this topology are its own even when the record lost them
    /// (a state file cut short by a crash): the marker is written before the namespace is made.
    func adoptMarked(_ record: OwnershipRecord, key: String, store: StateStore) -> OwnershipRecord {
        var r = record
        guard let names = try? backend.listNamespaces() else { return r }
        for n in names where !r.namespaces.contains(n) && store.markerOwner(n) == key { r.namespaces.insert(n) }
        return r
    }

    func stateHelp(_ e: StateFileError, _ options: ApplyOptions) -> String? {
        guard e.corrupt else { return nil }
        return "the state file cannot be trusted; `topo destroy --recover FILE` removes what the kernel's markers say this "
            + "topology made and sets the state aside, `topo destroy --forget FILE` only sets it aside"
    }

    private func startDaemons(_ steps: [PlanStep], record: inout OwnershipRecord, store: StateStore, key: String,
                              options: ApplyOptions, report: inout ApplyReport) throws {
        for s in steps {
            guard case .startDaemon(let ns, let cmd) = s.operation else { continue }
            let started: (pid: Int32, startTime: UInt64)
            do {
                started = try backend.startDaemon(in: ns, command: cmd, logDirectory: options.stateDirectory + "/daemons")
            } catch {
                throw ExecutionError(.actionFailed, "cannot start daemon `\(cmd)` in `\(ns)`: \(error)", step: s)
            }
            let d = OwnershipRecord.OwnedDaemon(namespace: ns, command: cmd, pid: started.pid, startTime: started.startTime)
            record.apply(.daemon(d), adding: true)
            do { try store.save(record, key: key) } catch {
                throw ExecutionError(.state("\(error)"), "cannot record daemon `\(cmd)`: \(error)")
            }
            report.changes.append(Change(.create, s))
            report.daemons.append(d)
        }
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
        case .exec(let ns, let cmd, let timeout):
            let r: ExecResult
            do { r = try backend.exec(in: ns, command: cmd, timeout: timeout ?? 60) } catch {
                throw ExecutionError(.actionFailed, "cannot run `\(cmd)` in `\(ns)`: \(error)", step: s)
            }
            if r.timedOut {
                throw ExecutionError(.actionFailed, "`\(cmd)` in `\(ns)` did not finish within \(PlanText.seconds(timeout ?? 60)); its processes were killed", step: s)
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

func kernelErrorOf(_ error: Error) -> KernelError {
    error as? KernelError ?? .failure("\(error)")
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
        && (live.table ?? RouteSpec.mainTable) == (want.table ?? RouteSpec.mainTable)
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
        var ru = rusage()
        getrusage(RUSAGE_SELF.rawValue, &ru)
        fputs("timing: \(what): \(Int(((now - last) * 1e6).rounded())) us (max RSS \(ru.ru_maxrss / 1024) MB)\n", stderr)
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
