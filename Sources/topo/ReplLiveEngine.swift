import Glibc
import TopoKernel
import TopoLanguage

/// The REPL's real engine (LANGUAGE.md §10). The session is a topology: each input is evaluated
/// (with the session's `let`/`def` bindings, which persist), checked together with the session
/// under the REPL's latest-wins rule, planned, and applied through the same executor as
/// `topo run` — so the kernel converges to the session after every input, changes and removals
/// included. After each input the session is kept as its canonical script (every interface
/// qualified, one object per statement): what `:save` writes and `:edit` opens. `no STATEMENT`
/// removes from the session and the kernel. Everything applied is recorded under one state key
/// (the session's, then the saved script's after `:save`).
final class ReplLiveEngine: ReplEngine {
    private let dryRun: Bool
    private let allowExec: Bool
    private let renderer: DiagnosticRenderer
    /// The session's canonical script and its statements (ranges into it).
    private var sessionText = ""
    private var sessionStatements: [Statement] = []
    private var topology = Topology()
    /// How to get back to the session before an input, for `:undo` (at most `historyLimit`).
    private enum Earlier {
        /// The input was appended: the session was the first `text` bytes and `statements` statements.
        case prefix(text: Int, statements: Int)
        /// The session was replaced (by `no`, `:edit`, `:undo`): it was this script.
        case script(String)
    }
    private var history: [Earlier] = []
    private let historyLimit = 100
    /// `let`/`def` bindings across inputs.
    private var evaluator = Evaluator()
    private lazy var executor: Result<Executor, Error> = Result { Executor(backend: try NetlinkBackend()) }
    /// Where ownership is recorded: the session's own key until `:save FILE`, then FILE's.
    private var stateKey = "repl-\(getpid())-\(time(nil))"
    private var scriptPath = "<repl>"
    /// False until something was applied (so `:destroy` knows there is nothing).
    private var applied = false

    init(dryRun: Bool, allowExec: Bool, color: Bool) {
        self.dryRun = dryRun
        self.allowExec = allowExec
        self.renderer = DiagnosticRenderer(style: .full, color: color)
    }

    func isComplete(_ text: String) -> Bool { isCompleteInput(text) }

    // MARK: inputs

    /// TOPO_TIMING=1: how long the parts of each input took, on stderr.
    private let timing = getenv("TOPO_TIMING") != nil
    private var mark = 0.0
    private func tick(_ what: String) {
        guard timing else { return }
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let now = Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        if mark > 0 { fputs("timing: repl \(what): \(Int(((now - mark) * 1e6).rounded())) us\n", stderr) }
        mark = now
    }

    func submit(_ text: String) -> ReplOutcome {
        mark = 0
        tick("start")
        let input = text.hasSuffix("\n") ? text : text + "\n"
        if let rest = noStatementText(input) { return removeFromSession(rest) }
        let full = SourceFile(name: "<repl>", text: sessionText + input)
        let blank = String(decoding: sessionText.utf8.map { $0 == UInt8(ascii: "\n") ? $0 : UInt8(ascii: " ") }, as: UTF8.self)
        let parsed = parseScript(SourceFile(name: "<repl>", text: blank + input))
        if parsed.diagnostics.hasErrors {
            return ReplOutcome(diagnostics: renderer.render(parsed.diagnostics, in: full), succeeded: false)
        }
        let saved = evaluator.snapshot()
        let evaluated = evaluator.evaluate(parsed.script)
        var diagnostics = parsed.diagnostics + evaluated.diagnostics
        tick("parse and evaluate")
        let checked = check(sessionStatements + evaluated.statements, latestWins: true)
        diagnostics += checked.diagnostics
        tick("check")
        let rendered = diagnostics.isEmpty ? "" : renderer.render(diagnostics, in: full)
        if diagnostics.hasErrors {
            evaluator.restore(saved)
            return ReplOutcome(diagnostics: rendered, succeeded: false)
        }
        // This input's actions run now; the session keeps no actions (they ran).
        let start = sessionText.utf8.count
        var wanted = checked.topology
        let actions = wanted.actions.filter { $0.range.start.offset >= start }
        wanted.actions = []
        var outcome = converge(to: wanted, actions: actions, source: full,
                               next: .appended(input: input, statements: evaluated.statements, start: start))
        if !outcome.outcome.succeeded && !outcome.keepsSession { evaluator.restore(saved) }
        outcome.outcome.diagnostics = appendLine(rendered, outcome.outcome.diagnostics)
        return outcome.outcome
    }

