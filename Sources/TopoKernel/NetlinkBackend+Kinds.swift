#if canImport(Glibc)
import Glibc
#endif
import Netlink
import TopoLanguage

// The stacked, tunnel and VRF kinds (vlan, macvlan, ipvlan, vxlan, vrf) in the backend:
// creation directly in the link's namespace (a parent or underlay elsewhere: the request goes
// out from the parent's namespace with IFLA_NET_NS_FD of the link's, TC-LINKS-NOTES §9 V1),
// changes in place, and reading them back (options, parents across namespaces, aliases,
// routes of every table, and what topo does not model). The hooks in NetlinkBackend.swift are
// marked `[kinds/tc]`.

/// State the kinds and tc code keeps in a backend.
final class NetlinkExtras {
    /// Sysctls through a private procfs (see `SysctlAccessor`); made on first use.
    var sysctls: SysctlAccessor?
    /// Making the accessor failed once: do not try again.
    var sysctlsUnavailable = false
    /// readState lists the rules someone added (one RTM_GETRULE dump per namespace).
    var readsRules = true
}

extension NetlinkBackend {
    /// The operations that run on their own (each a few requests, or a read first) instead of
    /// one pipelined request: addLink, changeLink, setQdisc, deleteQdisc.
    static func runsOnItsOwn(_ op: KernelOp) -> Bool {
        switch op {
        case .addLink, .changeLink, .setQdisc, .deleteQdisc: return true
        default: return false
        }
    }

    /// Operations of the kinds/tc code that want the batch's name → ifindex table.
    static func kindOpNeedsIndex(_ op: KernelOp) -> Bool {
        switch op {
        case .setQdisc, .deleteQdisc: return true
        default: return false
        }
    }

    /// Runs one of `runsOnItsOwn`'s operations in `ns` (socket `s`: the namespace's own, or nil
    /// to open it).
    func applyOnItsOwn(_ op: KernelOp, in ns: String, socket given: NetlinkSocket?, index: [String: Int32] = [:]) -> Result<Void, KernelError> {
        let s: NetlinkSocket
        do { s = try given ?? socket(ns) } catch { return .failure(kernelError(error)) }
        switch op {
        case .addLink(let name, let options, let group):
            return Result { try addLink(name: name, options: options, group: group, in: ns) }.mapError { kernelError($0) }
        case .changeLink(let name, let options):
            return Result { try changeLink(name: name, options: options, in: ns, socket: s) }.mapError { kernelError($0) }
        case .setQdisc(let link, let shaping):
            return applySetQdisc(link: link, shaping: shaping, socket: s, index: index)
        case .deleteQdisc(let link):
            return applyDeleteQdisc(link: link, socket: s, index: index)
        default:
            return .failure(.failure("not a kinds/tc operation: \(op)"))
        }
    }

    /// The ifindex of `parent` in its own namespace; a clear error when it does not exist.
    private func parentIndex(_ parent: LinkID, for name: String) throws -> Int32 {
        guard let l = try socket(parent.namespace).link(.name(parent.name)) else {
            throw KernelError.errno(ENODEV, extack: "`\(parent)`, the parent of `\(name)`, does not exist")
        }
        return l.index
    }

    /// Creates `name` of kind `options` in `ns`. With a parent (or vxlan underlay) in another
    /// namespace the request is sent from the parent's namespace (where its ifindex means
    /// something) with IFLA_NET_NS_FD of `ns`; otherwise from `ns` itself.
    func addLink(name: String, options: LinkOptions, group: UInt32, in ns: String) throws {
        let sender = options.parent?.namespace ?? ns
        let place: Int32? = sender == ns ? nil : try fd(ns).fd
        let request: Request
        switch options {
        case .vlan(let v):
            let info = VLANInfo(id: UInt16(clamping: v.id), protocolEthertype: v.protocol == .dot1q ? nil : v.protocol.ethertype)
            request = try LinkRequest.addVLAN(name: name, parentIndex: try parentIndex(v.parent, for: name), info,
                                              namespaceFD: place, group: group)
        case .macvlan(let p, let mode):
            request = try LinkRequest.addMacvlan(name: name, parentIndex: try parentIndex(p, for: name), mode: mode.kernelValue,
                                                 namespaceFD: place, group: group)
        case .ipvlan(let p, let mode):
            request = try LinkRequest.addIPVlan(name: name, parentIndex: try parentIndex(p, for: name), mode: mode.kernelValue,
                                                namespaceFD: place, group: group)
        case .vxlan(let x):
            var info = try vxlanInfo(x, name: name)
            // On creation only what is given, as iproute2 sends it (zeros matter only to changes).
            if x.remote == nil && x.group == nil { info.group = nil }
            if x.local == nil { info.local = nil }
            if x.underlay == nil { info.link = nil }
            if x.ttl == nil { info.ttl = nil }
            info.learning = 1
            info.port = UInt16(clamping: x.port)
            request = try LinkRequest.addVXLAN(name: name, info, namespaceFD: place, group: group)
        case .vrf(let table):
            request = try LinkRequest.addVRF(name: name, table: table, group: group)
        }
        do {
            try socket(sender).execute(request)
        } catch let e as NetlinkError {
            throw NetlinkBackend.linkKindError(e, kind: options.kindName)
        }
    }

