/// One line of a printed script: a statement, or a `#` comment (what `topo show` cannot
/// express as a statement: `# not modelled: …`).
public enum ScriptLine: Hashable, Sendable {
    case declaration(Declaration)
    case comment(String)
}

/// Prints declarations back as canonical, runnable topo text: one statement per line,
/// single spaces, names bare when the lexer reads them back as the same name, otherwise
/// quoted (`"..."` with `\\`, `\"`, `\{`, `\n`, `\t`, `\r`, `\0` escapes).
///
/// Canonical forms: `dummy IF mtu M` prints as `dummy IF` then `mtu IF M` (the core
/// statement table gives `dummy` no `mtu` clause); a bridge without ports prints `< >`;
/// quantities print in their canonical unit (`1500us` as `1.5ms`, `1mbps` as `8mbit`);
/// clauses print in a fixed order (`vxlan IF id … remote|group … local … link … port … ttl …`);
/// defaults are left out (`protocol 802.1q`, a vxlan's `port 4789`).
public enum ScriptPrinter {
    /// Words that start statements or have a meaning inside them; quoted wherever they stand as names.
    public static let keywords: Set<String> = [
        "ns", "veth", "bridge", "dummy", "vlan", "macvlan", "ipvlan", "vxlan", "vrf", "tc", "addr", "up", "down",
        "mtu", "route", "forward", "sysctl", "ping", "exec", "daemon", "let", "for", "in", "if", "else", "def",
        "via", "dev", "metric", "table", "count", "timeout", "default", "and", "or", "not", "true", "false",
    ]

    /// A script of statements and comment lines.
    public static func print(_ lines: [ScriptLine]) -> String {
        var out: [String] = []
        for l in lines {
            switch l {
            case .declaration(let d): out += self.lines(d)
            case .comment(let c): out.append(comment(c))
            }
        }
        return out.isEmpty ? "" : out.joined(separator: "\n") + "\n"
    }

