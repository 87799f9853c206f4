/// Link attribute types (IFLA_*) and related constants.
public enum LinkConstants {
    public static let address: UInt16 = 1        // IFLA_ADDRESS
    public static let ifname: UInt16 = 3         // IFLA_IFNAME
    public static let mtu: UInt16 = 4            // IFLA_MTU
    public static let link: UInt16 = 5           // IFLA_LINK
    public static let master: UInt16 = 10        // IFLA_MASTER
    public static let operState: UInt16 = 16     // IFLA_OPERSTATE
    public static let linkInfo: UInt16 = 18      // IFLA_LINKINFO
    public static let alias: UInt16 = 20         // IFLA_IFALIAS
    public static let afSpec: UInt16 = 26        // IFLA_AF_SPEC
    public static let group: UInt16 = 27         // IFLA_GROUP
    public static let netNamespaceFD: UInt16 = 28 // IFLA_NET_NS_FD
    public static let linkNetnsID: UInt16 = 37   // IFLA_LINK_NETNSID
    public static let infoKind: UInt16 = 1       // IFLA_INFO_KIND
    public static let infoData: UInt16 = 2       // IFLA_INFO_DATA
    public static let infoSlaveKind: UInt16 = 4  // IFLA_INFO_SLAVE_KIND
    public static let vethInfoPeer: UInt16 = 1   // VETH_INFO_PEER
    /// IFF_UP.
    public static let flagUp: UInt32 = 0x1
    /// IFF_LOOPBACK.
    public static let flagLoopback: UInt32 = 0x8
    /// IFF_LOWER_UP.
    public static let flagLowerUp: UInt32 = 0x10000
}

/// The 16-byte `ifinfomsg`.
public struct InterfaceInfoHeader: Hashable, Sendable {
    public static let size = 16
    public var family: UInt8
    /// ARPHRD_* device type (0 in requests).
    public var deviceType: UInt16
    public var index: Int32
    public var flags: UInt32
    /// Which flags to change; 0 means all (so `ip link set up` sends IFF_UP here).
    public var change: UInt32

    public init(family: UInt8 = AddressFamily.unspecified, deviceType: UInt16 = 0, index: Int32 = 0,
                flags: UInt32 = 0, change: UInt32 = 0) {
        self.family = family
        self.deviceType = deviceType
        self.index = index
        self.flags = flags
        self.change = change
    }

    func encode(into w: inout ByteWriter) {
        w.u8(family); w.u8(0); w.u16(deviceType); w.i32(index); w.u32(flags); w.u32(change)
    }
    static func decode(_ r: inout ByteReader) throws -> InterfaceInfoHeader {
        let family = try r.u8("ifi_family")
        _ = try r.u8("ifi_pad")
        return InterfaceInfoHeader(family: family, deviceType: try r.u16("ifi_type"), index: try r.i32("ifi_index"),
                                   flags: try r.u32("ifi_flags"), change: try r.u32("ifi_change"))
    }
}

/// An attribute of IFLA_LINKINFO.
public enum LinkInfoAttribute: Hashable, Sendable {
    /// IFLA_INFO_KIND: "veth", "bridge", "dummy"…
    case kind(String)
    /// IFLA_INFO_DATA of a veth holding only VETH_INFO_PEER: the peer's ifinfomsg and attributes.
    indirect case vethPeer(LinkMessage)
    /// IFLA_INFO_DATA of any other shape, kept raw (kind-specific nested attributes).
    case data([UInt8])
    /// IFLA_INFO_SLAVE_KIND: e.g. "bridge" on a bridge port.
    case slaveKind(String)
    /// Anything else, kept as sent.
    case unknown(type: UInt16, bytes: [UInt8])

    var raw: RawAttribute {
        switch self {
        case .kind(let s): return RawAttribute(type: LinkConstants.infoKind, payload: Array(s.utf8))
        case .vethPeer(let m):
            return RawAttribute(type: LinkConstants.infoData, nested: [RawAttribute(type: LinkConstants.vethInfoPeer, payload: m.encoded())])
        case .data(let b): return RawAttribute(type: LinkConstants.infoData, payload: b)
        case .slaveKind(let s): return RawAttribute(type: LinkConstants.infoSlaveKind, payload: Array(s.utf8))
        case .unknown(let t, let b): return RawAttribute(type: t, payload: b)
        }
    }

