/// A position in a source file: 1-based line and column (in bytes), 0-based byte offset.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool { a.offset < b.offset }
    public var description: String { "\(line):\(column)" }
}

/// A half-open range `[start, end)` of source text, as HCL keeps one on every token and node.
public struct SourceRange: Hashable, Sendable, CustomStringConvertible {
    public var start: SourceLocation
    public var end: SourceLocation

    public init(start: SourceLocation, end: SourceLocation) {
        self.start = start
        self.end = end
    }

    /// An empty range at the start of a file, for values that come from nowhere in the source.
    public static let none = SourceRange(start: .init(line: 1, column: 1, offset: 0),
                                         end: .init(line: 1, column: 1, offset: 0))

    /// The smallest range covering both.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(start: min(start, other.start), end: max(end, other.end))
    }

    public var description: String { "\(start)-\(end)" }
}

/// The text of one script, with its display name (`lab.topo`, `<stdin>`, `<repl>`) and a line table.
public struct SourceFile: Hashable, Sendable {
    /// The largest script topo reads: 16 MiB. Readers stop at this many bytes (a device or a
    /// pipe that never ends is not read further) and report the limit.
    public static let maxSize = 16 << 20

    public let name: String
    /// The text, for display; invalid UTF-8 in `bytes` shows here as U+FFFD.
    public let text: String
    /// Byte offsets at which each line starts (32 bits each: a script of 16 MiB of newlines
    /// keeps this table at 64 MiB).
    public let lineStarts: [UInt32]
    /// The script's bytes exactly as read. The lexer works on these, so a NUL or an invalid
    /// UTF-8 byte is reported at its own position and never changes a name.
    public let bytes: [UInt8]

    public init(name: String, text: String) {
        self.name = name
        self.text = text
        self.bytes = Array(text.utf8)
        self.lineStarts = SourceFile.lineTable(bytes)
    }

    /// A script from raw bytes, which need not be valid UTF-8.
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        self.text = String(decoding: bytes, as: UTF8.self)
        self.lineStarts = SourceFile.lineTable(bytes)
    }

    private static func lineTable(_ bytes: [UInt8]) -> [UInt32] {
        precondition(bytes.count < Int(UInt32.max), "a source file is at most 4 GiB")
        return bytes.withUnsafeBufferPointer { buf -> [UInt32] in
            // Counted first, so the table is allocated once at its size.
            var n = 0
            for i in 0..<buf.count where buf[i] == 0x0A { n += 1 }
            var starts = [UInt32]()
            starts.reserveCapacity(n + 1)
            starts.append(0)
            for i in 0..<buf.count where buf[i] == 0x0A { starts.append(UInt32(i + 1)) }
            return starts
        }
    }

    /// The raw bytes of line `n` (1-based), without its newline (and a CR before it).
    public func lineBytes(_ n: Int) -> ArraySlice<UInt8> {
        guard n >= 1, n <= lineStarts.count else { return [] }
        let s = Int(lineStarts[n - 1])
        var e = n < lineStarts.count ? Int(lineStarts[n]) : bytes.count
        while e > s, bytes[e - 1] == UInt8(ascii: "\n") || bytes[e - 1] == UInt8(ascii: "\r") { e -= 1 }
        return bytes[s..<e]
    }

    /// The text of line `n` (1-based), without its newline.
    public func line(_ n: Int) -> String {
        String(decoding: lineBytes(n), as: UTF8.self)
    }

    /// The location of a byte offset.
    public func location(ofOffset offset: Int) -> SourceLocation {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if Int(lineStarts[mid]) <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourceLocation(line: lo + 1, column: offset - Int(lineStarts[lo]) + 1, offset: offset)
    }

    /// The source text a range covers.
    public func text(of range: SourceRange) -> String {
        let s = max(0, min(range.start.offset, bytes.count))
        let e = max(s, min(range.end.offset, bytes.count))
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }
}
