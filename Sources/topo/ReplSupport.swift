#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

// Small string helpers, so the REPL needs no Foundation.
extension String {
    /// Without leading and trailing blanks (spaces, tabs, CR, LF).
    var replTrimmed: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let s = firstIndex(where: { !blank($0) }), let e = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[s...e])
    }

    /// Every occurrence of `target` replaced by `replacement`.
    func replReplacing(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = "", rest = Substring(self)
        while let r = rest.replFind(target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    /// Blank-separated words.
    var replWords: [String] {
        split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
    }
}

extension Substring {
    /// The range of the first occurrence of `target`.
    func replFind(_ target: String) -> Range<Index>? {
        guard !target.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) {
                return i..<(index(i, offsetBy: target.count, limitedBy: endIndex) ?? endIndex)
            }
            i = index(after: i)
        }
        return nil
    }
}

/// Reads lines from a C stream, bounded and byte-exact.
enum ReplPlainReader {
    enum Read: Hashable, Sendable {
        /// A line without its newline (a NUL in it is kept, for the lexer to report).
        case line(String)
        /// A line longer than `SourceFile.maxSize`: reading stopped there (the stream may
        /// never end, like `/dev/zero`), so this ends the input.
        case tooLong
        /// A line that is not UTF-8 (as a String its bytes would change silently), and why.
        case rejected(String)
        case end
    }

    /// The next line. Memory stays bounded whatever the stream holds (`/dev/zero` included).
    static func read(_ stream: UnsafeMutablePointer<FILE>, limit: Int = SourceFile.maxSize) -> Read {
        var bytes: [UInt8] = []
        var sawAny = false
        while true {
            let c = getc_unlocked(stream)
            if c == EOF {
                if ferror(stream) != 0, errno == EINTR { clearerr(stream); continue }
                break
            }
            sawAny = true
            if c == 0x0A { break }
            if bytes.count == limit { return .tooLong }
            bytes.append(UInt8(c))
        }
        if !sawAny { return .end }
        if bytes.last == 0x0D { bytes.removeLast() }
        let line = String(decoding: bytes, as: UTF8.self)
        if !line.utf8.elementsEqual(bytes) {
            let (tokens, diagnostics) = Lexer.tokenize(SourceFile(name: "<repl>", bytes: bytes))
            _ = tokens
            let rendered = diagnostics.isEmpty ? "" : "\n" + DiagnosticRenderer().render(diagnostics, in: SourceFile(name: "<repl>", bytes: bytes))
            return .rejected("error: a line that is not UTF-8 was skipped" + rendered)
        }
        return .line(line)
    }

    /// The next line, or nil at the end or at a line `read` rejects.
    static func readLine(_ stream: UnsafeMutablePointer<FILE>) -> String? {
        if case .line(let l) = read(stream) { return l }
        return nil
    }
}

/// Writes text to stdout or stderr and flushes, adding a final newline when missing.
func replWrite(_ text: String, toError: Bool = false) {
    guard !text.isEmpty else { return }
    let stream = toError ? stderr : stdout
    fputs(text.hasSuffix("\n") ? text : text + "\n", stream)
    fflush(stream)
}
