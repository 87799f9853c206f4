#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// What topo's runs of one script created or changed: exactly what convergence may remove or
/// restore and what `destroy` undoes. Sets, so merging and lookups stay linear at any size.
///
/// - `namespaces`: named namespaces topo created (everything in them goes with them).
/// - `linkGroups`: per namespace, the `IFLA_GROUP` ids topo gave the links it created there (one
///   fresh id per run, checked unused at the time). The group is the kernel-side mark of a
///   topo link: a link is topo's only if its group is recorded for its namespace.
/// - `links`: those links by name (for `topo ls`; ownership goes by group).
/// - `addresses` / `routes`: added by topo (on any link), so convergence removes them when the
///   script drops them and leaves addresses and routes made by hand alone.
/// - `sysctls`: the value each sysctl had before topo first set it.
/// - `originals`: for links topo did not create, the mtu/up/master it found before changing them.
/// - `shaped`: links topo put a qdisc on.
/// - `daemons`: processes topo started, by pid and start time.
public struct OwnershipRecord: Hashable, Sendable {
    /// The script's canonical path (or `<stdin …>`).
    public var script: String
    /// A hash of the script's text at the last apply (`topo ls`: "script changed since").
    public var scriptHash: String?
    /// When the last run that changed something finished (Unix seconds).
    public var appliedAt: Int64?
    public var namespaces: Set<String>
    public var linkGroups: [String: Set<UInt32>]
    public var links: Set<LinkID>
    public var addresses: Set<OwnedAddress>
    public var routes: Set<OwnedRoute>
    public var sysctls: [SysctlKey: String]
    public var originals: [LinkID: OriginalAttributes]
    public var shaped: Set<LinkID>
    public var daemons: Set<OwnedDaemon>
    /// Read from a version-1 file (written whole after a run; no kernel markers existed).
    public var legacy: Bool = false

    public struct OwnedAddress: Hashable, Sendable, Comparable {
        public var link: LinkID
        public var prefix: IPPrefix
        public init(link: LinkID, prefix: IPPrefix) {
            self.link = link
            self.prefix = prefix
        }
        public static func < (a: OwnedAddress, b: OwnedAddress) -> Bool { (a.link, a.prefix) < (b.link, b.prefix) }
    }

    public struct OwnedRoute: Hashable, Sendable {
        public var namespace: String
        public var route: RouteSpec
        public init(namespace: String, route: RouteSpec) {
            self.namespace = namespace
            self.route = route
        }
    }

    public struct SysctlKey: Hashable, Sendable, Comparable {
        public var namespace: String
        public var key: String
        public init(_ namespace: String, _ key: String) {
            self.namespace = namespace
            self.key = key
        }
        public static func < (a: SysctlKey, b: SysctlKey) -> Bool { (a.namespace, a.key) < (b.namespace, b.key) }
    }

    /// What a pre-existing link had before topo changed it (nil: topo did not change it).
    public struct OriginalAttributes: Hashable, Sendable {
        public var mtu: Int?
        public var up: Bool?
        /// `.some(nil)`: it had no master.
        public var master: String??
        public init(mtu: Int? = nil, up: Bool? = nil, master: String?? = nil) {
            self.mtu = mtu
            self.up = up
            self.master = master
        }
        public var isEmpty: Bool { mtu == nil && up == nil && master == nil }
    }

    public struct OwnedDaemon: Hashable, Sendable {
        public var namespace: String
        public var command: String
        public var pid: Int32
        /// `/proc/PID/stat` field 22 (clock ticks since boot): a reused pid has another.
        public var startTime: UInt64
        public init(namespace: String, command: String, pid: Int32, startTime: UInt64) {
            self.namespace = namespace
            self.command = command
            self.pid = pid
            self.startTime = startTime
        }
    }