    static func decode(_ attrs: [RawAttribute]) -> [LinkInfoAttribute] {
        var kind: String? = nil
        for a in attrs where a.kind == LinkConstants.infoKind { kind = a.string }
        return attrs.map { a in
            switch a.type {
            case LinkConstants.infoKind: return .kind(a.string)
            case LinkConstants.infoSlaveKind: return .slaveKind(a.string)
            case LinkConstants.infoData:
                if kind == "veth", let inner = try? a.children(), inner.count == 1,
                   inner[0].type == LinkConstants.vethInfoPeer,
                   let peer = try? LinkMessage(decoding: inner[0].payload[...]),
                   peer.encoded() == inner[0].payload {
                    return .vethPeer(peer)
                }
                return .data(a.payload)
            default: return .unknown(type: a.type, bytes: a.payload)
            }
        }
    }
}

/// A typed link attribute (IFLA_*). Attributes this client does not model are kept as
/// `.unknown` with their exact bytes, and so are known ones of an unexpected size.
public enum LinkAttribute: Hashable, Sendable {
    /// IFLA_IFNAME
    case name(String)
    /// IFLA_MTU
    case mtu(UInt32)
    /// IFLA_LINK: the ifindex of the underlying/peer device (a veth's peer).
    case link(UInt32)
    /// IFLA_MASTER: the master (bridge) ifindex; 0 detaches.
    case master(UInt32)
    /// IFLA_OPERSTATE (IF_OPER_UP = 6, DOWN = 2, UNKNOWN = 0…)
    case operState(UInt8)
    /// IFLA_LINKINFO
    case linkInfo([LinkInfoAttribute])
    /// IFLA_GROUP
    case group(UInt32)
    /// IFLA_NET_NS_FD: create (or move) the device in the namespace of this fd.
    case netNamespaceFD(UInt32)
    /// IFLA_LINK_NETNSID: the namespace id (as seen from here) where IFLA_LINK lives.
    case linkNetnsID(Int32)
    /// IFLA_IFALIAS: sent without a NUL, as iproute2 does (empty: remove the alias); the
    /// kernel reports it NUL-terminated.
    case alias(String)
    /// Any other attribute, kept as sent.
    case unknown(type: UInt16, bytes: [UInt8])

    var raw: RawAttribute {
        switch self {
        case .name(let s): return RawAttribute(type: LinkConstants.ifname, string: s)
        case .mtu(let v): return RawAttribute(type: LinkConstants.mtu, u32: v)
        case .link(let v): return RawAttribute(type: LinkConstants.link, u32: v)
        case .master(let v): return RawAttribute(type: LinkConstants.master, u32: v)
        case .operState(let v): return RawAttribute(type: LinkConstants.operState, payload: [v])
        case .linkInfo(let l): return RawAttribute(type: LinkConstants.linkInfo, nested: l.map(\.raw))
        case .group(let v): return RawAttribute(type: LinkConstants.group, u32: v)
        case .netNamespaceFD(let v): return RawAttribute(type: LinkConstants.netNamespaceFD, u32: v)
        case .linkNetnsID(let v): return RawAttribute(type: LinkConstants.linkNetnsID, u32: UInt32(bitPattern: v))
        case .alias(let s): return RawAttribute(type: LinkConstants.alias, payload: Array(s.utf8))
        case .unknown(let t, let b): return RawAttribute(type: t, payload: b)
        }
    }

