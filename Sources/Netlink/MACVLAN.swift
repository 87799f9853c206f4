/// macvlan: a device with its own MAC address on a lower device
/// (`ip link add link v0 name mv0 type macvlan mode bridge`).
///
/// The lower device goes in IFLA_LINK (resolved in the sender's namespace; IFLA_NET_NS_FD
/// creates the macvlan directly in another one: TC-LINKS §9). INFO_DATA: IFLA_MACVLAN_MODE
/// (u32; without it the kernel uses VEPA), FLAGS (u16), and in dumps MACADDR_COUNT,
/// BC_QUEUE_LEN, BC_QUEUE_LEN_USED (…). The mode can be changed in place (`ip link set mv0
/// type macvlan mode private`); passthru only as the single macvlan of its lower device.
/// Needs CONFIG_MACVLAN (module `macvlan`).
public struct MacvlanInfo: Hashable, Sendable {
    public enum Attribute {
        public static let mode: UInt16 = 1          // IFLA_MACVLAN_MODE
        public static let flags: UInt16 = 2         // IFLA_MACVLAN_FLAGS
        public static let macAddressCount: UInt16 = 6 // IFLA_MACVLAN_MACADDR_COUNT
        public static let broadcastQueueLength: UInt16 = 7 // IFLA_MACVLAN_BC_QUEUE_LEN
        public static let broadcastQueueLengthUsed: UInt16 = 8 // IFLA_MACVLAN_BC_QUEUE_LEN_USED
    }
    public static let kind = "macvlan"
    /// MACVLAN_MODE_*.
    public enum Mode {
        public static let `private`: UInt32 = 1
        public static let vepa: UInt32 = 2
        public static let bridge: UInt32 = 4
        public static let passthru: UInt32 = 8
        public static let source: UInt32 = 16
    }

    public var mode: UInt32?
    public var flags: UInt16?
    public var unknown: [RawAttribute]

    public init(mode: UInt32?, flags: UInt16? = nil, unknown: [RawAttribute] = []) {
        self.mode = mode
        self.flags = flags
        self.unknown = unknown
    }
    /// The mode in effect (no MODE attribute: the kernel's VEPA).
    public var effectiveMode: UInt32 { mode ?? Mode.vepa }

    public var attributes: [RawAttribute] {
        var out: [RawAttribute] = []
        if let m = mode { out.append(RawAttribute(type: Attribute.mode, u32: m)) }
        if let f = flags { out.append(RawAttribute(type: Attribute.flags, payload: [UInt8(f & 0xff), UInt8(f >> 8)])) }
        return out + unknown
    }
    public init(decoding data: [UInt8]) throws {
        self.init(mode: nil)
        for a in try RawAttribute.decode(data) {
            var r = ByteReader(a.payload)
            switch a.kind {
            case Attribute.mode where a.payload.count == 4: mode = try r.u32("IFLA_MACVLAN_MODE")
            case Attribute.flags where a.payload.count == 2: flags = try r.u16("IFLA_MACVLAN_FLAGS")
            default: unknown.append(a)
            }
        }
    }
}

extension LinkRequest {
    /// `ip link add link PARENT name NAME [netns NS] [group G] type macvlan mode M`.
    public static func addMacvlan(name: String, parentIndex: Int32, mode: UInt32, namespaceFD: Int32? = nil,
                                  linkNetnsID: Int32? = nil, group: UInt32? = nil) throws -> Request {
        try add(name: name, kind: MacvlanInfo.kind, data: MacvlanInfo(mode: mode).attributes, parentIndex: parentIndex,
                namespaceFD: namespaceFD, linkNetnsID: linkNetnsID, group: group)
    }
    /// `ip link set DEV type macvlan mode M`.
    public static func changeMacvlan(_ link: LinkSelector, mode: UInt32) throws -> Request {
        try change(link, kind: MacvlanInfo.kind, data: MacvlanInfo(mode: mode).attributes)
    }
}