    public init(script: String = "", scriptHash: String? = nil, appliedAt: Int64? = nil,
                namespaces: Set<String> = [], linkGroups: [String: Set<UInt32>] = [:], links: Set<LinkID> = [],
                addresses: Set<OwnedAddress> = [], routes: Set<OwnedRoute> = [], sysctls: [SysctlKey: String] = [:],
                originals: [LinkID: OriginalAttributes] = [:], shaped: Set<LinkID> = [], daemons: Set<OwnedDaemon> = []) {
        self.script = script
        self.scriptHash = scriptHash
        self.appliedAt = appliedAt
        self.namespaces = namespaces
        self.linkGroups = linkGroups
        self.links = links
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.originals = originals
        self.shaped = shaped
        self.daemons = daemons
    }

    /// How many facts the record holds (about one line each of the compact file).
    public var factCount: Int {
        namespaces.count + linkGroups.values.reduce(0) { $0 + $1.count } + links.count + addresses.count + routes.count
            + sysctls.count + originals.count * 2 + shaped.count + daemons.count
    }

    /// True when nothing is owned or remembered.
    public var isEmpty: Bool {
        namespaces.isEmpty && linkGroups.isEmpty && links.isEmpty && addresses.isEmpty && routes.isEmpty
            && sysctls.isEmpty && originals.isEmpty && shaped.isEmpty && daemons.isEmpty
    }

    /// The part of the record inside `scope` (namespaces): what a run limited to them may
    /// remove or restore.
    public func restricted(to scope: Set<String>) -> OwnershipRecord {
        var r = self
        r.namespaces = namespaces.intersection(scope)
        r.linkGroups = linkGroups.filter { scope.contains($0.key) }
        r.links = links.filter { scope.contains($0.namespace) }
        r.addresses = addresses.filter { scope.contains($0.link.namespace) }
        r.routes = routes.filter { scope.contains($0.namespace) }
        r.sysctls = sysctls.filter { scope.contains($0.key.namespace) }
        r.originals = originals.filter { scope.contains($0.key.namespace) }
        r.shaped = shaped.filter { scope.contains($0.namespace) }
        r.daemons = daemons.filter { scope.contains($0.namespace) }
        return r
    }

    /// Adds another record's facts (the REPL hands a session's records to a saved script).
    public mutating func merge(_ other: OwnershipRecord) {
        for f in other.facts { apply(f, adding: true) }
        if script.isEmpty { script = other.script }
    }

    /// True when `link` carries one of the groups this topology gave links in its namespace.
    public func ownsLink(_ namespace: String, group: UInt32) -> Bool {
        group != 0 && linkGroups[namespace]?.contains(group) == true
    }

    /// Applies one fact (`+`) or retracts it (`-`).
    public mutating func apply(_ fact: Fact, adding: Bool) {
        switch fact {
        case .namespace(let n):
            if adding { namespaces.insert(n) } else {
                namespaces.remove(n)
                forgetNamespace(n)
            }
        case .group(let ns, let g):
            if adding { linkGroups[ns, default: []].insert(g) } else {
                linkGroups[ns]?.remove(g)
                if linkGroups[ns]?.isEmpty == true { linkGroups[ns] = nil }
            }
        case .link(let l):
            if adding { links.insert(l) } else { links.remove(l) }
        case .address(let a):
            if adding { addresses.insert(a) } else { addresses.remove(a) }
        case .route(let r):
            if adding { routes.insert(r) } else { routes.remove(r) }
        case .sysctl(let k, let v):
            if adding { if sysctls[k] == nil { sysctls[k] = v } } else { sysctls[k] = nil }
        case .mtu(let l, let v):
            if adding { if originals[l]?.mtu == nil { originals[l, default: .init()].mtu = v } } else {
                originals[l]?.mtu = nil
                if originals[l]?.isEmpty == true { originals[l] = nil }
            }
        case .up(let l, let v):
            if adding { if originals[l]?.up == nil { originals[l, default: .init()].up = v } } else {
                originals[l]?.up = nil
                if originals[l]?.isEmpty == true { originals[l] = nil }
            }
        case .master(let l, let m):
            if adding { if originals[l]?.master == nil { originals[l, default: .init()].master = .some(m) } } else {
                originals[l]?.master = nil
                if originals[l]?.isEmpty == true { originals[l] = nil }
            }
        case .shaped(let l):
            if adding { shaped.insert(l) } else { shaped.remove(l) }
        case .daemon(let d):
            if adding { daemons.insert(d) } else { daemons.remove(d) }
        }
    }

