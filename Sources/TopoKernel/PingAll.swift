import TopoLanguage

// `topo pingall` and the REPL's `:pingall`: from every namespace of a topology that has an
// address, one address of every other such namespace, per family, all at once.

/// One ping of a pingall: from a namespace to one address of another.
public struct PingPair: Hashable, Sendable {
    public var from: String
    public var to: String
    public var address: IPAddress
    public init(from: String, to: String, address: IPAddress) {
        self.from = from
        self.to = to
        self.address = address
    }
}

/// How one pair went.
public struct PingPairResult: Hashable, Sendable {
    public var pair: PingPair
    /// Echo requests sent and answered (0/0 when it could not be tried).
    public var sent: Int
    public var received: Int
    /// Why it could not be tried (the namespace is gone, no raw socket…), if so.
    public var error: String?
    public var reachable: Bool { received > 0 }
    public init(pair: PingPair, sent: Int, received: Int, error: String? = nil) {
        self.pair = pair
        self.sent = sent
        self.received = received
        self.error = error
    }
    /// `no answer (10 sent)`, `no request could be sent (no route?)`, or the error.
    public var failureText: String {
        error ?? (sent == 0 ? "no request could be sent (no route?)" : "no answer (\(sent) sent)")
    }
}

/// The outcome of a pingall, with its renderings.
public struct PingAllReport: Hashable, Sendable {
    /// Namespaces with an address, in the topology's order (`host` last, if it has one).
    public var namespaces: [String]
    /// One per pair, IPv4 pairs first, each family in (from, to) order.
    public var results: [PingPairResult]
    /// Namespaces of the topology that do not exist (nothing was pinged then).
    public var missing: [String]
    /// About how many neighbour (ARP/ND) entries the pings need, all namespaces together
    /// (`PingAll.neighbourEntries`): the kernel's table is shared by every namespace and holds
    /// `gc_thresh3` (1024 by default) entries, so a large flat lab can overflow it.
    public var neighbourEntries: Int
    /// Why nothing was pinged although the namespaces exist (too many pairs), if so.
    public var refusal: String?

    public init(namespaces: [String], results: [PingPairResult], missing: [String] = [], neighbourEntries: Int = 0,
                refusal: String? = nil) {
        self.namespaces = namespaces
        self.results = results
        self.missing = missing
        self.neighbourEntries = neighbourEntries
        self.refusal = refusal
    }

    /// The kernel's default `net.ipv4.neigh.default.gc_thresh3` (and IPv6's).
    public static let defaultNeighbourLimit = 1024

    public var reachable: Int { results.filter(\.reachable).count }
    public var failures: [PingPairResult] { results.filter { !$0.reachable } }
    public var allReachable: Bool { missing.isEmpty && refusal == nil && failures.isEmpty }

    /// `pingall: 12/12 reachable`, or `pingall: 10/12 reachable; failed: ns0 -> ns2 (10.0.2.2), …`
    /// (the first `listed` failures named, then how many more).
    public func summary(listed: Int = 10) -> String {
        if !missing.isEmpty {
            return "pingall: not running: no namespace " + missing.map { "`\($0)`" }.joined(separator: ", ")
        }
        if let r = refusal { return "pingall: \(r)" }
        if results.isEmpty { return "pingall: nothing to ping (fewer than two namespaces have an address)" }
        var s = "pingall: \(reachable)/\(results.count) reachable"
        let failed = failures
        if !failed.isEmpty {
            s += "; failed: " + failed.prefix(listed).map { "\($0.pair.from) -> \($0.pair.to) (\($0.pair.address))" }
                .joined(separator: ", ")
            if failed.count > listed { s += " and \(failed.count - listed) more" }
        }
        return s
    }

