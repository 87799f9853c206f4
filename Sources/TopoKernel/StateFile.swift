#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// What topo's runs of one script created: exactly what `destroy` may remove.
///
/// - `namespaces`: named namespaces topo created (their links, addresses and routes go with them).
/// - `linkGroups`: per namespace topo did not create, the `IFLA_GROUP` ids it gave the links it
///   created there (one fresh id per run, checked unused at the time). Deleting by group removes
///   them in one request; only topo-created links carry these ids.
/// - `links`: those links by name (for display; deletion goes by group).
/// - `addresses` / `routes`: added in namespaces topo did not create, on links it did not create.
public struct OwnershipRecord: Hashable, Sendable {
    /// The script's absolute path (informational).
    public var script: String
    public var namespaces: [String]
    public var linkGroups: [String: [UInt32]]
    public var links: [LinkID]
    public var addresses: [OwnedAddress]
    public var routes: [OwnedRoute]

    public struct OwnedAddress: Hashable, Sendable {
        public var link: LinkID
        public var prefix: IPPrefix
        public init(link: LinkID, prefix: IPPrefix) {
            self.link = link
            self.prefix = prefix
        }
    }

    public struct OwnedRoute: Hashable, Sendable {
        public var namespace: String
        public var route: RouteSpec
        public init(namespace: String, route: RouteSpec) {
            self.namespace = namespace
            self.route = route
        }
    }

    public init(script: String = "", namespaces: [String] = [], linkGroups: [String: [UInt32]] = [:],
                links: [LinkID] = [], addresses: [OwnedAddress] = [], routes: [OwnedRoute] = []) {
        self.script = script
        self.namespaces = namespaces
        self.linkGroups = linkGroups
        self.links = links
        self.addresses = addresses
        self.routes = routes
    }

    /// True when nothing is recorded.
    public var isEmpty: Bool {
        namespaces.isEmpty && linkGroups.isEmpty && links.isEmpty && addresses.isEmpty && routes.isEmpty
    }

    /// Adds another run's record (keeping first-seen order, no duplicates).
    public mutating func merge(_ other: OwnershipRecord) {
        func add<T: Hashable>(_ a: inout [T], _ b: [T]) { for x in b where !a.contains(x) { a.append(x) } }
        if !other.script.isEmpty { script = other.script }
        add(&namespaces, other.namespaces)
        for (ns, gs) in other.linkGroups { add(&linkGroups[ns, default: []], gs) }
        add(&links, other.links)
        add(&addresses, other.addresses)
        add(&routes, other.routes)
    }

    // MARK: text form