    /// The vxlan's INFO_DATA for creation and for changes: ID, remote or group (zeros when
    /// neither: a change then drops the old one), local (zeros when none), the underlay's
    /// ifindex in its own namespace (0 when none), TTL (0: the kernel's default).
    private func vxlanInfo(_ x: VXLAN, name: String) throws -> VXLANInfo {
        let zeros = [UInt8](repeating: 0, count: x.isIPv6 ? 16 : 4)
        return VXLANInfo(id: x.vni, group: (x.remote ?? x.group)?.bytes ?? zeros, local: x.local?.bytes ?? zeros,
                         link: try x.underlay.map { UInt32(try parentIndex($0, for: name)) } ?? 0,
                         ttl: UInt8(clamping: x.ttl ?? 0))
    }

    /// `ip link set NAME type KIND …` for what the kernel changes in place: a macvlan's or
    /// ipvlan's mode; a vxlan's remote/group, local, underlay and ttl (its VNI and port are
    /// fixed). A vlan or vrf has nothing to change in place: asking for its current options
    /// succeeds, anything else fails.
    func changeLink(name: String, options: LinkOptions, in ns: String, socket s: NetlinkSocket) throws {
        let request: Request
        switch options {
        case .macvlan(_, let mode):
            request = try LinkRequest.changeMacvlan(.name(name), mode: mode.kernelValue)
        case .ipvlan(_, let mode):
            request = try LinkRequest.changeIPVlan(.name(name), mode: mode.kernelValue)
        case .vxlan(let x):
            request = try LinkRequest.changeVXLAN(.name(name), try vxlanInfo(x, name: name))
        case .vlan, .vrf:
            let live = try readState(of: [ns] + [options.parent?.namespace].compactMap { $0 }.filter { $0 != ns }, sysctls: [:])
            if live[ns]?.link(name)?.options == options { return }
            throw KernelError.errno(EOPNOTSUPP, extack: "a \(options.kindName)'s \(options.kindName == "vrf" ? "table" : "id, protocol and parent") cannot change in place")
        }
        do { try s.execute(request) } catch let e as NetlinkError { throw NetlinkBackend.linkKindError(e, kind: options.kindName) }
    }

    /// The kernel's refusal, with the missing module named when the kind is unknown
    /// (EOPNOTSUPP "Unknown device type", after the kernel's own module request failed).
    static func linkKindError(_ e: NetlinkError, kind: String) -> KernelError {
        if case .kernel(let code, let m) = e, code == EOPNOTSUPP, m == "Unknown device type" {
            return .refused(errno: code, text: errnoText(code), extack: missingKindText(kind))
        }
        return kernelError(e)
    }

    /// "the kernel has no vlan support (CONFIG_VLAN_8021Q, module 8021q)".
    static func missingKindText(_ kind: String) -> String {
        let modules = ["vlan": "CONFIG_VLAN_8021Q, module 8021q", "macvlan": "CONFIG_MACVLAN, module macvlan",
                       "ipvlan": "CONFIG_IPVLAN, module ipvlan", "vxlan": "CONFIG_VXLAN, module vxlan",
                       "vrf": "CONFIG_NET_VRF, module vrf", "dummy": "CONFIG_DUMMY, module dummy",
                       "bridge": "CONFIG_BRIDGE, module bridge", "veth": "CONFIG_VETH, module veth"]
        return "the kernel has no \(kind) support (\(modules[kind] ?? "module \(kind)"))"
    }

    /// Whether `readState` lists the rules someone added in `unmodelled` (default true): the one
    /// round trip per namespace it adds for them (~30 µs) is only worth it for `show`.
    public var readsRules: Bool {
        get { extras.readsRules }
        set { extras.readsRules = newValue }
    }

    // MARK: sysctls

    /// The accessor of this backend's sysctls, made on first use from the backend's thread; nil
    /// when it cannot be made (then the namespace thread and the shared /proc do the work).
    func sysctlAccessor() -> SysctlAccessor? {
        if let a = extras.sysctls { return a }
        if extras.sysctlsUnavailable { return nil }
        guard let a = try? SysctlAccessor(parent: thread) else {
            extras.sysctlsUnavailable = true
            return nil
        }
        extras.sysctls = a
        return a
    }

