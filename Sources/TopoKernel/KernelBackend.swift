#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

// The few primitive, namespace-aware calls the executor needs, in plan terms.
// `NetlinkBackend` speaks rtnetlink; the tests use a recording fake.

/// Why the kernel (or the backend) refused a request.
public enum KernelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A syscall or netlink request failed: the errno, its text (`File exists`) and the
    /// kernel's extended-ack message (`ipv4: Address already assigned`), if it sent one.
    case refused(errno: Int32, text: String, extack: String?)
    /// A failure without an errno: a malformed reply, a missing tool, a timeout.
    case failure(String)

    /// A refusal with the errno's standard text.
    public static func errno(_ code: Int32, extack: String? = nil) -> KernelError {
        .refused(errno: code, text: errnoText(code), extack: extack)
    }

    /// The errno, when there is one.
    public var errnoValue: Int32? {
        if case .refused(let e, _, _) = self { return e }
        return nil
    }

    /// `File exists (ipv4: Address already assigned)`.
    public var description: String {
        switch self {
        case .refused(_, let text, let extack):
            if let x = extack, !x.isEmpty { return "\(text) (\(x))" }
            return text
        case .failure(let s):
            return s
        }
    }
}

/// The standard text of an errno (`strerror`).
public func errnoText(_ code: Int32) -> String {
    #if canImport(Glibc)
    if let p = strerror(code) { return String(cString: p) }
    #endif
    return "error \(code)"
}

/// One link as the kernel reports it, in the executor's terms.
public struct LiveLink: Hashable, Sendable {
    public var name: String
    /// The ifindex inside its namespace.
    public var index: Int
    /// `IFLA_INFO_KIND`: `veth`, `bridge`, `dummy`, … nil for links without one (`lo`, a NIC).
    public var kind: String?
    /// For a veth: the other end, resolved across the namespaces that were read.
    /// Nil when it is in a namespace that was not read (or could not be resolved).
    public var peer: LinkID?
    /// The master's name (same namespace), if enslaved.
    public var master: String?
    public var mtu: Int
    /// The administrative flag `IFF_UP`.
    public var up: Bool
    /// `IFLA_GROUP` (0 is the default group).
    public var group: UInt32
    /// The kind's identity and options (vlan, macvlan, ipvlan, vxlan, vrf), decoded from
    /// IFLA_LINKINFO; a parent in a namespace that was not read is nil inside (`parent`
    /// unresolved), see `parentUnresolved`.
    public var options: LinkOptions?
    /// True when the link has a lower device (IFLA_LINK / IFLA_VXLAN_LINK) that could not be
    /// named (it is in a namespace that was not read).
    public var parentUnresolved: Bool
    /// The root qdisc's kind (`netem`, `tbf`, `htb`, …); nil for none or the default
    /// (`noqueue`, `noop`, `pfifo_fast`, `fq_codel`, `mq`, handle 0).
    public var rootQdisc: String?
    /// The shaping read back, when the qdiscs are in topo's layout (see `Shaping`); nil when
    /// there is none or `rootQdisc` is something else.
    public var shaping: Shaping?
    /// `IFLA_IFALIAS`, if set.
    public var alias: String?

    public init(name: String, index: Int, kind: String?, peer: LinkID? = nil, master: String? = nil,
                mtu: Int = 1500, up: Bool = false, group: UInt32 = 0, options: LinkOptions? = nil,
                parentUnresolved: Bool = false, rootQdisc: String? = nil, shaping: Shaping? = nil,
                alias: String? = nil) {
        self.name = name
        self.index = index
        self.kind = kind
        self.peer = peer
        self.master = master
        self.mtu = mtu
        self.up = up
        self.group = group
        self.options = options
        self.parentUnresolved = parentUnresolved
        self.rootQdisc = rootQdisc
        self.shaping = shaping
        self.alias = alias
    }
}

/// An address on a link (by name, in the namespace that holds both).
public struct LinkAddress: Hashable, Sendable, Comparable {
    public var link: String
    public var prefix: IPPrefix
    public init(link: String, prefix: IPPrefix) {
        self.link = link
        self.prefix = prefix
    }
    public static func < (a: LinkAddress, b: LinkAddress) -> Bool { (a.link, a.prefix) < (b.link, b.prefix) }
}

