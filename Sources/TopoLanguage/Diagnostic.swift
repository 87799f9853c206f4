/// How bad a diagnostic is.
public enum Severity: String, Hashable, Sendable, Codable {
    case error, warning, note
}

/// One message about the script, rustc-style: a lowercase message, the smallest span, and
/// optional `help:` and `note:` lines. Stages collect these instead of stopping at the first.
public struct Diagnostic: Hashable, Sendable, Error {
    public enum Kind: String, Hashable, Sendable, Codable {
        // lexing and parsing
        case unexpectedCharacter, unterminatedString, invalidNumber, invalidAddress
        case expected, unclosed, unexpectedToken, unknownStatement
        // evaluation
        case undefinedVariable, typeMismatch, overflow, divisionByZero, wrongArgumentCount
        case unknownFunction, recursionLimit, objectLimit, invalidArgument, invalidInterpolation
        // checking
        case unknownInterface, ambiguousInterface, unknownNamespace, invalidName
        case conflict, placementConflict, reservedName, portNamespace, invalidPrefix
        case unreachableGateway, familyMismatch, invalidSysctl, invalidValue, selfReference
        // quantities, shaping, link kinds
        case invalidQuantity, ambiguousUnit, missingOption, cycle, unmodifiable, tooManyPorts, duplicate
        // other
        case stepLimit
        /// Too many errors: parsing stopped (see `Parser.maxErrors`).
        case errorLimit
        /// The script is too large: more bytes than `SourceFile.maxSize` or more tokens than
        /// `Parser.maxTokens`.
        case inputLimit
        case io, other
    }

    public var severity: Severity
    public var kind: Kind
    public var message: String
    public var range: SourceRange
    /// A `help:` line: a fix, or "did you mean `ns1`?".
    public var help: String?
    /// Further positions worth showing (the first declaration of a conflicting object, an opening `<`).
    public var notes: [Note]

    public struct Note: Hashable, Sendable {
        public var message: String
        public var range: SourceRange
        public init(_ message: String, at range: SourceRange) {
            self.message = message
            self.range = range
        }
    }

    public init(_ severity: Severity = .error, _ kind: Kind, _ message: String, at range: SourceRange,
                help: String? = nil, notes: [Note] = []) {
        self.severity = severity
        self.kind = kind
        self.message = message
        self.range = range
        self.help = help
        self.notes = notes
    }

    public static func error(_ kind: Kind, _ message: String, at range: SourceRange,
                             help: String? = nil, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.error, kind, message, at: range, help: help, notes: notes)
    }

    public static func warning(_ kind: Kind, _ message: String, at range: SourceRange,
                               help: String? = nil, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.warning, kind, message, at: range, help: help, notes: notes)
    }
}

extension Array where Element == Diagnostic {
    public var hasErrors: Bool { contains { $0.severity == .error } }
}

/// How many diagnostics a stage counted but did not keep.
public struct OmittedDiagnostics: Hashable, Sendable {
    public var errors = 0
    /// Warnings and notes.
    public var warnings = 0
    public init(errors: Int = 0, warnings: Int = 0) {
        self.errors = errors
        self.warnings = warnings
    }
    public var total: Int { errors + warnings }
    public static func + (a: OmittedDiagnostics, b: OmittedDiagnostics) -> OmittedDiagnostics {
        OmittedDiagnostics(errors: a.errors + b.errors, warnings: a.warnings + b.warnings)
    }
    public static func += (a: inout OmittedDiagnostics, b: OmittedDiagnostics) { a = a + b }
}

/// Keeps what a stage collects bounded, so hostile input (a megabyte of random bytes) cannot
/// build hundreds of thousands of diagnostics: the first `keep` errors and the first `keep`
/// warnings are kept, the rest only counted. Errors and warnings are capped apart, so a
/// stage's kept list holds an error whenever it found one.
public struct DiagnosticLimiter: Hashable, Sendable {
    /// How many of each severity a stage keeps (the renderer shows the first 100 of all).
    public static let keep = 100
    public private(set) var keptErrors = 0
    public private(set) var keptWarnings = 0
    public private(set) var omitted = OmittedDiagnostics()
    public init() {}

