import Glibc
import TopoKernel
import TopoLanguage

// The kernel-facing commands: thin wrappers over TopoKernel's Executor.

/// True when the effective capability set holds CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21),
/// which creating namespaces, mounting them and changing links need.
func hasNetworkPrivileges() -> Bool {
    guard let status = readWhole(path: "/proc/self/status") else { return geteuid() == 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
        let hex = line.dropFirst("CapEff:".count).filter { !$0.isWhitespace }
        guard let caps = UInt64(hex, radix: 16) else { return false }
        return caps & (1 << 12) != 0 && caps & (1 << 21) != 0
    }
    return false
}

/// One line and exit 3 when the privileges are missing; nil when all is well.
func requirePrivileges(_ verb: String, changesNothing: Bool = false) -> Int32? {
    if hasNetworkPrivileges() { return nil }
    printError("topo: \(verb) needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run it as root)"
               + (changesNothing ? " to read the namespaces" : "; nothing was changed"))
    return Exit.kernel
}

/// The ownership key of a script and the path shown for it: its canonical path (symlinks and
/// `..` resolved, so `./x.topo`, `dir/../x.topo` and a symlink are one topology; a deleted
/// script keeps its key), or for standard input a hash of the text.
func stateKey(for source: SourceFile, file: String) -> (key: String, path: String) {
    scriptIdentity(file: file, text: source.text)
}

func scriptIdentity(file: String, text: String?) -> (key: String, path: String) {
    if file == "-" { return StateStore.key(forStandardInput: text ?? "") }
    let path = canonicalScriptPath(file)
    return (StateStore.key(forScriptPath: path), path)
}

func absolutePath(_ file: String) -> String { canonicalScriptPath(file) }

/// Runs `body` with SIGINT, SIGTERM and SIGHUP held back, so an interrupted `run` or
/// `destroy` still finishes (or rolls back) before the signal takes effect. Threads started
/// inside inherit the mask.
func withSignalsDeferred<T>(_ body: () throws -> T) rethrows -> T {
    var held = sigset_t(), previous = sigset_t()
    sigemptyset(&held)
    for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&held, s) }
    pthread_sigmask(SIG_BLOCK, &held, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}

/// Renders a kernel-side error against the script and returns its exit code.
func report(_ error: ExecutionError, source: SourceFile?, renderer: DiagnosticRenderer) -> Int32 {
    printError(error.rendered(in: source, renderer: renderer))
    return error.exitCode
}

func applyCommand(plan: Plan, source: SourceFile, script: ScriptOptions, allowExec: Bool, verbose: Bool = false,
                  json: Bool = false) throws -> Int32 {
    if let code = requirePrivileges("run") { return code }
    let (key, path) = stateKey(for: source, file: script.file)
    // On a terminal, a progress line for runs that take a while (drawn after half a second).
    let progress = json ? nil : ProgressReporter.terminal()
    defer { progress?.finish() }
    func printReport(_ result: ApplyReport) {
        for n in result.notes { printError("note: \(n)") }
        print("\(source.name): \(result.summary)")
        if verbose {
            writeOut(renderDiff(result.changes, file: source.name, as: .text).split(separator: "\n").dropLast()
                .map { "  " + $0 }.joined(separator: "\n"))
        } else {
            // One line per object, the first 200 of them (a 10 000-namespace build would print
            // 40 000); `--verbose` prints every operation.
            let lines = ChangeSummary(result.changes).lines
            for line in lines.prefix(200) { print("  " + line) }
            if lines.count > 200 { print("  … and \(lines.count - 200) more (--verbose lists every operation)") }
        }
        for outcome in result.actions {
            print(actionText(outcome, location: "\(source.name):\(outcome.step.range.start.line)"))
        }
    }
    do {
        let result = try withSignalsDeferred {
            try Executor(backend: try NetlinkBackend())
                .apply(plan, options: ApplyOptions(stateKey: key, scriptPath: path, allowExec: allowExec,
                                                   scriptHash: fnv1a64Hex(Array(source.text.utf8)),
                                                   progress: progress.map { p in { p.report(done: $0, total: $1, what: "operations") } }))
        }
        progress?.finish()
        if json { writeOut(renderRunJSON(file: source.name, report: result, error: nil)) } else { printReport(result) }
        return Exit.ok
    } catch let error as ExecutionError {
        progress?.finish()
        if json {
            writeOut(renderRunJSON(file: source.name, report: error.applied, error: error))
            return error.exitCode
        }
        // An action failed after the changes were made: say what was made, then the failure.
        if let applied = error.applied { printReport(applied) }
        return report(error, source: source, renderer: script.renderer)
    } catch {
        progress?.finish()
        if json {
            writeOut(renderRunJSON(file: source.name, report: nil,
                                   error: ExecutionError(.kernel(.failure("\(error)")), "\(error)")))
            return Exit.kernel
        }
        printError("topo: \(error)")
        return Exit.kernel
    }
}