    /// One matrix per family (rows ping columns: `ok`, `X` for a failure, `-` on the
    /// diagonal, blank where a namespace lacks that family), each failure with its reason,
    /// then the summary line.
    public func text() -> String {
        var out = ""
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let rs = results.filter { $0.pair.address.family == family }
            guard !rs.isEmpty else { continue }
            var cell: [String: [String: Bool]] = [:]
            var members = Set<String>()
            for r in rs {
                cell[r.pair.from, default: [:]][r.pair.to] = r.reachable
                members.insert(r.pair.from)
                members.insert(r.pair.to)
            }
            let names = namespaces.filter(members.contains)
            let head = family == .ipv4 ? "IPv4" : "IPv6"
            let first = max(head.count, names.map(\.count).max() ?? 0)
            let widths = names.map { max($0.count, 2) }
            func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
            var line = pad(head, first)
            for (n, w) in zip(names, widths) { line += "  " + pad(n, w) }
            out += trimmed(line) + "\n"
            for row in names {
                line = pad(row, first)
                for (col, w) in zip(names, widths) {
                    let c = row == col ? "-" : cell[row]?[col].map { $0 ? "ok" : "X" } ?? ""
                    line += "  " + pad(c, w)
                }
                out += trimmed(line) + "\n"
            }
            out += "\n"
        }
        for f in failures {
            out += "X \(f.pair.from) -> \(f.pair.to) \(f.pair.address): \(f.failureText)\n"
        }
        if !failures.isEmpty, neighbourEntries > PingAllReport.defaultNeighbourLimit {
            out += "note: these pings need about \(neighbourEntries) neighbour entries, and the kernel's neighbour "
                + "table (shared by all namespaces) holds \(PingAllReport.defaultNeighbourLimit) by default: raise "
                + "net.ipv4.neigh.default.gc_thresh3 (and net.ipv6.neigh.default.gc_thresh3) in the initial namespace\n"
        }
        return out + summary() + "\n"
    }

    private func trimmed(_ s: String) -> String {
        var s = Substring(s)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }

    /// The report as JSON (docs/json.md, "pingall").
    public func json(file: String) -> String {
        var out = "{\n  \"version\": 1,\n  \"file\": \(jsonStringLiteral(file)),\n"
        out += "  \"ok\": \(allReachable),\n  \"reachable\": \(reachable),\n  \"total\": \(results.count),\n"
        out += "  \"missing\": [" + missing.map(jsonStringLiteral).joined(separator: ", ") + "],\n"
        out += "  \"refused\": " + (refusal.map(jsonStringLiteral) ?? "null") + ",\n"
        out += "  \"pairs\": ["
        for (i, r) in results.enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\"from\": \(jsonStringLiteral(r.pair.from)), \"to\": \(jsonStringLiteral(r.pair.to)), "
            out += "\"family\": \"\(r.pair.address.family.rawValue)\", \"address\": \"\(r.pair.address)\", "
            out += "\"sent\": \(r.sent), \"received\": \(r.received), \"reachable\": \(r.reachable), "
            out += "\"error\": " + (r.reachable ? "null" : jsonStringLiteral(r.failureText)) + "}"
        }
        out += results.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
        return out
    }
}

public enum PingAll {
    /// The namespaces that have an address and, per family, the address others ping: the
    /// first in script order that is not IPv6 link-local (`fe80::/10`, which needs a scope).
    public static func targets(_ t: Topology) -> [(namespace: String, v4: IPAddress?, v6: IPAddress?)] {
        var v4: [String: IPAddress] = [:], v6: [String: IPAddress] = [:]
        for a in t.addresses {
            let ns = a.interface.namespace
            let ip = a.prefix.address
            if ip.family == .ipv4 {
                if v4[ns] == nil { v4[ns] = ip }
            } else if !isLinkLocal(ip), v6[ns] == nil {
                v6[ns] = ip
            }
        }
        var order = t.namespaces.map(\.name)
        if v4[hostNamespace] != nil || v6[hostNamespace] != nil { order.append(hostNamespace) }
        return order.filter { v4[$0] != nil || v6[$0] != nil }.map { ($0, v4[$0], v6[$0]) }
    }