    /// The text after a leading `no` keyword, or nil when the input is not a `no` statement.
    private func noStatementText(_ input: String) -> String? {
        let t = input.drop { $0 == " " || $0 == "\t" }
        guard t.hasPrefix("no "), !t.hasPrefix("no =") else { return nil }
        return String(t.dropFirst(3))
    }

    private func removeFromSession(_ text: String) -> ReplOutcome {
        let what: NoStatement
        switch parseNoStatement(text) {
        case .failure(let e): return .failure("error: \(e.message)")
        case .success(let w): what = w
        }
        switch removing(what, from: topology) {
        case .failure(let e): return .failure("error: \(e.message)")
        case .success(let t):
            return converge(to: t, actions: [], source: SourceFile(name: "<repl>", text: sessionText), next: .canonical).outcome
        }
    }

    private struct Converged {
        var outcome: ReplOutcome
        /// The session moved to the new topology (also when only an action failed).
        var keepsSession: Bool
    }

    /// What the session becomes once the kernel matches.
    private enum Next {
        /// `input` appended (its statements, and where it starts in the session's text).
        case appended(input: String, statements: [Statement], start: Int)
        /// The canonical script of the new topology (after `no`).
        case canonical
        /// This script (`:edit`: the edited file, loops and all).
        case script(String, statements: [Statement])
        /// Back to an earlier session (`:undo`): the history entry is dropped, none added.
        case earlier(String, statements: [Statement])
    }

