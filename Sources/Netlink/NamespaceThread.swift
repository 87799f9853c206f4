import CNetShim
import Glibc

/// An open namespace file descriptor (`/run/netns/NAME`, `/proc/…/ns/net`), closed when
/// the value is released.
public final class NamespaceFD: @unchecked Sendable {
    public let fd: Int32
    public init(adopting fd: Int32) { self.fd = fd }
    /// Opens a namespace file (O_RDONLY|O_CLOEXEC).
    public convenience init(path: String) throws {
        let fd = try syscallChecked("open(\(path))") { open(path, O_RDONLY | O_CLOEXEC) }
        self.init(adopting: fd)
    }
    deinit { close(fd) }
}

/// One OS thread that runs closures, optionally inside another network namespace.
///
/// `setns` and `unshare(CLONE_NEWNET)` change only the calling thread, so all namespace
/// switching happens here and never on the caller's thread. After a closure that entered a
/// namespace the thread switches back to its home namespace; if that fails the thread is
/// retired (never runs anything again) and a replacement, which first enters the home
/// namespace, takes over. Calls block the caller until the closure has run; they are
/// serialised. Never suspend inside a closure.
///
/// The home namespace is the one the thread was created in (threads inherit their
/// creator's namespaces), or a new one with `init(unsharing:)`.
public final class NamespaceThread: @unchecked Sendable {
    private let callLock = Mutex()
    private var worker: Worker
    /// The home network namespace (kept open to re-enter it in a replacement thread).
    private let home: NamespaceFD
    /// The home mount namespace: a replacement thread re-enters it too, so a sandbox thread
    /// (one that unshared its mount namespace) is never replaced by one outside the sandbox.
    private let homeMount: NamespaceFD

    /// Starts a thread whose home is the creator's network namespace.
    public convenience init() throws { try self.init(unsharing: 0) }

