#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// A REPL meta-command: a line starting with `:`.
enum ReplCommand: Hashable, Sendable {
    case help(String?)
    case plan
    case show(String?)
    case ping(namespace: String, address: String)
    case undo
    case destroy
    case save(String)
    case load(String)
    case reset
    case edit
    case pingall
    case quit
}

/// Why a `:` line is not a valid meta-command.
enum ReplCommandError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `:sav` — with the nearest command, if one is close.
    case unknown(String, suggestion: String?)
    /// Right command, wrong arguments: the command and its usage line.
    case usage(String, usage: String)

    var description: String {
        switch self {
        case let .unknown(name, suggestion):
            var s = "error: unknown command `\(name)`"
            if let suggestion { s += "\nhelp: did you mean `\(suggestion)`?" }
            return s + "\nhelp: `:help` lists the commands"
        case let .usage(name, usage):
            return "error: wrong arguments to `\(name)`\nusage: \(usage)"
        }
    }
}

/// The meta-commands: names, usage and one-line summaries (the `:help` text and completion list).
enum ReplCommands {
    struct Spec: Sendable {
        var name: String
        var arguments: String
        var summary: String
        var usage: String { arguments.isEmpty ? name : "\(name) \(arguments)" }
    }

    static let specs: [Spec] = [
        Spec(name: ":help", arguments: "[COMMAND]", summary: "list the commands (or explain one)"),
        Spec(name: ":plan", arguments: "", summary: "print the plan of the session's topology so far"),
        Spec(name: ":show", arguments: "[NS]", summary: "show the session's topology, or one namespace"),
        Spec(name: ":ping", arguments: "NS ADDR", summary: "ping ADDR from namespace NS now"),
        Spec(name: ":undo", arguments: "", summary: "undo the last input: what it created goes, what it changed comes back"),
        Spec(name: ":edit", arguments: "", summary: "edit the session in $VISUAL/$EDITOR; the kernel follows what you save"),
        Spec(name: ":pingall", arguments: "", summary: "ping between every pair of namespaces that have addresses"),
        Spec(name: ":destroy", arguments: "", summary: "remove everything this session created"),
        Spec(name: ":save", arguments: "FILE", summary: "write the session's topology as a runnable .topo script"),
        Spec(name: ":load", arguments: "FILE", summary: "run a .topo script in this session"),
        Spec(name: ":reset", arguments: "", summary: "forget the session (bindings and topology); the kernel is left alone"),
        Spec(name: ":quit", arguments: "", summary: "leave the shell (Ctrl-D does the same); nothing is destroyed"),
    ]

    /// Other spellings accepted for a command.
    static let aliases: [String: String] = [":q": ":quit", ":exit": ":quit", ":h": ":help", ":?": ":help"]

    /// The command names, for completion and did-you-mean.
    static var names: [String] { specs.map(\.name) }

    /// True for a line the REPL treats as a meta-command rather than topo source.
    static func isCommandLine(_ line: String) -> Bool { line.replTrimmed.hasPrefix(":") }

