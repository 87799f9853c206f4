import CNetShim
import Glibc
import TopoLanguage

// Child processes, started safely from whatever thread calls (a namespace thread inside a
// namespace puts them in that namespace: no nsenter).
//
// Every child gets an empty signal mask and default dispositions: topo holds SIGINT,
// SIGTERM and SIGHUP back while it applies a plan, and a child must not inherit that (it
// would survive `kill`). Its standard input is /dev/null.
//
// - `Processes.run`: an `exec` action. Own process group; stdout and stderr captured
//   together; topo waits for the command itself, not for the pipe to close (so
//   `sleep 300 &` returns at once); a timeout kills the whole process group.
// - `Processes.startDaemon`: a `daemon`. Own session (setsid); output appended to a log
//   file; identified afterwards by (pid, start time) so a reused pid is never signalled.
//   `isRunning` and `stop` (SIGTERM to its process group, SIGKILL after a grace period).

/// A daemon as topo records it: the pid and the kernel's start time of that pid
/// (`/proc/PID/stat` field 22, clock ticks since boot), which together name one process
/// for good; and where its output goes.
public struct DaemonProcess: Hashable, Sendable {
    public var pid: Int32
    public var startTime: UInt64
    public var logPath: String
    public init(pid: Int32, startTime: UInt64, logPath: String) {
        self.pid = pid
        self.startTime = startTime
        self.logPath = logPath
    }
}

/// What `Processes.stop` did.
public enum DaemonStopOutcome: Hashable, Sendable {
    /// Nothing runs under that (pid, start time): nothing was signalled.
    case notRunning
    /// It ended after SIGTERM within the grace period.
    case terminated
    /// It was still there after the grace period and got SIGKILL.
    case killed
}

public enum Processes {
    /// The default timeout of an `exec` action, in seconds (LANGUAGE.md §13).
    public static let defaultExecTimeout: Double = 60
    /// How long `stop` waits after SIGTERM before SIGKILL.
    public static let defaultStopGrace: Double = 5
    /// Output kept from a command (the rest is read and dropped).
    public static let outputLimit = 1 << 20
    /// Where daemon logs go by default.
    public static let defaultDaemonLogDirectory = "/run/topo/daemons"

