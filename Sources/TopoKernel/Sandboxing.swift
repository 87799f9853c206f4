import CNetShim
import Glibc
import Netlink

/// The kernel side of `topo sandbox`: a private network + mount (+ PID) namespace, under a
/// user namespace that maps the caller to root when the caller is not privileged.
///
/// Order matters, and the CLI follows it:
/// 1. `enter(userNamespace:)` while the process has one thread (CLONE_NEWUSER and CLONE_NEWNS
///    refuse a multi-threaded caller): unshare user (if asked) + network + mount + PID
///    namespaces, write the uid/gid maps (`deny` to setgroups first, as the kernel requires),
///    make the whole mount tree private (nothing mounted inside propagates out).
/// 2. fork: the child is PID 1 of the new PID namespace; when it exits, the kernel kills
///    every process left in it — daemons and background jobs included — so nothing survives.
/// 3. In the child, `mountPrivateFileSystems()`: a /proc of the new PID namespace, a tmpfs on
///    /run (so /run/netns and /run/topo are the sandbox's own); `loopbackUp()`.
public enum Sandboxing {
    /// What went wrong, as one line for the user.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// The threads of this process (`/proc/self/task`).
    public static func threadCount() -> Int {
        guard let dir = opendir("/proc/self/task") else { return 1 }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            let first = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: UInt8.self, capacity: 1) { $0.pointee } }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n
    }

    /// Step 1. Throws a `Failure` naming the cause (for a refused user namespace, the sysctl
    /// or AppArmor setting that forbids it).
    public static func enter(userNamespace: Bool) throws {
        guard threadCount() == 1 else {
            throw Failure("internal error: the sandbox must be entered before topo starts threads")
        }
        let uid = geteuid(), gid = getegid()
        var flags = TOPO_CLONE_NEWNET | TOPO_CLONE_NEWNS | TOPO_CLONE_NEWPID
        if userNamespace { flags |= TOPO_CLONE_NEWUSER }
        if topo_unshare(flags) != 0 {
            let e = errno
            if userNamespace { throw Failure(userNamespaceRefusal(errno: e, step: "unshare(CLONE_NEWUSER)", read: readSysctl)) }
            throw Failure("cannot create the sandbox's namespaces: unshare: \(errnoText(e))")
        }
        if userNamespace {
            // The kernel takes an unprivileged gid_map only after setgroups is denied.
            for (file, text) in [("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", "0 \(uid) 1\n"),
                                 ("/proc/self/gid_map", "0 \(gid) 1\n")] {
                if let e = writeFile(file, text) {
                    throw Failure(userNamespaceRefusal(errno: e, step: "write \(file)", read: readSysctl))
                }
            }
        }
        if mount("none", "/", nil, UInt(MS_REC) | UInt(MS_PRIVATE), nil) != 0 {
            let e = errno
            if userNamespace { throw Failure(userNamespaceRefusal(errno: e, step: "mount --make-rprivate /", read: readSysctl)) }
            throw Failure("cannot make the sandbox's mounts private: \(errnoText(e))")
        }
    }

    /// Step 3 (in PID 1 of the new PID namespace): /proc for that namespace, a tmpfs on /run.
    public static func mountPrivateFileSystems() throws {
        let flags = UInt(MS_NOSUID) | UInt(MS_NODEV)
        if mount("proc", "/proc", "proc", flags | UInt(MS_NOEXEC), nil) != 0 {
            throw Failure("cannot mount /proc for the sandbox's PID namespace: \(errnoText(errno))")
        }
        if mount("tmpfs", "/run", "tmpfs", flags, "mode=755") != 0 {
            throw Failure("cannot mount a private tmpfs on /run: \(errnoText(errno))")
        }
    }

    /// `ip link set lo up` in the calling thread's network namespace.
    public static func loopbackUp() throws {
        do {
            let s = try NetlinkSocket()
            try s.execute(try LinkRequest.setUp(.name("lo"), true))
        } catch {
            throw Failure("cannot bring lo up in the sandbox: \(kernelError(error))")
        }
    }

    /// One line saying why a user namespace could not be made: the setting that forbids it
    /// when one does (`read` returns a sysctl's value by its /proc/sys path), else the error.
    public static func userNamespaceRefusal(errno e: Int32, step: String, read: (String) -> String?) -> String {
        func value(_ path: String) -> String? {
            read(path).map { String($0.filter { !$0.isWhitespace }) }
        }
        if value("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
            return "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0 "
                + "(as root: sysctl -w kernel.unprivileged_userns_clone=1); or run topo sandbox as root"
        }
        if let max = value("/proc/sys/user/max_user_namespaces"), max == "0" || e == ENOSPC {
            let why = max == "0" ? "user namespaces are disabled: user.max_user_namespaces is 0"
                : "the user namespace limit is reached: user.max_user_namespaces is \(max)"
            return why + " (as root: sysctl -w user.max_user_namespaces=15000)"
        }
        if value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" {
            return "AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1 "
                + "(as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
                + "for topo with `userns,`); or run topo sandbox as root"
        }
        if e == EUSERS {
            return "cannot create a user namespace: too deeply nested (the kernel allows 32 levels)"
        }
        return "cannot create a user namespace (\(step)): \(errnoText(e))"
    }

    static func readSysctl(_ path: String) -> String? { readSmallFile(path) }

    /// Writes `text` to `path` in one write; the errno on failure.
    private static func writeFile(_ path: String, _ text: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? nil : (n < 0 ? errno : EIO)
    }
}