    /// True when `d` is to be kept; otherwise it is counted as omitted.
    public mutating func admit(_ d: Diagnostic) -> Bool { admit(d.severity) }

    /// True when a diagnostic of `severity` is to be kept; otherwise it is counted as omitted
    /// (so a caller may skip building it).
    public mutating func admit(_ severity: Severity) -> Bool {
        if severity == .error {
            if keptErrors < Self.keep { keptErrors += 1; return true }
            omitted.errors += 1
        } else {
            if keptWarnings < Self.keep { keptWarnings += 1; return true }
            omitted.warnings += 1
        }
        return false
    }

    /// Counts diagnostics another stage already left out.
    public mutating func absorb(_ o: OmittedDiagnostics) { omitted += o }

    /// Every diagnostic seen, kept or not.
    public var count: Int { keptErrors + keptWarnings + omitted.total }
}

/// Renders diagnostics the way rustc does:
///
///     bridge.topo:7:19: error: unknown interface `br-d`
///       7 | bridge br0 < br-a br-d >
///         |                   ^^^^
///     help: declared interfaces are `br-a`, `br-b`, `br-c`
///
/// Nothing from the script reaches the terminal raw: control characters, escape sequences,
/// invisible format characters (bidi overrides) and invalid UTF-8 in the quoted line and in
/// messages are shown escaped (`\u{1b}`, `\xff`), a long line is shown as a window around
/// the caret, and a long message is cut.
public struct DiagnosticRenderer: Sendable {
    public enum Style: Sendable { case full, short }
    public var style: Style
    public var color: Bool

    /// At most this many diagnostics are rendered; the rest are summed up in one line.
    public static let maxShown = 100
    /// Widest quoted source line, in columns; longer lines are cut around the caret.
    public static let maxLineWidth = 160
    /// Longest message, help or note text, in characters.
    public static let maxMessageLength = 400

    public init(style: Style = .full, color: Bool = false) {
        self.style = style
        self.color = color
    }

    private func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    private func label(_ severity: Severity) -> String {
        switch severity {
        case .error: return paint("error", "1;31")
        case .warning: return paint("warning", "1;33")
        case .note: return paint("note", "1;36")
        }
    }

    public func render(_ d: Diagnostic, in file: SourceFile) -> String {
        let name = DiagnosticRenderer.safe(file.name, limit: DiagnosticRenderer.maxMessageLength)
        let message = DiagnosticRenderer.safe(d.message)
        let help = d.help.map { DiagnosticRenderer.safe($0) }
        let head = "\(name):\(d.range.start.line):\(d.range.start.column): \(label(d.severity)): \(message)"
        if style == .short {
            return head + (help.map { " (help: \($0))" } ?? "")
        }
        // One gutter width for the whole diagnostic, as rustc does: `  7 | text`.
        let width = ([d.range] + d.notes.map(\.range)).map { String($0.start.line).count }.max() ?? 1
        var out = [head]
        out += snippet(d.range, in: file, marker: "^", width: width)
        for note in d.notes {
            out.append("\(name):\(note.range.start.line):\(note.range.start.column): \(label(.note)): \(DiagnosticRenderer.safe(note.message))")
            out += snippet(note.range, in: file, marker: "-", width: width)
        }
        if let help { out.append("\(paint("help", "1;36")): \(help)") }
        return out.joined(separator: "\n")
    }

    /// The first `maxShown` diagnostics, then `… and N more errors` for the rest and for
    /// those the stages only counted (`omitted`), then where parsing stopped if it did (that
    /// one is always shown: it says why the report ends there).
    public func render(_ ds: [Diagnostic], in file: SourceFile, omitted: OmittedDiagnostics = .init()) -> String {
        var out = ds.prefix(DiagnosticRenderer.maxShown).map { render($0, in: file) }
        var more = omitted
        var stops: [Diagnostic] = []
        for d in ds.dropFirst(DiagnosticRenderer.maxShown) {
            if d.kind == .errorLimit || d.kind == .inputLimit { stops.append(d); continue }
            if d.severity == .error { more.errors += 1 } else { more.warnings += 1 }
        }
        if let line = DiagnosticRenderer.moreLine(more) { out.append(line) }
        out += stops.map { render($0, in: file) }
        return out.joined(separator: "\n")
    }

