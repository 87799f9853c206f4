import ArgumentParser
import Glibc
import TopoKernel
import TopoLanguage

struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Build a topology in a throwaway private network, as an ordinary user, and run a command in it.",
        discussion: "Makes a user namespace mapping you to root (not needed as root), a network, mount and "
            + "PID namespace, a private tmpfs on /run (so /run/netns and /run/topo are the sandbox's), "
            + "brings lo up, applies FILE exactly as `topo run` does, then runs CMD (default: $SHELL, "
            + "else /bin/sh) with the terminal and signals passed through. When CMD exits, everything "
            + "goes: every process left in the sandbox is killed, its namespaces and mounts vanish. "
            + "The exit status is CMD's, or topo's when FILE fails to apply. The file system is shared "
            + "with the machine (you keep your own permissions on it); the network and /run are not. "
            + "Inside, TOPO_SANDBOX=1 is set.")

    @Flag(name: .long, help: "Allow the script's `exec` statements (as `topo run --allow-exec`).")
    var allowExec = false
    @Option(name: .long, help: "Diagnostic style: full (with source snippet) or short (one line each).")
    var diagnostics: DiagnosticStyle = .full
    @Option(name: .long, help: "Colour: auto (only on a terminal), always, never.")
    var color: ColorChoice = .auto
    @Argument(help: "A script to apply inside first (`-` for standard input).")
    var file: String?
    @Argument(parsing: .postTerminator, help: "After `--`: the command to run inside, and its arguments.")
    var command: [String] = []

    func run() throws {
        // First thing, while topo has one thread: the namespaces.
        do {
            try Sandboxing.enter(userNamespace: !hasNetworkPrivileges())
        } catch {
            printError("topo: sandbox: \(error)")
            throw Exiting(code: Exit.kernel)
        }
        fflush(stdout)
        fflush(stderr)
        let child = fork()
        if child < 0 {
            printError("topo: sandbox: fork: \(String(cString: strerror(errno)))")
            throw Exiting(code: Exit.kernel)
        }
        if child > 0 { Glibc.exit(waitForSandbox(child)) }
        Glibc.exit(sandboxInit())
    }

    /// PID 1 of the sandbox: private /proc and /run, lo up, the script applied, CMD run and
    /// waited for (zombies reaped, SIGTERM/SIGHUP passed on). Its exit ends the sandbox.
    private func sandboxInit() -> Int32 {
        // Held back from the start (so every thread inherits it) and taken with sigwait: PID 1
        // gets no signal it has no handler for, and blocked ones stay pending.
        var held = sigset_t()
        sigemptyset(&held)
        for s in [SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT] { sigaddset(&held, s) }
        pthread_sigmask(SIG_BLOCK, &held, nil)
        do {
            try Sandboxing.mountPrivateFileSystems()
            try Sandboxing.loopbackUp()
        } catch {
            printError("topo: sandbox: \(error)")
            return Exit.kernel
        }
        if let file {
            var args = ["--diagnostics", diagnostics.rawValue, "--color", color.rawValue]
            if allowExec { args.append("--allow-exec") }
            let code: Int32
            do {
                // The same command `topo run` is: the same checks, rollback and messages.
                let runCommand = try RunCommand.parse(args + ["--", file])
                try runCommand.run()
                code = Exit.ok
            } catch let e as Exiting {
                code = e.code
            } catch {
                printError(Topo.fullMessage(for: error))
                code = Exit.usage
            }
            fflush(stdout)
            if code != Exit.ok { return code }
        }
        // Interrupted while applying: stop here (the sandbox goes with us).
        var pending = sigset_t()
        sigpending(&pending)
        for s in [SIGINT, SIGTERM, SIGHUP] where sigismember(&pending, s) == 1 { return 128 + s }

        var argv = command
        if argv.isEmpty {
            let shell = getenv("SHELL").map { String(cString: $0) } ?? ""
            argv = [shell.isEmpty ? "/bin/sh" : shell]
        }
        let cmd: pid_t
        do {
            cmd = try Processes.spawnForeground(argv, environment: sandboxEnvironment())
        } catch let e as ExecInNamespaceError {
            printError("topo: sandbox: " + execErrorText(e))
            if case .cannotRun(_, let n) = e { return n == ENOENT ? 127 : 126 }
            return Exit.kernel
        } catch {
            printError("topo: sandbox: \(error)")
            return Exit.kernel
        }
        while true {
            var sig: Int32 = 0
            guard sigwait(&held, &sig) == 0 else { continue }
            switch sig {
            case SIGCHLD:
                // Reap everything (orphans are ours here); stop when CMD is among them.
                while true {
                    var status: Int32 = 0
                    let p = waitpid(-1, &status, WNOHANG)
                    if p <= 0 { break }
                    if p == cmd { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
                }
            case SIGTERM, SIGHUP:
                kill(cmd, sig)
            default:
                break   // SIGINT, SIGQUIT: the terminal sent them to CMD's process group already
            }
        }
    }

    /// topo's environment with TOPO_SANDBOX=1.
    private func sandboxEnvironment() -> [String] {
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if !s.hasPrefix("TOPO_SANDBOX=") { env.append(s) }
            p += 1
        }
        return env + ["TOPO_SANDBOX=1"]
    }
}

/// The sandbox's PID 1, for the signal handlers of the process waiting for it.
nonisolated(unsafe) private var sandboxChild: pid_t = 0

/// Outside the PID namespace: wait for the sandbox's PID 1 and exit as it did. SIGTERM and
/// SIGHUP are passed on (PID 1 passes them to CMD); SIGINT and SIGQUIT from the terminal
/// reach CMD directly, so they are ignored here.
private func waitForSandbox(_ child: pid_t) -> Int32 {
    sandboxChild = child
    signal(SIGINT, SIG_IGN)
    signal(SIGQUIT, SIG_IGN)
    for s in [SIGTERM, SIGHUP] {
        signal(s) { sig in _ = kill(sandboxChild, sig) }
    }
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 {
        if errno != EINTR { return Exit.kernel }
    }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