    /// Drops every fact inside a namespace (it is gone).
    mutating func forgetNamespace(_ n: String) {
        linkGroups[n] = nil
        links = links.filter { $0.namespace != n }
        addresses = addresses.filter { $0.link.namespace != n }
        routes = routes.filter { $0.namespace != n }
        sysctls = sysctls.filter { $0.key.namespace != n }
        originals = originals.filter { $0.key.namespace != n }
        shaped = shaped.filter { $0.namespace != n }
    }

    /// Every fact, in a stable order (the body of the file).
    public var facts: [Fact] {
        var out: [Fact] = []
        out += namespaces.sorted().map { .namespace($0) }
        for ns in linkGroups.keys.sorted() { out += (linkGroups[ns] ?? []).sorted().map { .group(ns, $0) } }
        out += links.sorted().map { .link($0) }
        out += addresses.sorted().map { .address($0) }
        out += routes.map { ($0, Fact.route($0).line) }.sorted { $0.1 < $1.1 }.map { .route($0.0) }
        out += sysctls.keys.sorted().map { .sysctl($0, sysctls[$0]!) }
        for l in originals.keys.sorted() {
            let o = originals[l]!
            if let m = o.mtu { out.append(.mtu(l, m)) }
            if let u = o.up { out.append(.up(l, u)) }
            if let m = o.master { out.append(.master(l, m)) }
        }
        out += shaped.sorted().map { .shaped($0) }
        out += daemons.map { ($0, Fact.daemon($0).line) }.sorted { $0.1 < $1.1 }.map { .daemon($0.0) }
        return out
    }

    /// The links this topology owns by name in `namespace` (for display).
    public func linkNames(in namespace: String) -> [String] {
        links.filter { $0.namespace == namespace }.map(\.name).sorted()
    }
}

/// One line of ownership in the state file.
public enum Fact: Hashable, Sendable {
    case namespace(String)
    case group(String, UInt32)
    case link(LinkID)
    case address(OwnershipRecord.OwnedAddress)
    case route(OwnershipRecord.OwnedRoute)
    case sysctl(OwnershipRecord.SysctlKey, String)
    case mtu(LinkID, Int)
    case up(LinkID, Bool)
    case master(LinkID, String?)
    case shaped(LinkID)
    case daemon(OwnershipRecord.OwnedDaemon)

    /// The fact's text (fields percent-escaped, separated by single spaces).
    public var line: String {
        func opt(_ s: String?) -> String { s.map(esc) ?? "-" }
        switch self {
        case .namespace(let n): return "ns \(esc(n))"
        case .group(let n, let g): return "group \(esc(n)) \(g)"
        case .link(let l): return "link \(esc(l.namespace)) \(esc(l.name))"
        case .address(let a): return "addr \(esc(a.link.namespace)) \(esc(a.link.name)) \(a.prefix)"
        case .route(let r):
            let rt = r.route
            return "route \(esc(r.namespace)) \(rt.destination) \(rt.gateway.map { "\($0)" } ?? "-") "
                + "\(opt(rt.device)) \(rt.metric.map { "\($0)" } ?? "-") \(rt.table.map { "\($0)" } ?? "-")"
        case .sysctl(let k, let v): return "sysctl \(esc(k.namespace)) \(esc(k.key)) \(esc(v))"
        case .mtu(let l, let m): return "mtu \(esc(l.namespace)) \(esc(l.name)) \(m)"
        case .up(let l, let u): return "up \(esc(l.namespace)) \(esc(l.name)) \(u ? 1 : 0)"
        case .master(let l, let m): return "master \(esc(l.namespace)) \(esc(l.name)) \(opt(m))"
        case .shaped(let l): return "tc \(esc(l.namespace)) \(esc(l.name))"
        case .daemon(let d): return "daemon \(esc(d.namespace)) \(d.pid) \(d.startTime) \(esc(d.command))"
        }
    }

