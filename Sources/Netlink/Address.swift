/// Address attribute types (IFA_*) and flags.
public enum AddressConstants {
    public static let address: UInt16 = 1    // IFA_ADDRESS
    public static let local: UInt16 = 2      // IFA_LOCAL
    public static let label: UInt16 = 3      // IFA_LABEL
    public static let broadcast: UInt16 = 4  // IFA_BROADCAST
    public static let flags: UInt16 = 8      // IFA_FLAGS
    public static let flagNoDAD: UInt32 = 0x02      // IFA_F_NODAD
    public static let flagDADFailed: UInt32 = 0x08  // IFA_F_DADFAILED
    public static let flagTentative: UInt32 = 0x40  // IFA_F_TENTATIVE
    public static let flagPermanent: UInt32 = 0x80  // IFA_F_PERMANENT
}

/// The 8-byte `ifaddrmsg`.
public struct InterfaceAddressHeader: Hashable, Sendable {
    public static let size = 8
    public var family: UInt8
    public var prefixLength: UInt8
    /// The low 8 flag bits (IFA_FLAGS carries all 32).
    public var flags: UInt8
    public var scope: UInt8
    public var index: UInt32

    public init(family: UInt8, prefixLength: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32) {
        self.family = family
        self.prefixLength = prefixLength
        self.flags = flags
        self.scope = scope
        self.index = index
    }
    func encode(into w: inout ByteWriter) { w.u8(family); w.u8(prefixLength); w.u8(flags); w.u8(scope); w.u32(index) }
    static func decode(_ r: inout ByteReader) throws -> InterfaceAddressHeader {
        InterfaceAddressHeader(family: try r.u8("ifa_family"), prefixLength: try r.u8("ifa_prefixlen"),
                               flags: try r.u8("ifa_flags"), scope: try r.u8("ifa_scope"), index: try r.u32("ifa_index"))
    }
}

/// A typed address attribute; others are kept as `.unknown`.
public enum AddressAttribute: Hashable, Sendable {
    /// IFA_ADDRESS (the peer on point-to-point links; equals `local` otherwise).
    case address([UInt8])
    /// IFA_LOCAL
    case local([UInt8])
    /// IFA_LABEL
    case label(String)
    /// IFA_BROADCAST
    case broadcast([UInt8])
    /// IFA_FLAGS (all 32 bits)
    case flags(UInt32)
    case unknown(type: UInt16, bytes: [UInt8])

    var raw: RawAttribute {
        switch self {
        case .address(let b): return RawAttribute(type: AddressConstants.address, payload: b)
        case .local(let b): return RawAttribute(type: AddressConstants.local, payload: b)
        case .label(let s): return RawAttribute(type: AddressConstants.label, string: s)
        case .broadcast(let b): return RawAttribute(type: AddressConstants.broadcast, payload: b)
        case .flags(let v): return RawAttribute(type: AddressConstants.flags, u32: v)
        case .unknown(let t, let b): return RawAttribute(type: t, payload: b)
        }
    }
    static func decode(_ a: RawAttribute) -> AddressAttribute {
        let isAddr = a.payload.count == 4 || a.payload.count == 16
        switch a.type {
        case AddressConstants.address where isAddr: return .address(a.payload)
        case AddressConstants.local where isAddr: return .local(a.payload)
        case AddressConstants.broadcast where isAddr: return .broadcast(a.payload)
        case AddressConstants.label where a.payload.last == 0: return .label(a.string)
        case AddressConstants.flags where a.payload.count == 4: return .flags((try? a.u32("IFA_FLAGS")) ?? 0)
        default: return .unknown(type: a.type, bytes: a.payload)
        }
    }
}

/// An RTM_*ADDR payload.
public struct AddressMessage: Hashable, Sendable {
    public var header: InterfaceAddressHeader
    public var attributes: [AddressAttribute]

    public init(header: InterfaceAddressHeader, attributes: [AddressAttribute] = []) {
        self.header = header
        self.attributes = attributes
    }
    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ByteReader(bytes)
        header = try InterfaceAddressHeader.decode(&r)
        attributes = try RawAttribute.decode(bytes[r.position...]).map(AddressAttribute.decode)
    }
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        header.encode(into: &w)
        for a in attributes { a.raw.encode(into: &w) }
        return w.bytes
    }
}

