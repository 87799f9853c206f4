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

/// Renders diagnostics the way rustc does:
///
///     bridge.topo:7:19: error: unknown interface `br-d`
///       7 | bridge br0 < br-a br-d >
///         |                   ^^^^
///     help: declared interfaces are `br-a`, `br-b`, `br-c`
public struct DiagnosticRenderer: Sendable {
    public enum Style: Sendable { case full, short }
    public var style: Style
    public var color: Bool

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
        let head = "\(file.name):\(d.range.start.line):\(d.range.start.column): \(label(d.severity)): \(d.message)"
        if style == .short {
            return head + (d.help.map { " (help: \($0))" } ?? "")
        }
        // One gutter width for the whole diagnostic, as rustc does: `  7 | text`.
        let width = ([d.range] + d.notes.map(\.range)).map { String($0.start.line).count }.max() ?? 1
        var out = [head]
        out += snippet(d.range, in: file, marker: "^", width: width)
        for note in d.notes {
            out.append("\(file.name):\(note.range.start.line):\(note.range.start.column): \(label(.note)): \(note.message)")
            out += snippet(note.range, in: file, marker: "-", width: width)
        }
        if let help = d.help { out.append("\(paint("help", "1;36")): \(help)") }
        return out.joined(separator: "\n")
    }

    public func render(_ ds: [Diagnostic], in file: SourceFile) -> String {
        ds.map { render($0, in: file) }.joined(separator: "\n")
    }

    private func snippet(_ range: SourceRange, in file: SourceFile, marker: Character, width: Int) -> [String] {
        let lineNo = range.start.line
        let text = file.line(lineNo)
        let number = String(lineNo)
        let gutter = "  " + String(repeating: " ", count: max(0, width - number.count)) + number
        let pad = String(repeating: " ", count: gutter.count)
        // Columns are byte columns; draw the caret under the characters they cover.
        let bytes = Array(text.utf8)
        let startByte = max(0, min(range.start.column - 1, bytes.count))
        let endByte: Int
        if range.end.line == lineNo {
            endByte = max(startByte + 1, min(range.end.column - 1, bytes.count))
        } else {
            endByte = max(startByte + 1, bytes.count)
        }
        let prefixWidth = String(decoding: bytes[0..<startByte], as: UTF8.self).count
        let spanWidth = max(1, String(decoding: bytes[startByte..<min(endByte, bytes.count)], as: UTF8.self).count)
        let carets = String(repeating: marker, count: spanWidth)
        return [
            "\(gutter) | \(text)",
            "\(pad) | \(String(repeating: " ", count: prefixWidth))\(paint(carets, marker == "^" ? "1;31" : "1;36"))",
        ]
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
