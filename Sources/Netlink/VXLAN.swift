/// vxlan: an L2 overlay over UDP (`ip link add vx0 type vxlan id 42 dstport 4789 remote
/// 10.0.0.2 local 10.0.0.1 dev v0`).
///
/// The underlay device goes **inside** INFO_DATA (IFLA_VXLAN_LINK), not in IFLA_LINK. Without
/// IFLA_VXLAN_PORT the kernel uses 8472, the old Linux port, not the IANA 4789. `remote` and
/// `group` both travel as GROUP/GROUP6. The device's UDP socket lives in the namespace that
/// created it (its "link namespace"); to put the device in another namespace in one request,
/// send from the underlay's namespace with IFLA_NET_NS_FD (TC-LINKS §9 V1). A dump from the
/// device's namespace then carries IFLA_LINK_NETNSID and VXLAN_LINK as seen in the underlay's.
///
/// Change in place (RTM_NEWLINK on the device, `ip link set vx0 type vxlan …`): the kernel
/// keeps what is omitted and accepts ID (same value only: "Cannot change VNI"), GROUP(6),
/// LINK, LOCAL(6), TTL, TOS, LEARNING, AGEING, LABEL, DF, LOCALBYPASS; it refuses PORT,
/// PORT_RANGE, LIMIT, PROXY, RSC, L2MISS, L3MISS, UDP_CSUM, UDP_ZERO_CSUM6_TX/RX,
/// REMCSUM_TX/RX, COLLECT_METADATA even with the current value (EOPNOTSUPP): see
/// `changeAttributes`. Needs CONFIG_VXLAN (module `vxlan`).
public struct VXLANInfo: Hashable, Sendable {
    public enum Attribute {
        public static let id: UInt16 = 1              // IFLA_VXLAN_ID u32
        public static let group: UInt16 = 2           // IFLA_VXLAN_GROUP (4 bytes)
        public static let link: UInt16 = 3            // IFLA_VXLAN_LINK u32
        public static let local: UInt16 = 4           // IFLA_VXLAN_LOCAL (4 bytes)
        public static let ttl: UInt16 = 5             // IFLA_VXLAN_TTL u8 (0: auto)
        public static let tos: UInt16 = 6             // IFLA_VXLAN_TOS u8
        public static let learning: UInt16 = 7        // IFLA_VXLAN_LEARNING u8
        public static let ageing: UInt16 = 8          // IFLA_VXLAN_AGEING u32
        public static let limit: UInt16 = 9           // IFLA_VXLAN_LIMIT
        public static let portRange: UInt16 = 10      // IFLA_VXLAN_PORT_RANGE {be16, be16}
        public static let proxy: UInt16 = 11
        public static let rsc: UInt16 = 12
        public static let l2miss: UInt16 = 13
        public static let l3miss: UInt16 = 14
        public static let port: UInt16 = 15           // IFLA_VXLAN_PORT be16
        public static let group6: UInt16 = 16         // IFLA_VXLAN_GROUP6 (16 bytes)
        public static let local6: UInt16 = 17         // IFLA_VXLAN_LOCAL6 (16 bytes)
        public static let udpChecksum: UInt16 = 18
        public static let udpZeroChecksum6Tx: UInt16 = 19
        public static let udpZeroChecksum6Rx: UInt16 = 20
        public static let remoteChecksumTx: UInt16 = 21
        public static let remoteChecksumRx: UInt16 = 22
        public static let gbp: UInt16 = 23
        public static let remoteChecksumNoPartial: UInt16 = 24
        public static let collectMetadata: UInt16 = 25
        public static let label: UInt16 = 26          // be32
        public static let gpe: UInt16 = 27
        public static let ttlInherit: UInt16 = 28     // a flag on input; dumps report a u8
        public static let df: UInt16 = 29
        public static let vniFilter: UInt16 = 30
        public static let localBypass: UInt16 = 31
        public static let labelPolicy: UInt16 = 32
        public static let reservedBits: UInt16 = 33
    }
    public static let kind = "vxlan"
    /// What the kernel uses without a PORT attribute.
    public static let kernelDefaultPort: UInt16 = 8472

    public var id: UInt32?
    /// The remote or multicast group: 4 (GROUP) or 16 (GROUP6) raw bytes.
    public var group: [UInt8]?
    /// 4 (LOCAL) or 16 (LOCAL6) raw bytes.
    public var local: [UInt8]?
    /// The underlay ifindex (in the device's link namespace).
    public var link: UInt32?
    /// 0: auto.
    public var ttl: UInt8?
    public var learning: UInt8?
    /// The UDP destination port (host value; sent big-endian).
    public var port: UInt16?
    /// Everything else (the ~20 other attributes a dump carries), as sent.
    public var unknown: [RawAttribute]