    static func decode(_ a: RawAttribute) -> LinkAttribute {
        let fallback = LinkAttribute.unknown(type: a.type, bytes: a.payload)
        switch a.type {
        case LinkConstants.ifname:
            guard a.payload.last == 0 else { return fallback }
            return .name(a.string)
        case LinkConstants.mtu: return (try? a.u32("IFLA_MTU")).map(LinkAttribute.mtu) ?? fallback
        case LinkConstants.link: return (try? a.u32("IFLA_LINK")).map(LinkAttribute.link) ?? fallback
        case LinkConstants.master: return (try? a.u32("IFLA_MASTER")).map(LinkAttribute.master) ?? fallback
        case LinkConstants.operState: return (try? a.u8("IFLA_OPERSTATE")).map(LinkAttribute.operState) ?? fallback
        case LinkConstants.group: return (try? a.u32("IFLA_GROUP")).map(LinkAttribute.group) ?? fallback
        case LinkConstants.netNamespaceFD: return (try? a.u32("IFLA_NET_NS_FD")).map(LinkAttribute.netNamespaceFD) ?? fallback
        case LinkConstants.linkNetnsID:
            return (try? a.u32("IFLA_LINK_NETNSID")).map { .linkNetnsID(Int32(bitPattern: $0)) } ?? fallback
        case LinkConstants.alias:
            // The kernel's trailing NUL is dropped (re-encoded as iproute2 sends it, without).
            guard !a.payload.dropLast().contains(0) else { return fallback }
            return .alias(a.string)
        case LinkConstants.linkInfo:
            guard let children = try? a.children(), RawAttribute.encode(children) == a.payload else { return fallback }
            return .linkInfo(LinkInfoAttribute.decode(children))
        default: return fallback
        }
    }
}

/// An RTM_*LINK payload: `ifinfomsg` and attributes.
public struct LinkMessage: Hashable, Sendable {
    public var header: InterfaceInfoHeader
    public var attributes: [LinkAttribute]

    public init(header: InterfaceInfoHeader = InterfaceInfoHeader(), attributes: [LinkAttribute] = []) {
        self.header = header
        self.attributes = attributes
    }

    /// Decodes a payload (after the nlmsghdr).
    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ByteReader(bytes)
        header = try InterfaceInfoHeader.decode(&r)
        attributes = try RawAttribute.decode(bytes[r.position...]).map(LinkAttribute.decode)
    }

    /// The payload bytes (no nlmsghdr).
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        header.encode(into: &w)
        for a in attributes { a.raw.encode(into: &w) }
        return w.bytes
    }
}

/// A link as a dump reports it.
public struct LinkInfo: Hashable, Sendable {
    public var index: Int32
    public var name: String
    /// IFLA_INFO_KIND ("veth", "bridge"…); nil for devices without one (lo).
    public var kind: String?
    /// ifi_flags (IFF_*).
    public var flags: UInt32
    public var mtu: UInt32?
    /// Master (bridge) ifindex, if enslaved.
    public var masterIndex: Int32?
    /// IFLA_LINK: a veth's peer ifindex (in the namespace `linkNetnsID` names, if any).
    public var peerIndex: Int32?
    /// IFLA_LINK_NETNSID: set when the peer lives in another namespace.
    public var linkNetnsID: Int32?
    public var group: UInt32
    /// IFLA_OPERSTATE (6 = up); lags behind the admin flag, see `isUp`.
    public var operState: UInt8?
    /// IFLA_IFALIAS, when set.
    public var alias: String?
    /// IFLA_INFO_DATA of a kind other than veth, as sent; `kindInfo` decodes it.
    public var infoData: [UInt8]?
    /// Every attribute this client does not model, as the kernel sent it.
    public var unknown: [RawAttribute]

    /// The administrative state (IFF_UP).
    public var isUp: Bool { flags & LinkConstants.flagUp != 0 }

    public init(_ m: LinkMessage) {
        index = m.header.index
        flags = m.header.flags
        name = ""
        group = 0
        unknown = []
        for a in m.attributes {
            switch a {
            case .name(let s): name = s
            case .mtu(let v): mtu = v
            case .link(let v): peerIndex = Int32(bitPattern: v)
            case .master(let v): masterIndex = Int32(bitPattern: v)
            case .operState(let v): operState = v
            case .group(let v): group = v
            case .linkNetnsID(let v): linkNetnsID = v
            case .alias(let s): alias = s
            case .netNamespaceFD: break
            case .linkInfo(let info):
                for i in info {
                    if case .kind(let k) = i { kind = k }
                    if case .data(let d) = i { infoData = d }
                }
            case .unknown(let t, let b): unknown.append(RawAttribute(type: t, payload: b))
            }
        }
    }
}