    /// Runs `argv` (`argv[0]` a path) to completion in the calling thread's namespaces:
    /// its own process group, empty signal mask, default dispositions, stdin /dev/null,
    /// stdout and stderr captured together (the first `outputLimit` bytes kept).
    ///
    /// Returns when the process itself has exited, even if something it left in the
    /// background still holds the output pipe (what is in the pipe by then is read; the rest
    /// is not waited for). After `timeout` seconds (nil: none) the whole process group gets
    /// SIGKILL and the result has `timedOut` set (status 137).
    public static func run(_ argv: [String], timeout: Double?) throws -> ExecResult {
        guard let path = argv.first, !path.isEmpty else { throw KernelError.failure("no command") }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe2(&pipeFDs, O_CLOEXEC) == 0 else { throw KernelError.errno(errno) }
        let readFD = pipeFDs[0]
        defer { close(readFD) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        _ = topo_spawn_addclosefrom(&actions, 3)
        let pid: pid_t
        do {
            pid = try spawn(path, argv, actions: &actions, flags: Int32(POSIX_SPAWN_SETPGROUP))
        } catch {
            close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        let exitFD = topo_pidfd_open(pid)
        defer { if exitFD >= 0 { close(exitFD) } }

        var output: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        var pipeOpen = true
        /// Reads what the pipe holds now; false at end of file.
        func drain(budget: Int = .max) -> Bool {
            var reads = 0
            while reads < budget {
                let n = read(readFD, &buf, buf.count)
                if n > 0 {
                    if output.count < outputLimit { output += buf[0..<min(n, outputLimit - output.count)] }
                    reads += 1
                    continue
                }
                if n == 0 { return false }
                if errno == EINTR { continue }
                return true     // EAGAIN: nothing more for now
            }
            return true
        }

        let deadline = timeout.map { monotonicNow() + max(0, $0) }
        var status: Int32 = 0
        var timedOut = false
        while true {
            if waitpid(pid, &status, WNOHANG) == pid { break }
            let now = monotonicNow()
            if let d = deadline, now >= d {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                timedOut = true
                break
            }
            var fds: [pollfd] = []
            if pipeOpen { fds.append(pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)) }
            if exitFD >= 0 { fds.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
            // Without a pidfd (or once the pipe is closed and there is none) poll in short steps.
            var waitMS: Int32 = exitFD >= 0 ? -1 : 20
            if let d = deadline {
                let left = Int32(min(Double(Int32.max / 2), max(1, ((d - now) * 1000).rounded(.up))))
                waitMS = waitMS < 0 ? left : min(waitMS, left)
            }
            let r = poll(&fds, nfds_t(fds.count), waitMS)
            if r < 0 && errno != EINTR { break }
            if pipeOpen, let p = fds.first, p.revents != 0 { pipeOpen = drain() }
        }
        // What the command wrote before it exited is in the pipe; a background process may
        // go on writing, so read a bounded amount and stop.
        if pipeOpen { _ = drain(budget: 256) }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ExecResult(status: code, output: String(decoding: output, as: UTF8.self), timedOut: timedOut)
    }

    /// Starts `argv` (`argv[0]` a path) detached, in the calling thread's namespaces: its own
    /// session (so its own process group, no controlling terminal), empty signal mask,
    /// default dispositions, stdin /dev/null, stdout and stderr appended to `logPath`
    /// (created 0644 if missing). Returns at once with its pid and start time.
    public static func startDaemon(_ argv: [String], logPath: String) throws -> DaemonProcess {
        guard let path = argv.first, !path.isEmpty else { throw KernelError.failure("no command") }
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else {
            let e = errno
            throw KernelError.refused(errno: e, text: errnoText(e), extack: "cannot open daemon log \(logPath)")
        }
        defer { close(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, log, 1)
        posix_spawn_file_actions_adddup2(&actions, log, 2)
        // Descriptors topo inherited without close-on-exec (a caller's pipe) must not keep
        // whatever is at their other end waiting for the daemon.
        _ = topo_spawn_addclosefrom(&actions, 3)
        let setsid = Int32(topo_posix_spawn_setsid())
        guard setsid != 0 else { throw KernelError.failure("this C library cannot start a process in a new session") }
        let pid = try spawn(path, argv, actions: &actions, flags: setsid)
        // The child is unreaped, so its pid cannot have been reused yet.
        guard let start = startTime(of: pid) else {
            throw KernelError.failure("daemon pid \(pid) vanished before its start time could be read")
        }
        return DaemonProcess(pid: pid, startTime: start, logPath: logPath)
    }

    /// `startDaemon` of `sh -c command`, logging to `DIRECTORY/NAME.log` (the directory is
    /// created, 0755, if missing; `/` in `name` becomes `_`).
    public static func startDaemon(command: String, logDirectory: String = defaultDaemonLogDirectory,
                                   name: String) throws -> DaemonProcess {
        try makeDirectories(logDirectory)
        let safe = String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        return try startDaemon(["/bin/sh", "-c", command], logPath: logDirectory + "/" + safe + ".log")
    }

    /// True when a live (not zombie) process has this pid and this start time. Reaps it
    /// first if it is topo's own child that has exited.
    public static func isRunning(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0 else { return false }
        reapIfOurs(pid)
        guard let s = stat(of: pid), s.startTime == startTime else { return false }
        return s.state != "Z" && s.state != "X" && s.state != "x"
    }

    /// Stops a daemon: SIGTERM to its process group, SIGKILL to what is left after `grace`
    /// seconds. Only if (pid, start time) still names a running process: a pid that died and
    /// was reused by another process is never signalled.
    @discardableResult
    public static func stop(pid: Int32, startTime: UInt64, grace: Double = defaultStopGrace) -> DaemonStopOutcome {
        guard isRunning(pid: pid, startTime: startTime) else { return .notRunning }
        // A session leader cannot leave its process group, so -pid is its group; while any
        // member lives, the kernel keeps the number from being reused.
        let group: pid_t = (stat(of: pid)?.processGroup == pid) ? -pid : pid
        kill(group, SIGTERM)
        let deadline = monotonicNow() + max(0, grace)
        while monotonicNow() < deadline {
            reapIfOurs(pid)
            if !alive(group: group, leader: pid, startTime: startTime) { return .terminated }
            usleep(20_000)
        }
        reapIfOurs(pid)
        guard alive(group: group, leader: pid, startTime: startTime) else { return .terminated }
        kill(group, SIGKILL)
        let after = monotonicNow() + 1
        while monotonicNow() < after, alive(group: group, leader: pid, startTime: startTime) {
            reapIfOurs(pid)
            usleep(10_000)
        }
        return .killed
    }

    /// Starts `argv` (searched in PATH) sharing topo's terminal, descriptors, process group
    /// and namespaces, with an empty signal mask and default dispositions; `environment`
    /// (`NAME=value`) replaces topo's when given. For a command the user runs in the
    /// foreground (`topo sandbox -- CMD`). Throws `ExecInNamespaceError.cannotRun`.
    public static func spawnForeground(_ argv: [String], environment: [String]? = nil) throws -> pid_t {
        guard let path = argv.first, !path.isEmpty else { throw KernelError.failure("no command") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var env: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
        defer { env?.forEach { free($0) } }
        do {
            if env == nil { return try spawn(path, argv, actions: &actions, flags: 0, searchPath: true) }
            return try env!.withUnsafeMutableBufferPointer { e in
                try spawn(path, argv, actions: &actions, flags: 0, searchPath: true, environment: e.baseAddress)
            }
        } catch let e as KernelError {
            throw ExecInNamespaceError.cannotRun(command: path, errno: notFoundOrNot(path, e.errnoValue ?? ENOENT))
        }
    }

    /// A PATH search that met an unreadable directory fails with EACCES even when the command
    /// is nowhere (glibc's execvp): that is "not found" (ENOENT) unless some PATH entry has it.
    static func notFoundOrNot(_ command: String, _ e: Int32) -> Int32 {
        guard e == EACCES, !command.contains("/") else { return e }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let d = dir.isEmpty ? "." : String(dir)
            if access(d + "/" + command, F_OK) == 0 { return e }
        }
        return ENOENT
    }

    /// `/proc/PID/stat` field 22: when the process started, in clock ticks since boot.
    public static func startTime(of pid: Int32) -> UInt64? { stat(of: pid)?.startTime }

    // MARK: - Internals

    /// The fields of `/proc/PID/stat` topo uses.
    struct ProcStat: Hashable {
        var state: Character
        var parent: Int32
        var processGroup: Int32
        var session: Int32
        var startTime: UInt64
    }

    /// Parses `/proc/PID/stat`: `pid (comm) state ppid pgrp session … starttime(22) …`; the
    /// command name may hold blanks and parentheses, so fields are counted after the last `)`.
    static func parseStat(_ text: String) -> ProcStat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state); field N is fields[N - 3].
        guard fields.count >= 20, let state = fields[0].first,
              let ppid = Int32(fields[1]), let pgrp = Int32(fields[2]), let sid = Int32(fields[3]),
              let start = UInt64(fields[19]) else { return nil }
        return ProcStat(state: state, parent: ppid, processGroup: pgrp, session: sid, startTime: start)
    }

    static func stat(of pid: Int32) -> ProcStat? {
        guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
        return parseStat(text)
    }

    /// Reaps `pid` if it is a child of this process that has exited (a no-op otherwise).
    private static func reapIfOurs(_ pid: Int32) {
        guard let s = stat(of: pid), s.parent == getpid(), s.state == "Z" else { return }
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// True while the leader runs or any member of its process group is alive (not a zombie).
    private static func alive(group: pid_t, leader: Int32, startTime: UInt64) -> Bool {
        if isRunning(pid: leader, startTime: startTime) { return true }
        guard group < 0 else { return false }
        if kill(group, 0) != 0 { return false }
        return !liveMembers(ofGroup: -group).isEmpty
    }

    /// The pids of live processes in process group `pgid` (from /proc).
    static func liveMembers(ofGroup pgid: Int32) -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard let pid = Int32(name), let s = stat(of: pid), s.processGroup == pgid,
                  s.state != "Z", s.state != "X" else { continue }
            out.append(pid)
        }
        return out
    }