    /// Parses a `:` line.
    static func parse(_ line: String) -> Result<ReplCommand, ReplCommandError> {
        let trimmed = line.replTrimmed
        let words = trimmed.replWords
        guard let first = words.first else { return .failure(.unknown(trimmed, suggestion: nil)) }
        let name = aliases[first] ?? first
        let args = Array(words.dropFirst())
        // The rest of the line after the command word, for file names with blanks.
        let rest = String(trimmed.dropFirst(first.count)).replTrimmed
        func usage() -> Result<ReplCommand, ReplCommandError> {
            .failure(.usage(name, usage: specs.first { $0.name == name }?.usage ?? name))
        }
        switch name {
        case ":help":
            guard args.count <= 1 else { return usage() }
            return .success(.help(args.first))
        case ":plan": return args.isEmpty ? .success(.plan) : usage()
        case ":show":
            guard args.count <= 1 else { return usage() }
            return .success(.show(args.first))
        case ":ping":
            guard args.count == 2 else { return usage() }
            return .success(.ping(namespace: args[0], address: args[1]))
        case ":undo": return args.isEmpty ? .success(.undo) : usage()
        case ":destroy": return args.isEmpty ? .success(.destroy) : usage()
        case ":reset": return args.isEmpty ? .success(.reset) : usage()
        case ":edit": return args.isEmpty ? .success(.edit) : usage()
        case ":pingall": return args.isEmpty ? .success(.pingall) : usage()
        case ":quit": return args.isEmpty ? .success(.quit) : usage()
        case ":save", ":load":
            guard let path = filePath(rest) else { return usage() }
            return .success(name == ":save" ? .save(path) : .load(path))
        default:
            return .failure(.unknown(first, suggestion: suggestion(for: first, among: names)))
        }
    }

    /// A file argument: surrounding quotes removed, a leading `~/` expanded with `$HOME`.
    static func filePath(_ raw: String) -> String? {
        var p = raw
        if p.count >= 2, let f = p.first, f == p.last, f == "\"" || f == "'" { p = String(p.dropFirst().dropLast()) }
        guard !p.isEmpty else { return nil }
        if p == "~" || p.hasPrefix("~/"), let home = getenv("HOME").map({ String(cString: $0) }) {
            p = home + p.dropFirst()
        }
        return p
    }

    /// The `:help` text: every command, then the keys.
    static func helpText() -> String {
        let width = specs.map(\.usage.count).max() ?? 0
        var lines = ["Type topo statements (ns, veth, bridge, addr, route, …); each is applied when complete.",
                     "A setting typed again replaces the old one (`up` after `down`, a new `mtu`);",
                     "`no STATEMENT` removes: `no ns c`, `no veth a:e1`, `no addr a:e0 10.0.0.9/24`, `no route a default`,",
                     "`no tc a:e0`, `no bridge br0 < p3 >`.",
                     "An open { < [ ( or string continues on the next line (prompt `....> `).", "",
                     "Commands:"]
        for s in specs {
            lines.append("  " + s.usage + String(repeating: " ", count: width - s.usage.count + 2) + s.summary)
        }
        lines += ["", "Keys:",
                  "  Tab        complete keywords, commands, namespaces, interfaces (NS:IF), file names",
                  "  Up/Down    history (kept across sessions); Ctrl-R searches it",
                  "  Ctrl-C     abandon the current input, even a half-typed block",
                  "  Ctrl-D     on an empty line: leave (nothing is destroyed)"]
        return lines.joined(separator: "\n")
    }

    /// `:help NAME` — one command's usage and summary.
    static func helpText(for command: String) -> ReplOutcome {
        let name = command.hasPrefix(":") ? command : ":" + command
        let resolved = aliases[name] ?? name
        guard let spec = specs.first(where: { $0.name == resolved }) else {
            return .failure(ReplCommandError.unknown(name, suggestion: suggestion(for: name, among: names)).description)
        }
        return .ok("\(spec.usage)\n  \(spec.summary)")
    }

    /// Runs a parsed command against the engine. `:quit` is the caller's business.
    static func run(_ command: ReplCommand, on engine: ReplEngine) -> ReplOutcome {
        switch command {
        case let .help(name): return name.map(helpText(for:)) ?? .ok(helpText())
        case .plan: return engine.plan()
        case let .show(ns): return engine.show(ns)
        case let .ping(ns, addr): return engine.ping(namespace: ns, address: addr)
        case .undo: return engine.undo()
        case .destroy: return engine.destroy()
        case let .save(path): return engine.save(to: path)
        case let .load(path): return engine.load(path: path)
        case .reset: return engine.reset()
        case .edit: return engine.edit()
        case .pingall: return engine.pingall()
        case .quit: return .ok()
        }
    }
}