    /// Makes the kernel (or, with --dry-run, the session) match `wanted`, then runs `actions`,
    /// then moves the session on (`next`).
    private func converge(to wanted: Topology, actions: [Topology.Action], source: SourceFile, next: Next) -> Converged {
        var plan = makePlan(wanted, file: "<repl>")
        var actionSteps: [PlanStep] = []
        for a in actions {
            switch a.kind {
            case .ping(let address, let count):
                actionSteps.append(PlanStep(.ping(namespace: a.namespace, address: address, count: count), at: a.range))
            case .exec(let command, let timeout):
                actionSteps.append(PlanStep(.exec(namespace: a.namespace, command: command, timeout: timeout), at: a.range))
            }
        }
        plan.steps += actionSteps
        var output = ""
        var failure: String? = nil
        // Only the namespaces the input touches are read and reconciled (the rest of the
        // session is in place), so an input costs what it changes, not what the session holds:
        // for an appended input, the namespaces of the operations its statements cause; else
        // those of the operations that differ from the session's.
        var scope: Set<String> = []
        switch next {
        case .appended(_, _, let start):
            for step in plan.steps where step.range.start.offset >= start {
                scope.formUnion(step.operation.namespaces)
            }
        default:
            let oldOps = Set(makePlan(topology, file: "<repl>").steps.map(\.operation))
            for op in oldOps.symmetricDifference(plan.steps.map(\.operation)) { scope.formUnion(op.namespaces) }
            for a in actionSteps { scope.formUnion(a.operation.namespaces) }
        }
        // A link that spans namespaces (a veth, a stacked link on a parent elsewhere) is known
        // whole only with all of its namespaces: add those of the links in the scope.
        for step in plan.steps where step.operation.namespaces.count > 1 && step.operation.namespaces.contains(where: scope.contains) {
            scope.formUnion(step.operation.namespaces)
        }
        tick("plan and scope")
        if dryRun {
            let before = Set(makePlan(topology, file: "<repl>").steps.map(\.operation))
            let after = Set(plan.steps.map(\.operation))
            let new = Plan(file: "<repl>", steps: plan.steps.filter { $0.operation.isAction || !before.contains($0.operation) })
            let gone = before.subtracting(after).count
            output = new.steps.isEmpty && gone == 0 ? "0 changes" : renderPlan(new, as: .text, source: source)
            if gone > 0 { output += (output.isEmpty ? "" : "\n") + "and \(gone) operation\(gone == 1 ? "" : "s") no longer wanted" }
        } else {
            do {
                let executor = try executor.get()
                // Held-back signals: an input is applied or rolled back whole, even when piped.
                let report = try withSignalsDeferred {
                    try executor.apply(plan, options: ApplyOptions(stateKey: stateKey, scriptPath: scriptPath, allowExec: allowExec,
                                                                   scope: scope))
                }
                applied = applied || !report.changes.isEmpty
                output = report.summary
                for line in ChangeSummary(report.changes).lines { output += "\n  " + line }
                for a in report.actions { output += "\n" + actionText(a, location: nil) }
            } catch let e as ExecutionError {
                if e.reason == .actionFailed {
                    // The topology was applied; only the check failed: the session keeps it.
                    applied = true
                    failure = e.rendered(in: source, renderer: renderer)
                } else {
                    return Converged(outcome: .failure(e.rendered(in: source, renderer: renderer)), keepsSession: false)
                }
            } catch {
                return Converged(outcome: .failure("error: \(error)"), keepsSession: false)
            }
        }
        tick("apply")
        switch next {
        case .appended(let input, let statements, _):
            remember(.prefix(text: sessionText.utf8.count, statements: sessionStatements.count))
            sessionText += input
            sessionStatements += statements
            topology = wanted
        case .canonical:
            remember(.script(sessionText))
            setSession(ScriptPrinter.print(sessionDeclarations(wanted)), topology: wanted)
        case .script(let text, let statements):
            remember(.script(sessionText))
            sessionText = text
            sessionStatements = statements
            topology = wanted
        case .earlier(let text, let statements):
            sessionText = text
            sessionStatements = statements
            topology = wanted
        }
        tick("session")
        if let failure { return Converged(outcome: ReplOutcome(output: output, diagnostics: failure, succeeded: false), keepsSession: true) }
        return Converged(outcome: .ok(output), keepsSession: true)
    }

    private func remember(_ e: Earlier) {
        history.append(e)
        if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
    }

    /// Makes `text` the session (its statements re-read so ranges point into it).
    private func setSession(_ text: String, topology t: Topology) {
        sessionText = text
        let parsed = parseScript(SourceFile(name: "<repl>", text: text))
        sessionStatements = Evaluator().evaluate(parsed.script).statements
        topology = t
    }

    /// The session as a script: every interface qualified, one object per statement.
    private var canonicalText: String { ScriptPrinter.print(sessionDeclarations(topology)) }

    private func appendLine(_ a: String, _ b: String) -> String { a.isEmpty ? b : b.isEmpty ? a : a + "\n" + b }

    // MARK: commands

    func plan() -> ReplOutcome {
        guard !sessionStatements.isEmpty else { return .ok("nothing declared yet") }
        return .ok(renderPlan(makePlan(topology, file: "<repl>"), as: .text, source: SourceFile(name: "<repl>", text: sessionText)))
    }

    func show(_ namespace: String?) -> ReplOutcome {
        if dryRun {
            return .ok(sessionStatements.isEmpty ? "nothing declared yet" : canonicalText)
        }
        do {
            var live = try executor.get().show()
            if let namespace {
                guard live.namespaces.contains(namespace) || namespace == hostNamespace else {
                    return .failure("error: no namespace `\(namespace)`")
                }
                live = LiveTopology(namespaces: [namespace], state: live.state)
            }
            let text = ScriptPrinter.print(live.script())
            return .ok(text.isEmpty ? "no named namespaces" : text)
        } catch let e as ExecutionError {
            return .failure(e.rendered(in: nil, renderer: renderer))
        } catch {
            return .failure("error: \(error)")
        }
    }