/// The live state of one namespace, as far as topo cares about it.
public struct LiveNamespace: Hashable, Sendable {
    /// Every link, sorted by ifindex.
    public var links: [LiveLink]
    /// Every address (the backend may leave out nothing; consumers filter link-local).
    public var addresses: [LinkAddress]
    /// Unicast routes not made by the kernel (no `proto kernel`, no local/broadcast), of every
    /// table but `local` (255); `table` nil is main. `metric` is the kernel's priority (nil when 0).
    public var routes: [RouteSpec]
    /// The sysctls that were asked for, by the key as the plan spells it; a key that does not
    /// exist is absent.
    public var sysctls: [String: String]
    /// What exists but topo cannot express, one description each (`rule from all lookup 10`,
    /// `blackhole route 10.9.0.0/16`, `link wg0 (wireguard)`): `show` prints them as
    /// `# not modelled:` comments. The executor ignores them.
    public var unmodelled: [String]

    public init(links: [LiveLink] = [], addresses: [LinkAddress] = [], routes: [RouteSpec] = [],
                sysctls: [String: String] = [:], unmodelled: [String] = []) {
        self.links = links
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.unmodelled = unmodelled
    }

    /// The link of that name, if any.
    public func link(_ name: String) -> LiveLink? { links.first { $0.name == name } }
}

/// One request the executor hands to a backend, to run in the namespace of its batch.
/// Link names are relative to that namespace; a veth's peer names its own namespace.
public enum KernelOp: Hashable, Sendable, CustomStringConvertible {
    /// Create a veth `name` here and its peer in `peer.namespace`, both carrying `group`.
    case addVeth(name: String, peer: LinkID, group: UInt32)
    case addBridge(name: String, group: UInt32)
    case addDummy(name: String, group: UInt32)
    /// Enslave to `master`, or release (`nil`).
    case setMaster(link: String, master: String?)
    case setMTU(link: String, mtu: Int)
    /// Set `IFF_UP` on (true) or off (false).
    case setUp(link: String, up: Bool)
    case addAddress(link: String, prefix: IPPrefix)
    case deleteAddress(link: String, prefix: IPPrefix)
    case addRoute(RouteSpec)
    case deleteRoute(RouteSpec)
    /// Write a sysctl (`net.ipv4.ip_forward`) as seen from inside the namespace.
    case setSysctl(key: String, value: String)
    /// Delete one link (a veth takes its peer with it).
    case deleteLink(name: String)
    /// Create a vlan/macvlan/ipvlan/vxlan/vrf `name` in this namespace, carrying `group`. A
    /// parent (or vxlan underlay) in another namespace is the backend's business: it sends the
    /// request from the parent's namespace with `IFLA_NET_NS_FD` of this one, in one request.
    case addLink(name: String, options: LinkOptions, group: UInt32)
    /// Change the in-place options of an existing link (`ip link set IF type KIND …`).
    case changeLink(name: String, options: LinkOptions)
    /// Make the root qdisc(s) what `shaping` says (topo's layout, see `Shaping`), replacing
    /// whatever root qdisc is there.
    case setQdisc(link: String, shaping: Shaping)
    /// Delete the root qdisc (the kernel's default returns). None there is not an error.
    case deleteQdisc(link: String)
    /// Rename a link (it must be down) and, if `group` is given, set its `IFLA_GROUP` in the
    /// same request: how a removal is made reversible until the run commits.
    case renameLink(name: String, newName: String, group: UInt32?)

    public var description: String {
        switch self {
        case .addVeth(let n, let p, let g): return "add veth \(n) peer \(p) group \(g)"
        case .addBridge(let n, let g): return "add bridge \(n) group \(g)"
        case .addDummy(let n, let g): return "add dummy \(n) group \(g)"
        case .setMaster(let l, let m): return "set \(l) " + (m.map { "master \($0)" } ?? "nomaster")
        case .setMTU(let l, let m): return "set \(l) mtu \(m)"
        case .setUp(let l, let u): return "set \(l) \(u ? "up" : "down")"
        case .addAddress(let l, let p): return "addr add \(p) dev \(l)"
        case .deleteAddress(let l, let p): return "addr del \(p) dev \(l)"
        case .addRoute(let r): return "route add \(routeText(r))"
        case .deleteRoute(let r): return "route del \(routeText(r))"
        case .setSysctl(let k, let v): return "sysctl \(k)=\(v)"
        case .deleteLink(let n): return "link del \(n)"
        case .addLink(let n, let o, let g): return "add link \(n) \(o) group \(g)"
        case .changeLink(let n, let o): return "change link \(n) \(o)"
        case .setQdisc(let l, let t): return "tc replace \(l) \(t.description)"
        case .deleteQdisc(let l): return "tc del \(l) root"
        case .renameLink(let n, let m, let g): return "rename \(n) to \(m)" + (g.map { " group \($0)" } ?? "")
        }
    }
}