    /// Starts a thread that first calls `unshare(flags)` (e.g. `CLONE_NEWNET|CLONE_NEWNS`,
    /// via `NamespaceThread.newNetwork`/`newMount`), so its home is a fresh namespace:
    /// a sandbox. Threads created by closures running on it inherit that sandbox.
    public init(unsharing flags: Int32) throws {
        let w = try Worker.start()
        var homeFD: Int32 = -1, mountFD: Int32 = -1
        var failure: Error? = nil
        w.perform {
            do {
                if flags != 0 { try syscallChecked("unshare") { topo_unshare(flags) } }
                homeFD = try syscallChecked("open(/proc/thread-self/ns/net)") {
                    open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                }
                mountFD = try syscallChecked("open(/proc/thread-self/ns/mnt)") {
                    open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)
                }
            } catch { failure = error }
        }
        if let failure {
            if homeFD >= 0 { close(homeFD) }
            w.stop()
            throw failure
        }
        worker = w
        home = NamespaceFD(adopting: homeFD)
        homeMount = NamespaceFD(adopting: mountFD)
    }

    deinit { worker.stop() }

    /// CLONE_NEWNET, for `init(unsharing:)`.
    public static let newNetwork: Int32 = TOPO_CLONE_NEWNET
    /// CLONE_NEWNS, for `init(unsharing:)`.
    public static let newMount: Int32 = TOPO_CLONE_NEWNS

    /// The kernel thread id (for `/proc/PID/task/TID/ns/net`).
    public var threadID: Int32 { callLock.locked { worker.tid } }

    /// `/proc/PID/task/TID/ns/KIND` of the thread (KIND: "net", "mnt").
    public func namespacePath(_ kind: String = "net") -> String {
        "/proc/\(getpid())/task/\(threadID)/ns/\(kind)"
    }

    /// Runs `body` on the thread, in its home namespace.
    public func run<T>(_ body: () throws -> T) throws -> T {
        try callLock.locked {
            try ensureWorker()
            var result: Result<T, Error>!
            withoutActuallyEscaping(body) { body in
                worker.perform { result = Result { try body() } }
            }
            return try result.get()
        }
    }

    /// Runs `body` on the thread after `setns(namespace, CLONE_NEWNET)`; switches back
    /// to the home namespace afterwards (`ip netns exec NS …` for in-process work).
    public func run<T>(inNamespace namespace: Int32, _ body: () throws -> T) throws -> T {
        try callLock.locked {
            try ensureWorker()
            var result: Result<T, Error>!
            let homeFD = home.fd
            let w = worker
            withoutActuallyEscaping(body) { body in
                w.perform {
                    if topo_setns(namespace, TOPO_CLONE_NEWNET) != 0 {
                        result = .failure(NetlinkError.system(call: "setns", errno: Glibc.errno))
                        return
                    }
                    result = Result { try body() }
                    if topo_setns(homeFD, TOPO_CLONE_NEWNET) != 0 { w.retired = true }
                }
            }
            return try result.get()
        }
    }

    /// Opens a `NetlinkSocket` inside `namespace`; the socket stays bound to it for life.
    public func openSocket(inNamespace namespace: Int32) throws -> NetlinkSocket {
        try run(inNamespace: namespace) { try NetlinkSocket() }
    }

    /// Opens one socket inside each namespace, all in one trip to the thread (it enters each in
    /// turn and goes home at the end); one result per namespace.
    public func openSockets(inNamespaces namespaces: [Int32]) throws -> [Result<NetlinkSocket, Error>] {
        try callLock.locked {
            try ensureWorker()
            var result: [Result<NetlinkSocket, Error>] = []
            let homeFD = home.fd
            let w = worker
            w.perform {
                result.reserveCapacity(namespaces.count)
                for ns in namespaces {
                    if topo_setns(ns, TOPO_CLONE_NEWNET) != 0 {
                        result.append(.failure(NetlinkError.system(call: "setns", errno: Glibc.errno)))
                        continue
                    }
                    result.append(Result { try NetlinkSocket() })
                }
                if topo_setns(homeFD, TOPO_CLONE_NEWNET) != 0 { w.retired = true }
            }
            return result
        }
    }

    /// Makes a new network namespace and bind-mounts it on `path`, all in one trip to the
    /// thread: `prepare()` (in the home namespace, e.g. create the file), `unshare(CLONE_NEWNET)`,
    /// bind `/proc/thread-self/ns/net` onto `path`, `inside()` while still in the new namespace
    /// (e.g. open a socket or an fd there, saving a later `setns` round trip), `setns` home.
    /// The caller removes the file if this throws.
    func createNamespace<T>(boundTo path: String, prepare: () throws -> Void, inside body: () throws -> T) throws -> T {
        try callLock.locked {
            try ensureWorker()
            var result: Result<T, Error>!
            let homeFD = home.fd
            let w = worker
            withoutActuallyEscaping(prepare) { prepare in
                withoutActuallyEscaping(body) { body in
                    w.perform {
                        do { try prepare() } catch { result = .failure(error); return }
                        do {
                            try syscallChecked("unshare(CLONE_NEWNET)") { topo_unshare(TOPO_CLONE_NEWNET) }
                        } catch { result = .failure(error); return }
                        var r: Result<T, Error>
                        do {
                            try syscallChecked("mount(bind \(path))") {
                                mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil)
                            }
                            r = Result { try body() }
                        } catch { r = .failure(error) }
                        if topo_setns(homeFD, TOPO_CLONE_NEWNET) != 0 {
                            w.retired = true
                            if case .success = r { r = .failure(NetlinkError.system(call: "setns(home)", errno: Glibc.errno)) }
                        }
                        result = r
                    }
                }
            }
            return try result.get()
        }
    }

    /// Runs `body` inside a fresh, unnamed network namespace that is gone afterwards (to learn
    /// what a new namespace starts with, e.g. its sysctl defaults).
    public func runInFreshNamespace<T>(_ body: () throws -> T) throws -> T {
        try callLock.locked {
            try ensureWorker()
            var result: Result<T, Error>!
            let homeFD = home.fd
            let w = worker
            withoutActuallyEscaping(body) { body in
                w.perform {
                    do {
                        try syscallChecked("unshare(CLONE_NEWNET)") { topo_unshare(TOPO_CLONE_NEWNET) }
                    } catch { result = .failure(error); return }
                    result = Result { try body() }
                    if topo_setns(homeFD, TOPO_CLONE_NEWNET) != 0 { w.retired = true }
                }
            }
            return try result.get()
        }
    }

    /// Replaces a retired worker with a new thread that first re-enters the home namespace.
    private func ensureWorker() throws {
        guard worker.retired else { return }
        worker.stop()
        let w = try Worker.start()
        var ok = true
        let homeFD = home.fd, mountFD = homeMount.fd
        w.perform {
            // setns(CLONE_NEWNS) needs a thread with its own fs_struct (unshare(CLONE_FS)).
            ok = topo_unshare(TOPO_CLONE_FS) == 0 && topo_setns(mountFD, TOPO_CLONE_NEWNS) == 0
                && topo_setns(homeFD, TOPO_CLONE_NEWNET) == 0
        }
        guard ok else {
            w.stop()
            throw NetlinkError.system(call: "setns(home) in a replacement thread", errno: EPERM)
        }
        worker = w
    }
}