    /// Every (from, to) pair of distinct namespaces that both have an address of a family,
    /// IPv4 first, each family in topology order.
    public static func pairs(_ t: Topology) -> [PingPair] {
        let ts = targets(t)
        var out: [PingPair] = []
        for v6 in [false, true] {
            for src in ts where (v6 ? src.v6 : src.v4) != nil {
                for dst in ts where dst.namespace != src.namespace {
                    if let a = v6 ? dst.v6 : dst.v4 { out.append(PingPair(from: src.namespace, to: dst.namespace, address: a)) }
                }
            }
        }
        return out
    }

    /// At most this many pairs are pinged in one pingall (about 500 namespaces): N namespaces
    /// make N×(N−1) pairs per family.
    public static let maxPairs = 250_000

    /// How many pairs `pairs(t)` has, without building them.
    public static func pairCount(_ t: Topology) -> Int {
        let ts = targets(t)
        let v4 = ts.filter { $0.v4 != nil }.count, v6 = ts.filter { $0.v6 != nil }.count
        return v4 * max(0, v4 - 1) + v6 * max(0, v6 - 1)
    }

    /// About how many neighbour entries pinging all `pairs(t)` creates: per source namespace and
    /// family, one per target on one of its subnets, plus one (a gateway) if any target is not.
    public static func neighbourEntries(_ t: Topology) -> Int {
        var subnets: [String: [IPPrefix]] = [:]
        for a in t.addresses { subnets[a.interface.namespace, default: []].append(a.prefix) }
        var total = 0
        var routed = Set<String>()
        for p in pairs(t) {
            if subnets[p.from, default: []].contains(where: { $0.length < $0.family.bits && $0.contains(p.address) }) {
                total += 1
            } else if routed.insert(p.from + "/" + p.address.family.rawValue).inserted {
                total += 1
            }
        }
        return total
    }

    static func isLinkLocal(_ a: IPAddress) -> Bool {
        let b = a.bytes
        return a.family == .ipv6 && b[0] == 0xfe && b[1] & 0xc0 == 0x80
    }

    /// Pings every pair of `t` (see `pairs`) until one answer each or `timeout` seconds. With
    /// a `NetlinkBackend` all pairs go at once (`ping(many:)`: about one timeout in all);
    /// another backend is asked pair by pair. When a namespace of the topology does not
    /// exist, nothing is pinged and the report names it in `missing`.
    public static func run(_ t: Topology, backend: KernelBackend, timeout: Double = 2) -> PingAllReport {
        let ts = targets(t)
        let names = ts.map(\.namespace)
        let existing = Set((try? backend.listNamespaces()) ?? [])
        let missing = names.filter { $0 != hostNamespace && !existing.contains($0) }
        if !missing.isEmpty { return PingAllReport(namespaces: names, results: [], missing: missing) }
        let count = pairCount(t)
        if count > maxPairs {
            return PingAllReport(namespaces: names, results: [], refusal: "\(count) pairs to ping, more than the "
                + "\(maxPairs) pingall tries at once (\(names.count) namespaces with an address)")
        }
        let ps = pairs(t)
        let outcomes: [Result<PingResult, KernelError>]
        if let nl = backend as? NetlinkBackend {
            outcomes = nl.ping(many: ps.map { (from: $0.from, to: $0.address) }, count: 1, timeout: timeout)
        } else {
            outcomes = ps.map { p in
                Result { try backend.ping(from: p.from, to: p.address, count: 1, timeout: timeout) }
                    .mapError { $0 as? KernelError ?? .failure("\($0)") }
            }
        }
        let results = zip(ps, outcomes).map { p, o -> PingPairResult in
            switch o {
            case .success(let r): return PingPairResult(pair: p, sent: r.sent, received: r.received)
            case .failure(let e): return PingPairResult(pair: p, sent: 0, received: 0, error: e.description)
            }
        }
        return PingAllReport(namespaces: names, results: results, neighbourEntries: neighbourEntries(t))
    }
}
