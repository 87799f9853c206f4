import CNetShim
import Glibc
import Netlink
import TopoLanguage

/// `KernelBackend` over the `Netlink` module: one socket per namespace, opened once on the
/// namespace thread; veth ends created directly in their namespaces (`IFLA_NET_NS_FD`);
/// every batch pipelined in one send; sysctls and ping from the namespace thread while it is
/// inside the namespace; exec through `nsenter --net=/run/netns/NS sh -c CMD`.
public final class NetlinkBackend: KernelBackend {
    let thread: NamespaceThread
    let named: NamedNamespaces
    private var sockets: [String: NetlinkSocket] = [:]
    private var fds: [String: NamespaceFD] = [:]
    /// [kinds/tc] State of NetlinkBackend+Kinds.swift / +TC.swift (the sysctl accessor).
    let extras = NetlinkExtras()

    /// - Parameter netnsDirectory: where named namespaces live (`/run/netns`).
    /// - Parameter thread: the namespace thread to work on; its home namespace is `host`
    ///   (default: a new thread in the caller's namespaces). Tests pass a sandbox thread.
    public init(netnsDirectory: String = "/run/netns", thread given: NamespaceThread? = nil) throws {
        do {
            // Two descriptors per namespace (its fd and its socket): lift the soft open-file
            // limit to the hard one, so e.g. `ulimit -n 1024` does not stop a 1000-host star.
            _ = try? FileLimit.raiseSoftToHard()
            thread = try given ?? NamespaceThread()
            named = try NamedNamespaces(directory: netnsDirectory, thread: thread)
        } catch {
            throw kernelError(error)
        }
    }

    /// EMFILE/ENFILE explained: how many namespaces are open and what the limit is.
    private func descriptorError(_ error: Error) -> KernelError {
        let e = kernelError(error)
        guard let n = e.errnoValue, n == EMFILE || n == ENFILE else { return e }
        return NetlinkBackend.tooManyFiles(errno: n, openNamespaces: fds.count, softLimit: try? FileLimit.current().soft)
    }

    /// The error for EMFILE/ENFILE while opening a namespace's fd or socket.
    static func tooManyFiles(errno n: Int32, openNamespaces: Int, softLimit: UInt64?) -> KernelError {
        let which = n == EMFILE ? "topo's open-file limit (ulimit -n \(softLimit.map(String.init) ?? "?"), already raised to the hard limit)"
            : "the system's open-file limit (fs.file-max)"
        return .failure("too many open files: topo keeps 2 descriptors per namespace and has \(openNamespaces) namespaces open; "
            + "\(which) is too low — raise the hard limit (e.g. `ulimit -Hn 65536` as root, or LimitNOFILE=) and retry")
    }

    func fd(_ ns: String) throws -> NamespaceFD {  // [kinds/tc] not private: +Kinds/+TC use it
        if let f = fds[ns] { return f }
        do {
            let f = ns == hostNamespace ? try NamespaceFD(path: thread.namespacePath("net")) : try named.open(ns)
            fds[ns] = f
            return f
        } catch { throw descriptorError(error) }
    }

    func socket(_ ns: String) throws -> NetlinkSocket {  // [kinds/tc] not private: +Kinds/+TC use it
        if let s = sockets[ns] { return s }
        let f = try fd(ns).fd
        do {
            let s = try thread.openSocket(inNamespace: f)
            sockets[ns] = s
            return s
        } catch { throw descriptorError(error) }
    }

    /// Drops the cached socket and fd (they would keep a deleted namespace alive).
    private func forget(_ ns: String) {
        sockets[ns] = nil
        fds[ns] = nil
    }

    public func listNamespaces() throws -> [String] {
        do { return try named.list() } catch { throw kernelError(error) }
    }