/// How a request names an existing link.
public enum LinkSelector: Hashable, Sendable {
    case index(Int32)
    /// By name (IFLA_IFNAME with ifindex 0); saves a lookup.
    case name(String)
}

/// Checks an interface name as the kernel would, plus topo's own rules: 1–15 bytes, not
/// `.`/`..`, no `/`, `:`, whitespace, NUL or `%` (a `%d` name is a kernel template).
public func validateInterfaceName(_ name: String) throws {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty else { throw NetlinkError.invalidArgument("interface name is empty") }
    guard bytes.count <= 15 else {
        throw NetlinkError.invalidArgument("interface name '\(name)' is longer than 15 bytes")
    }
    guard name != ".", name != ".." else { throw NetlinkError.invalidArgument("interface name '\(name)' is not allowed") }
    for b in bytes where b == UInt8(ascii: "/") || b == UInt8(ascii: ":") || b == UInt8(ascii: "%") || b <= 0x20 || b == 0x7f {
        throw NetlinkError.invalidArgument("interface name '\(name)' contains a forbidden character")
    }
}

/// Builders for RTM_*LINK requests. Each returns a `Request` value to send with
/// `NetlinkSocket.execute`/`executeBatch`.
public enum LinkRequest {
    static let createFlags: MessageFlags = [.create, .excl]

    static func selector(_ s: LinkSelector) throws -> (Int32, [LinkAttribute]) {
        switch s {
        case .index(let i):
            guard i > 0 else { throw NetlinkError.invalidArgument("interface index \(i) must be positive") }
            return (i, [])
        case .name(let n):
            try validateInterfaceName(n)
            return (0, [.name(n)])
        }
    }
    static func make(_ type: UInt16, _ flags: MessageFlags, _ m: LinkMessage) -> Request {
        Request(type: type, flags: flags, payload: m.encoded())
    }
    static func fdAttr(_ fd: Int32?) throws -> [LinkAttribute] {
        guard let fd else { return [] }
        guard fd >= 0 else { throw NetlinkError.invalidArgument("namespace fd \(fd) is invalid") }
        return [.netNamespaceFD(UInt32(fd))]
    }

    static func groupAttr(_ g: UInt32?) -> [LinkAttribute] { g.map { [.group($0)] } ?? [] }

    /// `ip link add NAME [netns NS] type veth peer name PEER [netns NS2]`: one request,
    /// each end created directly in the namespace of its fd (nil: the socket's own).
    /// `group` (IFLA_GROUP, `… group N`) tags the first end for `deleteGroup`.
    public static func addVeth(name: String, peer: String, namespaceFD: Int32? = nil,
                               peerNamespaceFD: Int32? = nil, group: UInt32? = nil) throws -> Request {
        try validateInterfaceName(name)
        try validateInterfaceName(peer)
        let peerMessage = LinkMessage(attributes: try fdAttr(peerNamespaceFD) + [.name(peer)])
        return make(MessageType.newLink, createFlags, LinkMessage(attributes: try fdAttr(namespaceFD) + [
            .name(name)] + groupAttr(group) + [.linkInfo([.kind("veth"), .vethPeer(peerMessage)]),
        ]))
    }

    /// `ip link add NAME [netns NS] type bridge`
    public static func addBridge(name: String, namespaceFD: Int32? = nil, group: UInt32? = nil) throws -> Request {
        try validateInterfaceName(name)
        return make(MessageType.newLink, createFlags, LinkMessage(attributes: try fdAttr(namespaceFD) + [
            .name(name)] + groupAttr(group) + [.linkInfo([.kind("bridge")]),
        ]))
    }

