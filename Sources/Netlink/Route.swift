/// Route attribute types (RTA_*) and rtmsg values.
public enum RouteConstants {
    public static let destination: UInt16 = 1    // RTA_DST
    public static let source: UInt16 = 2         // RTA_SRC
    public static let inputInterface: UInt16 = 3 // RTA_IIF
    public static let outputInterface: UInt16 = 4 // RTA_OIF
    public static let gateway: UInt16 = 5        // RTA_GATEWAY
    public static let priority: UInt16 = 6       // RTA_PRIORITY
    public static let preferredSource: UInt16 = 7 // RTA_PREFSRC
    public static let table: UInt16 = 15         // RTA_TABLE
    public static let tableUnspecified: UInt8 = 0 // RT_TABLE_UNSPEC (the table is in RTA_TABLE)
    public static let tableDefault: UInt8 = 253  // RT_TABLE_DEFAULT
    public static let tableMain: UInt8 = 254     // RT_TABLE_MAIN
    public static let tableLocal: UInt8 = 255    // RT_TABLE_LOCAL
    public static let protocolKernel: UInt8 = 2  // RTPROT_KERNEL
    public static let protocolBoot: UInt8 = 3    // RTPROT_BOOT
    public static let scopeUniverse: UInt8 = 0   // RT_SCOPE_UNIVERSE
    public static let scopeLink: UInt8 = 253     // RT_SCOPE_LINK
    public static let scopeHost: UInt8 = 254     // RT_SCOPE_HOST
    public static let scopeNowhere: UInt8 = 255  // RT_SCOPE_NOWHERE
    public static let typeUnicast: UInt8 = 1     // RTN_UNICAST
    public static let typeLocal: UInt8 = 2       // RTN_LOCAL
    public static let typeBroadcast: UInt8 = 3   // RTN_BROADCAST
    public static let typeAnycast: UInt8 = 4     // RTN_ANYCAST
    public static let typeMulticast: UInt8 = 5   // RTN_MULTICAST
    public static let typeBlackhole: UInt8 = 6   // RTN_BLACKHOLE
    public static let typeUnreachable: UInt8 = 7 // RTN_UNREACHABLE
    public static let typeProhibit: UInt8 = 8    // RTN_PROHIBIT
    public static let typeThrow: UInt8 = 9       // RTN_THROW
    public static let typeNAT: UInt8 = 10        // RTN_NAT

    /// `ip route`'s word for a route type (`blackhole`, `unreachable`, …); nil for unicast.
    public static func typeName(_ t: UInt8) -> String? {
        switch t {
        case typeUnicast: return nil
        case typeLocal: return "local"
        case typeBroadcast: return "broadcast"
        case typeAnycast: return "anycast"
        case typeMulticast: return "multicast"
        case typeBlackhole: return "blackhole"
        case typeUnreachable: return "unreachable"
        case typeProhibit: return "prohibit"
        case typeThrow: return "throw"
        case typeNAT: return "nat"
        default: return "type \(t)"
        }
    }
}

/// The 12-byte `rtmsg`.
public struct RouteHeader: Hashable, Sendable {
    public static let size = 12
    public var family: UInt8
    public var destinationLength: UInt8
    public var sourceLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8
    public var `protocol`: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var flags: UInt32 = 0

    public init(family: UInt8, destinationLength: UInt8, sourceLength: UInt8 = 0, tos: UInt8 = 0, table: UInt8,
                protocol: UInt8, scope: UInt8, type: UInt8, flags: UInt32 = 0) {
        self.family = family
        self.destinationLength = destinationLength
        self.sourceLength = sourceLength
        self.tos = tos
        self.table = table
        self.protocol = `protocol`
        self.scope = scope
        self.type = type
        self.flags = flags
    }
    func encode(into w: inout ByteWriter) {
        w.u8(family); w.u8(destinationLength); w.u8(sourceLength); w.u8(tos)
        w.u8(table); w.u8(`protocol`); w.u8(scope); w.u8(type); w.u32(flags)
    }
    static func decode(_ r: inout ByteReader) throws -> RouteHeader {
        RouteHeader(family: try r.u8("rtm_family"), destinationLength: try r.u8("rtm_dst_len"),
                    sourceLength: try r.u8("rtm_src_len"), tos: try r.u8("rtm_tos"), table: try r.u8("rtm_table"),
                    protocol: try r.u8("rtm_protocol"), scope: try r.u8("rtm_scope"), type: try r.u8("rtm_type"),
                    flags: try r.u32("rtm_flags"))
    }
}