    func ping(namespace: String, address: String) -> ReplOutcome {
        guard let a = IPAddress(address) ?? IPPrefix(address)?.address else {
            return .failure("error: `\(address)` is not an IPv4 or IPv6 address")
        }
        if dryRun { return .ok("would ping \(a) from \(namespace)") }
        do {
            let r = try executor.get().backend.ping(from: namespace, to: a, count: 1, timeout: 2)
            let line = "ping \(a) from \(namespace): \(r.received)/\(r.sent) answered"
            return r.received > 0 ? .ok(line) : .failure("error: " + line)
        } catch {
            return .failure("error: ping \(a) from \(namespace): \(error)")
        }
    }

    /// Back to the session before the last input: what it created is removed, what it changed
    /// or removed is put back.
    func undo() -> ReplOutcome {
        guard let previous = history.last else { return .failure("error: nothing to undo") }
        let text: String
        let statements: [Statement]
        let t: Topology
        switch previous {
        case .prefix(let n, let count):
            text = String(decoding: sessionText.utf8.prefix(n), as: UTF8.self)
            statements = Array(sessionStatements.prefix(count))
            t = check(statements, latestWins: true).topology
        case .script(let s):
            let compiled = compile(SourceFile(name: "<repl>", text: s))
            guard let ct = compiled.topology, !compiled.hasErrors else { return .failure("error: cannot rebuild the previous session") }
            text = s
            statements = compiled.statements
            t = ct
        }
        var earlier = t
        earlier.actions = []
        let c = converge(to: earlier, actions: [], source: SourceFile(name: "<repl>", text: text), next: .earlier(text, statements: statements))
        if c.keepsSession { history.removeLast() }
        return c.outcome
    }

    func destroy() -> ReplOutcome {
        if dryRun { return .ok("dry run: nothing was applied") }
        var summary = "nothing to destroy"
        do {
            let r = try withSignalsDeferred { try executor.get().destroy(stateKey: stateKey) }
            if r.hadState { summary = r.summary }
        } catch let e as ExecutionError {
            return .failure(e.rendered(in: nil, renderer: renderer))
        } catch {
            return .failure("error: \(error)")
        }
        // The session is emptied too, or the next input would build it all again.
        forgetSession()
        return .ok(summary)
    }

    func save(to path: String) -> ReplOutcome {
        let text = "# saved by topo repl\n" + canonicalText
        guard writeFile(path, text) else { return .failure("error: cannot write `\(path)`: \(String(cString: strerror(errno)))") }
        // What the session applied now belongs to the saved script: `topo destroy FILE` removes it,
        // and later inputs are recorded there too.
        let canonical = canonicalScriptPath(path)
        let target = StateStore.key(forScriptPath: canonical)
        if !dryRun, target != stateKey {
            let store = StateStore()
            do {
                let lock = try store.lock(target)
                defer { lock.unlock() }
                var record = try store.load(target) ?? OwnershipRecord(script: canonical)
                if let mine = try store.load(stateKey) { record.merge(mine) }
                record.script = canonical
                record.scriptHash = fnv1a64Hex(Array(text.utf8))
                record.appliedAt = Int64(time(nil))
                try store.save(record, key: target)
                for n in record.namespaces { try store.reassign(n, from: stateKey, to: target) }
                try store.remove(stateKey)
                stateKey = target
                scriptPath = canonical
            } catch {
                return .failure("error: saved `\(path)`, but could not hand over ownership: \(error)")
            }
        }
        let n = sessionDeclarations(topology).count
        return .ok("saved \(n) statement\(n == 1 ? "" : "s") to \(path)")
    }

