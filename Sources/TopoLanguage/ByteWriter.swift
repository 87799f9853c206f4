/// A growable UTF-8 buffer for building large outputs (a 100 000-interface plan renders to
/// tens of megabytes): pieces are appended as bytes, numbers and addresses are written
/// digit by digit, and the text becomes one `String` at the end. Far cheaper than growing
/// a `String` by interpolations.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    /// The text written so far.
    var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func write(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ s: Substring) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func write<C: Collection>(bytes other: C) where C.Element == UInt8 {
        bytes.append(contentsOf: other)
    }

    /// `n` in decimal, as `String(n)` writes it.
    mutating func write(_ n: Int) {
        if n < 0 {
            byte(UInt8(ascii: "-"))
            writeDecimal(n.magnitude)
        } else {
            writeDecimal(UInt(n))
        }
    }

    mutating func writeDecimal(_ n: UInt) {
        if n < 10 {
            bytes.append(48 + UInt8(n))
            return
        }
        var digits = 1
        var v = n / 10
        while v > 0 { digits += 1; v /= 10 }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        v = n
        var i = start + digits - 1
        while v > 0 {
            bytes[i] = 48 + UInt8(v % 10)
            v /= 10
            i -= 1
        }
    }

    /// `a.description`, with IPv4 written directly.
    mutating func write(_ a: IPAddress) {
        switch a {
        case .v4(let v):
            writeDecimal(UInt(v >> 24))
            byte(UInt8(ascii: "."))
            writeDecimal(UInt(v >> 16 & 0xff))
            byte(UInt8(ascii: "."))
            writeDecimal(UInt(v >> 8 & 0xff))
            byte(UInt8(ascii: "."))
            writeDecimal(UInt(v & 0xff))
        case .v6:
            write(a.description)
        }
    }

    /// `p.description`: `ADDRESS/LENGTH`.
    mutating func write(_ p: IPPrefix) {
        write(p.address)
        byte(UInt8(ascii: "/"))
        write(p.length)
    }

    mutating func spaces(_ n: Int) {
        if n > 0 { bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: n)) }
    }
}
