import CNetShim
import Glibc

/// Named network namespaces, made exactly as `ip netns add` makes them, so `ip netns
/// list/exec/del` see and use them: a file `DIR/NAME` on which the namespace is
/// bind-mounted, `DIR` being a shared mount point.
///
/// All file-system work (mkdir, mounts, open, unlink) happens on the instance's
/// `NamespaceThread`, so it acts in that thread's mount namespace.
public final class NamedNamespaces: @unchecked Sendable {
    /// The directory holding the namespace files ("/run/netns" for iproute2).
    public let directory: String
    private let thread: NamespaceThread
    private let lock = Mutex()
    private var prepared = false

    /// - Parameters:
    ///   - directory: where the namespace files live (default `/run/netns`, iproute2's).
    ///   - thread: the thread that does `unshare`/bind/`setns` back; created if nil (it
    ///     inherits the caller's namespaces).
    public init(directory: String = "/run/netns", thread: NamespaceThread? = nil) throws {
        self.directory = directory
        self.thread = try thread ?? NamespaceThread()
    }

    /// Checks a namespace name: a single non-empty path component, at most 255 bytes.
    public static func validate(_ name: String) throws {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255, name != ".", name != "..",
              !bytes.contains(UInt8(ascii: "/")), !bytes.contains(0) else {
            throw NetlinkError.invalidArgument("invalid namespace name '\(name)'")
        }
    }

    /// The file of a named namespace.
    public func path(of name: String) -> String { directory + "/" + name }

    /// `mkdir DIR`, lock it, make it a shared mount (bind it onto itself first if it is not
    /// a mount point yet), unlock — once per instance.
    private func prepare() throws {
        try lock.locked {
            if prepared { return }
            if mkdir(directory, 0o755) != 0 && Glibc.errno != EEXIST {
                throw NetlinkError.system(call: "mkdir(\(directory))", errno: Glibc.errno)
            }
            let dfd = try syscallChecked("open(\(directory))") { Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { close(dfd) }
            try syscallChecked("flock(\(directory))") { flock(dfd, LOCK_EX) }
            defer { flock(dfd, LOCK_UN) }
            let shared = UInt(MS_SHARED) | UInt(MS_REC)
            if mount("", directory, "none", shared, nil) != 0 {
                guard Glibc.errno == EINVAL else {
                    throw NetlinkError.system(call: "mount(--make-rshared \(directory))", errno: Glibc.errno)
                }
                try syscallChecked("mount(--bind \(directory))") {
                    mount(directory, directory, "none", UInt(MS_BIND) | UInt(MS_REC), nil)
                }
                try syscallChecked("mount(--make-rshared \(directory))") { mount("", directory, "none", shared, nil) }
            }
            prepared = true
        }
    }

    /// `ip netns add NAME`. Throws `.system(errno: EEXIST)` if the name is taken.
    public func create(_ name: String) throws {
        try create(name) { () }
    }

    /// `ip netns add NAME`, running `body` on the namespace thread while it is still inside
    /// the new namespace (open a socket or `/proc/thread-self/ns/net` there), all in one trip
    /// to the thread. If anything fails, the file is removed again and nothing is left.
    public func create<T>(_ name: String, inside body: () throws -> T) throws -> T {
        try NamedNamespaces.validate(name)
        let p = path(of: name)
        var fileCreated = false
        do {
            return try thread.createNamespace(boundTo: p, prepare: {
                try prepare()
                let fd = try syscallChecked("create \(p)") { Glibc.open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0) }
                close(fd)
                fileCreated = true
            }, inside: body)
        } catch {
            if fileCreated {
                _ = try? thread.run {
                    _ = umount2(p, Int32(MNT_DETACH))
                    unlink(p)
                }
            }
            throw error
        }
    }

    /// `ip netns del NAME`: detach the bind mount and remove the file. The kernel tears the
    /// namespace down once nothing (fd, socket, process) holds it.
    public func delete(_ name: String) throws {
        try NamedNamespaces.validate(name)
        let p = path(of: name)
        try thread.run { try deleteFile(name, p) }
    }

    /// `ip netns del` for several names in one trip to the namespace thread; one result per
    /// name, in order (a failure does not stop the others).
    ///
    /// Every `umount2` ends by waiting for an RCU grace period (the kernel's
    /// `namespace_unlock`), which takes long while the machine is busy (e.g. right after
    /// building a large topology: 0.3 ms each, 500 namespaces ~150–250 ms one by one).
    /// Concurrent waiters share grace periods, so more than `parallelThreshold` names are
    /// deleted by up to `maxDeleteThreads` helper threads at once (500: ~20–50 ms). The
    /// helpers are started from the namespace thread, so they share its mount namespace and
    /// file-system root (pthreads are created with CLONE_FS; a sandbox thread's helpers stay
    /// in the sandbox).
    public func delete(_ names: [String]) -> [Result<Void, Error>] {
        do {
            return try thread.run {
                let work = { (i: Int) -> Result<Void, Error> in
                    Result {
                        try NamedNamespaces.validate(names[i])
                        try self.deleteFile(names[i], self.path(of: names[i]))
                    }
                }
                let helpers = min(NamedNamespaces.maxDeleteThreads, (names.count + 7) / 8)
                guard names.count > NamedNamespaces.parallelThreshold, helpers > 1 else {
                    return names.indices.map(work)
                }
                return parallelMap(count: names.count, threads: helpers, work)
            }
        } catch {
            return names.map { _ in .failure(error) }
        }
    }