/// `10.0.0.0/24 via 10.0.1.1 dev eth0 metric 5` (`default` for a zero-length destination).
public func routeText(_ r: RouteSpec) -> String {
    var s = r.isDefault ? "default" : r.destination.description
    if let g = r.gateway { s += " via \(g)" }
    if let d = r.device { s += " dev \(d)" }
    if let m = r.metric { s += " metric \(m)" }
    if let t = r.table { s += " table \(t)" }
    return s
}

/// The outcome of an ICMP echo test.
public struct PingResult: Hashable, Sendable {
    public var sent: Int
    public var received: Int
    public init(sent: Int, received: Int) {
        self.sent = sent
        self.received = received
    }
}

/// The outcome of a command run inside a namespace.
public struct ExecResult: Hashable, Sendable {
    /// The exit status (128+N when killed by signal N).
    public var status: Int32
    /// Standard output and standard error, interleaved.
    public var output: String
    /// True when the command ran past its timeout and its process group was killed
    /// (`status` is then 137, SIGKILL).
    public var timedOut: Bool
    public init(status: Int32, output: String, timedOut: Bool = false) {
        self.status = status
        self.output = output
        self.timedOut = timedOut
    }
}

/// The primitive, namespace-aware calls the executor needs. `hostNamespace` (`host`) names
/// the namespace topo was started in; every other name is a named namespace (`/run/netns/NAME`).
public protocol KernelBackend: AnyObject {
    /// The named namespaces that exist (not `host`).
    func listNamespaces() throws -> [String]

    /// Reads the live state of several namespaces at once (so veth peers can be resolved
    /// across them). `sysctls` names, per namespace, the keys to read.
    func readState(of namespaces: [String], sysctls: [String: [String]]) throws -> [String: LiveNamespace]

    /// The same, told which peer each veth end is expected to have (from the plan): a backend
    /// can then confirm each peer with one lookup instead of searching every namespace read.
    /// A peer found otherwise is still reported.
    func readState(of namespaces: [String], sysctls: [String: [String]],
                   expectedPeers: [LinkID: LinkID]) throws -> [String: LiveNamespace]

    /// Runs `ops` in order inside `namespace` (a backend may pipeline them in one send) and
    /// returns one result per operation, in the same order. Like the kernel, an operation
    /// that fails does not stop the ones after it.
    func apply(_ ops: [KernelOp], in namespace: String) -> [Result<Void, KernelError>]

    /// Runs operations of several namespaces in the order given (a backend may send them
    /// together, e.g. all link creations through one socket) and returns one result per item.
    /// Like `apply(_:in:)`, a failure does not stop the items after it.
    func apply(across items: [(namespace: String, op: KernelOp)]) -> [Result<Void, KernelError>]

    /// Creates a named namespace as `ip netns add` does (its `lo` starts down).
    func createNamespace(_ name: String) throws
    /// Creates several named namespaces, one result per name, in order (a failure does not
    /// stop the ones after it).
    func createNamespaces(_ names: [String]) -> [Result<Void, KernelError>]
    /// Deletes a named namespace as `ip netns delete` does.
    func deleteNamespace(_ name: String) throws
    /// Deletes several named namespaces, one result per name, in order.
    func deleteNamespaces(_ names: [String]) -> [Result<Void, KernelError>]
    /// Deletes every link of `group` in the namespace in one request. No such link is not an error.
    func deleteLinks(group: UInt32, in namespace: String) throws

    /// Takes a named namespace out of `/run/netns` (unmount, unlink) but keeps it alive by an
    /// open descriptor, so `reattachNamespace` can put it back: the reversible half of removing it.
    func detachNamespace(_ name: String) throws
    /// Puts a detached namespace back at `/run/netns/NAME`.
    func reattachNamespace(_ name: String) throws
    /// Drops the descriptors of detached namespaces: the kernel then destroys them.
    func releaseDetachedNamespaces()