    /// Parses `line`; nil when it is not a fact.
    public init?(line: String) {
        let f = fields(line[...])
        guard let tag = f.first else { return nil }
        func u(_ i: Int) -> String? { i < f.count ? unesc(f[i]) : nil }
        func link(_ i: Int) -> LinkID? {
            guard let n = u(i), let l = u(i + 1) else { return nil }
            return LinkID(n, l)
        }
        switch (tag, f.count) {
        case ("ns", 2):
            guard let n = u(1) else { return nil }
            self = .namespace(n)
        case ("group", 3):
            guard let n = u(1), let g = UInt32(f[2]) else { return nil }
            self = .group(n, g)
        case ("link", 3):
            guard let l = link(1) else { return nil }
            self = .link(l)
        case ("addr", 4):
            guard let l = link(1), let p = IPPrefix(f[3]) else { return nil }
            self = .address(.init(link: l, prefix: p))
        case ("route", 7):
            guard let n = u(1), let d = IPPrefix(f[2]) else { return nil }
            var gw: IPAddress? = nil, dev: String? = nil, metric: Int? = nil, table: UInt32? = nil
            if f[3] != "-" { guard let g = IPAddress(f[3]) else { return nil }; gw = g }
            if f[4] != "-" { guard let x = unesc(f[4]) else { return nil }; dev = x }
            if f[5] != "-" { guard let m = Int(f[5]) else { return nil }; metric = m }
            if f[6] != "-" { guard let t = UInt32(f[6]) else { return nil }; table = t }
            self = .route(.init(namespace: n, route: RouteSpec(destination: d, gateway: gw, device: dev, metric: metric, table: table)))
        case ("sysctl", 4):
            guard let n = u(1), let k = u(2), let v = u(3) else { return nil }
            self = .sysctl(.init(n, k), v)
        case ("mtu", 4):
            guard let l = link(1), let m = Int(f[3]) else { return nil }
            self = .mtu(l, m)
        case ("up", 4):
            guard let l = link(1), f[3] == "0" || f[3] == "1" else { return nil }
            self = .up(l, f[3] == "1")
        case ("master", 4):
            guard let l = link(1) else { return nil }
            if f[3] == "-" { self = .master(l, nil) } else {
                guard let m = unesc(f[3]) else { return nil }
                self = .master(l, m)
            }
        case ("tc", 3):
            guard let l = link(1) else { return nil }
            self = .shaped(l)
        case ("daemon", 5):
            guard let n = u(1), let pid = Int32(f[2]), let st = UInt64(f[3]), let c = u(4) else { return nil }
            self = .daemon(.init(namespace: n, command: c, pid: pid, startTime: st))
        default:
            return nil
        }
    }
}

// MARK: - the file format

/// The state file, version 2: one record per line, each ending in ` ~XXXXXXXX` (the CRC-32 of
/// the rest of the line), so a truncated or corrupted file is detected, never half-read.
///
///     topo-state 2 ~…
///     script /home/me/lab.topo ~…
///     hash 5f1c… ~…
///     applied 1764650000 ~…
///     ns h1 ~…                       (facts, see `Fact`)
///     begin 1764650100-4711 ~…       (a run started: what follows is its journal)
///     + ns h2 ~…                     (written before the kernel change it records)
///     - addr h1 eth0 10.0.0.1/24 ~…  (written after the removal it records)
///     commit 1764650100-4711 ~…      (the run finished; a large journal is then rewritten compactly)
///
/// A run appends its journal (and fsyncs) before each batch of kernel changes; a crash at any
/// moment leaves a file from which everything topo made can be found. A damaged last line is a
/// write cut short by a crash and is ignored; damage anywhere else makes the file corrupt.
enum StateFormat {
    static let header = "topo-state 2"
    static let legacyHeader = "topo-state 1"

    static func seal(_ payload: String) -> String {
        payload + " ~" + hex8(crc32(payload.utf8))
    }