    /// `# text`, kept on one line.
    public static func comment(_ text: String) -> String {
        "# " + String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : $0 }))
    }

    public static func print(_ declarations: [Declaration]) -> String {
        var lines: [String] = []
        for d in declarations { lines += self.lines(d) }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// True when `s` lexes as one plain name (LANGUAGE.md §2) that is not a keyword.
    public static func isPlainName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, isStart(first) else { return false }
        var i = 1
        while i < b.count {
            let c = b[i]
            if isStart(c) || isDigit(c) {
                i += 1
            } else if c == UInt8(ascii: "-") || c == UInt8(ascii: ".") {
                guard i + 1 < b.count, isStart(b[i + 1]) || isDigit(b[i + 1]) else { return false }
                i += 1
            } else {
                return false
            }
        }
        return !keywords.contains(s)
    }

    private static func isStart(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == UInt8(ascii: "_")
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// A quoted string literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "{": out += "\\{"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\0": out += "\\0"
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// A name, bare or quoted.
    public static func name(_ s: String) -> String { isPlainName(s) ? s : quoted(s) }

    static func ref(_ r: InterfaceRef) -> String {
        (r.namespace.map { name($0.value) + ":" } ?? "") + name(r.name.value)
    }

    static func mtu(_ m: Located<Int>?) -> String { m.map { " mtu \($0.value)" } ?? "" }

    /// ` delay 10ms loss 1%`: shaping options in the fixed order of `ShapingKey`.
    static func options(_ o: [ShapingOption]) -> String {
        ShapingKey.allCases.compactMap { k in o.first { $0.key == k }.map { " \(k.rawValue) \($0.valueText)" } }.joined()
    }

    /// A keyword value (`bridge`, `802.1ad`): bare when it reads back as itself.
    static func word(_ s: String) -> String {
        // After its clause keyword a statement keyword is read as a plain word.
        if isPlainName(s) || keywords.contains(s) || (Quantity.looksLikeQuantity(s) && !s.hasPrefix("-")) { return s }
        return quoted(s)
    }

    static func lines(_ d: Declaration) -> [String] {
        switch d {
        case .namespace(let n, let placed):
            return ["ns \(name(n.value))" + (placed.isEmpty ? "" : " < " + placed.map(ref).joined(separator: " ") + " >")]
        case .veth(let a, let b, let m, let shaping):
            return ["veth \(ref(a)) <-> \(ref(b))\(mtu(m))\(options(shaping))"]
        case .bridge(let br, let ports, let m):
            let list = ports.isEmpty ? "< >" : "< " + ports.map(ref).joined(separator: " ") + " >"
            return ["bridge \(ref(br)) \(list)\(mtu(m))"]
        case .dummy(let r, let m):
            return ["dummy \(ref(r))"] + (m.map { ["mtu \(ref(r)) \($0.value)"] } ?? [])
        case .vlan(let r, let link, let id, let proto, let m):
            let p = proto.map { $0.value.lowercased() == VLANProtocol.dot1q.rawValue ? "" : " protocol \(word($0.value))" } ?? ""
            return ["vlan \(ref(r)) link \(ref(link)) id \(id.value)\(p)\(mtu(m))"]
        case .macvlan(let r, let link, let mode, let m):
            return ["macvlan \(ref(r)) link \(ref(link))" + (mode.map { " mode \(word($0.value))" } ?? "") + mtu(m)]
        case .ipvlan(let r, let link, let mode, let m):
            return ["ipvlan \(ref(r)) link \(ref(link))" + (mode.map { " mode \(word($0.value))" } ?? "") + mtu(m)]
        case .vxlan(let r, let x):
            var s = "vxlan \(ref(r)) id \(x.id.value)"
            if let a = x.remote { s += " remote \(a.value)" }
            if let a = x.group { s += " group \(a.value)" }
            if let a = x.local { s += " local \(a.value)" }
            if let l = x.link { s += " link \(ref(l))" }
            if let p = x.port, p.value != VXLAN.defaultPort { s += " port \(p.value)" }
            if let t = x.ttl { s += " ttl \(t.value)" }
            return [s + mtu(x.mtu)]
        case .vrf(let r, let table, let ports, let m):
            let list = ports.isEmpty ? "" : " < " + ports.map(ref).joined(separator: " ") + " >"
            return ["vrf \(ref(r)) table \(table.value)\(list)\(mtu(m))"]
        case .tc(let r, let shaping):
            return ["tc \(ref(r))\(options(shaping))"]
        case .address(let r, let ps):
            return ["addr \(ref(r)) " + ps.map { $0.value.description }.joined(separator: ", ")]
        case .linkState(let refs, let up):
            return ["\(up ? "up" : "down") " + refs.map(ref).joined(separator: " ")]
        case .mtu(let r, let m):
            return ["mtu \(ref(r)) \(m.value)"]
        case .route(let ns, let dest, let via, let dev, let metric, let table):
            var s = "route \(name(ns.value)) "
            switch dest.value {
            case .default: s += "default"
            case .prefix(let p): s += p.description
            }
            if let via { s += " via \(via.value)" }
            if let dev { s += " dev \(ref(dev))" }
            if let metric { s += " metric \(metric.value)" }
            if let table, table.value != Int(RouteSpec.mainTable) { s += " table \(table.value)" }
            return [s]
        case .forward(let ns):
            return ["forward \(name(ns.value))"]
        case .sysctl(let ns, let key, let value):
            let v = value.value
            let plainValue = !v.isEmpty && (v.utf8.allSatisfy { isDigit($0) } || isPlainName(v))
            return ["sysctl \(name(ns.value)) \(name(key.value)) = \(plainValue ? v : quoted(v))"]
        case .ping(let ns, let a, let count):
            return ["ping \(name(ns.value)) \(a.value)" + (count.map { " count \($0.value)" } ?? "")]
        case .exec(let ns, let command, let timeout):
            let t = timeout.map { " timeout \(Quantity.duration(nanoseconds: $0.value))" } ?? ""
            return ["exec \(name(ns.value)) \(quoted(command.value))\(t)"]
        case .daemon(let ns, let command):
            return ["daemon \(name(ns.value)) \(quoted(command.value))"]
        }
    }
}