func diffCommand(plan: Plan, source: SourceFile, script: ScriptOptions, format: DiffFormat) throws -> Int32 {
    if let code = requirePrivileges("diff", changesNothing: true) { return code }
    let (key, path) = stateKey(for: source, file: script.file)
    do {
        let rec = try Executor(backend: try NetlinkBackend())
            .diff(plan, options: ApplyOptions(stateKey: key, scriptPath: path))
        if !rec.conflicts.isEmpty {
            let first = rec.conflicts[0]
            let e = ExecutionError(.conflict, first.message, step: first.step,
                                   notes: rec.conflicts.dropFirst().map { Diagnostic.Note($0.message, at: $0.step.range) })
            return report(e, source: source, renderer: script.renderer)
        }
        writeOut(renderDiff(rec.changes, file: source.name, as: format))
        return Exit.ok
    } catch let error as ExecutionError {
        return report(error, source: source, renderer: script.renderer)
    } catch {
        printError("topo: \(error)")
        return Exit.kernel
    }
}

/// What an action did: `ping 10.0.1.1 from ns1: 1/1 answered (veth-pair.topo:9)`, or an
/// exec's header line followed by its output. `location` is the `file:line`, if any.
func actionText(_ outcome: ActionOutcome, location: String?) -> String {
    let suffix = location.map { " (\($0))" } ?? ""
    switch outcome.step.operation {
    case .ping(let ns, let address, _):
        let r = outcome.ping
        return "ping \(address) from \(ns): \(r?.received ?? 0)/\(r?.sent ?? 0) answered" + suffix
    case .exec(let ns, let command, _):
        var text = "exec in \(ns): \(command)" + suffix
        if let out = outcome.exec?.output, !out.isEmpty { text += "\n" + (out.hasSuffix("\n") ? String(out.dropLast()) : out) }
        return text
    default:
        return ""
    }
}

func destroyCommand(file: String, text: String?, name: String, mode: DestroyMode) throws -> Int32 {
    if let code = requirePrivileges("destroy") { return code }
    let (key, _) = scriptIdentity(file: file, text: text)
    return reportingKernelErrors {
        let result = try withSignalsDeferred {
            try Executor(backend: try NetlinkBackend()).destroy(stateKey: key, mode: mode)
        }
        for n in result.skipped {
            printError("note: kept namespace `\(n)`: the record names it but its marker does not say this topology made it")
        }
        if mode == .forget {
            print("\(name): state set aside; nothing in the kernel was touched")
        } else {
            print("\(name): \(result.summary)")
        }
        return Exit.ok
    }
}

/// Runs a command that has no script to point into: an execution error is printed without a
/// source excerpt, anything else as `topo: …`; both become the matching exit code.
func reportingKernelErrors(_ body: () throws -> Int32) -> Int32 {
    do {
        return try body()
    } catch let error as ExecutionError {
        printError(error.rendered(in: nil))
        return error.exitCode
    } catch {
        printError("topo: \(error)")
        return Exit.kernel
    }
}

func showCommand(format: ShowFormat, namespaces: [String]) throws -> Int32 {
    reportingKernelErrors {
        let executor = Executor(backend: try NetlinkBackend())
        var live = try executor.show()
        if !namespaces.isEmpty {
            let unknown = namespaces.filter { !live.namespaces.contains($0) }
            if !unknown.isEmpty {
                printError("topo: no such namespace: \(unknown.joined(separator: ", "))")
                return Exit.usage
            }
            live = LiveTopology(namespaces: namespaces, state: live.state)
        }
        switch format {
        case .text: writeOut(ScriptPrinter.print(live.script()))
        case .json: writeOut(live.json())
        }
        return Exit.ok
    }
}

func replCommand(file: String?, dryRun: Bool, allowExec: Bool) -> Int32 {
    let env = replProcessEnvironment()
    // TOPO_REPL_FAKE_ENGINE=1: the recording engine of the pty tests (no kernel).
    let engine: ReplEngine
    if let fake = FakeReplEngine.fromEnvironment(env) {
        engine = fake
    } else {
        if !dryRun, let code = requirePrivileges("repl (use --dry-run to plan only)") { return code }
        engine = ReplLiveEngine(dryRun: dryRun, allowExec: allowExec, color: isatty(2) != 0 && env["NO_COLOR"] == nil)
    }
    return runRepl(ReplOptions(file: file, dryRun: dryRun, environment: env), engine: engine)
}