    /// The payload of a sealed line, or nil when the checksum does not match.
    static func unseal(_ line: Substring) -> Substring? {
        let u = line.utf8
        guard u.count >= 10 else { return nil }
        let cut = u.index(u.endIndex, offsetBy: -10)
        let tail = u[cut...]
        guard tail.starts(with: [UInt8(ascii: " "), UInt8(ascii: "~")]) else { return nil }
        // The eight lowercase hex digits seal writes, read without making strings.
        var want: UInt32 = 0
        for b in tail.dropFirst(2) {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): want = want << 4 | UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): want = want << 4 | UInt32(b - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        let payload = line[..<cut]
        guard crc32(payload.utf8) == want else { return nil }
        return payload
    }

    static func hex8(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 8 - h.count) + h
    }

    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (IEEE 802.3, as zlib computes it).
    static func crc32<S: Sequence<UInt8>>(_ bytes: S) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// The compact file for a record.
    static func render(_ r: OwnershipRecord) -> String {
        var lines = [header, "script " + esc(r.script)]
        if let h = r.scriptHash { lines.append("hash " + h) }
        if let t = r.appliedAt { lines.append("applied \(t)") }
        lines += r.facts.map(\.line)
        return lines.map(seal).joined(separator: "\n") + "\n"
    }

    /// What loading found.
    struct Loaded {
        var record: OwnershipRecord
        /// A run began and never committed (it crashed): its journal was applied.
        var unfinishedRun: Bool
        /// The last line was cut short (a crash mid-write) and was ignored.
        var tornTail: Bool
    }

    enum ParseError: Error, Equatable {
        case corrupt(line: Int, reason: String)
    }

    static func parse(_ text: String) throws -> Loaded {
        // Split on bytes (a state file is written by topo: no grapheme needs joining).
        var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Substring($0) }
        let endsWithNewline = lines.last == ""
        if endsWithNewline { lines.removeLast() }
        guard let first = lines.first else { throw ParseError.corrupt(line: 1, reason: "the file is empty") }
        if first == Substring(legacyHeader) {
            guard endsWithNewline, let rec = parseLegacy(lines.dropFirst()) else {
                throw ParseError.corrupt(line: 1, reason: "a version-1 state file that does not parse whole")
            }
            return Loaded(record: rec, unfinishedRun: false, tornTail: false)
        }
        var record = OwnershipRecord()
        var open: Substring? = nil
        var torn = false
        for (i, raw) in lines.enumerated() {
            // Only a last line without its newline can be a write cut short by a crash.
            if i == lines.count - 1 && !endsWithNewline {
                if i == 0 && !seal(header).hasPrefix(raw) {
                    throw ParseError.corrupt(line: 1, reason: "not a topo state file (version 2)")
                }
                torn = true
                break
            }
            guard let payload = unseal(raw) else {
                throw ParseError.corrupt(line: i + 1, reason: i == 0 ? "not a topo state file (version 2)" : "checksum mismatch")
            }
            if i == 0 {
                guard payload == Substring(header) else { throw ParseError.corrupt(line: 1, reason: "not a topo state file (version 2)") }
                continue
            }
            if payload.hasPrefix("script ") {
                guard let s = unesc(String(payload.dropFirst(7))) else { throw ParseError.corrupt(line: i + 1, reason: "bad script path") }
                record.script = s
            } else if payload.hasPrefix("hash ") {
                record.scriptHash = String(payload.dropFirst(5))
            } else if payload.hasPrefix("applied ") {
                guard let t = Int64(payload.dropFirst(8)) else { throw ParseError.corrupt(line: i + 1, reason: "bad time") }
                record.appliedAt = t
            } else if payload.hasPrefix("begin ") {
                open = payload.dropFirst(6).split(separator: " ").first
            } else if payload.hasPrefix("commit ") {
                open = nil
            } else if payload.hasPrefix("+ ") || payload.hasPrefix("- ") {
                guard let f = Fact(line: String(payload.dropFirst(2))) else {
                    throw ParseError.corrupt(line: i + 1, reason: "unknown record `\(payload.prefix(40))`")
                }
                record.apply(f, adding: payload.hasPrefix("+"))
            } else {
                guard let f = Fact(line: String(payload)) else {
                    throw ParseError.corrupt(line: i + 1, reason: "unknown record `\(payload.prefix(40))`")
                }
                record.apply(f, adding: true)
            }
        }
        return Loaded(record: record, unfinishedRun: open != nil, tornTail: torn)
    }

    /// Version 1 (one record a line, no checksums): namespaces, groups, links, addresses, routes.
    static func parseLegacy(_ lines: ArraySlice<Substring>) -> OwnershipRecord? {
        var r = OwnershipRecord()
        r.legacy = true
        for line in lines where !line.isEmpty {
            let f = fields(line)
            switch (f[0], f.count) {
            case ("script", 2):
                guard let s = unesc(f[1]) else { return nil }
                r.script = s
            case ("namespace", 2):
                guard let n = unesc(f[1]) else { return nil }
                r.namespaces.insert(n)
            case ("group", 3), ("link", 3):
                guard let fact = Fact(line: line.description) else { return nil }
                r.apply(fact, adding: true)
            case ("address", 4):
                guard let fact = Fact(line: "addr " + f.dropFirst().joined(separator: " ")) else { return nil }
                r.apply(fact, adding: true)
            case ("route", 6):
                guard let fact = Fact(line: line.description + " -") else { return nil }
                r.apply(fact, adding: true)
            default:
                return nil
            }
        }
        return r
    }
}