    public func readState(of namespaces: [String], sysctls: [String: [String]]) throws -> [String: LiveNamespace] {
        do {
            var raw: [String: [LinkInfo]] = [:]
            var out: [String: LiveNamespace] = [:]
            for ns in namespaces {
                let s = try socket(ns)
                let links = try s.links()
                raw[ns] = links
                let names = Dictionary(links.map { (Int($0.index), $0.name) }, uniquingKeysWith: { a, _ in a })
                var st = LiveNamespace()
                st.links = links.sorted { $0.index < $1.index }.map { l in
                    LiveLink(name: l.name, index: Int(l.index), kind: l.kind, peer: nil,
                             master: l.masterIndex.flatMap { names[Int($0)] }, mtu: Int(l.mtu ?? 0),
                             up: l.isUp, group: l.group)
                }
                // [kinds/tc] aliases, qdiscs/shaping, rules, unmodelled kinds (NetlinkBackend+Kinds.swift).
                try readExtras(s, links: links, into: &st)
                st.addresses = try s.addresses().compactMap { a in
                    guard let bytes = a.primary, let ip = IPAddress(bytes: bytes), let n = names[Int(a.index)] else { return nil }
                    return LinkAddress(link: n, prefix: IPPrefix(address: ip, length: Int(a.prefixLength)))
                }
                // [kinds/tc] every table but local; blackhole & co. to `unmodelled` (+Kinds).
                st.routes = try liveRoutes(s, names: names, unmodelled: &st.unmodelled)
                // [kinds/tc] through the private procfs (SysctlAccessor, +Kinds).
                st.sysctls = try readSysctls(sysctls[ns] ?? [], in: ns)
                out[ns] = st
            }
            try resolvePeers(raw, into: &out)
            try resolveLinkOptions(raw, into: &out)  // [kinds/tc] parents across namespaces (+Kinds)
            return out
        } catch let e as KernelError {
            throw e
        } catch {
            throw kernelError(error)
        }
    }

    /// Fills in each veth's `peer`. A peer in the same namespace is named by ifindex alone. One in
    /// another namespace is named by (nsid, ifindex), where the nsid is in the id space of the
    /// namespace that reports it and ifindexes repeat across namespaces; so a candidate (a veth
    /// in a namespace that was read, at that ifindex, pointing back at our ifindex) is accepted
    /// only if our namespace gives the candidate's namespace exactly that nsid (`RTM_GETNSID`).
    private func resolvePeers(_ raw: [String: [LinkInfo]], into out: inout [String: LiveNamespace]) throws {
        var byIndex: [String: [Int32: LinkInfo]] = [:]
        for (ns, links) in raw {
            byIndex[ns] = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        }
        var nsids: [String: [String: Int32?]] = [:]
        func nsid(from ns: String, of other: String) throws -> Int32? {
            if let known = nsids[ns]?[other] { return known }
            let id = try socket(ns).namespaceID(of: try fd(other).fd)
            nsids[ns, default: [:]][other] = .some(id)
            return id
        }
        let names = raw.keys.sorted()
        for ns in names {
            guard var st = out[ns] else { continue }
            for i in st.links.indices where st.links[i].kind == "veth" {
                guard let l = byIndex[ns]?[Int32(st.links[i].index)], let p = l.peerIndex else { continue }
                guard let id = l.linkNetnsID else {
                    if let c = byIndex[ns]?[p], c.kind == "veth" { st.links[i].peer = LinkID(ns, c.name) }
                    continue
                }
                for other in names where other != ns {
                    guard let c = byIndex[other]?[p], c.kind == "veth", c.peerIndex == l.index, c.linkNetnsID != nil else { continue }
                    if try nsid(from: ns, of: other) == id {
                        st.links[i].peer = LinkID(other, c.name)
                        break
                    }
                }
            }
            out[ns] = st
        }
    }

    public func apply(_ ops: [KernelOp], in ns: String) -> [Result<Void, KernelError>] {
        let s: NetlinkSocket
        do { s = try socket(ns) } catch {
            return ops.map { _ in .failure(kernelError(error)) }
        }
        // Names to indices, once per batch (links created by earlier batches included).
        var index: [String: Int32] = [:]
        let needsIndex = ops.contains { op in
            switch op {
            case .setMaster, .addAddress, .deleteAddress, .addRoute, .deleteRoute, .renameLink: return true
            default: return false
            }
        }
        if needsIndex || ops.contains(where: NetlinkBackend.kindOpNeedsIndex) {  // [kinds/tc] qdisc ops too
            do { for l in try s.links() { index[l.name] = l.index } } catch {
                return ops.map { _ in .failure(kernelError(error)) }
            }
        }

        var results = [Result<Void, KernelError>?](repeating: nil, count: ops.count)
        var requests: [Request] = []
        var slots: [Int] = []
        func flush() {
            guard !requests.isEmpty else { return }
            for (slot, r) in zip(slots, s.executeBatch(requests)) {
                results[slot] = r.mapError { kernelError($0) }
            }
            requests = []
            slots = []
        }
        for (i, op) in ops.enumerated() {
            // [kinds/tc] addLink, changeLink, setQdisc, deleteQdisc: each on its own, in order
            // (NetlinkBackend+Kinds.swift, +TC.swift).
            if NetlinkBackend.runsOnItsOwn(op) {
                flush()
                results[i] = applyOnItsOwn(op, in: ns, socket: s, index: index)
                continue
            }
            if case .setSysctl(let k, let v) = op {
                // Sysctls are file writes on the namespace thread, not netlink requests; the
                // requests before it go first, keeping the order.
                flush()
                do {
                    try writeSysctl(key: k, value: v, in: ns)  // [kinds/tc] private procfs (+Kinds)
                    results[i] = .success(())
                } catch { results[i] = .failure(kernelError(error)) }
                continue
            }
            do {
                requests.append(try request(op, in: ns, index: index))
                slots.append(i)
                // Later operations of the batch know the link by its new name.
                if case .renameLink(let from, let to, _) = op, let x = index[from] {
                    index[from] = nil
                    index[to] = x
                }
            } catch {
                results[i] = .failure(kernelError(error))
            }
        }
        flush()
        return results.map { $0 ?? .failure(.failure("no result")) }
    }

