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
func requirePrivileges(_ verb: String) -> Int32? {
    if hasNetworkPrivileges() { return nil }
    printError("topo: \(verb) needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run it as root); nothing was changed")
    return Exit.kernel
}

/// The ownership key of a script: its absolute path (standard input has one key of its own).
func stateKey(for source: SourceFile, file: String) -> (key: String, path: String) {
    if file == "-" { return (StateStore.key(forScriptPath: "<stdin>"), "<stdin>") }
    let path = absolutePath(file)
    return (StateStore.key(forScriptPath: path), path)
}

func absolutePath(_ file: String) -> String {
    if file.hasPrefix("/") { return file }
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
    guard getcwd(&buf, buf.count) != nil else { return file }
    return String(cString: buf) + "/" + file
}

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

func applyCommand(plan: Plan, source: SourceFile, script: ScriptOptions, allowExec: Bool) throws -> Int32 {
    if let code = requirePrivileges("run") { return code }
    let (key, path) = stateKey(for: source, file: script.file)
    do {
        let result = try withSignalsDeferred {
            try Executor(backend: try NetlinkBackend())
                .apply(plan, options: ApplyOptions(stateKey: key, scriptPath: path, allowExec: allowExec))
        }
        print("\(source.name): \(result.summary)")
        for outcome in result.actions {
            print(actionText(outcome, location: "\(source.name):\(outcome.step.range.start.line)"))
        }
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

func destroyCommand(source: SourceFile, script: ScriptOptions) throws -> Int32 {
    if let code = requirePrivileges("destroy") { return code }
    let (key, _) = stateKey(for: source, file: script.file)
    do {
        let result = try withSignalsDeferred {
            try Executor(backend: try NetlinkBackend()).destroy(stateKey: key)
        }
        print("\(source.name): \(result.summary)")
        return Exit.ok
    } catch let error as ExecutionError {
        return report(error, source: nil, renderer: script.renderer)
    } catch {
        printError("topo: \(error)")
        return Exit.kernel
    }
}

func showCommand(format: ShowFormat, namespaces: [String]) throws -> Int32 {
    do {
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
    } catch let error as ExecutionError {
        printError(error.rendered(in: nil))
        return error.exitCode
    } catch {
        printError("topo: \(error)")
        return Exit.kernel
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
