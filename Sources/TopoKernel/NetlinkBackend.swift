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

    /// - Parameter netnsDirectory: where named namespaces live (`/run/netns`).
    /// - Parameter thread: the namespace thread to work on; its home namespace is `host`
    ///   (default: a new thread in the caller's namespaces). Tests pass a sandbox thread.
    public init(netnsDirectory: String = "/run/netns", thread given: NamespaceThread? = nil) throws {
        do {
            thread = try given ?? NamespaceThread()
            named = try NamedNamespaces(directory: netnsDirectory, thread: thread)
        } catch {
            throw kernelError(error)
        }
    }

    private func fd(_ ns: String) throws -> NamespaceFD {
        if let f = fds[ns] { return f }
        let f = ns == hostNamespace ? try NamespaceFD(path: thread.namespacePath("net")) : try named.open(ns)
        fds[ns] = f
        return f
    }

    private func socket(_ ns: String) throws -> NetlinkSocket {
        if let s = sockets[ns] { return s }
        let s = try thread.openSocket(inNamespace: try fd(ns).fd)
        sockets[ns] = s
        return s
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
                st.addresses = try s.addresses().compactMap { a in
                    guard let bytes = a.primary, let ip = IPAddress(bytes: bytes), let n = names[Int(a.index)] else { return nil }
                    return LinkAddress(link: n, prefix: IPPrefix(address: ip, length: Int(a.prefixLength)))
                }
                st.routes = try s.routes().compactMap { r in
                    guard r.table == UInt32(RouteConstants.tableMain), r.protocol != RouteConstants.protocolKernel,
                          r.type == RouteConstants.typeUnicast else { return nil }
                    let fam: IPAddress.Family = r.family == AddressFamily.inet6 ? .ipv6 : .ipv4
                    let dst = IPAddress(bytes: r.destination).map { IPPrefix(address: $0, length: Int(r.destinationLength)) }
                        ?? .any(fam)
                    return RouteSpec(destination: dst, gateway: r.gateway.flatMap { IPAddress(bytes: $0) },
                                     device: r.outputIndex.flatMap { names[Int($0)] },
                                     metric: r.priority.flatMap { $0 == 0 ? nil : Int($0) })
                }
                let nsfd = try fd(ns).fd
                for k in sysctls[ns] ?? [] {
                    if let v = try? thread.readSysctl(key: k, inNamespace: nsfd) { st.sysctls[k] = v }
                }
                out[ns] = st
            }
            // Resolve veth peers: the other end has our index as its peer and we have its index.
            for ns in namespaces {
                guard let links = raw[ns] else { continue }
                for (i, l) in links.sorted(by: { $0.index < $1.index }).enumerated() where l.kind == "veth" {
                    guard let p = l.peerIndex else { continue }
                    var found: [LinkID] = []
                    for other in namespaces {
                        if l.linkNetnsID == nil && other != ns { continue }
                        if l.linkNetnsID != nil && other == ns { continue }
                        for c in raw[other] ?? [] where c.kind == "veth" && c.index == p && c.peerIndex == l.index {
                            found.append(LinkID(other, c.name))
                        }
                    }
                    if found.count == 1 { out[ns]?.links[i].peer = found[0] }
                }
            }
            return out
        } catch let e as KernelError {
            throw e
        } catch {
            throw kernelError(error)
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
            case .setMaster, .addAddress, .deleteAddress, .addRoute, .deleteRoute: return true
            default: return false
            }
        }
        if needsIndex, let links = try? s.links() { for l in links { index[l.name] = l.index } }

        var results = [Result<Void, KernelError>?](repeating: nil, count: ops.count)
        var requests: [Request] = []
        var slots: [Int] = []
        for (i, op) in ops.enumerated() {
            if case .setSysctl(let k, let v) = op {
                // Sysctls are file writes on the namespace thread, not netlink requests.
                do {
                    try thread.writeSysctl(key: k, value: v, inNamespace: try fd(ns).fd)
                    results[i] = .success(())
                } catch { results[i] = .failure(kernelError(error)) }
                continue
            }
            do {
                requests.append(try request(op, in: ns, index: index))
                slots.append(i)
            } catch {
                results[i] = .failure(kernelError(error))
            }
        }
        if !requests.isEmpty {
            for (slot, r) in zip(slots, s.executeBatch(requests)) {
                results[slot] = r.mapError { kernelError($0) }
            }
        }
        return results.map { $0 ?? .failure(.failure("no result")) }
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
                                            gateway: r.gateway?.bytes, outputIndex: oif, priority: prio)
            }
            return try RouteRequest.delete(destination: r.destination.address.bytes, prefixLength: r.destination.length,
                                           gateway: r.gateway?.bytes, outputIndex: oif, priority: prio)
        case .deleteLink(let name):
            return try LinkRequest.delete(.name(name))
        case .setSysctl:
            throw KernelError.failure("sysctl is not a netlink request")
        }
    }

    public func createNamespace(_ name: String) throws {
        do { try named.create(name) } catch { throw kernelError(error) }
    }

    public func deleteNamespace(_ name: String) throws {
        forget(name)
        do { try named.delete(name) } catch { throw kernelError(error) }
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

/// ICMP echo over a raw socket, run on a thread already inside the namespace.
private func icmpEcho(_ address: IPAddress, count: Int, timeout: Double) throws -> PingResult {
    let v6 = address.family == .ipv6
    let s = Glibc.socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                         v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP))
    guard s >= 0 else { throw KernelError.errno(errno) }
    defer { close(s) }
    let ident = UInt16(truncatingIfNeeded: getpid() ^ Int32(topo_gettid()))
    var received = 0
    var sent = 0
    for seq in 1...max(1, count) {
        var pkt: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(ident >> 8), UInt8(ident & 0xff), UInt8(seq >> 8 & 0xff), UInt8(seq & 0xff)]
        pkt += Array("topo-ping".utf8)
        if !v6 {
            var sum: UInt32 = 0
            var i = 0
            while i < pkt.count {
                sum += UInt32(pkt[i]) << 8 | (i + 1 < pkt.count ? UInt32(pkt[i + 1]) : 0)
                i += 2
            }
            while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
            let c = ~UInt16(sum)
            pkt[2] = UInt8(c >> 8)
            pkt[3] = UInt8(c & 0xff)
        }
        let n: Int
        if v6 {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            let b = address.bytes
            withUnsafeMutableBytes(of: &sa.sin6_addr) { for i in 0..<16 { $0[i] = b[i] } }
            n = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s, pkt, pkt.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            let b = address.bytes
            withUnsafeMutableBytes(of: &sa.sin_addr) { for i in 0..<4 { $0[i] = b[i] } }
            n = withUnsafePointer(to: &sa) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s, pkt, pkt.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if n < 0 { continue }   // e.g. ENETUNREACH: counts as unanswered
        sent += 1
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let deadline = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + max(0.01, timeout)
        var buf = [UInt8](repeating: 0, count: 1500)
        waiting: while true {
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = deadline - (Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
            if left <= 0 { break }
            var pfd = pollfd(fd: s, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Int32(max(1, left * 1000)))
            if r <= 0 { if r < 0 && errno == EINTR { continue }; break }
            let got = recv(s, &buf, buf.count, 0)
            if got <= 0 { continue }
            var off = 0
            if !v6 { off = Int(buf[0] & 0x0f) * 4 }
            guard got >= off + 8 else { continue }
            let type = buf[off], id = UInt16(buf[off + 4]) << 8 | UInt16(buf[off + 5])
            let sq = Int(buf[off + 6]) << 8 | Int(buf[off + 7])
            if type == (v6 ? 129 : 0) && id == ident && sq == seq & 0xffff {
                received += 1
                break waiting
            }
        }
    }
    return PingResult(sent: sent, received: received)
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