    /// Link creations (veth, bridge, dummy) of any namespaces go through the home socket in
    /// one pipelined batch, each end placed by `IFLA_NET_NS_FD`; anything else goes to the
    /// namespaces' own sockets, one batch per consecutive run of a namespace.
    public func apply(across items: [(namespace: String, op: KernelOp)]) -> [Result<Void, KernelError>] {
        func isCreation(_ op: KernelOp) -> Bool {
            switch op {
            case .addVeth, .addBridge, .addDummy, .addLink: return true  // [kinds/tc] addLink
            default: return false
            }
        }
        guard !items.isEmpty, items.allSatisfy({ isCreation($0.op) }) else { return applyConsecutive(items) }
        let home: NetlinkSocket
        do { home = try socket(hostNamespace) } catch {
            return items.map { _ in .failure(kernelError(error)) }
        }
        var results = [Result<Void, KernelError>?](repeating: nil, count: items.count)
        var requests: [Request] = []
        var slots: [Int] = []
        func flush() {
            guard !requests.isEmpty else { return }
            for (slot, r) in zip(slots, home.executeBatch(requests)) { results[slot] = r.mapError { kernelError($0) } }
            requests = []
            slots = []
        }
        for (i, item) in items.enumerated() {
            // [kinds/tc] a stacked/tunnel/vrf link goes out from its parent's namespace (+Kinds),
            // after what came before it (its parent, maybe).
            if case .addLink = item.op {
                flush()
                results[i] = applyOnItsOwn(item.op, in: item.namespace, socket: nil)
                continue
            }
            do {
                requests.append(try creationRequest(item.op, in: item.namespace))
                slots.append(i)
            } catch { results[i] = .failure(kernelError(error)) }
        }
        flush()
        return results.map { $0 ?? .failure(.failure("no result")) }
    }

    /// A link creation sent from the home namespace's socket: `IFLA_NET_NS_FD` on every end
    /// that is not in the home namespace.
    private func creationRequest(_ op: KernelOp, in ns: String) throws -> Request {
        func place(_ namespace: String) throws -> [LinkAttribute] {
            namespace == hostNamespace ? [] : [.netNamespaceFD(UInt32(try fd(namespace).fd))]
        }
        let create: MessageFlags = [.create, .excl]
        switch op {
        case .addVeth(let name, let peer, let group):
            try validateInterfaceName(name)
            try validateInterfaceName(peer.name)
            let peerMessage = LinkMessage(attributes: try place(peer.namespace) + [.name(peer.name), .group(group)])
            let m = LinkMessage(attributes: try place(ns) + [.name(name), .group(group),
                                                             .linkInfo([.kind("veth"), .vethPeer(peerMessage)])])
            return Request(type: MessageType.newLink, flags: create, payload: m.encoded())
        case .addBridge(let name, let group), .addDummy(let name, let group):
            try validateInterfaceName(name)
            let kind: String
            if case .addBridge = op { kind = "bridge" } else { kind = "dummy" }
            let m = LinkMessage(attributes: try place(ns) + [.name(name), .group(group), .linkInfo([.kind(kind)])])
            return Request(type: MessageType.newLink, flags: create, payload: m.encoded())
        default:
            throw KernelError.failure("not a link creation: \(op)")
        }
    }