    /// `ip link add [link PARENT] name NAME [netns NS] [mtu M] [group G] type KIND [DATA…]`: any
    /// kind with its IFLA_INFO_DATA (`data`, nil: none), as the kind files build them.
    ///
    /// Attribute order as iproute2 6.1: IFLA_NET_NS_FD (create the device in that namespace),
    /// IFLA_LINK_NETNSID (the namespace, as the *target* namespace names it, where IFLA_LINK is
    /// resolved; without it the kernel resolves it in the sender's), IFLA_LINK (the lower
    /// device of a stacked kind), IFLA_IFNAME, IFLA_MTU, IFLA_GROUP, IFLA_LINKINFO.
    public static func add(name: String, kind: String, data: [RawAttribute]?, parentIndex: Int32? = nil,
                           namespaceFD: Int32? = nil, linkNetnsID: Int32? = nil, mtu: UInt32? = nil,
                           group: UInt32? = nil) throws -> Request {
        try validateInterfaceName(name)
        if let p = parentIndex, p <= 0 { throw NetlinkError.invalidArgument("parent interface index \(p) must be positive") }
        var attrs = try fdAttr(namespaceFD)
        if let id = linkNetnsID { attrs.append(.linkNetnsID(id)) }
        if let p = parentIndex { attrs.append(.link(UInt32(p))) }
        attrs.append(.name(name))
        if let mtu { attrs.append(.mtu(mtu)) }
        attrs += groupAttr(group)
        var info: [LinkInfoAttribute] = [.kind(kind)]
        if let data { info.append(.data(RawAttribute.encode(data))) }
        attrs.append(.linkInfo(info))
        return make(MessageType.newLink, createFlags, LinkMessage(attributes: attrs))
    }

    /// `ip link set DEV type KIND DATA…`: change a link's kind-specific options in place
    /// (RTM_NEWLINK without CREATE, only IFLA_LINKINFO). What the kind accepts on change is
    /// the kind file's business (a vxlan refuses some attributes even with their current value).
    public static func change(_ link: LinkSelector, kind: String, data: [RawAttribute]) throws -> Request {
        let (i, attrs) = try selector(link)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs + [
            .linkInfo([.kind(kind), .data(RawAttribute.encode(data))]),
        ]))
    }

    /// `ip link set dev DEV alias TEXT` (`""`: remove the alias). At most 255 bytes.
    public static func setAlias(_ link: LinkSelector, alias: String) throws -> Request {
        guard alias.utf8.count < 256, !alias.utf8.contains(0) else {
            throw NetlinkError.invalidArgument("alias is longer than 255 bytes or contains NUL")
        }
        let (i, attrs) = try selector(link)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs + [.alias(alias)]))
    }

    /// `ip link del DEV` (deleting either end of a veth removes both).
    public static func delete(_ link: LinkSelector) throws -> Request {
        let (i, attrs) = try selector(link)
        return make(MessageType.delLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs))
    }

    /// `ip link del group GROUP`: every link of that group in one request (fast bulk delete).
    public static func deleteGroup(_ group: UInt32) throws -> Request {
        guard group != 0 else { throw NetlinkError.invalidArgument("group 0 is the default group; refusing to delete it") }
        return make(MessageType.delLink, [], LinkMessage(attributes: [.group(group)]))
    }

    /// `ip link set DEV master MASTER` (`masterIndex` 0: `nomaster`).
    public static func setMaster(_ link: LinkSelector, masterIndex: Int32) throws -> Request {
        guard masterIndex >= 0 else { throw NetlinkError.invalidArgument("master index \(masterIndex) is negative") }
        let (i, attrs) = try selector(link)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i),
                                                          attributes: attrs + [.master(UInt32(masterIndex))]))
    }

    /// `ip link set DEV nomaster`
    public static func setNoMaster(_ link: LinkSelector) throws -> Request {
        try setMaster(link, masterIndex: 0)
    }

    /// `ip link set DEV mtu MTU`
    public static func setMTU(_ link: LinkSelector, mtu: UInt32) throws -> Request {
        let (i, attrs) = try selector(link)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs + [.mtu(mtu)]))
    }

    /// `ip link set DEV up` / `ip link set DEV down` (ifi_change = IFF_UP).
    public static func setUp(_ link: LinkSelector, _ up: Bool = true) throws -> Request {
        let (i, attrs) = try selector(link)
        let h = InterfaceInfoHeader(index: i, flags: up ? LinkConstants.flagUp : 0, change: LinkConstants.flagUp)
        return make(MessageType.newLink, [], LinkMessage(header: h, attributes: attrs))
    }

    /// `ip link set DEV down`
    public static func setDown(_ link: LinkSelector) throws -> Request { try setUp(link, false) }

    /// `ip link set DEV group GROUP`
    public static func setGroup(_ link: LinkSelector, group: UInt32) throws -> Request {
        let (i, attrs) = try selector(link)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs + [.group(group)]))
    }

    /// `ip link set dev DEV name NEW [group G]`: rename the link at `index` (it must be down) and,
    /// in the same request, set its group. Attribute order as iproute2: IFLA_GROUP, IFLA_IFNAME.
    public static func rename(index: Int32, to newName: String, group: UInt32? = nil) throws -> Request {
        let (i, _) = try selector(.index(index))
        try validateInterfaceName(newName)
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i),
                                                          attributes: groupAttr(group) + [.name(newName)]))
    }

    /// `ip link show` (send with `dump`).
    public static func dump() -> Request {
        make(MessageType.getLink, [], LinkMessage())
    }

    /// `ip link show DEV` (send with `query`): one link, with up-to-date operstate.
    public static func get(_ link: LinkSelector) throws -> Request {
        let (i, attrs) = try selector(link)
        return make(MessageType.getLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs))
    }
}

