/// ipvlan: devices sharing their lower device's MAC, told apart by IP
/// (`ip link add link v0 name ipv1 type ipvlan mode l2`).
///
/// The lower device in IFLA_LINK; INFO_DATA: IFLA_IPVLAN_MODE (u16: L2 0, L3 1, L3S 2) and
/// IFLA_IPVLAN_FLAGS (u16: PRIVATE 1, VEPA 2; bridge 0), both sent by iproute2 (flags 0 for a
/// plain `mode`). The mode can be changed in place. Needs CONFIG_IPVLAN (module `ipvlan`).
public struct IPVlanInfo: Hashable, Sendable {
    public enum Attribute {
        public static let mode: UInt16 = 1    // IFLA_IPVLAN_MODE
        public static let flags: UInt16 = 2   // IFLA_IPVLAN_FLAGS
    }
    public static let kind = "ipvlan"
    public enum Mode {
        public static let l2: UInt16 = 0
        public static let l3: UInt16 = 1
        public static let l3s: UInt16 = 2
    }

    public var mode: UInt16?
    public var flags: UInt16?
    public var unknown: [RawAttribute]

    public init(mode: UInt16?, flags: UInt16? = 0, unknown: [RawAttribute] = []) {
        self.mode = mode
        self.flags = flags
        self.unknown = unknown
    }
    public var attributes: [RawAttribute] {
        var out: [RawAttribute] = []
        if let m = mode { out.append(RawAttribute(type: Attribute.mode, payload: [UInt8(m & 0xff), UInt8(m >> 8)])) }
        if let f = flags { out.append(RawAttribute(type: Attribute.flags, payload: [UInt8(f & 0xff), UInt8(f >> 8)])) }
        return out + unknown
    }
    public init(decoding data: [UInt8]) throws {
        self.init(mode: nil, flags: nil)
        for a in try RawAttribute.decode(data) {
            var r = ByteReader(a.payload)
            switch a.kind {
            case Attribute.mode where a.payload.count == 2: mode = try r.u16("IFLA_IPVLAN_MODE")
            case Attribute.flags where a.payload.count == 2: flags = try r.u16("IFLA_IPVLAN_FLAGS")
            default: unknown.append(a)
            }
        }
    }
}

extension LinkRequest {
    /// `ip link add link PARENT name NAME [netns NS] [group G] type ipvlan mode M` (flags 0).
    public static func addIPVlan(name: String, parentIndex: Int32, mode: UInt16, namespaceFD: Int32? = nil,
                                 linkNetnsID: Int32? = nil, group: UInt32? = nil) throws -> Request {
        try add(name: name, kind: IPVlanInfo.kind, data: IPVlanInfo(mode: mode).attributes, parentIndex: parentIndex,
                namespaceFD: namespaceFD, linkNetnsID: linkNetnsID, group: group)
    }
    /// `ip link set DEV type ipvlan mode M`.
    public static func changeIPVlan(_ link: LinkSelector, mode: UInt16) throws -> Request {
        try change(link, kind: IPVlanInfo.kind, data: IPVlanInfo(mode: mode).attributes)
    }
}
