import Glibc
import TopoKernel
import TopoLanguage

/// The REPL's real engine: the session is the list of inputs accepted so far. Each new input is
/// parsed in place after them (so every range is a position in the session's text), the whole
/// session is evaluated, checked and planned again, and the plan is applied through the executor,
/// which does only what is missing. Each input's creations are recorded under a state key of its
/// own, so `:undo` is `destroy` of the last key and `:destroy` is all of them, newest first.
final class ReplLiveEngine: ReplEngine {
    private let dryRun: Bool
    private let allowExec: Bool
    private let renderer: DiagnosticRenderer
    /// The text of the accepted inputs, in order, each ending with a newline.
    private var sessionText = ""
    /// The accepted inputs' parsed scripts, each positioned in `sessionText`.
    private var scripts: [Script] = []
    /// The session's current topology and statements (for completion, `:plan`, `:save`).
    private var statements: [Statement] = []
    private var topology = Topology()
    /// Where each accepted input starts in `sessionText`, and the state key its creations were
    /// recorded under (nil when it created nothing), parallel to `scripts`.
    private var inputStarts: [Int] = []
    private var inputKeys: [String?] = []
    private lazy var executor: Result<Executor, Error> = Result { Executor(backend: try NetlinkBackend()) }
    private let sessionID = "repl-\(getpid())-\(time(nil))"
    private var inputCount = 0

    init(dryRun: Bool, allowExec: Bool, color: Bool) {
        self.dryRun = dryRun
        self.allowExec = allowExec
        self.renderer = DiagnosticRenderer(style: .full, color: color)
    }

    func isComplete(_ text: String) -> Bool { isCompleteInput(text) }

    /// The session so far plus `input`, compiled. `input` is parsed with the session's text
    /// blanked out before it, so its positions are positions in `sessionText + input`.
    private func compileWith(_ input: String) -> (file: SourceFile, script: Script?, result: CheckResult?, plan: Plan?, diagnostics: [Diagnostic]) {
        let full = SourceFile(name: "<repl>", text: sessionText + input)
        let blank = String(decoding: sessionText.utf8.map { $0 == UInt8(ascii: "\n") ? $0 : UInt8(ascii: " ") }, as: UTF8.self)
        let parsed = parseScript(SourceFile(name: "<repl>", text: blank + input))
        if parsed.diagnostics.hasErrors { return (full, nil, nil, nil, parsed.diagnostics) }
        let evaluator = Evaluator()
        var all: [Statement] = []
        for s in scripts { all += evaluator.evaluate(s).statements }
        let evaluated = evaluator.evaluate(parsed.script)
        var diagnostics = parsed.diagnostics + evaluated.diagnostics
        all += evaluated.statements
        let checked = check(all)
        diagnostics += checked.diagnostics
        let plan = diagnostics.hasErrors ? nil : makePlan(checked.topology, file: "<repl>")
        statementsCandidate = all
        return (full, parsed.script, checked, plan, diagnostics)
    }
    private var statementsCandidate: [Statement] = []

    func submit(_ text: String) -> ReplOutcome {
        let input = text.hasSuffix("\n") ? text : text + "\n"
        let c = compileWith(input)
        let rendered = c.diagnostics.isEmpty ? "" : renderer.render(c.diagnostics, in: c.file)
        guard let script = c.script, let checked = c.result, let plan = c.plan else {
            return ReplOutcome(diagnostics: rendered, succeeded: false)
        }
        // Actions (ping/exec) run only for the input that wrote them.
        let start = sessionText.utf8.count
        let steps = plan.steps.filter { !$0.operation.isAction || $0.range.start.offset >= start }
        var output = ""
        var createdKey: String?
        if dryRun {
            let before = Set(compileSession()?.steps.map(\.operation) ?? [])
            let new = Plan(file: "<repl>", steps: steps.filter { $0.operation.isAction || !before.contains($0.operation) })
            output = new.steps.isEmpty ? "0 changes" : renderPlan(new, as: .text, source: c.file)
        } else {
            inputCount += 1
            let key = "\(sessionID)-\(inputCount)"
            do {
                let executor = try executor.get()
                // Held-back signals: an input is applied or rolled back whole, even when piped.
                let report = try withSignalsDeferred {
                    try executor.apply(Plan(file: "<repl>", steps: steps),
                                       options: ApplyOptions(stateKey: key, scriptPath: "<repl>", allowExec: allowExec))
                }
                if report.changes > 0 { createdKey = key }
                output = report.summary
                for a in report.actions { output += "\n" + actionText(a, location: nil) }
            } catch let e as ExecutionError {
                return ReplOutcome(diagnostics: appendLine(rendered, e.rendered(in: c.file, renderer: renderer)), succeeded: false)
            } catch {
                return ReplOutcome(diagnostics: appendLine(rendered, "error: \(error)"), succeeded: false)
            }
        }
        inputStarts.append(sessionText.utf8.count)
        inputKeys.append(createdKey)
        sessionText += input
        scripts.append(script)
        statements = statementsCandidate
        topology = checked.topology
        return ReplOutcome(output: output, diagnostics: rendered, succeeded: true)
    }

