/// Turns the UTF-8 bytes of a `SourceFile` (or a slice of it, for an interpolation) into
/// tokens, one at a time. Works on bytes, never on `String.Index`.
///
/// A standalone `{` (not touching a word) is lexed as `.lbrace`; the parser re-lexes it as
/// the start of an interpolated word (`relexWord`) wherever a block cannot start.
/// Malformed input is reported in `diagnostics` and lexing continues.
///
/// Byte hygiene: the script must be UTF-8. A NUL byte or a byte that is not valid UTF-8 is an
/// error at that byte wherever it stands (code, string or comment); a control character or a
/// bidirectional-text control inside a string is an error (write `\t`, `\n`). Positions are
/// byte offsets of the raw input, so columns after such a byte stay right.
public struct Lexer {
    public let file: SourceFile
    let bytes: [UInt8]
    var pos: Int
    let end: Int
    var line: Int
    var lineStart: Int
    public var diagnostics: [Diagnostic] = []
    /// Bounds `diagnostics` (the rest are counted in `limiter.omitted`).
    public var limiter = DiagnosticLimiter()

    /// A lexer over `file`, or over the byte range `start..<end` of it.
    public init(file: SourceFile, start: Int = 0, end: Int? = nil) {
        self.file = file
        self.bytes = file.bytes
        self.pos = start
        self.end = min(end ?? file.bytes.count, file.bytes.count)
        let l = file.location(ofOffset: start)
        self.line = l.line
        self.lineStart = start - (l.column - 1)
    }

    /// Lexes the whole input (for tests and tools); the parser pulls tokens with `next()`.
    public static func tokenize(_ file: SourceFile) -> (tokens: [Token], diagnostics: [Diagnostic]) {
        var lx = Lexer(file: file)
        var out: [Token] = []
        while true {
            let t = lx.next()
            out.append(t)
            if t.kind == .eof { break }
        }
        return (out, lx.diagnostics)
    }

    // MARK: positions

    @inline(__always) func loc(_ off: Int) -> SourceLocation {
        if off >= lineStart { return SourceLocation(line: line, column: off - lineStart + 1, offset: off) }
        return file.location(ofOffset: off)
    }

    @inline(__always) func range(_ s: Int, _ e: Int) -> SourceRange {
        SourceRange(start: loc(s), end: loc(e))
    }

    @inline(__always) func peek(_ k: Int = 0) -> UInt8 { pos + k < end ? bytes[pos + k] : 0 }

    mutating func newlineAt(_ off: Int) {
        line += 1
        lineStart = off + 1
    }

    /// Records an error; beyond the limit only counts it.
    mutating func error(_ kind: Diagnostic.Kind, _ message: String, _ r: SourceRange,
                        help: String? = nil, notes: [Diagnostic.Note] = []) {
        if limiter.admit(.error) { diagnostics.append(.error(kind, message, at: r, help: help, notes: notes)) }
    }

    // MARK: byte hygiene

    /// Checks the byte at `pos` outside a string (code or comment): reports a NUL or invalid
    /// UTF-8, and returns how many bytes to skip. A run of such bytes is one diagnostic
    /// starting at its first byte (a megabyte of NULs is one error, not a million).
    mutating func checkByte() -> Int {
        let c = bytes[pos]
        if c == 0 {
            var e = pos + 1
            while e < end && bytes[e] == 0 { e += 1 }
            let n = e - pos
            error(.unexpectedCharacter, n == 1 ? "NUL byte in the script" : "\(n) NUL bytes in the script",
                  range(pos, e), help: "a script is UTF-8 text; a NUL byte cannot appear in it")
            return n
        }
        if c < 0x80 { return 1 }
        let (scalar, n) = decodeUTF8(bytes[..<end], at: pos)
        if scalar != nil { return n }
        var e = pos + 1
        while e < end && bytes[e] >= 0x80 && decodeUTF8(bytes[..<end], at: e).0 == nil { e += 1 }
        error(.unexpectedCharacter, invalidBytesMessage(pos, e), range(pos, e),
              help: "a script is UTF-8 text; save the file as UTF-8")
        return e - pos
    }