    /// `… and 12 more errors`, `… and 3 more errors and 1 more warning`; nil when none.
    static func moreLine(_ m: OmittedDiagnostics) -> String? {
        func n(_ k: Int, _ what: String) -> String { "\(k) more \(what)\(k == 1 ? "" : "s")" }
        switch (m.errors, m.warnings) {
        case (0, 0): return nil
        case (let e, 0): return "… and \(n(e, "error"))"
        case (0, let w): return "… and \(n(w, "warning"))"
        case (let e, let w): return "… and \(n(e, "error")) and \(n(w, "warning"))"
        }
    }

    private func snippet(_ range: SourceRange, in file: SourceFile, marker: Character, width: Int) -> [String] {
        let lineNo = range.start.line
        let bytes = file.lineBytes(lineNo)
        let number = String(lineNo)
        let gutter = "  " + String(repeating: " ", count: max(0, width - number.count)) + number
        let pad = String(repeating: " ", count: gutter.count)
        // Columns are byte columns; draw the caret under the characters they cover.
        let startByte = max(0, min(range.start.column - 1, bytes.count))
        let endByte: Int
        if range.end.line == lineNo {
            endByte = max(startByte + 1, min(range.end.column - 1, bytes.count))
        } else {
            endByte = max(startByte + 1, bytes.count)
        }
        // Only the bytes near the span are looked at (a line may be megabytes long): at most
        // maxLineWidth columns before it and four bytes per column in all.
        let maxW = DiagnosticRenderer.maxLineWidth
        var bs = max(0, startByte - maxW)
        while bs > 0, bs < startByte, bytes[bytes.startIndex + bs] & 0xC0 == 0x80 { bs += 1 }
        let be = min(bytes.count, bs + 4 * maxW)
        let pieces = DisplayPiece.split(bytes[(bytes.startIndex + bs)..<(bytes.startIndex + be)])
        // Display columns of the span, counted from `bs`.
        var col = 0, spanStart = -1, spanEnd = -1
        for p in pieces {
            if spanStart < 0, bs + p.byteEnd > startByte { spanStart = col }
            if bs + p.byteStart < endByte { spanEnd = col + p.width }
            col += p.width
        }
        let total = col
        if spanStart < 0 { spanStart = total }
        spanEnd = max(spanEnd, spanStart + 1)
        // A window of at most maxLineWidth columns that shows the start of the span.
        var from = 0, to = total
        if total > maxW {
            from = max(0, min(spanStart - maxW / 4, total - maxW))
            to = from + maxW
        }
        let cutBefore = from > 0 || bs > 0, cutAfter = to < total || be < bytes.count
        var text = cutBefore ? "…" : ""
        col = 0
        for p in pieces {
            if col >= from && col + p.width <= to { text += p.text }
            col += p.width
            if col >= to { break }
        }
        if cutAfter { text += "…" }
        let lead = (cutBefore ? 1 : 0) + max(0, spanStart - from)
        let carets = String(repeating: marker, count: max(1, min(spanEnd, to) - max(spanStart, from)))
        return [
            "\(gutter) | \(text)",
            "\(pad) | \(String(repeating: " ", count: lead))\(paint(carets, marker == "^" ? "1;31" : "1;36"))",
        ]
    }

    /// `s` with every character that could act on a terminal escaped, cut to `limit` characters.
    public static func safe(_ s: String, limit: Int = maxMessageLength) -> String {
        var out = ""
        var n = 0
        for scalar in s.unicodeScalars {
            if n >= limit { out += "…"; break }
            if let e = escape(scalar) { out += e } else { out.unicodeScalars.append(scalar) }
            n += 1
        }
        return out
    }