func esc(_ s: String) -> String {
    if s.isEmpty { return "%" }
    var out = ""
    for b in s.utf8 {
        if b <= 0x20 || b == UInt8(ascii: "%") || b == UInt8(ascii: "~") || b >= 0x7f || b == UInt8(ascii: "-") && s.utf8.count == 1 {
            out += "%" + String(b >> 4, radix: 16) + String(b & 0xf, radix: 16)
        } else {
            out.unicodeScalars.append(Unicode.Scalar(b))
        }
    }
    return out
}

/// The space-separated fields of a record line, split as bytes (empty fields kept).
func fields(_ line: Substring) -> [String] {
    line.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map { String(Substring($0)) }
}

func unesc(_ s: String) -> String? {
    if s == "%" { return "" }
    if !s.utf8.contains(UInt8(ascii: "%")) { return s }   // most fields: nothing escaped
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
    /// True when the file exists but cannot be trusted (see `topo destroy --recover`).
    public var corrupt: Bool
    public init(path: String, reason: String, corrupt: Bool = false) {
        self.path = path
        self.reason = reason
        self.corrupt = corrupt
    }
    public var description: String { "\(path): \(reason)" }
}

/// A loaded state with what the loader noticed.
public struct LoadedState: Sendable {
    public var record: OwnershipRecord
    /// An earlier run of this topology did not finish (killed): its journal was read.
    public var unfinishedRun: Bool
    public var tornTail: Bool
}

/// The state directory (default `/run/topo`): per topology `KEY.state` and `KEY.lock`, and
/// `netns/NAME`, one marker per namespace topo created, holding the owner's key: written before
/// the namespace is made, so ownership can be checked against something beside the state file.
public struct StateStore: Sendable {
    public static let defaultDirectory = "/run/topo"
    public var directory: String

    public init(directory: String = StateStore.defaultDirectory) {
        self.directory = directory
    }

    /// The key of a script: its basename, `-`, and a 64-bit FNV-1a hash of its canonical path
    /// (`lab.topo-3f2a…`). Anything but `[A-Za-z0-9._-]` in the basename becomes `_`.
    public static func key(forScriptPath absolutePath: String) -> String {
        let base = absolutePath.split(separator: "/").last.map(String.init) ?? "script"
        var clean = String(base.unicodeScalars.map { c -> Character in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-"))
                ? Character(c) : "_"
        })
        if clean.isEmpty || clean.hasPrefix(".") { clean = "_" + clean }
        if clean.utf8.count > 64 { clean = String(clean.prefix(64)) }
        return clean + "-" + fnv1a64Hex(Array(absolutePath.utf8))
    }

    /// The key of a script read from standard input: by its content.
    public static func key(forStandardInput text: String) -> (key: String, path: String) {
        let h = fnv1a64Hex(Array(text.utf8))
        return ("stdin-" + h, "<stdin \(h)>")
    }