    func load(path: String) -> ReplOutcome {
        let shown = DiagnosticRenderer.safe(path)
        switch readBounded(path: path) {
        case .failed(let e):
            return .failure("error: cannot read `\(shown)`: \(String(cString: strerror(e)))")
        case .tooLarge(_, let limit):
            return .failure("error: `\(shown)` is larger than the input limit of \(sizeText(limit))")
        case .bytes(let bytes):
            let text = String(decoding: bytes, as: UTF8.self)
            if !text.utf8.elementsEqual(bytes) {
                // Not UTF-8: as a String its bytes would change; show where they are.
                let file = SourceFile(name: path, bytes: bytes)
                return .failure(renderer.render(Lexer.tokenize(file).diagnostics, in: file))
            }
            return submit(text)
        }
    }

    /// `:edit`: the session in `$VISUAL`/`$EDITOR` (else `vi`); when the editor exits, the
    /// session becomes the saved script (checked as a script file) and the kernel converges.
    func edit() -> ReplOutcome {
        var template = Array("/tmp/topo-repl-XXXXXX.topo".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 5) }
        guard fd >= 0 else { return .failure("error: cannot make a temporary file: \(String(cString: strerror(errno)))") }
        close(fd)
        let path = String(cString: template)
        defer { unlink(path) }
        let current = canonicalText
        guard writeFile(path, current) else { return .failure("error: cannot write `\(path)`") }
        var editor = "vi"
        for name in ["VISUAL", "EDITOR"] {
            if let v = getenv(name), v.pointee != 0 { editor = String(cString: v); break }
        }
        let status = runInTerminal(["/bin/sh", "-c", editor + " \"$1\"", "sh", path])
        guard status == 0 else { return .failure("error: the editor (`\(editor)`) exited with status \(status); the session is unchanged") }
        guard let text = readWhole(path: path) else { return .failure("error: cannot read `\(path)` back") }
        if text == current { return .ok("no changes") }
        let source = SourceFile(name: "<edit>", text: text)
        let compiled = compile(source)
        if compiled.hasErrors || compiled.topology == nil {
            return .failure(renderer.render(compiled.diagnostics, in: source) + "\nerror: the edited script has errors; the session is unchanged")
        }
        var t = compiled.topology!
        let actions = t.actions
        t.actions = []
        let c = converge(to: t, actions: actions, source: source, next: .script(text, statements: compiled.statements))
        if c.keepsSession { evaluator = Evaluator() }
        return c.outcome
    }

    func pingall() -> ReplOutcome {
        if dryRun { return .ok("dry run: nothing was applied") }
        guard !topology.namespaces.isEmpty else { return .failure("error: the session has no namespaces") }
        do {
            let report = PingAll.run(topology, backend: try executor.get().backend)
            let text = report.text()
            return report.allReachable ? .ok(text) : ReplOutcome(output: text, succeeded: false)
        } catch {
            return .failure("error: \(error)")
        }
    }

    func reset() -> ReplOutcome {
        forgetSession()
        return .ok("session forgotten (the kernel is unchanged)")
    }

    private func forgetSession() {
        sessionText = ""
        sessionStatements = []
        topology = Topology()
        history = []
        evaluator = Evaluator()
    }

    var namespaceNames: [String] { topology.namespaces.map(\.name) }

    func interfaceNames(in namespace: String?) -> [String] {
        topology.interfaces.filter { namespace == nil || $0.id.namespace == namespace }.map(\.id.name)
    }
}

/// Writes `text` to `path` (created or truncated). False on error, errno set.
func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        off += n
    }
    return true
}

/// Runs argv with the terminal (stdin/stdout/stderr inherited), default signal handling, and
/// waits; returns the exit status (128+N when killed by signal N).
func runInTerminal(_ argv: [String]) -> Int32 {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    var dflt = sigset_t()
    sigemptyset(&dflt)
    for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&dflt, s) }
    posix_spawnattr_setsigdefault(&attr, &dflt)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], nil, &attr, &cargs, environ) == 0 else { return 127 }
    // While the editor runs, Ctrl-C belongs to it.
    let oldInt = signal(SIGINT, SIG_IGN)
    defer { signal(SIGINT, oldInt) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