    public init(id: UInt32?, group: [UInt8]? = nil, local: [UInt8]? = nil, link: UInt32? = nil, ttl: UInt8? = nil,
                learning: UInt8? = nil, port: UInt16? = nil, unknown: [RawAttribute] = []) {
        self.id = id
        self.group = group
        self.local = local
        self.link = link
        self.ttl = ttl
        self.learning = learning
        self.port = port
        self.unknown = unknown
    }

    /// The port in effect: PORT, else the kernel's 8472 (a dump always carries PORT).
    public var effectivePort: UInt16 { port.flatMap { $0 == 0 ? nil : $0 } ?? VXLANInfo.kernelDefaultPort }

    private static func address(_ b: [UInt8], v4: UInt16, v6: UInt16) -> RawAttribute {
        RawAttribute(type: b.count == 16 ? v6 : v4, payload: b)
    }

    /// INFO_DATA for creation, in iproute2 6.1's order: LINK, TTL, ID, LOCAL(6), GROUP(6),
    /// LEARNING, PORT, then the unknown attributes.
    public var attributes: [RawAttribute] {
        var out: [RawAttribute] = []
        if let l = link { out.append(RawAttribute(type: Attribute.link, u32: l)) }
        if let t = ttl { out.append(RawAttribute(type: Attribute.ttl, payload: [t])) }
        if let id { out.append(RawAttribute(type: Attribute.id, u32: id)) }
        if let l = local { out.append(VXLANInfo.address(l, v4: Attribute.local, v6: Attribute.local6)) }
        if let g = group { out.append(VXLANInfo.address(g, v4: Attribute.group, v6: Attribute.group6)) }
        if let l = learning { out.append(RawAttribute(type: Attribute.learning, payload: [l])) }
        if let p = port { out.append(RawAttribute(type: Attribute.port, payload: [UInt8(p >> 8), UInt8(p & 0xff)])) }
        return out + unknown
    }

    /// The attribute types the kernel accepts when changing an existing vxlan.
    public static let changeable: Set<UInt16> = [
        Attribute.id, Attribute.group, Attribute.group6, Attribute.link, Attribute.local, Attribute.local6, Attribute.ttl,
        Attribute.tos, Attribute.learning, Attribute.ageing, Attribute.label, Attribute.df, Attribute.localBypass,
    ]

    /// INFO_DATA for a change in place: `attributes` without those the kernel refuses on change
    /// (PORT and the other fixed ones are dropped, whatever their value).
    public var changeAttributes: [RawAttribute] {
        attributes.filter { VXLANInfo.changeable.contains($0.kind) }
    }

    public init(decoding data: [UInt8]) throws {
        self.init(id: nil)
        for a in try RawAttribute.decode(data) {
            var r = ByteReader(a.payload)
            let n = a.payload.count
            switch a.kind {
            case Attribute.id where n == 4: id = try r.u32("IFLA_VXLAN_ID")
            case Attribute.group where n == 4, Attribute.group6 where n == 16: group = a.payload
            case Attribute.local where n == 4, Attribute.local6 where n == 16: local = a.payload
            case Attribute.link where n == 4: link = try r.u32("IFLA_VXLAN_LINK")
            case Attribute.ttl where n == 1: ttl = a.payload[0]
            case Attribute.learning where n == 1: learning = a.payload[0]
            case Attribute.port where n == 2: port = UInt16(a.payload[0]) << 8 | UInt16(a.payload[1])
            default: unknown.append(a)
            }
        }
    }
}

extension LinkRequest {
    /// `ip link add NAME [netns NS] [group G] [mtu M] type vxlan id VNI dstport P [remote|group
    /// A] [local A] [dev UNDERLAY] [ttl T]` (learning on, as iproute2 sends it; PORT always).
    /// `info.link` is the underlay's ifindex in the sending socket's namespace, unless
    /// `linkNetnsID` names another (as the target namespace sees it).
    public static func addVXLAN(name: String, _ info: VXLANInfo, namespaceFD: Int32? = nil, linkNetnsID: Int32? = nil,
                                mtu: UInt32? = nil, group: UInt32? = nil) throws -> Request {
        guard let id = info.id, id <= 0xFF_FFFF else {
            throw NetlinkError.invalidArgument("vxlan id \(info.id.map(String.init) ?? "missing") is not in 0…16777215")
        }
        for a in [info.group, info.local] {
            if let a, a.count != 4 && a.count != 16 { throw NetlinkError.invalidArgument("vxlan address of \(a.count) bytes") }
        }
        return try add(name: name, kind: VXLANInfo.kind, data: info.attributes, namespaceFD: namespaceFD,
                       linkNetnsID: linkNetnsID, mtu: mtu, group: group)
    }

    /// `ip link set DEV type vxlan id VNI …`: only what the kernel changes in place is sent.
    public static func changeVXLAN(_ link: LinkSelector, _ info: VXLANInfo) throws -> Request {
        try change(link, kind: VXLANInfo.kind, data: info.changeAttributes)
    }
}