    /// Up to this many names are deleted on the namespace thread alone.
    static let parallelThreshold = 16
    /// At most this many helper threads delete namespaces at once (measured at star 500 right
    /// after apply: 1 thread 150–250 ms, 4: ~95, 16: ~40–110, 64: ~20).
    static let maxDeleteThreads = 64

    private func deleteFile(_ name: String, _ p: String) throws {
        if umount2(p, Int32(MNT_DETACH)) != 0 {
            let e = Glibc.errno
            if e == ENOENT { throw NetlinkError.system(call: "delete namespace \(name)", errno: ENOENT) }
            // EINVAL: not a mount point (a stale file): still remove it.
            if e != EINVAL { throw NetlinkError.system(call: "umount2(\(p))", errno: e) }
        }
        try syscallChecked("unlink(\(p))") { unlink(p) }
    }

    /// `ip netns attach NAME`-like: makes `DIR/NAME` a bind mount of the namespace behind `fd`
    /// again (used to put back a namespace whose file was removed while topo kept it open).
    public func attach(_ name: String, fd: Int32) throws {
        try NamedNamespaces.validate(name)
        let p = path(of: name)
        try thread.run {
            try prepare()
            let f = try syscallChecked("create \(p)") { Glibc.open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0) }
            close(f)
            if mount("/proc/self/fd/\(fd)", p, "none", UInt(MS_BIND), nil) != 0 {
                let e = Glibc.errno
                unlink(p)
                throw NetlinkError.system(call: "mount(--bind \(p))", errno: e)
            }
        }
    }

    /// `ip netns list`: the names in the directory that have a namespace mounted on them,
    /// sorted ([] if the directory does not exist). See `listHalfMade` for the others.
    public func list() throws -> [String] {
        try thread.run { try listFiles().filter { isMounted(path(of: $0)) } }
    }

    /// The files in the directory with no namespace mounted on them: left half-made by a
    /// crash between creating the file and binding the namespace onto it.
    public func listHalfMade() throws -> [String] {
        try thread.run { try listFiles().filter { !isMounted(path(of: $0)) } }
    }

    /// For each name: true (a namespace is mounted there), false (a half-made file), nil (no file).
    public func status(_ names: [String]) throws -> [Bool?] {
        try thread.run {
            names.map { n -> Bool? in
                guard (try? NamedNamespaces.validate(n)) != nil else { return nil }
                let p = path(of: n)
                let t = topo_fs_type(p)
                if t < 0 { return nil }
                return UInt64(t) == NamedNamespaces.nsfsMagic
            }
        }
    }

    /// Removes a half-made namespace file (refuses one that has a namespace on it).
    public func removeHalfMade(_ name: String) throws {
        try NamedNamespaces.validate(name)
        let p = path(of: name)
        try thread.run {
            guard !isMounted(p) else { throw NetlinkError.system(call: "remove half-made \(p)", errno: EBUSY) }
            try syscallChecked("unlink(\(p))") { unlink(p) }
        }
    }

    /// True when `p` is an nsfs file (a namespace bind-mounted on it).
    private func isMounted(_ p: String) -> Bool {
        let t = topo_fs_type(p)
        guard t >= 0 else { return true }  // gone or unreadable: let the caller find out
        return UInt64(t) == NamedNamespaces.nsfsMagic
    }

    /// NSFS_MAGIC (linux/magic.h).
    static let nsfsMagic: UInt64 = 0x6e73_6673

    private func listFiles() throws -> [String] {
        guard let dir = opendir(directory) else {
            if Glibc.errno == ENOENT { return [] }
            throw NetlinkError.system(call: "opendir(\(directory))", errno: Glibc.errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Opens several named namespaces in one trip to the thread; one result per name.
    public func open(many names: [String]) -> [Result<NamespaceFD, Error>] {
        let paths = names.map { n -> Result<String, Error> in Result { try NamedNamespaces.validate(n); return path(of: n) } }
        do {
            return try thread.run { paths.map { p in p.flatMap { path in Result { try NamespaceFD(path: path) } } } }
        } catch {
            return names.map { _ in .failure(error) }
        }
    }

    /// Opens a named namespace (for `IFLA_NET_NS_FD` or `NamespaceThread.run(inNamespace:)`).
    public func open(_ name: String) throws -> NamespaceFD {
        try NamedNamespaces.validate(name)
        let p = path(of: name)
        return try thread.run { try NamespaceFD(path: p) }
    }
}
