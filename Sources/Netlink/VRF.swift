/// vrf: an L3 master device bound to a routing table (`ip link add vrf-red type vrf table 10`).
///
/// INFO_DATA holds IFLA_VRF_TABLE (u32), required and not 0 (drivers/net/vrf.c:
/// "VRF table id is missing" / "Invalid VRF table id", EINVAL). vrf has no changelink: a
/// different table is a new device (RTM_NEWLINK with INFO_DATA on an existing vrf answers
/// EOPNOTSUPP). The first VRF of a namespace installs the l3mdev rule (`1000: from all lookup
/// [l3mdev-table]`). Ports join with IFLA_MASTER. Needs CONFIG_NET_VRF (module `vrf`).
public struct VRFInfo: Hashable, Sendable {
    public static let kind = "vrf"
    /// IFLA_VRF_TABLE.
    public static let tableAttribute: UInt16 = 1
    public var table: UInt32?
    public var unknown: [RawAttribute]

    public init(table: UInt32?, unknown: [RawAttribute] = []) {
        self.table = table
        self.unknown = unknown
    }
    public var attributes: [RawAttribute] {
        (table.map { [RawAttribute(type: VRFInfo.tableAttribute, u32: $0)] } ?? []) + unknown
    }
    public init(decoding data: [UInt8]) throws {
        self.init(table: nil)
        for a in try RawAttribute.decode(data) {
            if a.kind == VRFInfo.tableAttribute, a.payload.count == 4 { table = try a.u32("IFLA_VRF_TABLE") } else { unknown.append(a) }
        }
    }
}

extension LinkRequest {
    /// `ip link add NAME [netns NS] [group G] type vrf table T`
    public static func addVRF(name: String, table: UInt32, namespaceFD: Int32? = nil, group: UInt32? = nil) throws -> Request {
        guard table != 0 else { throw NetlinkError.invalidArgument("vrf table 0 is not a table") }
        return try add(name: name, kind: VRFInfo.kind, data: VRFInfo(table: table).attributes, namespaceFD: namespaceFD,
                       group: group)
    }
}
