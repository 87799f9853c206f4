#if canImport(Glibc)
import Glibc
#endif
import Testing

// Glibc's Swift module hides the XOPEN/GNU declarations (posix_openpt, pipe2, …); fetch them
// from libc at run time instead.
private func libc<F>(_ name: String, as type: F.Type) -> F {
    guard let sym = dlsym(nil, name) else { fatalError("libc has no \(name)") }
    return unsafeBitCast(sym, to: type)
}
private let c_posix_openpt = libc("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
private let c_grantpt = libc("grantpt", as: (@convention(c) (Int32) -> Int32).self)
private let c_unlockpt = libc("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
private let c_ptsname_r = libc("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32).self)
private let c_pipe2 = libc("pipe2", as: (@convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32).self)
/// From <spawn.h> (a GNU extension the Swift module does not show).
private let POSIX_SPAWN_SETSID: Int32 = 0x80

/// Errors of the test harness itself.
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

private func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// A fresh private temporary directory, for XDG_STATE_HOME and scratch files.
func makeTempDirectory() throws -> String {
    var template = Array("/tmp/topo-repl-test-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw HarnessError("mkdtemp failed") }
    return String(cString: p)
}

func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/topo-repl-test-") else { return }
    guard let dir = opendir(path) else { unlink(path); return }
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        if name == "." || name == ".." { continue }
        let child = path + "/" + name
        if isDirectory(child) { removeTree(child) } else { unlink(child) }
    }
    closedir(dir)
    rmdir(path)
}

func readWholeFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeWholeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw HarnessError("cannot write \(path)") }
    fputs(text, f)
    fclose(f)
}

/// The environment for a spawned `topo`: the test's own, with overrides.
func childEnvironment(_ overrides: [String: String]) -> [String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    for (k, v) in overrides { env[k] = v }
    return env.map { "\($0.key)=\($0.value)" }
}

