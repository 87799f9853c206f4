import CNetShim
import Glibc
import Netlink
import TopoLanguage

/// `KernelBackend` over the `Netlink` module: one socket per namespace, opened once on the
/// namespace thread; veth ends created directly in their namespaces (`IFLA_NET_NS_FD`);
/// every batch pipelined in one send; sysctls and ping from the namespace thread while it is
/// inside the namespace; exec and daemons spawned from that thread inside the namespace
/// (`Processes`, no nsenter); many pings at once from threads inside their namespaces.
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
        return NetlinkBackend.tooManyFiles(errno: n, openNamespaces: sockets.count, softLimit: try? FileLimit.current().soft)
    }

    /// The error for EMFILE/ENFILE while opening a namespace's fd or socket.
    static func tooManyFiles(errno n: Int32, openNamespaces: Int, softLimit: UInt64?) -> KernelError {
        let which = n == EMFILE ? "topo's open-file limit (ulimit -n \(softLimit.map(String.init) ?? "?"), already raised to the hard limit)"
            : "the system's open-file limit (fs.file-max)"
        return .failure("too many open files: topo keeps a socket per namespace and has \(openNamespaces) namespaces open; "
            + "\(which) is too low — raise the hard limit (e.g. `ulimit -Hn 65536` as root, or LimitNOFILE=) and retry")
    }

    /// At most this many namespace descriptors are kept open between operations (each
    /// namespace's socket is kept: it holds the namespace). Two descriptors per namespace would
    /// not fit 10 000 namespaces under a hard limit of 20 000.
    /// A quarter of the open-file limit left after a reserve, at most 2048, at least 8.
    static let descriptorBudget: Int = {
        // Test hook: TOPO_FD_BUDGET=8 makes the trimming happen on small topologies.
        if let v = getenv("TOPO_FD_BUDGET").flatMap({ Int(String(cString: $0)) }), v >= 4 { return v }
        let limit = (try? FileLimit.current().soft).map { Int(clamping: $0) } ?? 1024
        return max(8, min(2048, (limit - 64) / 4))
    }()

    /// Closes the namespace descriptors (not the sockets) when more than the budget are open,
    /// keeping `keep`'s. Called only where no descriptor is in use (before building requests).
    func trimDescriptors(keeping keep: Set<String> = [], room: Int = 0) {
        guard fds.count + room > Self.descriptorBudget else { return }
        for n in Array(fds.keys) where n != hostNamespace && !keep.contains(n) { fds[n] = nil }
    }

    /// Opens the descriptors of `namespaces` that are not open, in one trip to the thread.
    func openDescriptors(_ namespaces: [String]) throws {
        let need = namespaces.filter { fds[$0] == nil && $0 != hostNamespace }
        guard !need.isEmpty else { return }
        for (n, r) in zip(need, named.open(many: need)) {
            switch r {
            case .success(let f): fds[n] = f
            case .failure(let e): throw descriptorError(e)
            }
        }
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
        try readState(of: namespaces, sysctls: sysctls, expectedPeers: [:], forShow: true)
    }

    public func readState(of namespaces: [String], sysctls: [String: [String]],
                          expectedPeers: [LinkID: LinkID]) throws -> [String: LiveNamespace] {
        try readState(of: namespaces, sysctls: sysctls, expectedPeers: expectedPeers, forShow: false)
    }

    /// Opens the descriptors and sockets of namespaces that have none yet, in one trip to the
    /// namespace thread each (not one or two per namespace).
    func prepare(_ namespaces: [String]) throws {
        // In chunks, so that descriptors never pile up (see `descriptorBudget`).
        let needSocket = namespaces.filter { sockets[$0] == nil }
        let chunk = Self.descriptorBudget / 2
        var k = 0
        while k < needSocket.count {
            let part = Array(needSocket[k..<min(k + chunk, needSocket.count)])
            trimDescriptors(room: part.count)
            try openDescriptors(part)
            let descriptors = try part.map { try fd($0).fd }
            let opened: [Result<NetlinkSocket, Error>]
            do { opened = try thread.openSockets(inNamespaces: descriptors) } catch { throw descriptorError(error) }
            for (n, r) in zip(part, opened) {
                switch r {
                case .success(let s): sockets[n] = s
                case .failure(let e): throw descriptorError(e)
                }
            }
            k += chunk
        }
    }

    /// How many threads read namespaces at once (the dumps are mostly the kernel's work).
    static let readThreads = 2

    func readState(of namespaces: [String], sysctls: [String: [String]], expectedPeers: [LinkID: LinkID],
                   forShow: Bool) throws -> [String: LiveNamespace] {
        do {
            try prepare(namespaces)
            // The dumps of each namespace through its own socket, on a few threads at once (the
            // sockets are bound to their namespaces: no setns needed); no state is written
            // while they run.
            let socketsInOrder = try namespaces.map { try socket($0) }
            let rules = forShow && readsRules
            let read = parallelMap(count: namespaces.count, threads: min(Self.readThreads, namespaces.count) - 1) {
                k -> Result<([LinkInfo], LiveNamespace), Error> in
                Result { try self.readOne(socketsInOrder[k], rules: rules) }
            }
            var raw: [String: [LinkInfo]] = [:]
            var out: [String: LiveNamespace] = [:]
            raw.reserveCapacity(namespaces.count)
            out.reserveCapacity(namespaces.count)
            for (k, (ns, r)) in zip(namespaces, read).enumerated() {
                var (links, st) = try r.get()
                // [kinds/tc] through the private procfs (SysctlAccessor, +Kinds). The
                // descriptors they need are opened a chunk at a time.
                if !(sysctls[ns] ?? []).isEmpty && fds[ns] == nil {
                    let rest = namespaces[k...].prefix(Self.descriptorBudget / 2).filter { !(sysctls[$0] ?? []).isEmpty }
                    trimDescriptors(room: rest.count)
                    try openDescriptors(Array(rest))
                }
                st.sysctls = try readSysctls(sysctls[ns] ?? [], in: ns)
                raw[ns] = links
                out[ns] = st
            }
            try resolvePeers(raw, into: &out, expected: expectedPeers)
            try resolveLinkOptions(raw, into: &out)  // [kinds/tc] parents across namespaces (+Kinds)
            return out
        } catch let e as KernelError {
            throw e
        } catch {
            throw kernelError(error)
        }
    }

    /// One namespace's links, addresses, routes (and qdiscs, rules) through its socket.
    private func readOne(_ s: NetlinkSocket, rules: Bool) throws -> ([LinkInfo], LiveNamespace) {
        let links = try s.links()
        let names = Dictionary(links.map { (Int($0.index), $0.name) }, uniquingKeysWith: { a, _ in a })
        var st = LiveNamespace()
        st.links = links.sorted { $0.index < $1.index }.map { l in
            LiveLink(name: l.name, index: Int(l.index), kind: l.kind, peer: nil,
                     master: l.masterIndex.flatMap { names[Int($0)] }, mtu: Int(l.mtu ?? 0),
                     up: l.isUp, group: l.group)
        }
        // [kinds/tc] aliases, qdiscs/shaping, rules, unmodelled kinds (NetlinkBackend+Kinds.swift).
        try readExtras(s, links: links, into: &st, rules: rules)
        st.addresses = try s.addresses().compactMap { a in
            guard let bytes = a.primary, let ip = IPAddress(bytes: bytes), let n = names[Int(a.index)] else { return nil }
            return LinkAddress(link: n, prefix: IPPrefix(address: ip, length: Int(a.prefixLength)))
        }
        // [kinds/tc] every table but local; blackhole & co. to `unmodelled` (+Kinds).
        st.routes = try liveRoutes(s, names: names, unmodelled: &st.unmodelled)
        return (links, st)
    }

    /// Fills in each veth's `peer`. A peer in the same namespace is named by ifindex alone. One in
    /// another namespace is named by (nsid, ifindex), where the nsid is in the id space of the
    /// namespace that reports it and ifindexes repeat across namespaces; so a candidate (a veth
    /// in a namespace that was read, at that ifindex, pointing back at our ifindex) is accepted
    /// only if our namespace gives the candidate's namespace exactly that nsid (`RTM_GETNSID`).
    ///
    /// With `expected` (the plan's pairs) a peer is confirmed in the expected namespace with one
    /// `RTM_GETNSID` per pair of namespaces; otherwise the candidates are found through a table
    /// of veths by (ifindex, peer ifindex) built once, so reading N namespaces stays linear.
    private func resolvePeers(_ raw: [String: [LinkInfo]], into out: inout [String: LiveNamespace],
                              expected: [LinkID: LinkID]) throws {
        var byIndex: [String: [Int32: LinkInfo]] = [:]
        // (ifindex, peer ifindex) → the namespaces holding such a veth end with a link-netnsid.
        struct Pair: Hashable { var index: Int32; var peer: Int32 }
        var byPair: [Pair: [String]] = [:]
        for (ns, links) in raw {
            byIndex[ns] = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
            for l in links where l.kind == "veth" && l.linkNetnsID != nil {
                if let p = l.peerIndex { byPair[Pair(index: l.index, peer: p), default: []].append(ns) }
            }
        }
        var nsids = NSIDCache()
        func nsid(from ns: String, of other: String) throws -> Int32? { try nsids.id(from: ns, of: other, backend: self) }
        for ns in raw.keys.sorted() {
            guard var st = out[ns] else { continue }
            for i in st.links.indices where st.links[i].kind == "veth" {
                guard let l = byIndex[ns]?[Int32(st.links[i].index)], let p = l.peerIndex else { continue }
                guard let id = l.linkNetnsID else {
                    if let c = byIndex[ns]?[p], c.kind == "veth" { st.links[i].peer = LinkID(ns, c.name) }
                    continue
                }
                // The expected peer first.
                if let want = expected[LinkID(ns, l.name)], want.namespace != ns,
                   let c = byIndex[want.namespace]?[p], c.kind == "veth", c.name == want.name, c.peerIndex == l.index,
                   try nsid(from: ns, of: want.namespace) == id {
                    st.links[i].peer = want
                    continue
                }
                for other in byPair[Pair(index: p, peer: l.index)] ?? [] where other != ns {
                    guard let c = byIndex[other]?[p] else { continue }
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
        trimDescriptors(keeping: [ns], room: 1)
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
        let chunk = Self.descriptorBudget / 4
        for (i, item) in items.enumerated() {
            // A chunk at a time: send what is built, close spare descriptors, open the next
            // chunk's in one trip (see `descriptorBudget`).
            if i % chunk == 0 {
                flush()
                var next: [String] = []
                for it in items[i..<min(i + chunk, items.count)] {
                    next.append(it.namespace)
                    if case .addVeth(_, let peer, _) = it.op { next.append(peer.namespace) }
                }
                trimDescriptors(room: 2 * chunk)
                try? openDescriptors(next)
            }
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
        trimDescriptors(room: 1)
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

    public func freshNamespaceSysctls(_ keys: [String]) throws -> [String: String] {
        do {
            return try thread.runInFreshNamespace {
                var out: [String: String] = [:]
                for k in keys { if let v = try? Sysctl.read(key: k) { out[k] = v } }
                return out
            }
        } catch { throw kernelError(error) }
    }

    public func namespaceStatus(_ names: [String]) throws -> (present: Set<String>, halfMade: [String]) {
        do {
            var present: Set<String> = []
            var half: [String] = []
            for (n, st) in zip(names, try named.status(names)) {
                if st == true { present.insert(n) } else if st == false { half.append(n) }
            }
            return (present, half)
        } catch { throw kernelError(error) }
    }

    public func halfMadeNamespaces() throws -> [String] {
        do { return try named.listHalfMade() } catch { throw kernelError(error) }
    }

    public func removeHalfMadeNamespace(_ name: String) throws {
        do { try named.removeHalfMade(name) } catch { throw kernelError(error) }
    }

    /// `sh -c command` spawned from the namespace thread while it is inside the namespace
    /// (so no nsenter, and a sandboxed caller stays sandboxed): see `Processes.run`. The
    /// timeout defaults to 60 s and kills the command's process group.
    public func exec(in ns: String, command: String, timeout: Double) throws -> ExecResult {
        let argv = ["/bin/sh", "-c", command]
        let limit = timeout
        do {
            if ns == hostNamespace { return try thread.run { try Processes.run(argv, timeout: limit) } }
            let nsfd = try fd(ns).fd
            return try thread.run(inNamespace: nsfd) { try Processes.run(argv, timeout: limit) }
        } catch { throw kernelError(error) }
    }

    /// Starts `sh -c command` as a daemon inside the namespace (see `Processes.startDaemon`):
    /// its own session, default signals, stdin /dev/null, output appended to
    /// `logDirectory/NAME.log`. Stop it with `Processes.stop(pid:startTime:)` (from any
    /// thread: signals do not care about namespaces).
    public func startDaemon(in ns: String, command: String, logDirectory: String = Processes.defaultDaemonLogDirectory,
                            name: String) throws -> DaemonProcess {
        do {
            // The log directory is made in the home mount namespace (the thread's), as the log is.
            if ns == hostNamespace {
                return try thread.run { try Processes.startDaemon(command: command, logDirectory: logDirectory, name: name) }
            }
            let nsfd = try fd(ns).fd
            return try thread.run(inNamespace: nsfd) {
                try Processes.startDaemon(command: command, logDirectory: logDirectory, name: name)
            }
        } catch { throw kernelError(error) }
    }

    /// `KernelBackend.startDaemon`: the log is named after the namespace and a hash of the command.
    public func startDaemon(in ns: String, command: String, logDirectory: String) throws -> (pid: Int32, startTime: UInt64) {
        let name = (ns.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: "/") && $0 < 0x7f } ? ns : "ns")
            + "-" + String(fnv1a64Hex(Array((ns + "\u{0}" + command).utf8)).prefix(12))
        let d: DaemonProcess = try startDaemon(in: ns, command: command, logDirectory: logDirectory, name: name)
        return (d.pid, d.startTime)
    }

    /// Pings many (source namespace, address) pairs at once: one job per source namespace and
    /// family, each sending to all its targets over one raw socket (`icmpEchoMany`), up to
    /// `maxThreads` jobs at a time on threads that enter their source namespace. So the whole
    /// takes about one `timeout` however many pairs fail. One result per pair, in order.
    public func ping(many pairs: [(from: String, to: IPAddress)], count: Int = 1, timeout: Double,
                     maxThreads: Int = 64) -> [Result<PingResult, KernelError>] {
        guard !pairs.isEmpty else { return [] }
        struct Job { var nsfd: Int32; var pairIndices: [Int]; var targets: [IPAddress] }
        var results = [Result<PingResult, KernelError>?](repeating: nil, count: pairs.count)
        var jobs: [Job] = []
        var jobIndex: [String: Int] = [:]
        for (i, p) in pairs.enumerated() {
            let key = p.from + (p.to.family == .ipv6 ? "/6" : "/4")
            if let j = jobIndex[key] {
                jobs[j].pairIndices.append(i)
                jobs[j].targets.append(p.to)
                continue
            }
            do {
                let f = try fd(p.from).fd
                jobIndex[key] = jobs.count
                jobs.append(Job(nsfd: f, pairIndices: [i], targets: [p.to]))
            } catch {
                results[i] = .failure(error as? KernelError ?? kernelError(error))
            }
        }
        let work = jobs
        let outcome: [Result<[PingResult], KernelError>]
        do {
            let home = try fd(hostNamespace).fd
            // Entered "in" the home namespace so that the namespace thread, which takes a share
            // of the jobs too, is switched back home (or retired) afterwards.
            outcome = try thread.run(inNamespace: home) {
                parallelMap(count: work.count, threads: min(maxThreads, work.count) - 1) { j in
                    if topo_setns(work[j].nsfd, TOPO_CLONE_NEWNET) != 0 { return .failure(.errno(errno)) }
                    return Result { try icmpEchoMany(work[j].targets, count: count, timeout: timeout) }
                        .mapError { kernelError($0) }
                }
            }
        } catch {
            let e = kernelError(error)
            return results.map { $0 ?? .failure(e) }
        }
        for (j, job) in jobs.enumerated() {
            for (k, i) in job.pairIndices.enumerated() {
                results[i] = outcome[j].map { $0[k] }
            }
        }
        return results.map { $0 ?? .failure(.failure("no result")) }
    }
}

/// The nsid one namespace gives another (`RTM_GETNSID`), asked once per pair.
struct NSIDCache {
    private var ids: [String: [String: Int32?]] = [:]
    mutating func id(from ns: String, of other: String, backend: NetlinkBackend) throws -> Int32? {
        if let known = ids[ns]?[other] { return known }
        backend.trimDescriptors(room: 1)
        let id = try backend.socket(ns).namespaceID(of: try backend.fd(other).fd)
        ids[ns, default: [:]][other] = .some(id)
        return id
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
