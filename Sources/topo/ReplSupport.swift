#if canImport(Glibc)
import Glibc
#endif

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

/// Reads lines from a C stream without buffering surprises (`getline`).
enum ReplPlainReader {
    /// The next line without its newline, or nil at end of file.
    static func readLine(_ stream: UnsafeMutablePointer<FILE>) -> String? {
        var buf: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(buf) }
        let n = getline(&buf, &cap, stream)
        guard n >= 0, let b = buf else { return nil }
        var line = String(cString: b)
        if line.hasSuffix("\n") { line.removeLast() }
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
}

/// Writes text to stdout or stderr and flushes, adding a final newline when missing.
func replWrite(_ text: String, toError: Bool = false) {
    guard !text.isEmpty else { return }
    let stream = toError ? stderr : stdout
    fputs(text.hasSuffix("\n") ? text : text + "\n", stream)
    fflush(stream)
}
