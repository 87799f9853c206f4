import ArgumentParser
import Glibc
import TopoLanguage

// Exit codes of LANGUAGE.md §8: 0 success; 1 the script is wrong or an action failed;
// 2 usage; 3 the kernel refused.
enum Exit {
    static let ok: Int32 = 0
    static let script: Int32 = 1
    static let usage: Int32 = 2
    static let kernel: Int32 = 3
}

struct Topo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Build Linux network topologies (namespaces, veth pairs, bridges, addresses, routes) from a script.",
        discussion: "A topo script describes namespaces, the interfaces inside them, how they are wired, "
            + "their addresses and routes. topo checks it, compiles it to an ordered plan of kernel "
            + "operations, and applies the plan through rtnetlink. Use `-` as FILE for standard input. "
            + "Exit codes: 0 success, 1 the script is wrong or an action failed, 2 usage, 3 the kernel refused.",
        version: topoVersion,
        subcommands: [RunCommand.self, PlanCommand.self, DiffCommand.self, CheckCommand.self, DestroyCommand.self, LsCommand.self,
                      ShowCommand.self, ReplSubcommand.self, PingAllCommand.self, ExecCommand.self, GraphCommand.self,
                      SandboxCommand.self]
    )

    /// Prints the man page (docs/topo.1 is this output).
    @Flag(name: .customLong("generate-manual"), help: .hidden)
    var generateManual = false

    func run() throws {
        guard generateManual else { throw CleanExit.helpRequest(self) }
        writeOut(manualPage())
    }
}

/// Options shared by every command that reads a script.
struct ScriptOptions: ParsableArguments {
    @Argument(help: "The script to read (`-` for standard input).")
    var file: String

    @Option(name: .long, help: "Diagnostic style: full (with source snippet) or short (one line each).")
    var diagnostics: DiagnosticStyle = .full

    @Option(name: .long, help: "Colour: auto (only on a terminal), always, never.")
    var color: ColorChoice = .auto
}

enum DiagnosticStyle: String, ExpressibleByArgument, CaseIterable { case full, short }
enum CheckFormat: String, ExpressibleByArgument, CaseIterable { case text, json }
enum ColorChoice: String, ExpressibleByArgument, CaseIterable { case auto, always, never }
extension PlanFormat: ExpressibleByArgument {}

/// Thrown by subcommands to end the process with one of our exit codes (after printing).
struct Exiting: Error { let code: Int32 }

extension ScriptOptions {
    var renderer: DiagnosticRenderer {
        let colored: Bool
        switch color {
        case .always: colored = true
        case .never: colored = false
        case .auto: colored = isatty(2) != 0 && getenv("NO_COLOR") == nil
        }
        return DiagnosticRenderer(style: diagnostics == .short ? .short : .full, color: colored)
    }

    /// Reads the script (its bytes as they are: the lexer reports NUL and invalid UTF-8 at
    /// their position). Exits 2 with one clear line when it cannot be read, 1 when it is
    /// larger than `SourceFile.maxSize` (reading stops there, so `/dev/zero` is no danger).
    func load() throws -> SourceFile {
        let name = file == "-" ? "<stdin>" : file
        switch readBounded(path: file == "-" ? nil : file) {
        case .bytes(let bytes):
            return SourceFile(name: name, bytes: bytes)
        case .tooLarge(let prefix, let limit):
            // The position where reading stopped, so the error points somewhere.
            var line = 1, lineStart = 0
            prefix.withUnsafeBufferPointer { buf in
                var p = buf.baseAddress!
                let end = p + buf.count
                while let nl = memchr(p, 0x0A, end - p) {
                    line += 1
                    p = UnsafePointer(nl.assumingMemoryBound(to: UInt8.self)) + 1
                    lineStart = p - buf.baseAddress!
                }
            }
            printError("\(DiagnosticRenderer.safe(name)):\(line):\(prefix.count - lineStart + 1): error: "
                       + "the script is larger than the input limit of \(sizeText(limit)); reading stopped here, at byte \(limit)")
            printError("topo: 1 error in \(DiagnosticRenderer.safe(name))")
            throw Exiting(code: Exit.script)
        case .failed(let e):
            printError("topo: cannot read `\(DiagnosticRenderer.safe(file))`: \(String(cString: strerror(e)))")
            throw Exiting(code: Exit.usage)
        }
    }