    /// posix_spawn with an empty signal mask and every signal at its default disposition,
    /// plus `flags` (process group, session).
    private static func spawn(_ path: String, _ argv: [String], actions: inout posix_spawn_file_actions_t,
                              flags: Int32, searchPath: Bool = false,
                              environment: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        // sigfillset leaves out glibc's internal signals 32 and 33 (SIGCANCEL, SIGSETXID), and
        // posix_spawn then sets them to SIG_IGN in the child, which an exec keeps: name them in
        // the set directly (a bitmap of words, bit N-1 for signal N) so they start at SIG_DFL.
        withUnsafeMutableBytes(of: &all) { raw in
            let words = raw.bindMemory(to: UInt.self)
            for sig in 32...33 { words[(sig - 1) / UInt.bitWidth] |= 1 << UInt((sig - 1) % UInt.bitWidth) }
        }
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        if flags & Int32(POSIX_SPAWN_SETPGROUP) != 0 { posix_spawnattr_setpgroup(&attr, 0) }
        posix_spawnattr_setflags(&attr, Int16(flags | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)))
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let env = environment ?? Glibc.environ
        let rc = searchPath ? posix_spawnp(&pid, path, &actions, &attr, &cargs, env)
            : posix_spawn(&pid, path, &actions, &attr, &cargs, env)
        guard rc == 0 else {
            throw KernelError.refused(errno: rc, text: errnoText(rc), extack: "cannot start \(path)")
        }
        return pid
    }

    /// `mkdir -p` (0755).
    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                let e = errno
                throw KernelError.refused(errno: e, text: errnoText(e), extack: "cannot create \(prefix)")
            }
        }
    }
}