    /// `sysctl -w KEY=VALUE` inside `ns`.
    func writeSysctl(key: String, value: String, in ns: String) throws {
        let f = try fd(ns).fd
        if let a = sysctlAccessor() { try a.write(key: key, value: value, inNamespace: f) } else {
            try thread.writeSysctl(key: key, value: value, inNamespace: f)
        }
    }

    /// The keys that exist, with their values, inside `ns`.
    func readSysctls(_ keys: [String], in ns: String) throws -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        let f = try fd(ns).fd
        if let a = sysctlAccessor() { return try a.read(keys, inNamespace: f) }
        var out: [String: String] = [:]
        for k in keys { if let v = try? thread.readSysctl(key: k, inNamespace: f) { out[k] = v } }
        return out
    }

    // MARK: reading back

    /// Unicast routes not made by the kernel, of every table but `local`, with their table; the
    /// blackhole, unreachable, prohibit and throw routes someone added go to `unmodelled`.
    func liveRoutes(_ s: NetlinkSocket, names: [Int: String], unmodelled: inout [String]) throws -> [RouteSpec] {
        var out: [RouteSpec] = []
        for r in try s.allRoutes() {
            guard r.table != UInt32(RouteConstants.tableLocal), r.protocol != RouteConstants.protocolKernel else { continue }
            let fam: IPAddress.Family = r.family == AddressFamily.inet6 ? .ipv6 : .ipv4
            let dst = IPAddress(bytes: r.destination).map { IPPrefix(address: $0, length: Int(r.destinationLength)) } ?? .any(fam)
            switch r.type {
            case RouteConstants.typeUnicast:
                out.append(RouteSpec(destination: dst, gateway: r.gateway.flatMap { IPAddress(bytes: $0) },
                                     device: r.outputIndex.flatMap { names[Int($0)] },
                                     metric: r.priority.flatMap { $0 == 0 ? nil : Int($0) }, table: r.table))
            case RouteConstants.typeBlackhole, RouteConstants.typeUnreachable, RouteConstants.typeProhibit, RouteConstants.typeThrow:
                let table = r.table == UInt32(RouteConstants.tableMain) ? "" : " table \(r.table)"
                unmodelled.append("\(r.typeName ?? "type \(r.type)") route \(dst.length == 0 ? "default" : dst.description)\(table)")
            default:
                continue  // local, broadcast, multicast, anycast: the kernel's
            }
        }
        return out
    }

    /// Link kinds topo models; anything else is listed as not modelled.
    static let modelledKinds: Set<String> = ["veth", "bridge", "dummy", "vlan", "macvlan", "ipvlan", "vxlan", "vrf"]
    /// The fallback tunnel devices the kernel puts in every namespace when their module is
    /// loaded (`sit0`, `tunl0`, …): nobody made them, so they are not listed.
    static let fallbackTunnels: [String: String] = [
        "tunl0": "ipip", "sit0": "sit", "ip6tnl0": "ip6tnl", "gre0": "gre", "gretap0": "gretap", "erspan0": "erspan",
        "ip_vti0": "vti", "ip6_vti0": "vti6", "ip6gre0": "ip6gre", "ip6gretap0": "ip6gretap", "ip6erspan0": "ip6erspan",
    ]

    /// Per namespace: aliases, root qdiscs and shaping (one qdisc dump, skipped when IFLA_QDISC
    /// shows only defaults), the rules someone added (one RTM_GETRULE dump of both families)
    /// and the links of kinds topo does not model.
    func readExtras(_ s: NetlinkSocket, links: [LinkInfo], into st: inout LiveNamespace, rules: Bool = true) throws {
        let byIndex = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        let qdiscs = try liveQdiscs(s, links: links)
        for i in st.links.indices {
            guard let l = byIndex[Int32(st.links[i].index)] else { continue }
            st.links[i].alias = l.alias
            if let q = qdiscs[l.index] {
                st.links[i].rootQdisc = q.root
                st.links[i].shaping = q.shaping
            }
            if let k = l.kind, !NetlinkBackend.modelledKinds.contains(k), NetlinkBackend.fallbackTunnels[l.name] != k {
                st.unmodelled.append("link \(l.name) (\(k))")
            } else if l.kind == MacvlanInfo.kind, case .macvlan(let m)? = l.kindInfo, MacvlanMode(kernelValue: m.effectiveMode) == nil {
                st.unmodelled.append("link \(l.name) (macvlan mode \(m.effectiveMode == MacvlanInfo.Mode.source ? "source" : String(m.effectiveMode)))")
            }
        }
        // Rules only for `show` (`rules`): the executor does not model them.
        for r in try (rules && extras.readsRules ? s.rules(family: AddressFamily.unspecified) : []) where !r.isKernelDefault {
            guard r.family == AddressFamily.inet || r.family == AddressFamily.inet6 else { continue }
            let pref = r.priority.map { " pref \($0)" } ?? ""
            st.unmodelled.append("rule \(r.family == AddressFamily.inet6 ? "-6 " : "")\(r.description)\(pref)")
        }
    }

    /// Fills in `options` (and `parentUnresolved`) of the vlan, macvlan, ipvlan, vxlan and vrf
    /// links. A parent in the same namespace is named by ifindex; one elsewhere (IFLA_LINK_NETNSID
    /// set) is looked for among the namespaces read, like veth peers: a namespace with a link at
    /// that ifindex, confirmed by the nsid this namespace gives it (RTM_GETNSID, cached). A
    /// parent that cannot be named (its namespace was not read) leaves `parentUnresolved` true
    /// and puts `LinkID("", "if<index>")` where the parent goes.
    func resolveLinkOptions(_ raw: [String: [LinkInfo]], into out: inout [String: LiveNamespace]) throws {
        var byIndex: [String: [Int32: LinkInfo]] = [:]
        for (ns, links) in raw { byIndex[ns] = Dictionary(links.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a }) }
        var nsids = NSIDCache()
        func nsid(from ns: String, of other: String) throws -> Int32? { try nsids.id(from: ns, of: other, backend: self) }
        let names = raw.keys.sorted()
        for ns in names {
            guard var st = out[ns] else { continue }
            for i in st.links.indices {
                guard let l = byIndex[ns]?[Int32(st.links[i].index)], let info = l.kindInfo else { continue }
                // The parent's ifindex: IFLA_LINK for stacked kinds, VXLAN_LINK for a vxlan.
                var parentIndex: Int32? = nil
                switch info {
                case .vlan, .macvlan, .ipvlan: parentIndex = l.peerIndex
                case .vxlan(let x): parentIndex = x.link.flatMap { $0 == 0 ? nil : Int32(bitPattern: $0) }
                case .vrf: break
                }
                var parent: LinkID? = nil
                if let p = parentIndex {
                    if let id = l.linkNetnsID {
                        for other in names where other != ns {
                            guard let c = byIndex[other]?[p] else { continue }
                            if try nsid(from: ns, of: other) == id {
                                parent = LinkID(other, c.name)
                                break
                            }
                        }
                    } else if let c = byIndex[ns]?[p] {
                        parent = LinkID(ns, c.name)
                    }
                    if parent == nil { st.links[i].parentUnresolved = true }
                }
                st.links[i].options = NetlinkBackend.options(info, parent: parent ?? parentIndex.map { LinkID("", "if\($0)") })
            }
            out[ns] = st
        }
    }

    /// A decoded INFO_DATA as topo's options (nil for what topo cannot express, e.g. a macvlan
    /// in source mode).
    static func options(_ info: LinkKindInfo, parent: LinkID?) -> LinkOptions? {
        switch info {
        case .vlan(let v):
            guard let parent, let id = v.id else { return nil }
            return .vlan(VLAN(parent: parent, id: Int(id), protocol: v.protocolEthertype == VLANInfo.ethertype8021AD ? .dot1ad : .dot1q))
        case .macvlan(let m):
            guard let parent, let mode = MacvlanMode(kernelValue: m.effectiveMode) else { return nil }
            return .macvlan(parent: parent, mode: mode)
        case .ipvlan(let i):
            guard let parent, let mode = IPVlanMode(kernelValue: i.mode ?? IPVlanInfo.Mode.l3) else { return nil }
            return .ipvlan(parent: parent, mode: mode)
        case .vxlan(let x):
            let peer = x.group.flatMap { IPAddress(bytes: $0) }.flatMap { $0.isUnspecified ? nil : $0 }
            let local = x.local.flatMap { IPAddress(bytes: $0) }.flatMap { $0.isUnspecified ? nil : $0 }
            let multicast = peer.map(\.isMulticast) ?? false
            return .vxlan(VXLAN(vni: x.id ?? 0, remote: multicast ? nil : peer, group: multicast ? peer : nil, local: local,
                                underlay: parent, port: Int(x.effectivePort), ttl: x.ttl.flatMap { $0 == 0 ? nil : Int($0) }))
        case .vrf(let v):
            return v.table.map { .vrf(table: $0) }
        }
    }
}

extension LinkOptions {
    /// `vlan`, `macvlan`, `ipvlan`, `vxlan`, `vrf` (IFLA_INFO_KIND).
    var kindName: String {
        switch self {
        case .vlan: return "vlan"
        case .macvlan: return "macvlan"
        case .ipvlan: return "ipvlan"
        case .vxlan: return "vxlan"
        case .vrf: return "vrf"
        }
    }
}

extension IPAddress {
    /// 0.0.0.0 or ::.
    var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
    /// 224.0.0.0/4 or ff00::/8.
    var isMulticast: Bool {
        let b = bytes
        return b.count == 4 ? b[0] & 0xF0 == 0xE0 : b[0] == 0xFF
    }
}