/// An address as a dump reports it.
public struct AddressInfo: Hashable, Sendable {
    public var index: UInt32
    public var family: UInt8
    public var prefixLength: UInt8
    /// IFA_FLAGS if present, else the header's 8 bits.
    public var flags: UInt32
    public var scope: UInt8
    /// IFA_LOCAL (nil for IPv6, which sends only IFA_ADDRESS).
    public var local: [UInt8]?
    /// IFA_ADDRESS
    public var address: [UInt8]?
    public var label: String?
    public var unknown: [RawAttribute]

    /// The interface's own address: IFA_LOCAL, else IFA_ADDRESS.
    public var primary: [UInt8]? { local ?? address }
    /// IFA_F_TENTATIVE: DAD is still running; the address cannot be used yet.
    public var isTentative: Bool { flags & AddressConstants.flagTentative != 0 }

    public init(_ m: AddressMessage) {
        index = m.header.index
        family = m.header.family
        prefixLength = m.header.prefixLength
        flags = UInt32(m.header.flags)
        scope = m.header.scope
        unknown = []
        for a in m.attributes {
            switch a {
            case .address(let b): address = b
            case .local(let b): local = b
            case .label(let s): label = s
            case .broadcast: break
            case .flags(let f): flags = f
            case .unknown(let t, let b): unknown.append(RawAttribute(type: t, payload: b))
            }
        }
    }
}

/// Builders for RTM_*ADDR requests.
public enum AddressRequest {
    private static func message(index: Int32, address: [UInt8], prefixLength: Int) throws -> AddressMessage {
        guard let family = AddressFamily.of(address) else {
            throw NetlinkError.invalidArgument("address must be 4 or 16 bytes, got \(address.count)")
        }
        let maxLength = address.count * 8
        guard prefixLength >= 0, prefixLength <= maxLength else {
            throw NetlinkError.invalidArgument("prefix length \(prefixLength) out of range 0…\(maxLength)")
        }
        guard index > 0 else { throw NetlinkError.invalidArgument("interface index \(index) must be positive") }
        // As iproute2: IPv6 gets IFA_F_NODAD in the header (fits in 8 bits, so no IFA_FLAGS),
        // so the address is usable at once instead of tentative for ~1.5 s.
        let flags: UInt8 = family == AddressFamily.inet6 ? UInt8(AddressConstants.flagNoDAD) : 0
        return AddressMessage(header: InterfaceAddressHeader(family: family, prefixLength: UInt8(prefixLength),
                                                             flags: flags, index: UInt32(index)),
                              attributes: [.local(address), .address(address)])
    }

    /// `ip addr add ADDR/LEN dev DEV` (IPv6: `… nodad`). `address` is 4 or 16 raw bytes.
    public static func add(index: Int32, address: [UInt8], prefixLength: Int) throws -> Request {
        Request(type: MessageType.newAddress, flags: [.create, .excl],
                payload: try message(index: index, address: address, prefixLength: prefixLength).encoded())
    }

    /// `ip addr del ADDR/LEN dev DEV`
    public static func delete(index: Int32, address: [UInt8], prefixLength: Int) throws -> Request {
        var m = try message(index: index, address: address, prefixLength: prefixLength)
        m.header.flags = 0
        return Request(type: MessageType.delAddress, flags: [], payload: m.encoded())
    }

    /// `ip addr show` (send with `dump`); `family` 0 for both.
    public static func dump(family: UInt8 = AddressFamily.unspecified) -> Request {
        Request(type: MessageType.getAddress, flags: [],
                payload: AddressMessage(header: InterfaceAddressHeader(family: family, prefixLength: 0, index: 0)).encoded())
    }
}

extension NetlinkSocket {
    /// `ip addr show`: every address of the socket's namespace.
    public func addresses(family: UInt8 = AddressFamily.unspecified) throws -> [AddressInfo] {
        try dump(AddressRequest.dump(family: family)).compactMap { m in
            guard m.header.type == MessageType.newAddress else { return nil }
            return AddressInfo(try AddressMessage(decoding: m.payload[...]))
        }
    }
}
