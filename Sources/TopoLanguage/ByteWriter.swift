/// A growable UTF-8 buffer for building large outputs (a 100 000-interface plan renders to
/// tens of megabytes): pieces are appended as bytes, numbers and addresses are written
/// digit by digit. Far cheaper than growing a `String` by interpolations.
///
/// For the final text, `endLine()` moves the pending bytes into the result `String` in
/// chunks, so the output is never held twice in full (once as bytes, once as text).
struct ByteWriter {
    /// Bytes not yet moved to `text`.
    private(set) var bytes: [UInt8] = []
    private var text = ""
    private static let chunk = 1 << 16

    /// `capacity`: the expected size of the whole output. Reserving generously is cheap:
    /// pages that are never written are never resident.
    init(capacity: Int = 0) {
        if capacity > 2 * ByteWriter.chunk {
            text.reserveCapacity(capacity)
            bytes.reserveCapacity(ByteWriter.chunk + 1024)
        } else {
            bytes.reserveCapacity(capacity)
        }
    }

    /// A writer used as a byte buffer only (read through `bytes`, never `endLine`).
    init(bufferCapacity: Int) {
        bytes.reserveCapacity(bufferCapacity)
    }

    /// Bytes written so far that are still pending (all of them when `endLine` is never called).
    var count: Int { bytes.count }

    /// Marks a character boundary (the end of a line): pending bytes may go to the result now.
    mutating func endLine() {
        if bytes.count >= ByteWriter.chunk { moveBytes() }
    }

    private mutating func moveBytes() {
        text.append(String(decoding: bytes, as: UTF8.self))
        bytes.removeAll(keepingCapacity: true)
    }

    /// All the text written.
    mutating func finish() -> String {
        if text.isEmpty { return String(decoding: bytes, as: UTF8.self) }
        moveBytes()
        return text
    }

    @inline(__always) mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Appends fixed text (a literal: cheaper than `write(_: String)`, which string literals
    /// would otherwise pick).
    mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

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