func lsCommand(format: ShowFormat) -> Int32 {
    let privileged = hasNetworkPrivileges()
    let list: [AppliedTopology]
    if privileged, let backend = try? NetlinkBackend() {
        list = Executor(backend: backend).inventory(checkKernel: true)
    } else {
        list = Executor(backend: NoKernel()).inventory(checkKernel: false)
    }
    switch format {
    case .json:
        var out = "{\n  \"version\": 1,\n  \"topologies\": ["
        for (i, t) in list.enumerated() {
            out += i == 0 ? "\n    " : ",\n    "
            out += "{\"script\": \(jsonStringLiteral(t.script)), \"key\": \(jsonStringLiteral(t.key)), "
            out += "\"namespaces\": [" + t.namespaces.map(jsonStringLiteral).joined(separator: ", ") + "], "
            out += "\"links\": [" + t.links.map { jsonStringLiteral($0.description) }.joined(separator: ", ") + "], "
            out += "\"addresses\": \(t.addresses), \"routes\": \(t.routes), "
            out += "\"daemons\": [" + t.daemons.map {
                "{\"namespace\": \(jsonStringLiteral($0.namespace)), \"command\": \(jsonStringLiteral($0.command)), \"pid\": \($0.pid), \"running\": \($0.running)}"
            }.joined(separator: ", ") + "], "
            out += "\"applied\": " + (t.appliedAt.map { "\($0)" } ?? "null") + ", "
            out += "\"missing\": " + (t.missing.map { "\($0)" } ?? "null") + ", "
            out += "\"script_changed\": " + (t.scriptChanged.map { "\($0)" } ?? "null") + ", "
            out += "\"status\": \(jsonStringLiteral(t.status))}"
        }
        out += list.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
        writeOut(out)
    case .text:
        if list.isEmpty {
            print("no topologies applied")
            return Exit.ok
        }
        for t in list {
            print(t.script)
            if let c = t.corrupt {
                print("  state: \(c) (`topo destroy --recover \(t.script)`)")
                continue
            }
            let ns = t.namespaces.count
            var what = "\(ns) namespace\(ns == 1 ? "" : "s")"
            if ns > 0 { what += " (" + t.namespaces.prefix(8).joined(separator: ", ") + (ns > 8 ? ", …" : "") + ")" }
            what += ", \(t.links.count) link\(t.links.count == 1 ? "" : "s")"
            print("  \(what)")
            for d in t.daemons {
                print("  daemon in \(d.namespace): \(d.command) (pid \(d.pid), \(d.running ? "running" : "not running"))")
            }
            var when = "never"
            if let a = t.appliedAt {
                var tt = time_t(a)
                var tmv = tm()
                localtime_r(&tt, &tmv)
                var buf = [CChar](repeating: 0, count: 64)
                strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
                when = String(cString: buf)
            }
            print("  applied \(when); \(privileged ? t.status : t.status + " (run as root to check the kernel)")")
        }
    }
    return Exit.ok
}

/// A backend for commands that only read state files (`topo ls` without privileges).
final class NoKernel: KernelBackend {
    func listNamespaces() throws -> [String] { throw KernelError.failure("no kernel access") }
    func readState(of namespaces: [String], sysctls: [String: [String]]) throws -> [String: LiveNamespace] { [:] }
    func apply(_ ops: [KernelOp], in namespace: String) -> [Result<Void, KernelError>] { ops.map { _ in .failure(.failure("no kernel access")) } }
    func createNamespace(_ name: String) throws { throw KernelError.failure("no kernel access") }
    func deleteNamespace(_ name: String) throws { throw KernelError.failure("no kernel access") }
    func deleteLinks(group: UInt32, in namespace: String) throws { throw KernelError.failure("no kernel access") }
    func detachNamespace(_ name: String) throws { throw KernelError.failure("no kernel access") }
    func reattachNamespace(_ name: String) throws { throw KernelError.failure("no kernel access") }
    func releaseDetachedNamespaces() {}
    func ping(from namespace: String, to address: IPAddress, count: Int, timeout: Double) throws -> PingResult { throw KernelError.failure("no kernel access") }
    func exec(in namespace: String, command: String, timeout: Double) throws -> ExecResult { throw KernelError.failure("no kernel access") }
}