/// Spawns `path` with `argv`, `env` and the given file actions; returns the pid.
func spawn(_ path: String, _ argv: [String], env: [String], sessionLeader: Bool,
           actions: (inout posix_spawn_file_actions_t) -> Void) throws -> pid_t {
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    defer { posix_spawn_file_actions_destroy(&fa) }
    actions(&fa)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGPIPE)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setsigmask(&attr, &mask)
    var flags = Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
    if sessionLeader { flags |= POSIX_SPAWN_SETSID }
    posix_spawnattr_setflags(&attr, Int16(flags))

    let cargv = argv.map { strdup($0) } + [nil]
    let cenv = env.map { strdup($0) } + [nil]
    defer { cargv.forEach { free($0) }; cenv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &fa, &attr, cargv, cenv)
    guard rc == 0 else { throw HarnessError("posix_spawn \(path): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for `pid` up to `timeout` seconds; kills it (SIGKILL, this pid only) when it overstays.
/// Returns the exit code, or nil if it had to be killed or died of a signal.
func waitForExit(_ pid: pid_t, timeout: Double) -> Int32? {
    let deadline = monotonicSeconds() + timeout
    var status: Int32 = 0
    while monotonicSeconds() < deadline {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            // WIFEXITED / WEXITSTATUS
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
        }
        if r < 0 { return nil }
        usleep(10_000)
    }
    kill(pid, SIGKILL)
    _ = waitpid(pid, &status, 0)
    return nil
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Removes terminal escape sequences and carriage returns, keeping the visible text.
func stripEscapes(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if b == 0x1B, i + 1 < bytes.count {
            let n = bytes[i + 1]
            if n == UInt8(ascii: "[") {            // CSI … final byte 0x40–0x7E
                i += 2
                while i < bytes.count, !(0x40...0x7E).contains(bytes[i]) { i += 1 }
                i += 1
                continue
            }
            if n == UInt8(ascii: "]") {            // OSC … BEL or ST
                i += 2
                while i < bytes.count, bytes[i] != 0x07, bytes[i] != 0x1B { i += 1 }
                i += bytes.count > i && bytes[i] == 0x1B ? 2 : 1
                continue
            }
            i += 2
            continue
        }
        if b == UInt8(ascii: "\r") || b == 0x07 || b == 0x08 { i += 1; continue }
        out.append(b)
        i += 1
    }
    return String(decoding: out, as: UTF8.self)
}

/// A `topo` process on a real pseudo-terminal: type keys, wait for text on the screen.
/// Every wait has a deadline, so a test can never hang; the process is killed at the end.
final class PtySession {
    let master: Int32
    let pid: pid_t
    private(set) var raw: [UInt8] = []
    /// Where the next `expect` starts looking in the visible text.
    private var searchFrom: String.Index?
    private var exited: Int32??

    /// Spawns `topo ARGUMENTS…` on a new pty; with `executable`, spawns that program with
    /// `arguments` instead (e.g. `unshare … bash -c '… topo repl'` for a sandboxed session).
    init(arguments: [String], environment: [String: String], executable: String? = nil) throws {
        let m = c_posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        var name = [CChar](repeating: 0, count: 128)
        guard m >= 0, c_grantpt(m) == 0, c_unlockpt(m) == 0, c_ptsname_r(m, &name, name.count) == 0 else {
            if m >= 0 { close(m) }
            throw HarnessError("cannot open a pseudo-terminal")
        }
        let slave = String(cString: name)
        master = m
        let binary = executable ?? topoBinary
        guard access(binary, X_OK) == 0 else { close(m); throw HarnessError("no executable at \(binary)") }
        let env = childEnvironment(environment.merging(["TERM": "dumb", "INPUTRC": "/dev/null"]) { a, _ in a })
        do {
            // A new session, then opening the slave makes it the controlling terminal, so
            // Ctrl-C typed on the master becomes a SIGINT for topo.
            pid = try spawn(binary, executable == nil ? ["topo"] + arguments : [binary] + arguments,
                            env: env, sessionLeader: true) { fa in
                posix_spawn_file_actions_addopen(&fa, 0, slave, O_RDWR, 0)
                posix_spawn_file_actions_adddup2(&fa, 0, 1)
                posix_spawn_file_actions_adddup2(&fa, 0, 2)
            }
        } catch {
            close(m)
            throw error
        }
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        if exited == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        close(master)
    }

    /// Types `keys` (use "\r" for Enter, "\t" for Tab, "\u{03}" for Ctrl-C, "\u{04}" for Ctrl-D).
    func type(_ keys: String) {
        let bytes = Array(keys.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n > 0 { off += n } else if errno != EAGAIN && errno != EINTR { return } else { usleep(1000) }
        }
    }

    /// Reads whatever is there, waiting at most `timeout` seconds for something; false at EOF.
    @discardableResult
    private func pump(_ timeout: Double) -> Bool {
        var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(max(0, timeout * 1000)))
        guard r > 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = read(master, &chunk, chunk.count)
        if n > 0 { raw += chunk[0..<n]; return true }
        return n < 0 && (errno == EAGAIN || errno == EINTR)   // EIO: the slave side is gone
    }

    /// The visible text so far (escape sequences removed).
    var screen: String { stripEscapes(raw) }

    /// The visible text after the last successful `expect`.
    var unread: String {
        let s = screen
        return String(s[(searchFrom.flatMap { $0 <= s.endIndex ? $0 : nil } ?? s.startIndex)...])
    }

    /// Waits until `text` appears after the previous match; returns false on timeout.
    @discardableResult
    func expect(_ text: String, timeout: Double = 15) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while true {
            let s = screen
            let from = searchFrom.flatMap { $0 <= s.endIndex ? $0 : nil } ?? s.startIndex
            if let r = s[from...].firstRange(of: text) {
                searchFrom = r.upperBound
                return true
            }
            let left = deadline - monotonicSeconds()
            if left <= 0 { return false }
            if !pump(min(left, 0.2)) { // EOF: one last look
                let s2 = screen
                if let r = s2[from...].firstRange(of: text) { searchFrom = r.upperBound; return true }
                return false
            }
        }
    }

    /// Gives output a moment to arrive (for checks that something did NOT appear).
    func settle(_ seconds: Double = 0.5) {
        let deadline = monotonicSeconds() + seconds
        while monotonicSeconds() < deadline { pump(0.05) }
    }

    /// Waits for the process to end; nil if it had to be killed.
    func waitForExit(timeout: Double = 15) -> Int32? {
        let deadline = monotonicSeconds() + timeout
        var status: Int32 = 0
        while monotonicSeconds() < deadline {
            pump(0.05)
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                let code: Int32? = (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
                exited = .some(code)
                return code
            }
        }
        return nil
    }
}

/// Runs `topo ARGS` with `input` on a pipe (not a terminal); returns exit code, stdout, stderr.
func runWithPipe(_ arguments: [String], input: String, environment: [String: String])
    throws -> (code: Int32?, stdout: String, stderr: String)
{
    let dir = try makeTempDirectory()
    defer { removeTree(dir) }
    let outPath = dir + "/out", errPath = dir + "/err"
    var fds: [Int32] = [-1, -1]
    guard c_pipe2(&fds, O_CLOEXEC) == 0 else { throw HarnessError("pipe failed") }
    let pid = try spawn(topoBinary, ["topo"] + arguments, env: childEnvironment(environment), sessionLeader: true) { fa in
        posix_spawn_file_actions_adddup2(&fa, fds[0], 0)
        posix_spawn_file_actions_addopen(&fa, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fa, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }
    close(fds[0])
    writeWithoutSIGPIPE(fds[1], Array(input.utf8))   // a REPL that quits early drops the rest
    close(fds[1])
    let code = waitForExit(pid, timeout: 15)
    return (code, readWholeFile(outPath) ?? "", readWholeFile(errPath) ?? "")
}
