@testable import TopoLanguage

/// Terse builders for hand-made statements. Every statement sits on its own line (`line`),
/// and values get columns by their position in a pretend source line, so tests can assert
/// line and column exactly.
struct Line {
    let line: Int
    /// Byte offset of the line's start in the whole source.
    var base: Int = 0
    /// Builds a range at `column` (1-based) spanning `length` bytes.
    func at(_ column: Int, _ length: Int) -> SourceRange {
        return SourceRange(start: .init(line: line, column: column, offset: base + column - 1),
                           end: .init(line: line, column: column + length, offset: base + column - 1 + length))
    }
}

/// A tiny script builder: `S("veth ns0:a <-> b")`-style text is not parsed; instead each
/// helper takes the text of one statement and finds the columns of its words itself.
struct ScriptBuilder {
    var statements: [Statement] = []
    var lines: [String] = []

    var lineNo: Int { lines.count + 1 }

    /// Column (1-based) of the `n`-th occurrence of `word` in `text`, searching after `after`.
    static func column(of word: String, in text: String, after: Int = 0) -> Int {
        let t = Array(text.utf8), w = Array(word.utf8)
        var i = after
        while i + w.count <= t.count {
            if Array(t[i..<(i + w.count)]) == w { return i + 1 }
            i += 1
        }
        fatalError("`\(word)` not in `\(text)`")
    }
}

/// A statement's text with a cursor, to locate words in order.
struct Cursor {
    let text: String
    let line: Int
    let base: Int
    var pos = 0
    init(_ text: String, line: Int, base: Int) {
        self.text = text
        self.line = line
        self.base = base
    }
    mutating func range(_ word: String) -> SourceRange {
        let c = ScriptBuilder.column(of: word, in: text, after: pos)
        pos = c - 1 + word.utf8.count
        return Line(line: line, base: base).at(c, word.utf8.count)
    }
    mutating func name(_ word: String) -> Located<String> { Located(word, at: range(word)) }
    mutating func ref(_ word: String) -> InterfaceRef {
        if let colon = word.firstIndex(of: ":") {
            let ns = String(word[..<colon]), n = String(word[word.index(after: colon)...])
            let nsL = name(ns)
            pos += 1
            return InterfaceRef(namespace: nsL, name: name(n))
        }
        return InterfaceRef(name: name(word))
    }
    mutating func int(_ v: Int) -> Located<Int> { Located(v, at: range(String(v))) }
    mutating func prefix(_ s: String) -> Located<IPPrefix> { Located(IPPrefix(s)!, at: range(s)) }
    mutating func address(_ s: String) -> Located<IPAddress> { Located(IPAddress(s)!, at: range(s)) }
    var whole: SourceRange { Line(line: line, base: base).at(1, text.utf8.count) }
}

/// Parses a tiny subset of the topo language (one statement per line, no expressions), just
/// enough to write checker and planner tests as text. Words are split on spaces; `<`/`>`/`,`
/// must be separated by spaces.
func statements(_ source: String) -> [Statement] {
    var out: [Statement] = []
    var base = 0
    for (i, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let text = String(raw)
        let lineBase = base
        base += text.utf8.count + 1
        var words = text.split(separator: " ").map { $0.hasSuffix(",") ? String($0.dropLast()) : String($0) }
            .filter { !$0.isEmpty }
        guard !words.isEmpty else { continue }
        var c = Cursor(text, line: i + 1, base: lineBase)
        let keyword = words.removeFirst()
        _ = c.range(keyword)
        func mtuTail(_ w: inout [String]) -> Located<Int>? {
            if w.count >= 2, w[w.count - 2] == "mtu" {
                let v = Int(w.removeLast())!
                w.removeLast()
                return v as Int? == nil ? nil : c.int(v)
            }
            return nil
        }
        let decl: Declaration
        switch keyword {
        case "ns":
            let n = c.name(words[0])
            var placed: [InterfaceRef] = []
            if words.count > 1 { for w in words[2..<(words.count - 1)] { placed.append(c.ref(w)) } }
            decl = .namespace(n, placed: placed)
        case "veth":
            let a = c.ref(words[0])
            _ = c.range("<->")
            let b = c.ref(words[2])
            var rest = Array(words[3...])
            decl = .veth(a, b, mtu: mtuTail(&rest))
        case "bridge":
            let br = c.ref(words[0])
            var ports: [InterfaceRef] = []
            var j = 2
            while j < words.count, words[j] != ">" { ports.append(c.ref(words[j])); j += 1 }
            var rest = Array(words[(j + 1)...])
            decl = .bridge(br, ports: ports, mtu: mtuTail(&rest))
        case "dummy":
            decl = .dummy(c.ref(words[0]), mtu: nil)
        case "addr":
            let r = c.ref(words[0])
            decl = .address(r, words.dropFirst().map { c.prefix($0) })
        case "up", "down":
            decl = .linkState(words.map { c.ref($0) }, up: keyword == "up")
        case "mtu":
            let r = c.ref(words[0])
            decl = .mtu(r, c.int(Int(words[1])!))
        case "route":
            let ns = c.name(words[0])
            let destWord = words[1]
            let dest: Located<RouteDestination> = destWord == "default"
                ? Located(.default, at: c.range("default"))
                : Located(.prefix(IPPrefix(destWord)!), at: c.range(destWord))
            var via: Located<IPAddress>?, dev: InterfaceRef?, metric: Located<Int>?
            var j = 2
            while j + 1 < words.count {
                switch words[j] {
                case "via": _ = c.range("via"); via = c.address(words[j + 1])
                case "dev": _ = c.range("dev"); dev = c.ref(words[j + 1])
                case "metric": _ = c.range("metric"); metric = c.int(Int(words[j + 1])!)
                default: fatalError("bad route word \(words[j])")
                }
                j += 2
            }
            decl = .route(namespace: ns, destination: dest, via: via, dev: dev, metric: metric)
        case "forward":
            decl = .forward(c.name(words[0]))
        case "sysctl":
            let ns = c.name(words[0]), k = c.name(words[1])
            _ = c.range("=")
            decl = .sysctl(namespace: ns, key: k, value: c.name(words[3]))
        case "ping":
            let ns = c.name(words[0]), a = c.address(words[1])
            var count: Located<Int>?
            if words.count == 4 { _ = c.range("count"); count = c.int(Int(words[3])!) }
            decl = .ping(namespace: ns, address: a, count: count)
        case "exec":
            let ns = c.name(words[0])
            let q1 = ScriptBuilder.column(of: "\"", in: text)
            let cmd = String(text.utf8.dropFirst(q1).dropLast())!
            decl = .exec(namespace: ns, command: Located(cmd, at: Line(line: i + 1, base: lineBase).at(q1, cmd.utf8.count + 2)))
        default:
            fatalError("unknown test statement \(keyword)")
        }
        out.append(Statement(decl, at: c.whole))
    }
    return out
}