/// The OS thread behind a NamespaceThread: a one-slot job queue.
final class Worker: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: (() -> Void)?
    private var done = false
    private var exiting = false
    private var thread: pthread_t?
    /// Set by a job when switching back home failed: the thread must run nothing more.
    var retired = false
    var tid: Int32 = 0

    private init() {
        mutex.initialize(to: pthread_mutex_t())
        cond.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    static func start() throws -> Worker {
        let w = Worker()
        let context = Unmanaged.passRetained(w).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { ctx in
            let w = Unmanaged<Worker>.fromOpaque(ctx!).takeRetainedValue()
            w.loop()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Worker>.fromOpaque(context).release()
            throw NetlinkError.system(call: "pthread_create", errno: rc)
        }
        w.thread = t
        w.perform { w.tid = topo_gettid() }
        return w
    }

    private func loop() {
        pthread_mutex_lock(mutex)
        while true {
            while job == nil && !exiting { pthread_cond_wait(cond, mutex) }
            guard let j = job else { break }
            pthread_mutex_unlock(mutex)
            j()
            pthread_mutex_lock(mutex)
            job = nil
            done = true
            pthread_cond_broadcast(cond)
            if retired { break }
        }
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` on the thread and waits for it.
    func perform(_ body: @escaping () -> Void) {
        pthread_mutex_lock(mutex)
        job = body
        done = false
        pthread_cond_broadcast(cond)
        while !done { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Asks the thread to end and waits for it.
    func stop() {
        pthread_mutex_lock(mutex)
        exiting = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
    }
}

/// Shared state of `parallelMap`: the next index to take, the body and the result slots.
private final class ParallelWork<T>: @unchecked Sendable {
    let lock = Mutex()
    var next = 0
    let count: Int
    let body: (Int) -> T
    let results: UnsafeMutablePointer<T?>
    init(count: Int, body: @escaping (Int) -> T, results: UnsafeMutablePointer<T?>) {
        self.count = count
        self.body = body
        self.results = results
    }
    func take() -> Int? {
        lock.locked {
            guard next < count else { return nil }
            next += 1
            return next - 1
        }
    }
    /// Each index is taken once, so every slot is written by one thread only.
    func drain() { while let i = take() { results[i] = body(i) } }
}

/// Runs `body` for every index in `0..<count` on the calling thread plus up to `threads` new
/// threads started from it (so they inherit its namespaces and fs_struct), each taking the
/// next index until none is left; returns the results in index order. If a thread cannot be
/// started, the others (and the calling thread) do its share. All threads are joined before
/// this returns.
public func parallelMap<T>(count: Int, threads: Int, _ body: @escaping (Int) -> T) -> [T] {
    let results = UnsafeMutablePointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil, count: count)
    defer {
        results.deinitialize(count: count)
        results.deallocate()
    }
    let shared = ParallelWork(count: count, body: body, results: results)
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, 256 << 10)
    defer { pthread_attr_destroy(&attr) }
    var started: [pthread_t] = []
    for _ in 0..<max(0, threads) {
        let context = Unmanaged.passRetained(shared as AnyObject).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, &attr, { ctx in
            let s = Unmanaged<AnyObject>.fromOpaque(ctx!).takeRetainedValue()
            (s as! Drainable).drain()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            break
        }
        started.append(t)
    }
    shared.drain()
    for t in started { pthread_join(t, nil) }
    return (0..<count).map { results[$0]! }
}

private protocol Drainable: AnyObject { func drain() }
extension ParallelWork: Drainable {}