    private func appendLine(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "\n" + b }

    /// The plan of the accepted session (nil when empty).
    private func compileSession() -> Plan? {
        scripts.isEmpty ? nil : makePlan(topology, file: "<repl>")
    }

    func plan() -> ReplOutcome {
        guard let plan = compileSession() else { return .ok("nothing declared yet") }
        return .ok(renderPlan(plan, as: .text, source: SourceFile(name: "<repl>", text: sessionText)))
    }

    func show(_ namespace: String?) -> ReplOutcome {
        if dryRun {
            let decls = statements.map(\.declaration)
            return .ok(decls.isEmpty ? "nothing declared yet" : ScriptPrinter.print(decls))
        }
        do {
            var live = try executor.get().show()
            if let namespace {
                guard live.namespaces.contains(namespace) || namespace == hostNamespace else {
                    return .failure("error: no namespace `\(namespace)`")
                }
                live = LiveTopology(namespaces: [namespace], state: live.state)
            }
            let text = ScriptPrinter.print(live.declarations())
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

    func undo() -> ReplOutcome {
        guard let start = inputStarts.last, let key = inputKeys.last else { return .failure("error: nothing to undo") }
        var output = "forgot the last input (it created nothing)"
        if let key, !dryRun {
            do {
                output = try withSignalsDeferred { try executor.get().destroy(stateKey: key).summary }
            } catch let e as ExecutionError {
                return .failure(e.rendered(in: nil, renderer: renderer))
            } catch {
                return .failure("error: \(error)")
            }
        }
        // Forget the input and recompute the session from the inputs before it.
        scripts.removeLast()
        inputStarts.removeLast()
        inputKeys.removeLast()
        sessionText = String(decoding: sessionText.utf8.prefix(start), as: UTF8.self)
        let evaluator = Evaluator()
        statements = scripts.flatMap { evaluator.evaluate($0).statements }
        topology = check(statements).topology
        return .ok(output)
    }

    func destroy() -> ReplOutcome {
        if dryRun { return .ok("dry run: nothing was applied") }
        var removed = 0
        for i in inputKeys.indices.reversed() {
            guard let key = inputKeys[i] else { continue }
            do {
                _ = try withSignalsDeferred { try executor.get().destroy(stateKey: key) }
                inputKeys[i] = nil
                removed += 1
            } catch let e as ExecutionError {
                return .failure(e.rendered(in: nil, renderer: renderer))
            } catch {
                return .failure("error: \(error)")
            }
        }
        // The session is emptied too, or the next input would build it all again.
        forgetSession()
        return .ok(removed == 0 ? "nothing to destroy" : "removed what \(removed) input\(removed == 1 ? "" : "s") created")
    }

    func save(to path: String) -> ReplOutcome {
        let text = "# saved by topo repl\n" + ScriptPrinter.print(statements.map(\.declaration))
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return .failure("error: cannot write `\(path)`: \(String(cString: strerror(errno)))") }
        let ok = text.utf8CString.withUnsafeBufferPointer { buf in
            write(fd, buf.baseAddress, buf.count - 1) == buf.count - 1
        }
        close(fd)
        guard ok else { return .failure("error: cannot write `\(path)`") }
        // What the session created now belongs to the saved script: `topo destroy FILE` removes it.
        let keys = inputKeys.compactMap { $0 }
        if !dryRun, !keys.isEmpty {
            let store = StateStore()
            let target = StateStore.key(forScriptPath: absolutePath(path))
            do {
                var record = try store.load(target) ?? OwnershipRecord(script: absolutePath(path))
                for key in keys {
                    if let r = try store.load(key) { record.merge(r) }
                }
                try store.save(record, key: target)
                for key in keys { try store.remove(key) }
                inputKeys = inputKeys.map { _ in nil }
            } catch {
                return .failure("error: saved `\(path)`, but could not hand over ownership: \(error)")
            }
        }
        return .ok("saved \(statements.count) statement\(statements.count == 1 ? "" : "s") to \(path)")
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

    func reset() -> ReplOutcome {
        forgetSession()
        return .ok("session forgotten (the kernel is unchanged)")
    }

    private func forgetSession() {
        scripts.removeAll()
        sessionText = ""
        statements.removeAll()
        topology = Topology()
        inputStarts.removeAll()
        inputKeys.removeAll()
    }

    var namespaceNames: [String] { topology.namespaces.map(\.name) }

    func interfaceNames(in namespace: String?) -> [String] {
        topology.interfaces.filter { namespace == nil || $0.id.namespace == namespace }.map(\.id.name)
    }
}
