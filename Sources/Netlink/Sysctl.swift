import Glibc

/// Kernel parameters under /proc/sys. Network keys (`net.*`) act on the network namespace
/// of the calling thread: call these inside `NamespaceThread.run(inNamespace:)` to reach
/// another namespace (`ip netns exec NS sysctl -w KEY=VALUE`).
public enum Sysctl {
    /// The /proc/sys path of a key: `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
    /// A key containing `/` is taken as slash-separated (so interface names may hold dots:
    /// `net/ipv4/conf/eth0.5/forwarding`).
    public static func path(for key: String) throws -> String {
        let separator: Character = key.contains("/") ? "/" : "."
        let parts = key.split(separator: separator, omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }) else {
            throw NetlinkError.invalidArgument("invalid sysctl key '\(key)'")
        }
        return "/proc/sys/" + parts.joined(separator: "/")
    }

    /// `sysctl -w KEY=VALUE` in the calling thread's namespace: VALUE and a newline, written as
    /// sysctl(8) writes them (stdio: what a short write leaves is written again).
    ///
    /// A short write is not an error: Linux 6.1 (the user-mode-Linux lane's kernel; 6.18 does
    /// not) answers a write of `net.ipv6.conf.*.forwarding` with 1 whatever its length
    /// (addrconf_sysctl_forward returns addrconf_fixup_forwarding's 1) after applying the
    /// value; the newline that is left then parses as no value and changes nothing.
    public static func write(key: String, value: String) throws {
        let p = try path(for: key)
        let fd = try syscallChecked("open(\(p))") { open(p, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(value.utf8) + [0x0a]
        var done = 0
        for _ in 0..<bytes.count where done < bytes.count {
            let n = try bytes.withUnsafeBytes { b in
                try syscallChecked("write(\(p))") { Glibc.write(fd, b.baseAddress! + done, b.count - done) }
            }
            guard n > 0 else { throw NetlinkError.system(call: "write(\(p)) wrote nothing", errno: EIO) }
            done += n
        }
    }

    /// `sysctl -n KEY` in the calling thread's namespace, without the trailing newline.
    public static func read(key: String) throws -> String {
        let p = try path(for: key)
        let fd = try syscallChecked("open(\(p))") { open(p, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = try chunk.withUnsafeMutableBytes { b in try syscallChecked("read(\(p))") { Glibc.read(fd, b.baseAddress, b.count) } }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        while out.last == 0x0a { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}

extension NamespaceThread {
    /// `ip netns exec NS sysctl -w KEY=VALUE`, in-process.
    public func writeSysctl(key: String, value: String, inNamespace namespace: Int32) throws {
        try run(inNamespace: namespace) { try Sysctl.write(key: key, value: value) }
    }
    /// `ip netns exec NS sysctl -n KEY`, in-process.
    public func readSysctl(key: String, inNamespace namespace: Int32) throws -> String {
        try run(inNamespace: namespace) { try Sysctl.read(key: key) }
    }
}

/// Reads and writes the sysctls of many namespaces without the cost that grows with their
/// number.
///
/// Every open() of /proc/sys/net/… walks, per path component, the dentry hash chain of that
/// name under its parent; with one proc superblock, the chain holds one dentry per namespace
/// that ever looked the name up, and proc_sys_compare runs on each. So each write costs
/// O(namespaces): at 2000 namespaces 150–1300 µs a write, against ~5 µs at a few
/// (bench/sysctl-paths.py). This accessor works on a thread of its own in a private mount
/// namespace (`/` made rprivate, so nothing propagates out) with a procfs of its own mounted on
/// /proc, mounted afresh every `remountEvery` namespaces: its chains never hold more than that
/// many namespaces' dentries. Measured at 2000 namespaces: 26–52 µs a write with 32 (the mount
/// and unmount cost ~0.2–0.4 ms, so 16–64 is the sweet spot).
///
/// A write goes to the namespace the thread is in when it opens the file, so each call enters
/// the namespace (setns) for the open. Where mounting procfs is not allowed (an unprivileged
/// user namespace), it falls back to the inherited /proc (`usesPrivateProc` false). Calls are
/// serialised.
public final class SysctlAccessor: @unchecked Sendable {
    private let thread: NamespaceThread
    private let lock = Mutex()
    private var namespacesSinceMount = 0
    private var mounted = false
    /// Namespaces served by one procfs before it is mounted afresh.
    public let remountEvery: Int
    /// False when procfs could not be mounted: the inherited /proc is used.
    public private(set) var usesPrivateProc: Bool

    /// - Parameter parent: the thread whose namespaces (network and mount) to start from; the
    ///   accessor's own thread is created from it, so a sandboxed caller stays sandboxed.
    public init(parent: NamespaceThread, remountEvery: Int = 32) throws {
        self.remountEvery = max(1, remountEvery)
        thread = try parent.run { try NamespaceThread(unsharing: NamespaceThread.newMount) }
        usesPrivateProc = (try? thread.run { () throws -> Bool in
            // Private propagation first: a mount here must never reach the parent's namespace.
            guard mount(nil, "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) == 0 else { return false }
            return true
        }) ?? false
        if usesPrivateProc { usesPrivateProc = (try? remount()) != nil }
    }

    deinit {
        if mounted { _ = try? thread.run { umount2("/proc", Int32(MNT_DETACH)) } }
    }

    /// Unmounts our procfs (if any) and mounts a fresh one on /proc, on the thread.
    private func remount() throws {
        let wasMounted = mounted
        try thread.run {
            if wasMounted { _ = umount2("/proc", Int32(MNT_DETACH)) }
            let flags = UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC)
            try syscallChecked("mount(proc)") { mount("proc", "/proc", "proc", flags, nil) }
        }
        mounted = true
        namespacesSinceMount = 0
    }

    private func enter() {
        guard usesPrivateProc else { return }
        if namespacesSinceMount >= remountEvery {
            if (try? remount()) == nil { usesPrivateProc = false }
        }
        namespacesSinceMount += 1
    }

    /// `sysctl -w KEY=VALUE` for each item, in order, inside `namespace` (one trip to the thread).
    public func write(_ items: [(key: String, value: String)], inNamespace namespace: Int32) -> [Result<Void, NetlinkError>] {
        lock.locked {
            enter()
            var out: [Result<Void, NetlinkError>] = []
            do {
                try thread.run(inNamespace: namespace) {
                    for (k, v) in items {
                        out.append(Result { try Sysctl.write(key: k, value: v) }.mapError { $0 as? NetlinkError ?? .invalidArgument("\($0)") })
                    }
                }
            } catch {
                let e = error as? NetlinkError ?? .invalidArgument("\(error)")
                while out.count < items.count { out.append(.failure(e)) }
            }
            return out
        }
    }

    /// `sysctl -w KEY=VALUE` inside `namespace`.
    public func write(key: String, value: String, inNamespace namespace: Int32) throws {
        try write([(key, value)], inNamespace: namespace)[0].get()
    }

    /// `sysctl -n KEY` for each key inside `namespace`; keys that do not exist are absent.
    public func read(_ keys: [String], inNamespace namespace: Int32) throws -> [String: String] {
        try lock.locked {
            enter()
            return try thread.run(inNamespace: namespace) {
                var out: [String: String] = [:]
                for k in keys { if let v = try? Sysctl.read(key: k) { out[k] = v } }
                return out
            }
        }
    }
}