    private func request(_ op: KernelOp, in ns: String, index: [String: Int32]) throws -> Request {
        func idx(_ name: String) throws -> Int32 {
            guard let i = index[name] else { throw KernelError.errno(ENODEV, extack: "no interface `\(name)`") }
            return i
        }
        let create: MessageFlags = [.create, .excl]
        switch op {
        case .addVeth(let name, let peer, let group):
            var peerAttrs: [LinkAttribute] = []
            if peer.namespace != ns { peerAttrs.append(.netNamespaceFD(UInt32(try fd(peer.namespace).fd))) }
            peerAttrs += [.name(peer.name), .group(group)]
            let m = LinkMessage(attributes: [.name(name), .group(group),
                                             .linkInfo([.kind("veth"), .vethPeer(LinkMessage(attributes: peerAttrs))])])
            try validateInterfaceName(name)
            try validateInterfaceName(peer.name)
            return Request(type: MessageType.newLink, flags: create, payload: m.encoded())
        case .addBridge(let name, let group), .addDummy(let name, let group):
            try validateInterfaceName(name)
            let kind: String
            if case .addBridge = op { kind = "bridge" } else { kind = "dummy" }
            let m = LinkMessage(attributes: [.name(name), .group(group), .linkInfo([.kind(kind)])])
            return Request(type: MessageType.newLink, flags: create, payload: m.encoded())
        case .setMaster(let l, let m):
            return try LinkRequest.setMaster(.name(l), masterIndex: m.map(idx) ?? 0)
        case .setMTU(let l, let mtu):
            guard mtu > 0, mtu <= Int(UInt32.max) else { throw KernelError.errno(EINVAL, extack: "mtu \(mtu) out of range") }
            return try LinkRequest.setMTU(.name(l), mtu: UInt32(mtu))
        case .setUp(let l, let up):
            return try LinkRequest.setUp(.name(l), up)
        case .addAddress(let l, let p):
            return try AddressRequest.add(index: try idx(l), address: p.address.bytes, prefixLength: p.length)
        case .deleteAddress(let l, let p):
            return try AddressRequest.delete(index: try idx(l), address: p.address.bytes, prefixLength: p.length)
        case .addRoute(let r), .deleteRoute(let r):
            let oif = try r.device.map(idx)
            guard (r.metric ?? 0) >= 0, (r.metric ?? 0) <= Int(UInt32.max) else { throw KernelError.errno(EINVAL) }
            let prio = r.metric.map { UInt32($0) }
            if case .addRoute = op {
                return try RouteRequest.add(destination: r.destination.address.bytes, prefixLength: r.destination.length,
                                            gateway: r.gateway?.bytes, outputIndex: oif, priority: prio,
                                            table: r.table)  // [kinds/tc] route tables
            }
            return try RouteRequest.delete(destination: r.destination.address.bytes, prefixLength: r.destination.length,
                                           gateway: r.gateway?.bytes, outputIndex: oif, priority: prio,
                                           table: r.table)  // [kinds/tc] route tables
        case .deleteLink(let name):
            return try LinkRequest.delete(.name(name))
        case .setSysctl:
            throw KernelError.failure("sysctl is not a netlink request")
        case .renameLink(let name, let newName, let group):
            return try LinkRequest.rename(index: try idx(name), to: newName, group: group)
        case .addLink, .changeLink, .setQdisc, .deleteQdisc:
            throw KernelError.failure("not supported yet: \(op)")
        }
    }

    /// Creates the namespace and, in the same trip to the namespace thread while it is inside,
    /// opens the namespace's fd and its netlink socket for the rest of the run.
    public func createNamespace(_ name: String) throws {
        do {
            let (f, s) = try named.create(name) { () throws -> (NamespaceFD, NetlinkSocket) in
                let f = try NamespaceFD(path: "/proc/thread-self/ns/net")
                return (f, try NetlinkSocket())
            }
            fds[name] = f
            sockets[name] = s
        } catch { throw descriptorError(error) }
    }

    public func deleteNamespace(_ name: String) throws {
        forget(name)
        do { try named.delete(name) } catch { throw kernelError(error) }
    }

    /// All in one trip to the namespace thread.
    public func deleteNamespaces(_ names: [String]) -> [Result<Void, KernelError>] {
        for n in names { forget(n) }
        return named.delete(names).map { $0.mapError { kernelError($0) } }
    }

