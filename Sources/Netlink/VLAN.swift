/// vlan: an 802.1Q/802.1ad sub-interface of a lower device
/// (`ip link add link v0 name v0.100 type vlan [proto 802.1ad] id 100`).
///
/// The lower device goes in the top-level IFLA_LINK; INFO_DATA holds IFLA_VLAN_ID (u16, host
/// order, required: "VLAN id not specified"), IFLA_VLAN_PROTOCOL (**big-endian** ethertype,
/// 0x8100 by default), IFLA_VLAN_FLAGS {flags, mask} (REORDER_HDR is the kernel's default),
/// IFLA_VLAN_EGRESS_QOS/INGRESS_QOS (nests of QOS_MAPPING {from, to}). A dump reports
/// PROTOCOL, ID, FLAGS {flags, mask 0xFFFFFFFF} and non-empty QoS maps
/// (net/8021q/vlan_netlink.c). Needs CONFIG_VLAN_8021Q (module `8021q`).
public struct VLANInfo: Hashable, Sendable {
    public enum Attribute {
        public static let id: UInt16 = 1          // IFLA_VLAN_ID
        public static let flags: UInt16 = 2       // IFLA_VLAN_FLAGS
        public static let egressQoS: UInt16 = 3   // IFLA_VLAN_EGRESS_QOS
        public static let ingressQoS: UInt16 = 4  // IFLA_VLAN_INGRESS_QOS
        public static let `protocol`: UInt16 = 5  // IFLA_VLAN_PROTOCOL (be16)
        public static let qosMapping: UInt16 = 1  // IFLA_VLAN_QOS_MAPPING
    }
    public static let kind = "vlan"
    /// VLAN_FLAG_* bits.
    public enum Flag {
        public static let reorderHeader: UInt32 = 0x1
        public static let gvrp: UInt32 = 0x2
        public static let looseBinding: UInt32 = 0x4
        public static let mvrp: UInt32 = 0x8
        public static let bridgeBinding: UInt32 = 0x10
    }
    public struct Flags: Hashable, Sendable {
        public var flags: UInt32, mask: UInt32
        public init(flags: UInt32, mask: UInt32) {
            self.flags = flags
            self.mask = mask
        }
    }
    public struct QoSMapping: Hashable, Sendable {
        public var from: UInt32, to: UInt32
        public init(from: UInt32, to: UInt32) {
            self.from = from
            self.to = to
        }
    }
    public static let ethertype8021Q: UInt16 = 0x8100
    public static let ethertype8021AD: UInt16 = 0x88A8

    public var id: UInt16?
    /// The tag's ethertype (host value; sent big-endian).
    public var protocolEthertype: UInt16?
    public var flags: Flags?
    public var egressQoS: [QoSMapping]?
    public var ingressQoS: [QoSMapping]?
    public var unknown: [RawAttribute]

    public init(id: UInt16?, protocolEthertype: UInt16? = nil, flags: Flags? = nil, egressQoS: [QoSMapping]? = nil,
                ingressQoS: [QoSMapping]? = nil, unknown: [RawAttribute] = []) {
        self.id = id
        self.protocolEthertype = protocolEthertype
        self.flags = flags
        self.egressQoS = egressQoS
        self.ingressQoS = ingressQoS
        self.unknown = unknown
    }

    /// INFO_DATA in iproute2's order: PROTOCOL, ID, EGRESS_QOS, INGRESS_QOS, FLAGS.
    public var attributes: [RawAttribute] {
        var out: [RawAttribute] = []
        if let p = protocolEthertype { out.append(RawAttribute(type: Attribute.protocol, payload: [UInt8(p >> 8), UInt8(p & 0xff)])) }
        if let id { out.append(RawAttribute(type: Attribute.id, payload: [UInt8(id & 0xff), UInt8(id >> 8)])) }
        func qos(_ type: UInt16, _ maps: [QoSMapping]?) {
            guard let maps else { return }
            out.append(RawAttribute(type: type, nested: maps.map {
                RawAttribute(type: Attribute.qosMapping, payload: u32Bytes($0.from) + u32Bytes($0.to))
            }))
        }
        qos(Attribute.egressQoS, egressQoS)
        qos(Attribute.ingressQoS, ingressQoS)
        if let f = flags { out.append(RawAttribute(type: Attribute.flags, payload: u32Bytes(f.flags) + u32Bytes(f.mask))) }
        return out + unknown
    }

    public init(decoding data: [UInt8]) throws {
        self.init(id: nil)
        for a in try RawAttribute.decode(data) {
            var r = ByteReader(a.payload)
            switch a.kind {
            case Attribute.id where a.payload.count == 2: id = try r.u16("IFLA_VLAN_ID")
            case Attribute.protocol where a.payload.count == 2: protocolEthertype = UInt16(a.payload[0]) << 8 | UInt16(a.payload[1])
            case Attribute.flags where a.payload.count == 8: flags = Flags(flags: try r.u32("flags"), mask: try r.u32("mask"))
            case Attribute.egressQoS, Attribute.ingressQoS:
                let maps = try a.children().filter { $0.kind == Attribute.qosMapping && $0.payload.count == 8 }.map { m -> QoSMapping in
                    var mr = ByteReader(m.payload)
                    return QoSMapping(from: try mr.u32("from"), to: try mr.u32("to"))
                }
                if a.kind == Attribute.egressQoS { egressQoS = maps } else { ingressQoS = maps }
            default: unknown.append(a)
            }
        }
    }
}

extension LinkRequest {
    /// `ip link add link PARENT name NAME [netns NS] [group G] type vlan [proto P] id ID`.
    /// `parentIndex` is resolved in the sending socket's namespace (or in the namespace
    /// `linkNetnsID` names, as the target namespace sees it).
    public static func addVLAN(name: String, parentIndex: Int32, _ info: VLANInfo, namespaceFD: Int32? = nil,
                               linkNetnsID: Int32? = nil, group: UInt32? = nil) throws -> Request {
        guard let id = info.id, (1...4094).contains(id) else {
            throw NetlinkError.invalidArgument("vlan id \(info.id.map(String.init) ?? "missing") is not in 1…4094")
        }
        return try add(name: name, kind: VLANInfo.kind, data: info.attributes, parentIndex: parentIndex,
                       namespaceFD: namespaceFD, linkNetnsID: linkNetnsID, group: group)
    }
}