/// Reads a small file (e.g. under /proc) whole; nil if it cannot be opened.
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// Runs argv (no timeout), capturing stdout and stderr together: `Processes.run`.
func spawnCapturing(_ argv: [String]) throws -> ExecResult {
    try Processes.run(argv, timeout: nil)
}

// MARK: - Entering a namespace for good (`topo exec`)

/// Why `Processes.execInNamespace` could not run the command.
public enum ExecInNamespaceError: Error, Hashable, Sendable {
    /// No `DIR/NAME`: the namespaces that do exist, sorted.
    case noSuchNamespace(name: String, existing: [String])
    /// The name cannot be a namespace file name (empty, `/`, `.`, `..`, too long).
    case invalidName(String)
    /// `DIR/NAME` exists but is not a network namespace (a stale file), or setns refused.
    case cannotEnter(name: String, errno: Int32)
    /// execvp failed (ENOENT: not found; EACCES: not executable).
    case cannotRun(command: String, errno: Int32)
}

extension Processes {
    /// The named namespaces in `directory` (`ip netns list`), sorted; [] when there is none.
    public static func namedNamespaces(in directory: String = "/run/netns") -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Moves the calling thread into the named network namespace `DIR/NAME` (`host`: stays)
    /// and replaces the process with `argv` (searched in PATH), keeping the terminal,
    /// environment, signal dispositions and every descriptor. Only the network namespace
    /// changes: unlike `ip netns exec`, the mount namespace is not touched (no remount of
    /// /sys, no /etc/netns/NAME bind mounts). Returns only by throwing.
    ///
    /// Call it from the main thread before other threads exist (`setns` moves only the
    /// calling thread; execve ends the others, but their namespaces do not matter then).
    public static func execInNamespace(_ name: String, argv: [String], directory: String = "/run/netns") throws -> Never {
        precondition(!argv.isEmpty)
        if name != hostNamespace {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes.count <= 255, name != ".", name != "..",
                  !bytes.contains(UInt8(ascii: "/")), !bytes.contains(0) else { throw ExecInNamespaceError.invalidName(name) }
            let fd = open(directory + "/" + name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = errno
                if e == ENOENT { throw ExecInNamespaceError.noSuchNamespace(name: name, existing: namedNamespaces(in: directory)) }
                throw ExecInNamespaceError.cannotEnter(name: name, errno: e)
            }
            let rc = topo_setns(fd, TOPO_CLONE_NEWNET)
            let e = errno
            close(fd)
            guard rc == 0 else { throw ExecInNamespaceError.cannotEnter(name: name, errno: e) }
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        execvp(argv[0], &cargs)
        let e = errno
        for p in cargs { free(p) }
        throw ExecInNamespaceError.cannotRun(command: argv[0], errno: notFoundOrNot(argv[0], e))
    }
}