    /// Namespaces taken out of `/run/netns` but kept alive, until released or put back.
    private var detached: [String: NamespaceFD] = [:]

    public func detachNamespace(_ name: String) throws {
        let f = try fd(name)
        do { try named.delete(name) } catch { throw kernelError(error) }
        detached[name] = f
    }

    public func reattachNamespace(_ name: String) throws {
        guard let f = detached[name] else { throw KernelError.failure("namespace `\(name)` was not detached") }
        do { try named.attach(name, fd: f.fd) } catch { throw kernelError(error) }
        detached[name] = nil
    }

    public func releaseDetachedNamespaces() {
        for n in detached.keys { forget(n) }
        detached = [:]
    }

    public func deleteLinks(group: UInt32, in ns: String) throws {
        do {
            try socket(ns).execute(try LinkRequest.deleteGroup(group))
        } catch {
            let e = kernelError(error)
            if e.errnoValue == ENODEV { return }
            throw e
        }
    }

    public func ping(from ns: String, to address: IPAddress, count: Int, timeout: Double) throws -> PingResult {
        let nsfd = try fd(ns).fd
        do {
            return try thread.run(inNamespace: nsfd) { try icmpEcho(address, count: count, timeout: timeout) }
        } catch { throw kernelError(error) }
    }

    public func exec(in ns: String, command: String) throws -> ExecResult {
        try exec(in: ns, command: command, timeout: nil)
    }

    public func exec(in ns: String, command: String, timeout: Double?) throws -> ExecResult {
        let argv = ns == hostNamespace ? ["/bin/sh", "-c", command]
            : ["/usr/bin/env", "nsenter", "--net=" + named.path(of: ns), "/bin/sh", "-c", command]
        // Spawned from the namespace thread, so the child starts in topo's own namespaces
        // (a sandboxed caller stays sandboxed).
        do { return try thread.run { try spawnCapturing(argv) } } catch { throw kernelError(error) }
    }
}

/// Maps any error of the Netlink module to a `KernelError`.
func kernelError(_ error: Error) -> KernelError {
    if let k = error as? KernelError { return k }
    if let n = error as? NetlinkError {
        switch n {
        case .kernel(let e, let msg): return .refused(errno: e, text: errnoText(e), extack: msg)
        case .system(_, let e): return .refused(errno: e, text: errnoText(e), extack: nil)
        default: return .failure(n.description)
        }
    }
    return .failure("\(error)")
}

/// Seconds on the monotonic clock.
func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// An ICMP echo request: type 8 (v4) or 128 (v6), identifier, sequence, a short payload. The
/// v4 checksum is filled in; for ICMPv6 raw sockets the kernel computes it (it covers the
/// IPv6 pseudo-header, which only the kernel knows fully).
func icmpEchoRequest(v6: Bool, identifier: UInt16, sequence: UInt16) -> [UInt8] {
    var pkt: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                        UInt8(sequence >> 8), UInt8(sequence & 0xff)]
    pkt += Array("topo-ping".utf8)
    if !v6 {
        let c = internetChecksum(pkt)
        pkt[2] = UInt8(c >> 8)
        pkt[3] = UInt8(c & 0xff)
    }
    return pkt
}

/// The RFC 1071 checksum (ones' complement of the ones' complement sum of 16-bit words).
func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i < bytes.count {
        sum += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
        i += 2
    }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

/// If `packet` (as a raw socket returns it: with the IPv4 header for v4, without one for v6) is
/// an echo reply carrying `identifier`, its sequence number.
func echoReplySequence(_ packet: ArraySlice<UInt8>, v6: Bool, identifier: UInt16) -> UInt16? {
    let p = Array(packet)
    var off = 0
    if !v6 {
        guard let first = p.first, first >> 4 == 4 else { return nil }
        off = Int(first & 0x0f) * 4
    }
    guard p.count >= off + 8, p[off] == (v6 ? 129 : 0), p[off + 1] == 0 else { return nil }
    guard UInt16(p[off + 4]) << 8 | UInt16(p[off + 5]) == identifier else { return nil }
    return UInt16(p[off + 6]) << 8 | UInt16(p[off + 7])
}