    /// The file's text: one record a line, fields separated by spaces, each field
    /// percent-escaped (so any namespace name survives).
    public func serialized() -> String {
        var lines = ["topo-state 1"]
        lines.append("script \(esc(script))")
        for n in namespaces { lines.append("namespace \(esc(n))") }
        for ns in linkGroups.keys.sorted() {
            for g in linkGroups[ns] ?? [] { lines.append("group \(esc(ns)) \(g)") }
        }
        for l in links { lines.append("link \(esc(l.namespace)) \(esc(l.name))") }
        for a in addresses { lines.append("address \(esc(a.link.namespace)) \(esc(a.link.name)) \(a.prefix)") }
        for r in routes {
            let rt = r.route
            lines.append("route \(esc(r.namespace)) \(rt.destination) \(rt.gateway.map { "\($0)" } ?? "-") "
                         + "\(rt.device.map(esc) ?? "-") \(rt.metric.map { "\($0)" } ?? "-")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `serialized()` text; nil (not a crash) on anything malformed.
    public init?(parsing text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard let first = lines.first, first == "topo-state 1" else { return nil }
        lines.removeFirst()
        self.init()
        for line in lines {
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let tag = f.first else { return nil }
            switch (tag, f.count) {
            case ("script", 2):
                guard let s = unesc(f[1]) else { return nil }
                script = s
            case ("namespace", 2):
                guard let n = unesc(f[1]) else { return nil }
                namespaces.append(n)
            case ("group", 3):
                guard let n = unesc(f[1]), let g = UInt32(f[2]) else { return nil }
                linkGroups[n, default: []].append(g)
            case ("link", 3):
                guard let n = unesc(f[1]), let l = unesc(f[2]) else { return nil }
                links.append(LinkID(n, l))
            case ("address", 4):
                guard let n = unesc(f[1]), let l = unesc(f[2]), let p = IPPrefix(f[3]) else { return nil }
                addresses.append(OwnedAddress(link: LinkID(n, l), prefix: p))
            case ("route", 6):
                guard let n = unesc(f[1]), let d = IPPrefix(f[2]) else { return nil }
                var gw: IPAddress? = nil, dev: String? = nil, metric: Int? = nil
                if f[3] != "-" { guard let g = IPAddress(f[3]) else { return nil }; gw = g }
                if f[4] != "-" { guard let x = unesc(f[4]) else { return nil }; dev = x }
                if f[5] != "-" { guard let m = Int(f[5]) else { return nil }; metric = m }
                routes.append(OwnedRoute(namespace: n, route: RouteSpec(destination: d, gateway: gw, device: dev, metric: metric)))
            default:
                return nil
            }
        }
    }
}

private func esc(_ s: String) -> String {
    if s.isEmpty { return "%" }
    var out = ""
    for b in s.utf8 {
        if b <= 0x20 || b == UInt8(ascii: "%") || b >= 0x7f || b == UInt8(ascii: "-") && s.utf8.count == 1 {
            out += "%" + String(b >> 4, radix: 16) + String(b & 0xf, radix: 16)
        } else {
            out.unicodeScalars.append(Unicode.Scalar(b))
        }
    }
    return out
}

private func unesc(_ s: String) -> String? {
    if s == "%" { return "" }
    var bytes: [UInt8] = []
    let u = Array(s.utf8)
    var i = 0
    while i < u.count {
        if u[i] == UInt8(ascii: "%") {
            guard i + 2 < u.count,
                  let v = UInt8(String(decoding: u[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(v)
            i += 3
        } else {
            bytes.append(u[i])
            i += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// An error of the state directory or its files.
public struct StateFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// The state directory (default `/run/topo`): one `KEY.state` file per topology and a
/// `KEY.lock` file that serialises concurrent runs of that topology.
public struct StateStore: Sendable {
    public static let defaultDirectory = "/run/topo"
    public var directory: String

    public init(directory: String = StateStore.defaultDirectory) {
        self.directory = directory
    }

    /// The key of a script: its basename, `-`, and a 64-bit FNV-1a hash of its absolute path
    /// (`lab.topo-3f2a…`). Anything but `[A-Za-z0-9._-]` in the basename becomes `_`.
    public static func key(forScriptPath absolutePath: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in absolutePath.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let base = absolutePath.split(separator: "/").last.map(String.init) ?? "script"
        var clean = String(base.unicodeScalars.map { c -> Character in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-"))
                ? Character(c) : "_"
        })
        if clean.isEmpty || clean.hasPrefix(".") { clean = "_" + clean }
        if clean.utf8.count > 64 { clean = String(clean.prefix(64)) }
        let hex = String(h, radix: 16)
        return clean + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    public func statePath(_ key: String) -> String { directory + "/" + key + ".state" }
    public func lockPath(_ key: String) -> String { directory + "/" + key + ".lock" }

    /// Creates the directory (and its parents) if missing.
    public func ensureDirectory() throws {
        var path = ""
        for part in directory.split(separator: "/") {
            path += "/" + part
            if mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw StateFileError(path: path, reason: errnoText(errno))
            }
        }
    }

    /// Takes the topology's lock (blocking until another run of it finishes).
    public func lock(_ key: String, wait: Bool = true) throws -> StateLock {
        try ensureDirectory()
        let path = lockPath(key)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFileError(path: path, reason: errnoText(errno)) }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let e = errno
            if e == EINTR { continue }
            close(fd)
            if e == EWOULDBLOCK { throw StateFileError(path: path, reason: "another topo run of this topology holds the lock") }
            throw StateFileError(path: path, reason: errnoText(e))
        }
        return StateLock(fd: fd)
    }

    /// The recorded state, or nil when there is none.
    public func load(_ key: String) throws -> OwnershipRecord? {
        let path = statePath(key)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateFileError(path: path, reason: errnoText(errno))
        }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateFileError(path: path, reason: errnoText(errno))
            }
            if n == 0 { break }
            data += buf[0..<n]
            if data.count > 64 << 20 { throw StateFileError(path: path, reason: "state file too large") }
        }
        guard let rec = OwnershipRecord(parsing: String(decoding: data, as: UTF8.self)) else {
            throw StateFileError(path: path, reason: "malformed state file")
        }
        return rec
    }

    /// Writes the record atomically: a temporary file in the same directory, fsync, rename.
    public func save(_ record: OwnershipRecord, key: String) throws {
        try ensureDirectory()
        let path = statePath(key)
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFileError(path: tmp, reason: errnoText(errno)) }
        let bytes = Array(record.serialized().utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                unlink(tmp)
                throw StateFileError(path: tmp, reason: errnoText(e))
            }
            off += n
        }
        fsync(fd)
        close(fd)
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw StateFileError(path: path, reason: errnoText(e))
        }
    }

    /// Removes the state file (missing is fine).
    public func remove(_ key: String) throws {
        let path = statePath(key)
        if unlink(path) != 0 && errno != ENOENT { throw StateFileError(path: path, reason: errnoText(errno)) }
    }
}

/// A held topology lock; released by `unlock()` or when the process exits.
public final class StateLock {
    private var fd: Int32
    init(fd: Int32) { self.fd = fd }
    /// Releases the lock.
    public func unlock() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }
    deinit { unlock() }
}