    /// "invalid UTF-8 byte `\xff`", or "3 invalid UTF-8 bytes `\xff\xfe\xfd`" (at most 8 shown).
    func invalidBytesMessage(_ s: Int, _ e: Int, inString: Bool = false) -> String {
        let shown = bytes[s..<min(e, s + 8)].map { "\\x" + hex2($0) }.joined() + (e - s > 8 ? "…" : "")
        let what = e - s == 1 ? "invalid UTF-8 byte" : "\(e - s) invalid UTF-8 bytes"
        return "\(what) `\(shown)`" + (inString ? " in a string" : "")
    }

    /// Why `scalar` may not stand raw in a string, and a help line; nil when it may.
    func stringCharacterProblem(_ scalar: Unicode.Scalar) -> (message: String, help: String)? {
        let shown = DiagnosticRenderer.escape(scalar) ?? ""
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return nil
        case 0:
            return ("NUL byte in a string", "a script is UTF-8 text; write `\\0` for a NUL")
        case 0x01..<0x20, 0x7F...0x9F:
            return ("control character `\(shown)` in a string",
                    "write a tab as `\\t` and a newline as `\\n`; other control characters cannot appear in a string")
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
            return ("bidirectional text control `\(shown)` in a string", "remove it: it reorders how the text is shown")
        case 0x2028, 0x2029:
            return ("line or paragraph separator `\(shown)` in a string", "write a line break as `\\n`")
        default: return nil
        }
    }

    // MARK: character classes

    @inline(__always) static func isLetter(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95
    }
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    @inline(__always) static func isNameChar(_ c: UInt8) -> Bool { isLetter(c) || isDigit(c) }
    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }

    // MARK: tokens

    /// The next token; `.eof` forever at the end.
    public mutating func next() -> Token {
        var space = pos == 0
        // Stray characters are reported and skipped in this loop (never by recursion: a
        // megabyte of them must not grow the stack).
        while true {
            if let t = nextOrStray(&space) { return t }
        }
    }

    /// The next token, or nil after reporting (and skipping) a stray character.
    mutating func nextOrStray(_ space: inout Bool) -> Token? {
        while pos < end {
            let c = bytes[pos]
            if c == 32 || c == 9 || c == 13 {
                pos += 1
                space = true
            } else if c == 35 {  // '#': comment to end of line
                while pos < end && bytes[pos] != 10 {
                    if bytes[pos] == 0 || bytes[pos] >= 0x80 { pos += checkByte() } else { pos += 1 }
                }
                space = true
            } else {
                break
            }
        }
        let start = pos
        if pos >= end { return Token(.eof, range(end, end), spaceBefore: true) }
        let c = bytes[pos]
        func single(_ k: TokenKind, _ n: Int = 1) -> Token {
            pos += n
            return Token(k, range(start, start + n), spaceBefore: space)
        }
        switch c {
        case 10:
            let t = Token(.newline, range(start, start + 1), spaceBefore: space)
            pos += 1
            newlineAt(start)
            return t
        case UInt8(ascii: ";"): return single(.semicolon)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: "("): return single(.lparen)
        case UInt8(ascii: ")"): return single(.rparen)
        case UInt8(ascii: "["): return single(.lbracket)
        case UInt8(ascii: "]"): return single(.rbracket)
        case UInt8(ascii: "{"): return single(.lbrace)
        case UInt8(ascii: "}"): return single(.rbrace)
        case UInt8(ascii: "+"): return single(.plus)
        case UInt8(ascii: "-"): return single(.minus)
        case UInt8(ascii: "*"): return single(.star)
        case UInt8(ascii: "/"): return single(.slash)
        case UInt8(ascii: "%"): return single(.percent)
        case UInt8(ascii: "<"):
            if peek(1) == UInt8(ascii: "-") && peek(2) == UInt8(ascii: ">") { return single(.arrow, 3) }
            if peek(1) == UInt8(ascii: "=") { return single(.le, 2) }
            return single(.lt)
        case UInt8(ascii: ">"):
            if peek(1) == UInt8(ascii: "=") { return single(.ge, 2) }
            return single(.gt)
        case UInt8(ascii: "="):
            if peek(1) == UInt8(ascii: "=") { return single(.eq, 2) }
            return single(.assign)
        case UInt8(ascii: "!"):
            if peek(1) == UInt8(ascii: "=") { return single(.ne, 2) }
        case UInt8(ascii: "."):
            if peek(1) == UInt8(ascii: ".") { return single(.dotdot, 2) }
        case UInt8(ascii: ":"):
            if peek(1) == UInt8(ascii: ":") { return scanWord(spaceBefore: space) }
            return single(.colon)
        case UInt8(ascii: "\""):
            return scanString(spaceBefore: space)
        default:
            if Lexer.isNameChar(c) { return scanWord(spaceBefore: space) }
        }
        // A stray character: report it (a whole UTF-8 scalar; a NUL or an invalid byte on its
        // own) and go on.
        if c == 0 || (c >= 0x80 && decodeUTF8(bytes[..<end], at: pos).0 == nil) {
            pos += checkByte()
            space = true
            return nil
        }
        let (scalar, n) = decodeUTF8(bytes[..<end], at: pos)
        var e = pos + n
        let text = scalar.map { DiagnosticRenderer.escape($0) ?? String(Character($0)) } ?? ""
        // A run of the same stray character is one diagnostic (`$$$$`).
        var count = 1
        while e + n <= end && bytes[pos..<pos + n].elementsEqual(bytes[e..<e + n]) {
            e += n
            count += 1
        }
        var help: String? = nil
        if c == UInt8(ascii: "!") { help = "use `not` for negation and `!=` for inequality" }
        if c == UInt8(ascii: "&") || c == UInt8(ascii: "|") { help = "use `and` / `or`" }
        if c == UInt8(ascii: "'") { help = "strings use double quotes: \"...\"" }
        let what = c < 0x20 || c == 0x7F ? "control character" : "character"
        error(.unexpectedCharacter, "unexpected \(what) `\(text)`" + (count > 1 ? " (\(count) in a row)" : ""),
              range(pos, e), help: help)
        pos = e
        space = true
        return nil
    }

    /// Re-lexes a standalone `{` at `offset` as the start of an interpolated word (`{name}:eth0`).
    /// Only valid when the lexer stands right after that `{`.
    mutating func relexWord(at offset: Int, spaceBefore: Bool) -> Token {
        pos = offset
        return scanWord(spaceBefore: spaceBefore)
    }

    /// Scans `{expr}` starting at the `{` at `pos`; nil (after a diagnostic) when unclosed on the line.
    mutating func scanInterpolation() -> WordPart? {
        let open = pos
        var i = pos + 1
        var depth = 1
        while i < end {
            let c = bytes[i]
            if c == 10 { break }
            if c == UInt8(ascii: "{") { depth += 1 }
            else if c == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { break }
            } else if c == UInt8(ascii: "\"") {  // skip a nested string
                i += 1
                while i < end && bytes[i] != UInt8(ascii: "\"") && bytes[i] != 10 {
                    if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
                if i >= end || bytes[i] == 10 { break }
            }
            i += 1
        }
        if i >= end || bytes[i] != UInt8(ascii: "}") || depth != 0 {
            let at = min(i, end)
            let o = loc(open)
            error(.unclosed, "`}` expected (to close `{` at \(o))", range(at, at),
                  notes: [.init("interpolation opened here", at: range(open, open + 1))])
            pos = at
            return nil
        }
        pos = i + 1
        return .interpolation(inner: range(open + 1, i), outer: range(open, i + 1))
    }

    /// Looks ahead from `i` over hex digits, `:` and `.` for another `:` (so `dead:beef::1` is an
    /// address while `ab:eth0` is an interface reference).
    func v6Ahead(_ i: Int) -> Bool {
        var j = i
        while j < end {
            let c = bytes[j]
            if c == UInt8(ascii: ":") { return true }
            if !(Lexer.isHex(c) || c == UInt8(ascii: ".")) { return false }
            j += 1
        }
        return false
    }

    /// word -> (NAMECHAR | "{" expr "}" | joiner)+ : a name, number, address, prefix or interpolated word.
    mutating func scanWord(spaceBefore: Bool) -> Token {
        let start = pos
        var parts: [WordPart] = []
        var litStart = pos
        let first = bytes[pos]
        let nameLike = Lexer.isLetter(first) || first == UInt8(ascii: "{")
        var v6 = false, sawDot = false, sawSlash = false, failed = false
        var allHex = true  // literal so far is hex digits only (an IPv6 group)
        func flush(_ lx: inout Lexer) {
            if lx.pos > litStart {
                parts.append(.text(String(decoding: lx.bytes[litStart..<lx.pos], as: UTF8.self),
                                   lx.range(litStart, lx.pos)))
            }
        }
        while pos < end {
            let c = bytes[pos]
            if Lexer.isNameChar(c) {
                if !Lexer.isHex(c) { allHex = false }
                pos += 1
                continue
            }
            let n = pos + 1 < end ? bytes[pos + 1] : 0
            if c == UInt8(ascii: "{") {
                // `else{` still opens the else block.
                if parts.isEmpty && pos - start == 4 && bytes[start..<pos].elementsEqual("else".utf8) { break }
                flush(&self)
                allHex = false
                guard let p = scanInterpolation() else { failed = true; litStart = pos; break }
                parts.append(p)
                litStart = pos
                continue
            }
            let joins = Lexer.isNameChar(n) || n == UInt8(ascii: "{")
            if c == UInt8(ascii: "-") && nameLike && !v6 && joins { allHex = false; pos += 1; continue }
            if c == UInt8(ascii: ".") && joins { sawDot = true; pos += 1; continue }
            if c == UInt8(ascii: ":") {
                if v6 || n == UInt8(ascii: ":") || (allHex && parts.isEmpty && pos > start && v6Ahead(pos + 1)) {
                    v6 = true
                    pos += 1
                    continue
                }
                break
            }
            if c == UInt8(ascii: "/") && (sawDot || v6) && !sawSlash && (Lexer.isDigit(n) || n == UInt8(ascii: "{")) {
                sawSlash = true
                pos += 1
                continue
            }
            // A percentage: `0.5%`, `{p}%`. The `%` ends the word; it stays the remainder
            // operator when a name, a number, `{` or `(` follows it (`10%3`, `{a}%{b}`).
            if c == UInt8(ascii: "%") && !v6 && !sawSlash && (Lexer.isDigit(first) || !parts.isEmpty)
                && (Lexer.isDigit(bytes[pos - 1]) || bytes[pos - 1] == UInt8(ascii: "}"))
                && !(Lexer.isNameChar(n) || n == UInt8(ascii: "{") || n == UInt8(ascii: "(")) {
                pos += 1
                break
            }
            break
        }
        let r = range(start, pos)
        if failed {
            return Token(.invalid, r, spaceBefore: spaceBefore)
        }
        // `parts` only fills once an interpolation is seen; a plain literal needs no parts.
        if !parts.isEmpty {
            flush(&self)
            return Token(.word(parts), r, spaceBefore: spaceBefore)
        }
        // A plain literal: classify it.
        let slice = bytes[start..<pos]
        if Lexer.isLetter(first) && !sawSlash && !v6 {
            return Token(.name(String(decoding: slice, as: UTF8.self)), r, spaceBefore: spaceBefore)
        }
        if Lexer.isDigit(first) && !v6 && slice.allSatisfy(Lexer.isDigit) {
            var v = 0
            for d in slice {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(d - 48))
                if o1 || o2 {
                    error(.invalidNumber, "integer literal `\(String(decoding: slice, as: UTF8.self))` does not fit in 64 bits", r)
                    return Token(.invalid, r, spaceBefore: spaceBefore)
                }
                v = s
            }
            return Token(.int(v), r, spaceBefore: spaceBefore)
        }
        let text = String(decoding: slice, as: UTF8.self)
        // A number with a unit (`10ms`, `0.5%`, `10mbit`); the parser checks the unit.
        if Lexer.isDigit(first) && !v6 && !sawSlash && Quantity.looksLikeQuantity(text) {
            return Token(.quantity(text), r, spaceBefore: spaceBefore)
        }
        if v6 {
            if sawSlash, let p = IPPrefix(text) { return Token(.prefix(p), r, spaceBefore: spaceBefore) }
            if !sawSlash, let a = IPAddress(text) { return Token(.address(a), r, spaceBefore: spaceBefore) }
            error(.invalidAddress, "invalid IPv6 \(sawSlash ? "prefix" : "address") `\(text)`", r,
                  help: sawSlash ? "a prefix is ADDRESS/LENGTH with a length of at most 128" : nil)
            return Token(.invalid, r, spaceBefore: spaceBefore)
        }
        if Lexer.isDigit(first) {
            if sawDot && slice.allSatisfy({ Lexer.isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }) {
                if sawSlash, let p = IPPrefix(text) { return Token(.prefix(p), r, spaceBefore: spaceBefore) }
                if !sawSlash, let a = IPAddress(text) { return Token(.address(a), r, spaceBefore: spaceBefore) }
                error(.invalidAddress, "invalid IPv4 \(sawSlash ? "prefix" : "address") `\(text)`", r,
                      help: sawSlash ? "a prefix is four numbers 0-255 and a length of at most 32, like `10.0.1.1/24`"
                                     : "an IPv4 address is four numbers 0-255, like `10.0.1.1`")
                return Token(.invalid, r, spaceBefore: spaceBefore)
            }
            error(.invalidNumber, "invalid number `\(text)`", r,
                  help: "a name must start with a letter or `_`; quote it (\"\(text)\") to use it as a name")
            return Token(.invalid, r, spaceBefore: spaceBefore)
        }
        if sawSlash {
            error(.invalidAddress, "invalid prefix `\(text)`", r)
            return Token(.invalid, r, spaceBefore: spaceBefore)
        }
        return Token(.name(text), r, spaceBefore: spaceBefore)
    }

    /// string -> '"' { CHAR | escape | "{" expr "}" } '"'   (may span lines)
    mutating func scanString(spaceBefore: Bool) -> Token {
        let start = pos
        pos += 1
        var parts: [WordPart] = []
        var buf: [UInt8] = []
        var litStart = pos
        let openLine = line, openLineStart = lineStart
        var unfit = false
        func flush(_ lx: inout Lexer) {
            if !buf.isEmpty || (parts.isEmpty && lx.pos > litStart) {
                parts.append(.text(String(decoding: buf, as: UTF8.self), lx.range(litStart, lx.pos)))
            }
            buf.removeAll(keepingCapacity: true)
        }
        while pos < end {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                flush(&self)
                pos += 1
                // A string with a byte it cannot hold is already reported; it is no value.
                if unfit { return Token(.invalid, range(start, pos), spaceBefore: spaceBefore) }
                if parts.isEmpty { parts.append(.text("", range(start + 1, start + 1))) }
                return Token(.string(parts), range(start, pos), spaceBefore: spaceBefore)
            }
            if c == 10 { buf.append(c); newlineAt(pos); pos += 1; continue }
            if c == UInt8(ascii: "{") {
                flush(&self)
                if let p = scanInterpolation() { parts.append(p) } else {
                    // unclosed `{` in a string: skip the rest of the string on this line
                    while pos < end && bytes[pos] != UInt8(ascii: "\"") && bytes[pos] != 10 { pos += 1 }
                }
                litStart = pos
                continue
            }
            if c == UInt8(ascii: "\\") {
                let n = pos + 1 < end ? bytes[pos + 1] : 0
                switch n {
                case UInt8(ascii: "n"): buf.append(10)
                case UInt8(ascii: "t"): buf.append(9)
                case UInt8(ascii: "r"): buf.append(13)
                case UInt8(ascii: "0"): buf.append(0)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "}"): buf.append(n)
                default:
                    let e = n == 0 ? pos + 1 : pos + 2
                    error(.unexpectedCharacter, "unknown escape `\(String(decoding: bytes[pos..<min(e, end)], as: UTF8.self))` in string",
                          range(pos, min(e, end)), help: "known escapes are `\\n`, `\\t`, `\\r`, `\\0`, `\\\\`, `\\\"`, `\\{`, `\\}`")
                }
                pos = min(pos + 2, end)
                continue
            }
            if c < 0x20 || c >= 0x7F {
                // A control character, a bidi control, NUL or invalid UTF-8: an error at the byte.
                let (scalar, n) = decodeUTF8(bytes[..<end], at: pos)
                if let scalar, let problem = stringCharacterProblem(scalar) {
                    unfit = true
                    error(.unexpectedCharacter, problem.message, range(pos, pos + n), help: problem.help)
                } else if scalar == nil {
                    unfit = true
                    var e = pos + 1
                    while e < end && bytes[e] >= 0x80 && decodeUTF8(bytes[..<end], at: e).0 == nil { e += 1 }
                    error(.unexpectedCharacter, invalidBytesMessage(pos, e, inString: true), range(pos, e),
                          help: "a script is UTF-8 text; save the file as UTF-8")
                    pos = e
                    continue
                } else {
                    buf.append(contentsOf: bytes[pos..<pos + n])
                }
                pos += n
                continue
            }
            buf.append(c)
            pos += 1
        }
        // Unterminated: report at the opening quote, then resume after the opening line.
        line = openLine
        lineStart = openLineStart
        error(.unterminatedString, "unterminated string", range(start, start + 1),
              help: "add a closing `\"`")
        var e = start + 1
        while e < end && bytes[e] != 10 { e += 1 }
        pos = e
        return Token(.invalid, range(start, e), spaceBefore: spaceBefore)
    }
}