/// ICMP echo over a raw socket, run on a thread already inside the namespace.
///
/// A fresh veth's carrier comes up asynchronously (linkwatch, up to about a second) and
/// packets sent before are dropped; the first ARP/ND resolution may then wait for its next
/// retry. So one request goes out every `interval` (new sequence number each) until `count`
/// distinct ones are answered or `timeout` (plus `interval` per further answer wanted) passes.
/// Only echo replies reach the socket (ICMP_FILTER / ICMP6_FILTER); replies are matched by
/// identifier and by the sequence numbers sent.
private func icmpEcho(_ address: IPAddress, count: Int, timeout: Double, interval: Double = 0.2) throws -> PingResult {
    let v6 = address.family == .ipv6
    let s = Glibc.socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                         v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP))
    guard s >= 0 else { throw KernelError.errno(errno) }
    defer { close(s) }
    if v6 {
        // ICMP6_FILTER (1) at level IPPROTO_ICMPV6: a set bit blocks that type. Pass 129 only.
        var filter = [UInt32](repeating: .max, count: 8)
        filter[129 >> 5] &= ~(UInt32(1) << UInt32(129 & 31))
        _ = setsockopt(s, Int32(IPPROTO_ICMPV6), 1, &filter, socklen_t(32))
    } else {
        // ICMP_FILTER (1) at level SOL_RAW (255): a set bit blocks that type. Pass 0 only.
        var mask: UInt32 = ~UInt32(1)
        _ = setsockopt(s, 255, 1, &mask, socklen_t(4))
    }
    var sa = sockaddr_storage()
    let saLen: socklen_t
    let b = address.bytes
    if v6 {
        saLen = socklen_t(MemoryLayout<sockaddr_in6>.size)
        withUnsafeMutableBytes(of: &sa) { raw in
            raw.storeBytes(of: sa_family_t(AF_INET6), toByteOffset: 0, as: sa_family_t.self)
            for i in 0..<16 { raw[8 + i] = b[i] }    // sin6_addr follows family, port, flowinfo
        }
    } else {
        saLen = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutableBytes(of: &sa) { raw in
            raw.storeBytes(of: sa_family_t(AF_INET), toByteOffset: 0, as: sa_family_t.self)
            for i in 0..<4 { raw[4 + i] = b[i] }     // sin_addr follows family, port
        }
    }
    let ident = UInt16(truncatingIfNeeded: getpid() ^ Int32(topo_gettid()))
    let wanted = max(1, count)
    let start = monotonicNow()
    let deadline = start + max(interval, timeout) + interval * Double(wanted - 1)
    var sentSeqs: Set<UInt16> = []
    var answered: Set<UInt16> = []
    var sent = 0
    var nextSeq: UInt16 = 1
    var nextSend = start
    var buf = [UInt8](repeating: 0, count: 2048)
    while answered.count < wanted {
        var now = monotonicNow()
        if now >= deadline { break }
        if now >= nextSend {
            let pkt = icmpEchoRequest(v6: v6, identifier: ident, sequence: nextSeq)
            let n = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s, pkt, pkt.count, 0, $0, saLen) }
            }
            if n == pkt.count {
                sent += 1
                sentSeqs.insert(nextSeq)
            }   // else (e.g. ENETUNREACH, ENOBUFS): unanswered; try again next interval
            nextSeq &+= 1
            if nextSeq == 0 { nextSeq = 1 }
            nextSend = now + interval
            now = monotonicNow()
        }
        let wait = min(nextSend, deadline) - now
        var pfd = pollfd(fd: s, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(max(1, (wait * 1000).rounded(.up))))
        if r < 0 && errno != EINTR { throw KernelError.errno(errno) }
        if r <= 0 { continue }
        while true {
            let got = recv(s, &buf, buf.count, Int32(MSG_DONTWAIT))
            if got <= 0 { break }
            if let sq = echoReplySequence(buf[0..<got], v6: v6, identifier: ident), sentSeqs.contains(sq) {
                answered.insert(sq)
            }
        }
    }
    return PingResult(sent: sent, received: answered.count)
}

/// Runs argv, capturing stdout and stderr together.
func spawnCapturing(_ argv: [String]) throws -> ExecResult {
    var pipeFDs: [Int32] = [0, 0]
    guard pipe2(&pipeFDs, O_CLOEXEC) == 0 else { throw KernelError.errno(errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, nil, &cargs, Glibc.environ)
    close(pipeFDs[1])
    guard rc == 0 else {
        close(pipeFDs[0])
        throw KernelError.errno(rc)
    }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(pipeFDs[0], &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        if out.count < 1 << 20 { out += buf[0..<n] }
    }
    close(pipeFDs[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ExecResult(status: code, output: String(decoding: out, as: UTF8.self))
}