    public func statePath(_ key: String) -> String { directory + "/" + key + ".state" }
    public func lockPath(_ key: String) -> String { directory + "/" + key + ".lock" }
    public var markerDirectory: String { directory + "/netns" }
    public func markerPath(_ namespace: String) -> String { markerDirectory + "/" + namespace }

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

    /// Takes the topology's lock (blocking until another run of it finishes, unless `wait` is false).
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
    public func load(_ key: String) throws -> OwnershipRecord? { try loadState(key)?.record }

    /// The recorded state with what loading noticed, or nil when there is none.
    public func loadState(_ key: String) throws -> LoadedState? {
        let path = statePath(key)
        guard let data = try readFile(path) else { return nil }
        do {
            let l = try StateFormat.parse(String(decoding: data, as: UTF8.self))
            return LoadedState(record: l.record, unfinishedRun: l.unfinishedRun, tornTail: l.tornTail)
        } catch StateFormat.ParseError.corrupt(let line, let reason) {
            throw StateFileError(path: path, reason: "corrupt state file (line \(line): \(reason))", corrupt: true)
        }
    }

    func readFile(_ path: String) throws -> [UInt8]? {
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
            if data.count > 256 << 20 { throw StateFileError(path: path, reason: "state file too large", corrupt: true) }
        }
        return data
    }

    /// Writes the record compactly and atomically: a temporary file in the same directory,
    /// fsync, rename. An empty record removes the file.
    public func save(_ record: OwnershipRecord, key: String) throws {
        if record.isEmpty {
            try remove(key)
            return
        }
        try ensureDirectory()
        try writeAtomically(statePath(key), StateFormat.render(record))
    }

    func writeAtomically(_ path: String, _ text: String) throws {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFileError(path: tmp, reason: errnoText(errno)) }
        do { try writeAll(fd, Array(text.utf8), path: tmp) } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        fsync(fd)
        close(fd)
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw StateFileError(path: path, reason: errnoText(e))
        }
    }

    /// Appends journal lines to the state file (creating it with its header and script), then
    /// fsyncs: the write-ahead record of a batch.
    public func append(_ payloads: [String], key: String, script: String) throws {
        guard !payloads.isEmpty else { return }
        try ensureDirectory()
        let path = statePath(key)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateFileError(path: path, reason: errnoText(errno)) }
        defer { close(fd) }
        var st = stat()
        var text = ""
        if fstat(fd, &st) == 0 && st.st_size == 0 {
            text = StateFormat.seal(StateFormat.header) + "\n" + StateFormat.seal("script " + esc(script)) + "\n"
        }
        text.reserveCapacity(text.utf8.count + payloads.count * 48)
        for p in payloads {
            text += StateFormat.seal(p)
            text += "\n"
        }
        try writeAll(fd, Array(text.utf8), path: path)
        fsync(fd)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateFileError(path: path, reason: errnoText(errno))
            }
            off += n
        }
    }

    /// Ends a run's journal: the facts it retracted, the script's hash and the time, `commit`.
    /// (Cheaper than `save` for a small run on a large record; loading replays it.)
    public func commit(runID: String, retracted: [Fact], record: OwnershipRecord, key: String) throws {
        var lines = retracted.map { "- " + $0.line }
        if let h = record.scriptHash { lines.append("hash " + h) }
        if let t = record.appliedAt { lines.append("applied \(t)") }
        lines.append("commit " + runID)
        try append(lines, key: key, script: record.script)
    }

    /// The state file's size and modification time (nil when there is none), to tell whether
    /// it changed since it was last read.
    public func fileStamp(_ key: String) -> FileStamp? {
        var st = stat()
        guard stat(statePath(key), &st) == 0 else { return nil }
        return FileStamp(size: Int64(st.st_size), seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int64(st.st_mtim.tv_nsec),
                         inode: UInt64(st.st_ino))
    }

    /// Removes the state file (missing is fine).
    public func remove(_ key: String) throws {
        let path = statePath(key)
        if unlink(path) != 0 && errno != ENOENT { throw StateFileError(path: path, reason: errnoText(errno)) }
    }

    /// Moves a corrupt state file aside (`KEY.state.corrupt-TIME`), returning the new path.
    public func quarantine(_ key: String) throws -> String {
        let path = statePath(key)
        let to = path + ".corrupt-\(time(nil))"
        if rename(path, to) != 0 && errno != ENOENT { throw StateFileError(path: path, reason: errnoText(errno)) }
        return to
    }

    /// Every topology with a state file: key and what loading it gave (or the error).
    public func all() -> [(key: String, state: Result<LoadedState, StateFileError>)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var keys: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".state") { keys.append(String(name.dropLast(6))) }
        }
        return keys.sorted().compactMap { k in
            do {
                guard let s = try loadState(k) else { return nil }
                return (k, .success(s))
            } catch let e as StateFileError {
                return (k, .failure(e))
            } catch {
                return (k, .failure(StateFileError(path: statePath(k), reason: "\(error)")))
            }
        }
    }

    // MARK: namespace markers

    /// The key written in the namespace's marker, or nil when there is none.
    public func markerOwner(_ namespace: String) -> String? {
        guard let data = try? readFile(markerPath(namespace)) else { return nil }
        let s = String(decoding: data, as: UTF8.self)
        let k = s.split(separator: "\n").first.map(String.init) ?? ""
        return k.isEmpty ? nil : k
    }

    /// Writes the marker of a namespace topo is about to create. Throws when another topology's
    /// marker is there (`owner` names it).
    public func claim(_ namespace: String, key: String) throws {
        try ensureDirectory()
        if mkdir(markerDirectory, 0o755) != 0 && errno != EEXIST {
            throw StateFileError(path: markerDirectory, reason: errnoText(errno))
        }
        let path = markerPath(namespace)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            let e = errno
            if e == EEXIST {
                if let other = markerOwner(namespace), other != key {
                    throw StateFileError(path: path, reason: "claimed by topology `\(other)`")
                }
                return
            }
            throw StateFileError(path: path, reason: errnoText(e))
        }
        defer { close(fd) }
        try writeAll(fd, Array((key + "\n").utf8), path: path)
    }

    /// Hands a namespace's marker from one topology to another (the REPL's `:save`).
    public func reassign(_ namespace: String, from old: String, to new: String) throws {
        guard markerOwner(namespace) == old else { return }
        try writeAtomically(markerPath(namespace), new + "\n")
    }

    /// Removes a namespace's marker if it is `key`'s.
    public func unclaim(_ namespace: String, key: String) {
        if markerOwner(namespace) == key { unlink(markerPath(namespace)) }
    }
}

