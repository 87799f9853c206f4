/// One netlink attribute (TLV) as it travels: a 16-bit type and its payload, with the
/// header `len u16, type u16` and padding to 4 bytes added on encoding.
///
/// The `type` keeps the NLA_F_NESTED (0x8000) and NLA_F_NET_BYTEORDER (0x4000) bits as
/// sent; `kind` is the type without them.
public struct RawAttribute: Hashable, Sendable {
    public var type: UInt16
    public var payload: [UInt8]

    /// NLA_F_NESTED: set by some senders on nested attributes.
    public static let nestedFlag: UInt16 = 0x8000
    /// NLA_F_NET_BYTEORDER.
    public static let netByteOrderFlag: UInt16 = 0x4000

    public init(type: UInt16, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }
    /// A nested attribute whose payload is the encoded `children`.
    public init(type: UInt16, nested children: [RawAttribute]) {
        self.type = type
        self.payload = RawAttribute.encode(children)
    }
    public init(type: UInt16, u32 value: UInt32) { self.init(type: type, payload: u32Bytes(value)) }
    public init(type: UInt16, string: String) { self.init(type: type, payload: cStringBytes(string)) }

    /// The attribute type without the nested/byte-order flag bits.
    public var kind: UInt16 { type & ~(RawAttribute.nestedFlag | RawAttribute.netByteOrderFlag) }

    /// Appends header, payload and padding.
    func encode(into w: inout ByteWriter) {
        w.u16(UInt16(truncatingIfNeeded: 4 + payload.count))
        w.u16(type)
        w.append(payload)
        w.align()
    }

    /// Encodes a list of attributes back to back.
    public static func encode(_ attributes: [RawAttribute]) -> [UInt8] {
        var w = ByteWriter()
        for a in attributes { a.encode(into: &w) }
        return w.bytes
    }

    /// Splits a byte range into attributes. Throws on a length that is too small or runs
    /// past the end; trailing padding shorter than a header is ignored.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws -> [RawAttribute] {
        var out: [RawAttribute] = []
        var pos = bytes.startIndex
        while bytes.endIndex - pos >= 4 {
            var r = ByteReader(bytes[pos..<(pos + 4)])
            let len = Int(try r.u16("attribute length"))
            let type = try r.u16("attribute type")
            guard len >= 4 else { throw NetlinkError.malformed("attribute \(type) has length \(len) < 4") }
            guard pos + len <= bytes.endIndex else {
                throw NetlinkError.malformed("attribute \(type) of length \(len) runs past the end of its message")
            }
            out.append(RawAttribute(type: type, payload: Array(bytes[(pos + 4)..<(pos + len)])))
            pos += min(nlAlign(len), bytes.endIndex - pos)
        }
        return out
    }
    public static func decode(_ bytes: [UInt8]) throws -> [RawAttribute] { try decode(bytes[...]) }

    /// The payload decoded as nested attributes.
    public func children() throws -> [RawAttribute] { try RawAttribute.decode(payload[...]) }
    func u32(_ what: String) throws -> UInt32 { try leUInt32(payload[...], what) }
    func u8(_ what: String) throws -> UInt8 { try leUInt8(payload[...], what) }
    var string: String { decodeCString(payload[...]) }
}