    /// Loads and compiles; prints the diagnostics (the first 100, then how many more) to
    /// stderr. Exits 1 when there are errors.
    func compileOrExit() throws -> Compilation {
        let source = try load()
        let result = compile(source)
        if !result.diagnostics.isEmpty || result.omitted.total > 0 {
            printError(renderer.render(result.diagnostics, in: source, omitted: result.omitted))
        }
        if result.hasErrors {
            let n = result.diagnostics.filter { $0.severity == .error }.count + result.omitted.errors
            printError("topo: \(n) error\(n == 1 ? "" : "s") in \(DiagnosticRenderer.safe(source.name))")
            throw Exiting(code: Exit.script)
        }
        return result
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse, evaluate and check a script; report every error. Changes nothing.")
    @OptionGroup var script: ScriptOptions
    @Option(name: .long, help: "text (diagnostics on standard error) or json (one document on standard output).")
    var format: CheckFormat = .text

    func run() throws {
        if format == .json {
            let result = compile(try script.load())
            writeOut(renderCheckJSON(result))
            throw Exiting(code: result.hasErrors ? Exit.script : Exit.ok)
        }
        let result = try script.compileOrExit()
        let ops = result.plan?.steps.count ?? 0
        print("\(result.file.name): ok (\(ops) operation\(ops == 1 ? "" : "s"))")
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the plan: numbered kernel operations with their source lines. Needs no privileges.")
    @OptionGroup var script: ScriptOptions
    @Option(name: .long, help: "text, json, or ip (a sh script that builds the same topology with iproute2 alone).")
    var format: PlanFormat = .text

    func run() throws {
        let result = try script.compileOrExit()
        guard let plan = result.plan else { throw Exiting(code: Exit.script) }
        writeOut(renderPlan(plan, as: format, source: result.file))
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Check, plan and apply a script through rtnetlink, then run its ping/exec actions.")
    @OptionGroup var script: ScriptOptions
    @Flag(name: .long, help: "Print the plan instead of applying it (same as `topo plan`).")
    var dryRun = false
    @Flag(name: .long, help: "Allow the script's `exec` and `daemon` statements to run commands.")
    var allowExec = false
    @Flag(name: .shortAndLong, help: "List every operation done, not one line per object.")
    var verbose = false
    @Option(name: .long, help: "text, or json (one document on standard output: what changed, the actions' results, the error).")
    var format: CheckFormat = .text

    func run() throws {
        if format == .json && !dryRun {
            let result = compile(try script.load())
            guard let plan = result.plan, !result.hasErrors else {
                writeOut(renderCheckJSON(result))
                throw Exiting(code: Exit.script)
            }
            throw Exiting(code: try applyCommand(plan: plan, source: result.file, script: script, allowExec: allowExec,
                                                 json: true))
        }
        // Only the plan and the source outlive compiling (the statements and the topology of a
        // large script are tens of megabytes the kernel work does not need).
        let (plan, file): (Plan, SourceFile) = try {
            let result = try script.compileOrExit()
            guard let plan = result.plan else { throw Exiting(code: Exit.script) }
            return (plan, result.file)
        }()
        if dryRun {
            writeOut(renderPlan(plan, as: format == .json ? .json : .text, source: file))
            return
        }
        throw Exiting(code: try applyCommand(plan: plan, source: file, script: script, allowExec: allowExec,
                                             verbose: verbose))
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Print what `topo run` would do now: + create, ~ change (old -> new), - remove. Changes nothing.")
    @OptionGroup var script: ScriptOptions
    @Option(name: .long, help: "text or json.")
    var format: DiffFormat = .text

    func run() throws {
        let result = try script.compileOrExit()
        guard let plan = result.plan else { throw Exiting(code: Exit.script) }
        throw Exiting(code: try diffCommand(plan: plan, source: result.file, script: script, format: format))
    }
}

extension DiffFormat: ExpressibleByArgument {}

struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the topologies applied on this machine and whether the kernel still matches them.")
    @Option(name: .long, help: "text or json.")
    var format: ShowFormat = .text

    func run() throws {
        throw Exiting(code: lsCommand(format: format))
    }
}

struct DestroyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Remove what this script's runs created, and nothing else; put back what they changed.",
        discussion: "FILE need not exist any more: the state is found by the path it was applied from (`topo ls` shows it).")
    @Argument(help: "The script (`-` for standard input: its text names the topology).")
    var file: String
    @Flag(name: .long, help: "The state file is corrupt: remove what the kernel's markers confirm, then set the state aside.")
    var recover = false
    @Flag(name: .long, help: "Set the state aside and touch nothing in the kernel (what it listed stays).")
    var forget = false

    func run() throws {
        var text: String? = nil
        if file == "-" {
            guard let t = readWhole(path: nil) else {
                printError("topo: cannot read standard input: \(String(cString: strerror(errno)))")
                throw Exiting(code: Exit.usage)
            }
            text = t
        }
        if recover && forget {
            printError("topo: --recover and --forget exclude each other")
            throw Exiting(code: Exit.usage)
        }
        let name = file == "-" ? "<stdin>" : file
        throw Exiting(code: try destroyCommand(file: file, text: text, name: name,
                                               mode: recover ? .recover : forget ? .forget : .normal))
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the live topology of all named namespaces, read back from the kernel, as a topo script.")
    @Option(name: .long, help: "text (a topo script) or json.")
    var format: ShowFormat = .text
    @Argument(help: "Only these namespaces.")
    var namespaces: [String] = []

    func run() throws {
        throw Exiting(code: try showCommand(format: format, namespaces: namespaces))
    }
}

enum ShowFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

struct ReplSubcommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "The interactive shell: each statement is checked and applied as you type it.")
    @Argument(help: "A script to load first.")
    var file: String?
    @Flag(name: .long, help: "Print the operations instead of applying them.")
    var dryRun = false
    @Flag(name: .long, help: "Allow `exec` statements.")
    var allowExec = false

    func run() throws {
        throw Exiting(code: replCommand(file: file, dryRun: dryRun, allowExec: allowExec))
    }
}

// Our own entry point, so that usage errors exit 2 (ArgumentParser's default is 64).
do {
    var command = try Topo.parseAsRoot()
    try command.run()
    exit(Exit.ok)
} catch let e as Exiting {
    fflush(stdout)
    exit(e.code)
} catch {
    let code = Topo.exitCode(for: error)
    if code == .success {
        print(Topo.fullMessage(for: error))
        exit(Exit.ok)
    }
    printError(Topo.fullMessage(for: error))
    exit(Exit.usage)
}