/// A 64-bit FNV-1a hash as 16 hex digits.
public func fnv1a64Hex(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// The canonical form of a script path: symlinks and `.`/`..` resolved (realpath) when the file
/// exists; otherwise the deepest existing directory resolved and the rest appended, so a
/// deleted or moved script keeps the key it was applied under.
public func canonicalScriptPath(_ file: String) -> String {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    if realpath(file, &buf) != nil { return String(cString: buf) }
    var abs = file
    if !abs.hasPrefix("/") {
        var cwd = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if getcwd(&cwd, cwd.count) != nil { abs = String(cString: cwd) + "/" + file }
    }
    // Lexically normalise, then resolve the longest existing prefix.
    var parts: [Substring] = []
    for p in abs.split(separator: "/") {
        if p == "." || p.isEmpty { continue }
        if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(p)
    }
    var k = parts.count
    while k > 0 {
        let prefix = "/" + parts[..<k].joined(separator: "/")
        if realpath(prefix, &buf) != nil {
            let base = String(cString: buf)
            let rest = parts[k...].joined(separator: "/")
            return rest.isEmpty ? base : (base == "/" ? "/" : base + "/") + rest
        }
        k -= 1
    }
    return "/" + parts.joined(separator: "/")
}

/// What identifies one version of a file cheaply.
public struct FileStamp: Hashable, Sendable {
    public var size: Int64
    public var seconds: Int64
    public var nanoseconds: Int64
    public var inode: UInt64
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
