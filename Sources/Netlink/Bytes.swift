/// Little-endian (host order on every Linux target topo supports) byte writer.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(truncatingIfNeeded: v)); bytes.append(UInt8(truncatingIfNeeded: v >> 8)) }
    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func u64(_ v: UInt64) { u32(UInt32(truncatingIfNeeded: v)); u32(UInt32(truncatingIfNeeded: v >> 32)) }
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// Pads with zeros to the next multiple of 4.
    mutating func align() { while bytes.count % 4 != 0 { bytes.append(0) } }
}

/// Bounds-checked little-endian reader over a byte slice. Every read throws
/// `NetlinkError.malformed` instead of trapping on short input.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }
    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    var remaining: Int { bytes.endIndex - position }

    mutating func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else {
            throw NetlinkError.malformed("truncated \(what): need \(n) bytes, have \(remaining)")
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
    mutating func u8(_ what: String) throws -> UInt8 { try take(1, what).first ?? 0 }
    mutating func u16(_ what: String) throws -> UInt16 { UInt16(truncatingIfNeeded: try uint(2, what)) }
    mutating func u32(_ what: String) throws -> UInt32 { UInt32(truncatingIfNeeded: try uint(4, what)) }
    mutating func i32(_ what: String) throws -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func u64(_ what: String) throws -> UInt64 { try uint(8, what) }
    private mutating func uint(_ n: Int, _ what: String) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n, what).enumerated() { v |= UInt64(b) << UInt64(8 * i) }
        return v
    }
}

/// Rounds up to the netlink alignment of 4 bytes.
@inline(__always) func nlAlign(_ n: Int) -> Int { (n + 3) & ~3 }

/// Decodes a little-endian integer of exactly `N` bytes.
func leUInt32(_ b: ArraySlice<UInt8>, _ what: String) throws -> UInt32 {
    guard b.count == 4 else { throw NetlinkError.malformed("\(what): expected 4 bytes, got \(b.count)") }
    var r = ByteReader(b)
    return try r.u32(what)
}
func leUInt8(_ b: ArraySlice<UInt8>, _ what: String) throws -> UInt8 {
    guard b.count == 1 else { throw NetlinkError.malformed("\(what): expected 1 byte, got \(b.count)") }
    return b.first ?? 0
}
func u32Bytes(_ v: UInt32) -> [UInt8] { var w = ByteWriter(); w.u32(v); return w.bytes }

/// A NUL-terminated C string attribute payload.
func cStringBytes(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
/// Decodes a string payload, stopping at the first NUL (the kernel always sends one).
func decodeCString(_ b: ArraySlice<UInt8>) -> String {
    let end = b.firstIndex(of: 0) ?? b.endIndex
    return String(decoding: b[b.startIndex..<end], as: UTF8.self)
}