    /// The escaped form of a scalar a terminal must not see raw, or nil when it may be shown.
    static func escape(_ u: Unicode.Scalar) -> String? {
        switch u.value {
        case 0x20..<0x7F: return nil
        case 0x0A: return "\\n"
        case 0x09: return "\\t"
        case 0x0D: return "\\r"
        case 0x00: return "\\0"
        case 0..<0x20, 0x7F...0x9F: return "\\u{\(String(u.value, radix: 16))}"
        default: break
        }
        switch u.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator, .control, .privateUse, .unassigned, .surrogate:
            return "\\u{\(String(u.value, radix: 16))}"
        default:
            return nil
        }
    }
}

/// One displayed unit of a source line: a scalar shown as it is, an escaped one, or an invalid
/// UTF-8 byte (`\xff`), with the bytes it covers and its width in columns.
struct DisplayPiece {
    var byteStart: Int
    var byteEnd: Int
    var text: String
    var width: Int

    /// Splits a line's bytes (offsets relative to the line) into pieces. A tab shows as four spaces.
    static func split(_ line: ArraySlice<UInt8>) -> [DisplayPiece] {
        var out: [DisplayPiece] = []
        out.reserveCapacity(line.count)
        let base = line.startIndex
        var i = base
        while i < line.endIndex {
            let start = i - base
            let (scalar, len) = decodeUTF8(line, at: i)
            i += len
            guard let scalar else {
                out.append(DisplayPiece(byteStart: start, byteEnd: start + len,
                                        text: "\\x" + hex2(line[i - len]), width: 4))
                continue
            }
            if scalar == "\t" {
                out.append(DisplayPiece(byteStart: start, byteEnd: start + len, text: "    ", width: 4))
            } else if let e = DiagnosticRenderer.escape(scalar) {
                out.append(DisplayPiece(byteStart: start, byteEnd: start + len, text: e, width: e.unicodeScalars.count))
            } else {
                let combining = scalar.properties.generalCategory == .nonspacingMark
                    || scalar.properties.generalCategory == .enclosingMark
                out.append(DisplayPiece(byteStart: start, byteEnd: start + len, text: String(Character(scalar)),
                                        width: combining ? 0 : 1))
            }
        }
        return out
    }
}

func hex2(_ b: UInt8) -> String {
    let d = Array("0123456789abcdef".utf8)
    return String(decoding: [d[Int(b >> 4)], d[Int(b & 15)]], as: UTF8.self)
}

/// Decodes one UTF-8 scalar at `i`: the scalar and its length, or nil and 1 for a byte that
/// does not start a valid, shortest-form sequence (an overlong form, a surrogate, a value
/// above U+10FFFF, a stray continuation byte or a truncated sequence).
func decodeUTF8<C: RandomAccessCollection>(_ b: C, at i: C.Index) -> (Unicode.Scalar?, Int)
    where C.Element == UInt8, C.Index == Int {
    let c0 = b[i]
    if c0 < 0x80 { return (Unicode.Scalar(c0), 1) }
    func cont(_ k: Int) -> UInt32? {
        guard i + k < b.endIndex else { return nil }
        let c = b[i + k]
        return c & 0xC0 == 0x80 ? UInt32(c & 0x3F) : nil
    }
    switch c0 {
    case 0xC2...0xDF:
        guard let c1 = cont(1) else { return (nil, 1) }
        return (Unicode.Scalar(UInt32(c0 & 0x1F) << 6 | c1), 2)
    case 0xE0...0xEF:
        guard let c1 = cont(1), let c2 = cont(2) else { return (nil, 1) }
        let v = UInt32(c0 & 0x0F) << 12 | c1 << 6 | c2
        guard v >= 0x800, let u = Unicode.Scalar(v) else { return (nil, 1) }  // overlong or surrogate
        return (u, 3)
    case 0xF0...0xF4:
        guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return (nil, 1) }
        let v = UInt32(c0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
        guard v >= 0x10000, let u = Unicode.Scalar(v) else { return (nil, 1) }  // overlong or > U+10FFFF
        return (u, 4)
    default:
        return (nil, 1)
    }
}

/// Levenshtein distance, for "did you mean" suggestions (HCL suggests below 3).
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// The nearest candidate within edit distance < 3, if any.
public func suggestion(for name: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(name, c)
        if d < 3, d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
}