/// A typed route attribute; others are kept as `.unknown`.
public enum RouteAttribute: Hashable, Sendable {
    /// RTA_DST
    case destination([UInt8])
    /// RTA_OIF
    case outputInterface(UInt32)
    /// RTA_GATEWAY
    case gateway([UInt8])
    /// RTA_PRIORITY (the metric)
    case priority(UInt32)
    /// RTA_PREFSRC
    case preferredSource([UInt8])
    /// RTA_TABLE (all 32 bits of the table id)
    case table(UInt32)
    case unknown(type: UInt16, bytes: [UInt8])

    var raw: RawAttribute {
        switch self {
        case .destination(let b): return RawAttribute(type: RouteConstants.destination, payload: b)
        case .outputInterface(let v): return RawAttribute(type: RouteConstants.outputInterface, u32: v)
        case .gateway(let b): return RawAttribute(type: RouteConstants.gateway, payload: b)
        case .priority(let v): return RawAttribute(type: RouteConstants.priority, u32: v)
        case .preferredSource(let b): return RawAttribute(type: RouteConstants.preferredSource, payload: b)
        case .table(let v): return RawAttribute(type: RouteConstants.table, u32: v)
        case .unknown(let t, let b): return RawAttribute(type: t, payload: b)
        }
    }
    static func decode(_ a: RawAttribute) -> RouteAttribute {
        let isAddr = a.payload.count == 4 || a.payload.count == 16
        let u32 = a.payload.count == 4 ? try? a.u32("route attribute") : nil
        switch a.type {
        case RouteConstants.destination where isAddr: return .destination(a.payload)
        case RouteConstants.gateway where isAddr: return .gateway(a.payload)
        case RouteConstants.preferredSource where isAddr: return .preferredSource(a.payload)
        case RouteConstants.outputInterface where u32 != nil: return .outputInterface(u32 ?? 0)
        case RouteConstants.priority where u32 != nil: return .priority(u32 ?? 0)
        case RouteConstants.table where u32 != nil: return .table(u32 ?? 0)
        default: return .unknown(type: a.type, bytes: a.payload)
        }
    }
}

/// An RTM_*ROUTE payload.
public struct RouteMessage: Hashable, Sendable {
    public var header: RouteHeader
    public var attributes: [RouteAttribute]

    public init(header: RouteHeader, attributes: [RouteAttribute] = []) {
        self.header = header
        self.attributes = attributes
    }
    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ByteReader(bytes)
        header = try RouteHeader.decode(&r)
        attributes = try RawAttribute.decode(bytes[r.position...]).map(RouteAttribute.decode)
    }
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        header.encode(into: &w)
        for a in attributes { a.raw.encode(into: &w) }
        return w.bytes
    }
}

/// A route as a dump reports it.
public struct RouteInfo: Hashable, Sendable {
    public var family: UInt8
    /// The destination network's raw bytes (all zero for a default route).
    public var destination: [UInt8]
    public var destinationLength: UInt8
    public var gateway: [UInt8]?
    public var outputIndex: UInt32?
    public var priority: UInt32?
    public var preferredSource: [UInt8]?
    /// RTA_TABLE if present, else rtm_table.
    public var table: UInt32
    public var `protocol`: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var unknown: [RawAttribute]

    public var isDefault: Bool { destinationLength == 0 }

    public init(_ m: RouteMessage) {
        family = m.header.family
        destinationLength = m.header.destinationLength
        table = UInt32(m.header.table)
        `protocol` = m.header.protocol
        scope = m.header.scope
        type = m.header.type
        destination = [UInt8](repeating: 0, count: family == AddressFamily.inet6 ? 16 : 4)
        unknown = []
        for a in m.attributes {
            switch a {
            case .destination(let b): destination = b
            case .gateway(let b): gateway = b
            case .outputInterface(let v): outputIndex = v
            case .priority(let v): priority = v
            case .preferredSource(let b): preferredSource = b
            case .table(let v): table = v
            case .unknown(let t, let b): unknown.append(RawAttribute(type: t, payload: b))
            }
        }
    }
}

