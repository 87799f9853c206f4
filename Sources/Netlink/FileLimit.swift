import Glibc

/// The open-file limit (RLIMIT_NOFILE). topo keeps two descriptors per namespace (its fd
/// and a netlink socket), so a 1000-namespace topology needs ~2000, while many systems
/// start processes with a soft limit of 1024.
public enum FileLimit {
    /// The current soft and hard limits.
    public static func current() throws -> (soft: UInt64, hard: UInt64) {
        var r = rlimit()
        try syscallChecked("getrlimit(RLIMIT_NOFILE)") { getrlimit(rlimitNoFile, &r) }
        return (UInt64(r.rlim_cur), UInt64(r.rlim_max))
    }

    /// Raises the soft limit to the hard limit (no privilege needed) and returns the new soft
    /// limit. A hard limit of "unlimited" is capped at `cap` (select(2)-free programs are
    /// fine with large values; the kernel's fs.nr_open bounds it anyway).
    @discardableResult
    public static func raiseSoftToHard(cap: UInt64 = 1 << 20) throws -> UInt64 {
        var r = rlimit()
        try syscallChecked("getrlimit(RLIMIT_NOFILE)") { getrlimit(rlimitNoFile, &r) }
        let target = min(UInt64(r.rlim_max), cap)
        if UInt64(r.rlim_cur) >= target { return UInt64(r.rlim_cur) }
        var want = r
        want.rlim_cur = rlim_t(target)
        if setrlimit(rlimitNoFile, &want) != 0 {
            // e.g. a cap above fs.nr_open: keep what we have.
            return UInt64(r.rlim_cur)
        }
        return target
    }

    /// Sets the soft limit, at most the hard limit (tests).
    public static func setSoft(_ value: UInt64) throws {
        let (_, hard) = try current()
        try set(soft: min(value, hard), hard: hard)
    }

    /// Sets both limits (raising the hard limit needs CAP_SYS_RESOURCE; tests).
    public static func set(soft: UInt64, hard: UInt64) throws {
        var r = rlimit()
        r.rlim_cur = rlim_t(soft)
        r.rlim_max = rlim_t(hard)
        try syscallChecked("setrlimit(RLIMIT_NOFILE)") { setrlimit(rlimitNoFile, &r) }
    }

    private static var rlimitNoFile: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