    /// ICMP echo (v4 or v6) from inside the namespace until `count` requests are answered or
    /// the time is up (`timeout` seconds for the first answer; a backend may resend meanwhile).
    /// `sent` counts the requests sent, `received` the distinct ones answered.
    func ping(from namespace: String, to address: IPAddress, count: Int, timeout: Double) throws -> PingResult
    /// Runs `sh -c command` inside the namespace; after `timeout` seconds its process group is
    /// killed (`timedOut`). topo waits for the command, not for what it leaves in the background.
    func exec(in namespace: String, command: String, timeout: Double) throws -> ExecResult

    /// Starts `sh -c command` inside the namespace, detached (its own session, default signals,
    /// stdin `/dev/null`, output appended to a log file in `logDirectory`); returns its pid and
    /// start time (`/proc/PID/stat` field 22).
    func startDaemon(in namespace: String, command: String, logDirectory: String) throws -> (pid: Int32, startTime: UInt64)

    /// What the given sysctls are in a fresh namespace (keys that do not exist there are absent).
    func freshNamespaceSysctls(_ keys: [String]) throws -> [String: String]

    /// Files in `/run/netns` with no namespace mounted on them (left by a crash mid-create).
    func halfMadeNamespaces() throws -> [String]

    /// Which of `names` exist as named namespaces, and which are half-made files — without
    /// listing the whole directory (a run scoped to a few namespaces of a large lab).
    func namespaceStatus(_ names: [String]) throws -> (present: Set<String>, halfMade: [String])
    /// Removes such a file.
    func removeHalfMadeNamespace(_ name: String) throws
}

extension KernelBackend {
    public func readState(of namespaces: [String], sysctls: [String: [String]],
                          expectedPeers: [LinkID: LinkID]) throws -> [String: LiveNamespace] {
        try readState(of: namespaces, sysctls: sysctls)
    }

    public func halfMadeNamespaces() throws -> [String] { [] }
    public func namespaceStatus(_ names: [String]) throws -> (present: Set<String>, halfMade: [String]) {
        let all = Set(try listNamespaces())
        let half = Set(try halfMadeNamespaces())
        return (Set(names.filter(all.contains)), names.filter(half.contains))
    }
    public func freshNamespaceSysctls(_ keys: [String]) throws -> [String: String] { [:] }
    public func removeHalfMadeNamespace(_ name: String) throws {
        throw KernelError.failure("cannot remove /run/netns/\(name)")
    }
    public func startDaemon(in namespace: String, command: String, logDirectory: String) throws -> (pid: Int32, startTime: UInt64) {
        throw KernelError.failure("this backend cannot start daemons")
    }

    /// Consecutive items of one namespace go to `apply(_:in:)` together.
    public func apply(across items: [(namespace: String, op: KernelOp)]) -> [Result<Void, KernelError>] {
        applyConsecutive(items)
    }

    /// The default `apply(across:)`: consecutive items of one namespace go to `apply(_:in:)`
    /// together.
    public func applyConsecutive(_ items: [(namespace: String, op: KernelOp)]) -> [Result<Void, KernelError>] {
        var out: [Result<Void, KernelError>] = []
        var i = 0
        while i < items.count {
            var j = i
            while j < items.count && items[j].namespace == items[i].namespace { j += 1 }
            let ops = items[i..<j].map(\.op)
            var r = apply(ops, in: items[i].namespace)
            while r.count < ops.count { r.append(.failure(.failure("no result"))) }
            out += r.prefix(ops.count)
            i = j
        }
        return out
    }

    /// `deleteNamespace` for each name.
    public func deleteNamespaces(_ names: [String]) -> [Result<Void, KernelError>] {
        names.map { n in
            Result { try deleteNamespace(n) }.mapError { $0 as? KernelError ?? .failure("\($0)") }
        }
    }

    /// `createNamespace` for each name.
    public func createNamespaces(_ names: [String]) -> [Result<Void, KernelError>] {
        names.map { n in
            Result { try createNamespace(n) }.mapError { $0 as? KernelError ?? .failure("\($0)") }
        }
    }
}