extension NetlinkSocket {
    /// `ip link show`: every link of the socket's namespace.
    public func links() throws -> [LinkInfo] {
        try dump(LinkRequest.dump()).compactMap { m in
            guard m.header.type == MessageType.newLink else { return nil }
            return LinkInfo(try LinkMessage(decoding: m.payload[...]))
        }
    }

    /// `ip link show DEV`: one link, or nil if there is none (ENODEV).
    public func link(_ selector: LinkSelector) throws -> LinkInfo? {
        do {
            for m in try query(LinkRequest.get(selector)) where m.header.type == MessageType.newLink {
                return LinkInfo(try LinkMessage(decoding: m.payload[...]))
            }
            return nil
        } catch NetlinkError.kernel(let e, _) where e == 19 { // ENODEV
            return nil
        }
    }
}

/// The kind-specific part of a link (IFLA_INFO_DATA) decoded, for the kinds this client
/// models; each kind's file has the details.
public enum LinkKindInfo: Hashable, Sendable {
    case vlan(VLANInfo)
    case macvlan(MacvlanInfo)
    case ipvlan(IPVlanInfo)
    case vxlan(VXLANInfo)
    case vrf(VRFInfo)

    /// Decodes `data` for `kind`; nil for other kinds (veth, bridge, dummy, …) or bad data.
    public init?(kind: String, data: [UInt8]?) {
        do {
            switch kind {
            case VLANInfo.kind: self = .vlan(try VLANInfo(decoding: data ?? []))
            case MacvlanInfo.kind: self = .macvlan(try MacvlanInfo(decoding: data ?? []))
            case IPVlanInfo.kind: self = .ipvlan(try IPVlanInfo(decoding: data ?? []))
            case VXLANInfo.kind: self = .vxlan(try VXLANInfo(decoding: data ?? []))
            case VRFInfo.kind: self = .vrf(try VRFInfo(decoding: data ?? []))
            default: return nil
            }
        } catch { return nil }
    }
}

extension LinkInfo {
    /// IFLA_INFO_DATA decoded for vlan, macvlan, ipvlan, vxlan and vrf.
    public var kindInfo: LinkKindInfo? { kind.flatMap { LinkKindInfo(kind: $0, data: infoData) } }
}