/// Builders for RTM_*ROUTE requests (main table, unicast, as iproute2 sends them).
public enum RouteRequest {
    private static func message(add: Bool, destination: [UInt8], prefixLength: Int, gateway: [UInt8]?,
                                outputIndex: Int32?, priority: UInt32?, table: UInt32?) throws -> RouteMessage {
        guard let family = AddressFamily.of(destination) else {
            throw NetlinkError.invalidArgument("destination must be 4 or 16 bytes, got \(destination.count)")
        }
        guard prefixLength >= 0, prefixLength <= destination.count * 8 else {
            throw NetlinkError.invalidArgument("prefix length \(prefixLength) out of range 0…\(destination.count * 8)")
        }
        if let gateway, gateway.count != destination.count {
            throw NetlinkError.invalidArgument("gateway and destination are of different address families")
        }
        if let outputIndex, outputIndex <= 0 {
            throw NetlinkError.invalidArgument("interface index \(outputIndex) must be positive")
        }
        guard gateway != nil || outputIndex != nil else {
            throw NetlinkError.invalidArgument("a route needs a gateway or an output device")
        }
        // iproute2: adds are proto boot, type unicast, scope universe, except an IPv4 route
        // without gateway (link scope). Deletes leave protocol/type unspecified and, for
        // IPv4, scope nowhere (matches any scope).
        let v4 = family == AddressFamily.inet
        let scope: UInt8
        if add { scope = (v4 && gateway == nil) ? RouteConstants.scopeLink : RouteConstants.scopeUniverse }
        else { scope = v4 ? RouteConstants.scopeNowhere : RouteConstants.scopeUniverse }
        // iproute2: a table below 256 goes in rtm_table alone; a larger one in RTA_TABLE (u32) with
        // rtm_table RT_TABLE_UNSPEC. No table: main.
        let t = table ?? UInt32(RouteConstants.tableMain)
        guard t != 0 else { throw NetlinkError.invalidArgument("table 0 is not a routing table") }
        let header = RouteHeader(family: family, destinationLength: UInt8(prefixLength),
                                 table: t < 256 ? UInt8(t) : RouteConstants.tableUnspecified,
                                 protocol: add ? RouteConstants.protocolBoot : 0, scope: scope,
                                 type: add ? RouteConstants.typeUnicast : 0)
        var attrs: [RouteAttribute] = []
        if prefixLength > 0 { attrs.append(.destination(destination)) }  // default: no RTA_DST
        if let gateway { attrs.append(.gateway(gateway)) }
        if t >= 256 { attrs.append(.table(t)) }
        if let priority { attrs.append(.priority(priority)) }
        if let outputIndex { attrs.append(.outputInterface(UInt32(outputIndex))) }
        return RouteMessage(header: header, attributes: attrs)
    }

    /// `ip route add DST/LEN [via GW] [dev DEV] [metric N] [table T]` (`default` is prefix
    /// length 0; no table: main). `destination` and `gateway` are raw 4- or 16-byte addresses of
    /// the same family.
    public static func add(destination: [UInt8], prefixLength: Int, gateway: [UInt8]? = nil,
                           outputIndex: Int32? = nil, priority: UInt32? = nil, table: UInt32? = nil) throws -> Request {
        Request(type: MessageType.newRoute, flags: [.create, .excl],
                payload: try message(add: true, destination: destination, prefixLength: prefixLength, gateway: gateway,
                                     outputIndex: outputIndex, priority: priority, table: table).encoded())
    }

    /// `ip route del DST/LEN [via GW] [dev DEV] [metric N] [table T]`
    public static func delete(destination: [UInt8], prefixLength: Int, gateway: [UInt8]? = nil,
                              outputIndex: Int32? = nil, priority: UInt32? = nil, table: UInt32? = nil) throws -> Request {
        Request(type: MessageType.delRoute, flags: [],
                payload: try message(add: false, destination: destination, prefixLength: prefixLength, gateway: gateway,
                                     outputIndex: outputIndex, priority: priority, table: table).encoded())
    }

    /// `ip route show table all` (send with `dump`); `family` 0 for both.
    public static func dump(family: UInt8 = AddressFamily.unspecified) -> Request {
        Request(type: MessageType.getRoute, flags: [],
                payload: RouteMessage(header: RouteHeader(family: family, destinationLength: 0, table: 0,
                                                          protocol: 0, scope: 0, type: 0)).encoded())
    }
}

extension RouteInfo {
    /// `blackhole`, `unreachable`, `prohibit`, … (nil for unicast).
    public var typeName: String? { RouteConstants.typeName(type) }
}

extension NetlinkSocket {
    /// `ip route show table all` (both families with 0): the routes of every table, local,
    /// broadcast and kernel-made ones included (filter on `table`/`type`/`protocol`).
    public func allRoutes(family: UInt8 = AddressFamily.unspecified) throws -> [RouteInfo] {
        try dump(RouteRequest.dump(family: family)).compactMap { m in
            guard m.header.type == MessageType.newRoute else { return nil }
            return RouteInfo(try RouteMessage(decoding: m.payload[...]))
        }
    }

    /// `ip route show` / `ip -6 route show`: the main table's routes (kernel-made
    /// connected routes included: filter on `protocol`/`scope`/`type` as needed).
    public func routes(family: UInt8 = AddressFamily.unspecified) throws -> [RouteInfo] {
        try dump(RouteRequest.dump(family: family)).compactMap { m in
            guard m.header.type == MessageType.newRoute else { return nil }
            let r = RouteInfo(try RouteMessage(decoding: m.payload[...]))
            return r.table == UInt32(RouteConstants.tableMain) ? r : nil
        }
    }
}
