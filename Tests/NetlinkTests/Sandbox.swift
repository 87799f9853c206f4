import Foundation
import Glibc
import Netlink

/// Kernel tests need root. They are skipped (with this reason) otherwise — unless CI=true,
/// where they run and fail, so a CI without privileges cannot pass silently.
let kernelTestsEnabled = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true"

/// A throwaway sandbox: a dedicated thread that unshared its network AND mount namespaces
/// (never the machine's), made `/` rprivate and mounted a tmpfs on /run. Everything a
/// test does to the kernel runs on this thread or on threads it creates (which inherit
/// the sandbox), and the observer (`ip`) is entered into it with nsenter.
final class Sandbox {
    let thread: NamespaceThread

    init() throws {
        thread = try NamespaceThread(unsharing: NamespaceThread.newNetwork | NamespaceThread.newMount)
        try thread.run {
            guard mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) == 0 else {
                throw NetlinkError.system(call: "mount --make-rprivate /", errno: errno)
            }
            guard mount("none", "/run", "tmpfs", 0, nil) == 0 else {
                throw NetlinkError.system(call: "mount tmpfs /run", errno: errno)
            }
        }
    }

    /// A netlink socket in the sandbox's network namespace.
    func socket() throws -> NetlinkSocket { try thread.run { try NetlinkSocket() } }

    /// Named namespaces in the sandbox's /run/netns, worked on by a thread of the sandbox.
    func namedNamespaces() throws -> NamedNamespaces { try thread.run { try NamedNamespaces() } }

    /// Runs `ip ARGS…` (or any command) inside the sandbox via nsenter.
    func observe(_ args: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["nsenter", "--net=" + thread.namespacePath("net"), "--mount=" + thread.namespacePath("mnt")] + args)
    }

    /// `ip -j ARGS…` in the sandbox, parsed.
    func ipJSON(_ args: [String]) throws -> [[String: Any]] {
        let (status, out) = try observe(["ip", "-j"] + args)
        guard status == 0 else { throw NetlinkError.invalidArgument("ip \(args) failed: \(out)") }
        let trimmed = out.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        return (try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [[String: Any]]) ?? []
    }
}

/// posix_spawnp with stdout+stderr captured.
func runCommand(_ args: [String]) throws -> (status: Int32, output: String) {
    var pipeFDs: [Int32] = [0, 0]
    guard pipe(&pipeFDs) == 0 else { throw NetlinkError.system(call: "pipe", errno: errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, args[0], &actions, nil, argv, environ)
    close(pipeFDs[1])
    guard rc == 0 else { close(pipeFDs[0]); throw NetlinkError.system(call: "posix_spawnp \(args[0])", errno: rc) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(pipeFDs[0], &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    close(pipeFDs[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitCode, String(decoding: out, as: UTF8.self))
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func ipv4(_ s: String) -> [UInt8] { s.split(separator: ".").map { UInt8($0) ?? 0 } }
func ipv6(_ s: String) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 16)
    _ = s.withCString { inet_pton(AF_INET6, $0, &out) }
    return out
}
