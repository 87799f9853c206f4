#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// How `topo repl` was started.
struct ReplOptions: Hashable, Sendable {
    /// A script to load before the first prompt (`topo repl FILE`).
    var file: String?
    /// Only for the banner: the engine itself prints operations instead of applying them.
    var dryRun: Bool
    /// nil: decide by `isatty(0)`. true/false forces readline or plain reading.
    var interactive: Bool?
    /// The process environment (history location, `TOPO_REPL_FAKE_ENGINE`).
    var environment: [String: String]

    init(file: String? = nil, dryRun: Bool = false, interactive: Bool? = nil,
         environment: [String: String] = replProcessEnvironment()) {
        self.file = file
        self.dryRun = dryRun
        self.interactive = interactive
        self.environment = environment
    }
}

/// The process environment as a dictionary (Glibc `environ`).
func replProcessEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

/// Runs the interactive shell until `:quit`, Ctrl-D or end of input, and returns the exit code:
/// 0 when no statement or command failed, 1 otherwise. Destroys nothing on the way out.
func runRepl(_ options: ReplOptions, engine: ReplEngine) -> Int32 {
    let interactive = options.interactive ?? (isatty(STDIN_FILENO) == 1)
    let source: ReplLineSource
    if interactive {
        source = ReadlineLineSource(historyPath: replHistoryPath(environment: options.environment)) { [unowned engine] in
            ReplCompleter(namespaces: engine.namespaceNames,
                          interfaces: { engine.interfaceNames(in: $0) },
                          liveNamespaces: ReplCompleter.liveNamespaces())
        }
    } else {
        source = PlainLineSource()
    }
    defer { source.close() }
    let session = ReplSession(engine: engine, interactive: interactive)
    if interactive {
        replWrite("topo repl\(options.dryRun ? " (dry run: nothing is applied)" : "") — :help lists the commands, Ctrl-D leaves")
    }
    if let file = options.file {
        session.report(engine.load(path: file))
    }
    session.run(source)
    return session.failed ? 1 : 0
}

/// The read–submit loop, independent of where lines come from.
final class ReplSession {
    let engine: ReplEngine
    let interactive: Bool
    /// True once any statement or command failed (the exit code).
    private(set) var failed = false
    /// The lines of an input still open (a block, a list, a string).
    private(set) var pending: [String] = [] { didSet { if pending.isEmpty { pendingBytes = 0 } } }
    /// Their size, bounded by `SourceFile.maxSize`.
    private var pendingBytes = 0

    init(engine: ReplEngine, interactive: Bool) {
        self.engine = engine
        self.interactive = interactive
    }

    /// Prints an outcome and counts a failure.
    func report(_ outcome: ReplOutcome) {
        replWrite(outcome.output)
        replWrite(outcome.diagnostics, toError: true)
        if !outcome.succeeded { failed = true }
    }

    /// Reads until the end; returns when the user leaves.
    func run(_ source: ReplLineSource) {
        while true {
            switch source.read(continuing: !pending.isEmpty) {
            case .endOfInput:
                finish()
                return
            case .interrupted:
                pending.removeAll()
            case let .rejected(why):
                // The open block, if any, is abandoned with the line.
                pending.removeAll()
                report(.failure(why))
            case let .line(text):
                // A bracketed paste can bring several lines at once: take them one by one, so
                // a pasted session behaves exactly like a typed (or piped) one.
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                    source.remember(line)
                    if handle(line) == .quit { return }
                }
            }
        }
    }

    enum Next: Equatable { case more, quit }

    /// Handles one line: a meta-command, part of a block, or a complete input to submit.
    func handle(_ line: String) -> Next {
        if pending.isEmpty {
            if line.replTrimmed.isEmpty { return .more }
            if ReplCommands.isCommandLine(line) {
                switch ReplCommands.parse(line) {
                case .success(.quit): return .quit
                case let .success(command): report(ReplCommands.run(command, on: engine))
                case let .failure(error): report(.failure(error.description))
                }
                return .more
            }
        }
        pending.append(line)
        pendingBytes += line.utf8.count + 1
        if pendingBytes > SourceFile.maxSize {
            pending.removeAll()
            report(.failure("error: an input longer than the input limit of \(SourceFile.maxSize >> 20) MiB was abandoned"))
            return .more
        }
        let text = pending.joined(separator: "\n")
        if engine.isComplete(text) {
            pending.removeAll()
            report(engine.submit(text))
        }
        return .more
    }

    /// End of input: a block still open is abandoned at a terminal (the user pressed Ctrl-D),
    /// but submitted from a file or pipe so the engine reports what is unclosed.
    func finish() {
        guard !pending.isEmpty else { return }
        let text = pending.joined(separator: "\n")
        pending.removeAll()
        if interactive { return }
        let outcome = engine.submit(text)
        report(outcome)
        if outcome.succeeded, !engine.isComplete(text) {
            report(.failure("error: input ended inside an open block"))
        }
    }
}
