import ArgumentParser
import Glibc
import TopoKernel
import TopoLanguage

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a named network namespace (default: an interactive shell).",
        discussion: "topo enters the namespace itself (setns, then exec: no `ip`, no nsenter) and becomes "
            + "the command: the terminal, the environment and signals pass through, and the exit status "
            + "is the command's. Without a command it runs $SHELL (else /bin/sh). Only the network "
            + "namespace changes: unlike `ip netns exec`, /sys is not remounted (it still shows the "
            + "devices of the namespace topo was started in) and /etc/netns/NS is not bind-mounted over "
            + "/etc. An unknown namespace exits 3; a command that cannot be found exits 127 (126: not executable).")

    @Argument(help: "The namespace (a name in /run/netns, or `host` for topo's own).",
              completion: .custom { _, _, _ in Processes.namedNamespaces() })
    var namespace: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after an optional `--`).")
    var command: [String] = []

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        if argv.isEmpty {
            let shell = getenv("SHELL").map { String(cString: $0) } ?? ""
            argv = [shell.isEmpty ? "/bin/sh" : shell]
        }
        fflush(stdout)
        do {
            try Processes.execInNamespace(namespace, argv: argv)
        } catch let e as ExecInNamespaceError {
            printError("topo: exec: " + execErrorText(e))
            switch e {
            case .invalidName: throw Exiting(code: Exit.usage)
            case .noSuchNamespace, .cannotEnter: throw Exiting(code: Exit.kernel)
            case .cannotRun(_, let errno): throw Exiting(code: errno == ENOENT ? 127 : 126)
            }
        }
    }
}

/// One line for each way `topo exec` can fail.
func execErrorText(_ e: ExecInNamespaceError) -> String {
    switch e {
    case .invalidName(let n):
        return "`\(n)` cannot be a namespace name (a single path component, at most 255 bytes)"
    case .noSuchNamespace(let n, let existing):
        var s = "no namespace `\(n)` in /run/netns"
        if let near = suggestion(for: n, among: existing) {
            s += "; did you mean `\(near)`?"
        } else if existing.isEmpty {
            s += " (there is none: `topo run FILE` builds a topology)"
        } else {
            let shown = existing.prefix(8).map { "`\($0)`" }.joined(separator: ", ")
            s += " (there are \(shown)\(existing.count > 8 ? ", … \(existing.count) in all" : ""))"
        }
        return s
    case .cannotEnter(let n, let errno):
        if errno == EPERM {
            return "cannot enter namespace `\(n)`: \(errnoText(errno)) (entering a namespace needs CAP_SYS_ADMIN: run it as root)"
        }
        if errno == EINVAL {
            return "cannot enter namespace `\(n)`: /run/netns/\(n) is not a network namespace (a stale file?)"
        }
        return "cannot enter namespace `\(n)`: \(errnoText(errno))"
    case .cannotRun(let c, let errno):
        if errno == ENOENT { return "\(c): command not found" }
        return "cannot run \(c): \(errnoText(errno))"
    }
}