/// What `destroy` removed.
public struct DestroyReport: Hashable, Sendable {
    /// False when no state was recorded for the key (nothing to do).
    public var hadState: Bool
    public var namespaces: [String]
    /// Namespaces where links were deleted by group.
    public var linkGroupNamespaces: [String]
    public var addresses: Int
    public var routes: Int
    /// `removed 2 namespaces, links in 1 namespace, 0 addresses, 0 routes` / `nothing to destroy`.
    public var summary: String {
        if !hadState { return "nothing to destroy" }
        return "removed \(namespaces.count) namespace\(namespaces.count == 1 ? "" : "s"), "
            + "links in \(linkGroupNamespaces.count) namespace\(linkGroupNamespaces.count == 1 ? "" : "s"), "
            + "\(addresses) address\(addresses == 1 ? "" : "es"), \(routes) route\(routes == 1 ? "" : "s")"
    }
}

extension Executor {
    /// Removes exactly what topo's runs recorded under `stateKey`, then the state file:
    /// recorded routes and addresses, the recorded link groups (one bulk delete per namespace,
    /// before any namespace goes so host-side veth ends vanish at once), then the namespaces
    /// topo created. Objects already gone are fine. Objects topo did not create are never
    /// touched, even if the script names them.
    ///
    /// - Throws: `ExecutionError` (`.state`, or `.kernel` with the state file kept so a
    ///   second `destroy` can finish the job).
    @discardableResult
    public func destroy(stateKey: String, stateDirectory: String = StateStore.defaultDirectory) throws -> DestroyReport {
        let store = StateStore(directory: stateDirectory)
        let lock: StateLock
        let rec: OwnershipRecord?
        do {
            lock = try store.lock(stateKey)
            rec = try store.load(stateKey)
        } catch {
            throw ExecutionError(.state("\(error)"), "cannot use state file: \(error)")
        }
        defer { lock.unlock() }
        guard let record = rec else {
            return DestroyReport(hadState: false, namespaces: [], linkGroupNamespaces: [], addresses: 0, routes: 0)
        }
        let existing: Set<String>
        do { existing = Set(try backend.listNamespaces()) } catch {
            throw ExecutionError(.kernel(error as? KernelError ?? .failure("\(error)")), "cannot list network namespaces: \(error)")
        }
        func present(_ ns: String) -> Bool { ns == hostNamespace || existing.contains(ns) }
        let dying = Set(record.namespaces)
        var report = DestroyReport(hadState: true, namespaces: [], linkGroupNamespaces: [], addresses: 0, routes: 0)
        var errors: [String] = []
        var firstError: KernelError? = nil
        func fail(_ what: String, _ e: KernelError) {
            errors.append("\(what): \(e)")
            if firstError == nil { firstError = e }
        }
        let gone: Set<Int32> = [ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL, ENXIO]

        // Routes and addresses, per namespace, pipelined.
        var perNS: [String: [KernelOp]] = [:]
        var order: [String] = []
        for r in record.routes where present(r.namespace) && !dying.contains(r.namespace) {
            if perNS[r.namespace] == nil { order.append(r.namespace) }
            perNS[r.namespace, default: []].append(.deleteRoute(r.route))
        }
        for a in record.addresses where present(a.link.namespace) && !dying.contains(a.link.namespace) {
            if perNS[a.link.namespace] == nil { order.append(a.link.namespace) }
            perNS[a.link.namespace, default: []].append(.deleteAddress(link: a.link.name, prefix: a.prefix))
        }
        for ns in order {
            let ops = perNS[ns] ?? []
            for (op, r) in zip(ops, backend.apply(ops, in: ns)) {
                switch r {
                case .success:
                    if case .deleteRoute = op { report.routes += 1 } else { report.addresses += 1 }
                case .failure(let e):
                    if let n = e.errnoValue, gone.contains(n) { continue }
                    fail("\(op) in `\(ns)`", e)
                }
            }
        }
        // Links by group.
        for ns in record.linkGroups.keys.sorted() where present(ns) && !dying.contains(ns) {
            for g in record.linkGroups[ns] ?? [] {
                do {
                    try backend.deleteLinks(group: g, in: ns)
                    if !report.linkGroupNamespaces.contains(ns) { report.linkGroupNamespaces.append(ns) }
                } catch {
                    let e = error as? KernelError ?? .failure("\(error)")
                    if let n = e.errnoValue, gone.contains(n) { continue }
                    fail("delete links of group \(g) in `\(ns)`", e)
                }
            }
        }
        // Namespaces.
        let doomed = record.namespaces.reversed().filter { existing.contains($0) }
        for (n, r) in zip(doomed, backend.deleteNamespaces(doomed)) {
            switch r {
            case .success: report.namespaces.append(n)
            case .failure(let e): fail("delete namespace `\(n)`", e)
            }
        }
        if let e = firstError {
            throw ExecutionError(.kernel(e), "cannot destroy everything recorded: " + errors.joined(separator: "; "))
        }
        do { try store.remove(stateKey) } catch {
            throw ExecutionError(.state("\(error)"), "cannot remove state file: \(error)")
        }
        return report
    }
}
