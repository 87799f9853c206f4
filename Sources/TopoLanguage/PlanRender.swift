/// The output formats of `topo plan` (see docs/plan-format.md).
public enum PlanFormat: String, CaseIterable, Sendable {
    /// Numbered operations in words, each with `file:line`.
    case text
    /// A stable JSON document (`"version": 1`).
    case json
    /// A POSIX `sh` script that builds the same topology with iproute2 alone.
    case ip
}

/// Renders a plan. `source`, when given, adds each statement's source text to the JSON
/// (`source.text`); the other formats only need the plan's file name and ranges.
public func renderPlan(_ plan: Plan, as format: PlanFormat, source: SourceFile?) -> String {
    switch format {
    case .text: return PlanText.render(plan)
    case .json: return PlanJSON.render(plan, source: source)
    case .ip: return PlanShell.render(plan)
    }
}

// MARK: - text

public enum PlanText {
    /// The words of `describe` for an error message (`remove link ns0:e0`).
    public static func describeForErrors(_ op: Operation) -> String { describe(op) }

    static func qualified(_ id: LinkID) -> String { "\(id.namespace):\(id.name)" }

    static func destination(_ p: IPPrefix) -> String { p.length == 0 ? "default" : "\(p)" }

    /// One operation in words an `ip` user recognises.
    static func describe(_ op: Operation) -> String {
        switch op {
        case .addNamespace(let n): return "add namespace \(n)"
        case .addVeth(let a, let b): return "add veth \(qualified(a)) <-> \(qualified(b))"
        case .addBridge(let l): return "add bridge \(qualified(l))"
        case .addDummy(let l): return "add dummy \(qualified(l))"
        case .setMaster(let l, let m): return "set \(qualified(l)) master \(m)"
        case .setMTU(let l, let m): return "set \(qualified(l)) mtu \(m)"
        case .setUp(let l): return "set \(qualified(l)) up"
        case .setDown(let l): return "set \(qualified(l)) down"
        case .addAddress(let l, let p): return "add address \(p) to \(qualified(l))"
        case .addRoute(let ns, let r): return "add route \(route(r)) in \(ns)"
        case .setSysctl(let ns, let k, let v): return "set sysctl \(k)=\(v) in \(ns)"
        case .addVlan(let l, let v):
            return "add vlan \(qualified(l)) link \(qualified(v.parent)) id \(v.id)"
                + (v.protocol == .dot1q ? "" : " protocol \(v.protocol.rawValue)")
        case .addMacvlan(let l, let p, let m): return "add macvlan \(qualified(l)) link \(qualified(p)) mode \(m.rawValue)"
        case .addIpvlan(let l, let p, let m): return "add ipvlan \(qualified(l)) link \(qualified(p)) mode \(m.rawValue)"
        case .addVxlan(let l, let x): return "add vxlan \(qualified(l)) \(vxlan(x))"
        case .addVrf(let l, let t): return "add vrf \(qualified(l)) table \(t)"
        case .setTC(let l, let t): return "set tc \(qualified(l)) \(t.description)"
        case .startDaemon(let ns, let cmd): return "after apply: daemon in \(ns): \(oneLine(cmd))"
        case .ping(let ns, let a, let c): return "after apply: ping \(a) from \(ns), count \(c)"
        case .exec(let ns, let cmd, let t):
            return "after apply: exec in \(ns): \(oneLine(cmd))" + (t.map { " timeout \(seconds($0))" } ?? "")
        case .setNoMaster(let l): return "set \(qualified(l)) nomaster"
        case .changeLink(let l, let o): return "change \(qualified(l)) \(options(o))"
        case .removeTC(let l): return "remove tc \(qualified(l))"
        case .removeAddress(let l, let p): return "remove address \(p) from \(qualified(l))"
        case .removeRoute(let ns, let r): return "remove route \(route(r)) in \(ns)"
        case .removeLink(let l): return "remove link \(qualified(l))"
        case .removeNamespace(let n): return "remove namespace \(n)"
        case .stopDaemon(let ns, let cmd): return "stop daemon in \(ns): \(oneLine(cmd))"
        }
    }

    /// `10.0.0.0/24 via 10.0.1.1 dev eth0 metric 5 table 10` (`default` for a /0 destination).
    static func route(_ r: RouteSpec) -> String {
        var s = destination(r.destination)
        if let g = r.gateway { s += " via \(g)" }
        if let d = r.device { s += " dev \(d)" }
        if let m = r.metric { s += " metric \(m)" }
        if let t = r.table { s += " table \(t)" }
        return s
    }

    /// `id 42 remote 192.0.2.2 local 192.0.2.1 link a:uplink port 4789 ttl 64`.
    static func vxlan(_ x: VXLAN) -> String {
        var s = "id \(x.vni)"
        if let r = x.remote { s += " remote \(r)" }
        if let g = x.group { s += " group \(g)" }
        if let l = x.local { s += " local \(l)" }
        if let u = x.underlay { s += " link \(qualified(u))" }
        s += " port \(x.port)"
        if let t = x.ttl { s += " ttl \(t)" }
        return s
    }

    /// The in-place options of a link, as `changeLink` sets them.
    public static func options(_ o: LinkOptions) -> String {
        switch o {
        case .vlan(let v): return "vlan id \(v.id)"
        case .macvlan(_, let m): return "macvlan mode \(m.rawValue)"
        case .ipvlan(_, let m): return "ipvlan mode \(m.rawValue)"
        case .vxlan(let x): return "vxlan " + vxlan(x)
        case .vrf(let t): return "vrf table \(t)"
        }
    }

    /// `30s`, `1.5s`.
    public static func seconds(_ t: Double) -> String {
        t == t.rounded() && abs(t) < 1e15 ? "\(Int64(t))s" : "\(t)s"
    }

    /// Keeps a command on one line: newlines, tabs and other control characters are escaped.
    static func oneLine(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default:
                if u.value < 32 || u.value == 127 { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Writes `describe(op)` without building a `String` for the common operations.
    static func describe(_ op: Operation, into w: inout ByteWriter) {
        func link(_ l: LinkID) {
            w.write(l.namespace)
            w.byte(UInt8(ascii: ":"))
            w.write(l.name)
        }
        switch op {
        case .addNamespace(let n): w.append("add namespace "); w.write(n)
        case .addVeth(let a, let b): w.append("add veth "); link(a); w.append(" <-> "); link(b)
        case .addBridge(let l): w.append("add bridge "); link(l)
        case .addDummy(let l): w.append("add dummy "); link(l)
        case .setMTU(let l, let m): w.append("set "); link(l); w.append(" mtu "); w.write(m)
        case .setUp(let l): w.append("set "); link(l); w.append(" up")
        case .setDown(let l): w.append("set "); link(l); w.append(" down")
        case .addAddress(let l, let p): w.append("add address "); w.write(p); w.append(" to "); link(l)
        default: w.write(describe(op))
        }
    }

    static func render(_ plan: Plan) -> String {
        let actions = plan.steps.reduce(0) { $0 + ($1.operation.isAction ? 1 : 0) }
        let ops = plan.steps.count - actions
        var header = "plan for \(plan.file): "
        if plan.steps.isEmpty {
            header += "nothing to do"
        } else {
            header += "\(ops) operation\(ops == 1 ? "" : "s")"
            if actions > 0 { header += ", then \(actions) action\(actions == 1 ? "" : "s") after apply" }
        }
        // All descriptions into one buffer first: the padding width depends on the longest.
        var descriptions = ByteWriter(bufferCapacity: plan.steps.count * 40)
        var ends: [Int] = []
        var lengths: [Int] = []  // in Characters, as the padding counts them
        ends.reserveCapacity(plan.steps.count)
        lengths.reserveCapacity(plan.steps.count)
        var width = 0
        for step in plan.steps {
            let start = descriptions.count
            describe(step.operation, into: &descriptions)
            let slice = descriptions.bytes[start...]
            let length = slice.allSatisfy({ $0 < 0x80 }) ? slice.count : String(decoding: slice, as: UTF8.self).count
            ends.append(descriptions.count)
            lengths.append(length)
            width = max(width, length)
        }
        width = min(72, width)
        let numberWidth = String(plan.steps.count).count
        var w = ByteWriter(capacity: header.utf8.count + descriptions.count
                                     + plan.steps.count * (numberWidth + width + 16 + plan.file.utf8.count))
        w.write(header)
        w.byte(10)
        var start = 0
        for (i, step) in plan.steps.enumerated() {
            w.spaces(numberWidth - decimalDigits(i + 1))
            w.write(i + 1)
            w.append("  ")
            w.write(bytes: descriptions.bytes[start..<ends[i]])
            w.spaces(width - lengths[i])
            w.append("  ")
            w.write(plan.file)
            w.byte(UInt8(ascii: ":"))
            w.write(step.range.start.line)
            w.byte(10)
            w.endLine()
            start = ends[i]
        }
        return w.finish()
    }

    /// The number of digits of a non-negative number.
    static func decimalDigits(_ n: Int) -> Int {
        var d = 1, v = n / 10
        while v > 0 { d += 1; v /= 10 }
        return d
    }
}

// MARK: - JSON

/// `s` as a JSON string literal, quotes included: `"`, `\\` and control characters escaped,
/// other text passed through as UTF-8. The one JSON escaper of the project (plan and `show`).
public func jsonStringLiteral(_ s: String) -> String { PlanJSON.string(s) }

enum PlanJSON {
    /// A JSON string literal: `"`, `\\` and control characters escaped; other text passes as UTF-8.
    static func string(_ s: String) -> String {
        var w = ByteWriter()
        string(s, into: &w)
        return w.finish()
    }

    static func string(_ s: String, into w: inout ByteWriter) {
        w.byte(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { escape($0, into: &w) }
        w.byte(UInt8(ascii: "\""))
    }

    /// The UTF-8 text `utf8` escaped for a JSON string (without the quotes).
    static func escape<C: Collection>(_ utf8: C, into w: inout ByteWriter) where C.Element == UInt8 {
        if !utf8.contains(where: needsEscape) {
            w.write(bytes: utf8)
            return
        }
        for b in utf8 {
            switch b {
            case UInt8(ascii: "\""): w.append("\\\"")
            case UInt8(ascii: "\\"): w.append("\\\\")
            case UInt8(ascii: "\n"): w.append("\\n")
            case UInt8(ascii: "\r"): w.append("\\r")
            case UInt8(ascii: "\t"): w.append("\\t")
            case 0x08: w.append("\\b")
            case 0x0C: w.append("\\f")
            case 0..<0x20, 0x7f:
                let hex = String(b, radix: 16)
                w.append("\\u")
                w.write(String(repeating: "0", count: 4 - hex.count))
                w.write(hex)
            default:
                w.byte(b)
            }
        }
    }

    @inline(__always) static func needsEscape(_ b: UInt8) -> Bool {
        b < 0x20 || b == 0x7f || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    /// Writes the operation's name and fields: `"op": "add-veth", "namespace": …` (no trailing comma).
    static func fields(_ op: Operation, into w: inout ByteWriter) {
        func str(_ key: StaticString, _ value: String) {
            w.append(", \"")
            w.append(key)
            w.append("\": ")
            string(value, into: &w)
        }
        func int(_ key: StaticString, _ value: Int?) {
            w.append(", \"")
            w.append(key)
            w.append("\": ")
            if let value { w.write(value) } else { w.append("null") }
        }
        func name(_ op: StaticString) {
            w.append("\"op\": \"")
            w.append(op)
            w.byte(UInt8(ascii: "\""))
        }
        func link(_ op: StaticString, _ l: LinkID) {
            name(op)
            str("namespace", l.namespace)
            str("name", l.name)
        }
        func address(_ key: StaticString, _ p: IPPrefix) {
            w.append(", \"")
            w.append(key)
            w.append("\": \"")
            w.write(p)
            w.byte(UInt8(ascii: "\""))
        }
        switch op {
        case .addNamespace(let n): name("add-namespace"); str("namespace", n)
        case .addVeth(let a, let b):
            link("add-veth", a)
            str("peer_namespace", b.namespace)
            str("peer_name", b.name)
        case .addBridge(let l): link("add-bridge", l)
        case .addDummy(let l): link("add-dummy", l)
        case .setMaster(let l, let m): link("set-master", l); str("master", m)
        case .setMTU(let l, let m): link("set-mtu", l); int("mtu", m)
        case .setUp(let l): link("set-up", l)
        case .setDown(let l): link("set-down", l)
        case .addAddress(let l, let p):
            link("add-address", l)
            address("address", p)
            str("family", p.family.rawValue)
        case .addRoute(let ns, let r), .removeRoute(let ns, let r):
            if case .addRoute = op { name("add-route") } else { name("remove-route") }
            str("namespace", ns)
            str("destination", r.destination.description)
            w.write(r.isDefault ? ", \"default\": true" : ", \"default\": false")
            str("family", r.destination.family.rawValue)
            if let g = r.gateway { str("gateway", g.description) } else { w.append(", \"gateway\": null") }
            if let d = r.device { str("device", d) } else { w.append(", \"device\": null") }
            int("metric", r.metric)
            int("table", Int(r.table ?? RouteSpec.mainTable))
        case .setSysctl(let ns, let k, let v):
            name("set-sysctl")
            str("namespace", ns)
            str("key", k)
            str("value", v)
        case .ping(let ns, let a, let c):
            name("ping")
            str("namespace", ns)
            str("address", a.description)
            str("family", a.family.rawValue)
            int("count", c)
        case .exec(let ns, let cmd, let t):
            name("exec"); str("namespace", ns); str("command", cmd)
            w.append(", \"timeout\": ")
            w.write(PlanText.seconds(t ?? 60).dropLast().description)
        case .addVlan(let l, let v):
            link("add-vlan", l)
            str("parent_namespace", v.parent.namespace); str("parent_name", v.parent.name)
            int("id", v.id); str("protocol", v.protocol.rawValue)
        case .addMacvlan(let l, let p, let m):
            link("add-macvlan", l)
            str("parent_namespace", p.namespace); str("parent_name", p.name); str("mode", m.rawValue)
        case .addIpvlan(let l, let p, let m):
            link("add-ipvlan", l)
            str("parent_namespace", p.namespace); str("parent_name", p.name); str("mode", m.rawValue)
        case .addVxlan(let l, let x), .changeLink(let l, .vxlan(let x)):
            if case .addVxlan = op { link("add-vxlan", l) } else { link("change-link", l); str("kind", "vxlan") }
            int("id", Int(x.vni))
            if let r = x.remote { str("remote", r.description) } else { w.append(", \"remote\": null") }
            if let g = x.group { str("group", g.description) } else { w.append(", \"group\": null") }
            if let a = x.local { str("local", a.description) } else { w.append(", \"local\": null") }
            if let u = x.underlay { str("link_namespace", u.namespace); str("link_name", u.name) } else {
                w.append(", \"link_namespace\": null, \"link_name\": null")
            }
            int("port", x.port)
            int("ttl", x.ttl)
        case .addVrf(let l, let t): link("add-vrf", l); int("table", Int(t))
        case .changeLink(let l, let o):
            link("change-link", l)
            switch o {
            case .vlan(let v): str("kind", "vlan"); int("id", v.id)
            case .macvlan(_, let m): str("kind", "macvlan"); str("mode", m.rawValue)
            case .ipvlan(_, let m): str("kind", "ipvlan"); str("mode", m.rawValue)
            case .vrf(let t): str("kind", "vrf"); int("table", Int(t))
            case .vxlan: break  // above
            }
        case .setTC(let l, let t):
            link("set-tc", l)
            func opt(_ key: StaticString, _ v: String?) {
                if let v { str(key, v) } else {
                    w.append(", \""); w.append(key); w.append("\": null")
                }
            }
            func num<T: BinaryInteger>(_ key: StaticString, _ v: T?) { int(key, v.map { Int($0) }) }
            num("delay_ns", t.delay); num("jitter_ns", t.jitter)
            opt("loss", t.loss?.description); opt("duplicate", t.duplicate?.description)
            opt("reorder", t.reorder?.description); opt("corrupt", t.corrupt?.description)
            if let r = t.rate { w.append(", \"rate_bps\": "); w.write(String(r)) } else { w.append(", \"rate_bps\": null") }
            if let b = t.burst { w.append(", \"burst_bytes\": "); w.write(String(b)) } else { w.append(", \"burst_bytes\": null") }
            num("limit_packets", t.limit)
            str("options", t.description)
        case .startDaemon(let ns, let cmd): name("start-daemon"); str("namespace", ns); str("command", cmd)
        case .stopDaemon(let ns, let cmd): name("stop-daemon"); str("namespace", ns); str("command", cmd)
        case .setNoMaster(let l): link("set-nomaster", l)
        case .removeTC(let l): link("remove-tc", l)
        case .removeAddress(let l, let p):
            link("remove-address", l)
            address("address", p)
            str("family", p.family.rawValue)
        case .removeLink(let l): link("remove-link", l)
        case .removeNamespace(let n): name("remove-namespace"); str("namespace", n)
        }
    }

    /// `{"line": L, "column": C, "end_line": L2, "end_column": C2` (no closing brace: the caller
    /// may add fields).
    static func rangeFields(_ r: SourceRange, into w: inout ByteWriter) {
        w.append("{\"line\": ")
        w.write(r.start.line)
        w.append(", \"column\": ")
        w.write(r.start.column)
        w.append(", \"end_line\": ")
        w.write(r.end.line)
        w.append(", \"end_column\": ")
        w.write(r.end.column)
    }

    static func render(_ plan: Plan, source: SourceFile?) -> String {
        // Generous: the pages of the reserve that are never written never become resident.
        var w = ByteWriter(capacity: 256 + plan.steps.count * (source == nil ? 256 : 320))
        w.append("{\n  \"version\": 2,\n  \"file\": ")
        string(plan.file, into: &w)
        w.append(",\n  \"operations\": [")
        for (i, step) in plan.steps.enumerated() {
            w.write(i == 0 ? "\n    {\"index\": " : ",\n    {\"index\": ")
            w.write(i + 1)
            w.append(", ")
            fields(step.operation, into: &w)
            w.write(step.operation.isAction ? ", \"action\": true" : ", \"action\": false")
            let r = step.range
            w.append(", \"source\": ")
            rangeFields(r, into: &w)
            if let source {
                // `source.text(of: r)`, escaped straight from the file's bytes.
                let start = max(0, min(r.start.offset, source.bytes.count))
                let end = max(start, min(r.end.offset, source.bytes.count))
                w.append(", \"text\": \"")
                escape(source.bytes[start..<end], into: &w)
                w.byte(UInt8(ascii: "\""))
            }
            w.append("}}")
            w.endLine()
        }
        w.write(plan.steps.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return w.finish()
    }
}

// MARK: - sh + iproute2

enum PlanShell {
    /// A word for `sh`: bare when it is made of safe characters, else single-quoted.
    static func sh(_ s: String) -> String {
        let safe = !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "/") || b == UInt8(ascii: ":") || b == UInt8(ascii: "@")
                || b == UInt8(ascii: "%") || b == UInt8(ascii: "+") || b == UInt8(ascii: "=")
                || b == UInt8(ascii: ",")
        }
        if safe { return s }
        var out = "'"
        for c in s.unicodeScalars {
            if c == "'" { out += "'\\''" } else { out.unicodeScalars.append(c) }
        }
        return out + "'"
    }

    /// How a word goes on an `ip -batch` line.
    enum BatchWord {
        /// As it is.
        case plain
        /// In double quotes (it has spaces, or is empty).
        case quoted
        /// Not at all: `ip`'s batch reader cuts lines at `#` and has no escapes inside quotes.
        case impossible
    }

    static func batchWord(_ s: String) -> BatchWord {
        if s.isEmpty { return .quoted }
        var s = s
        return s.withUTF8 { utf8 in
            var hasSpace = false
            for b in utf8 {
                if b > UInt8(ascii: "'") && b != UInt8(ascii: "\\") && b != 127 { continue }  // the common case
                switch b {
                case UInt8(ascii: "#"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\"), 0...8, 10...31, 127:
                    return .impossible
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    hasSpace = true
                default: continue
                }
            }
            return hasSpace ? .quoted : .plain
        }
    }

    /// A word for an `ip -batch` line, or nil when `ip`'s batch reader cannot carry it.
    static func batch(_ s: String) -> String? {
        switch batchWord(s) {
        case .plain: return s
        case .quoted: return "\"\(s)\""
        case .impossible: return nil
        }
    }

    /// One `ip` command (without `ip` and `-n NS`), as argv words.
    struct Command {
        var words: [String]
    }

    static func command(_ op: Operation, blockNamespace: String) -> Command? {
        switch op {
        case .addVeth(let a, let b):
            // Created from the block of `a`'s namespace; the peer goes where it belongs.
            if b.namespace != a.namespace {
                return Command(words: ["link", "add", "name", a.name, "type", "veth", "peer", "name", b.name,
                                       "netns", b.namespace])
            }
            return Command(words: ["link", "add", "name", a.name, "type", "veth", "peer", "name", b.name])
        case .addBridge(let l): return Command(words: ["link", "add", "name", l.name, "type", "bridge"])
        case .addDummy(let l): return Command(words: ["link", "add", "name", l.name, "type", "dummy"])
        case .setMaster(let l, let m): return Command(words: ["link", "set", "dev", l.name, "master", m])
        case .setMTU(let l, let m): return Command(words: ["link", "set", "dev", l.name, "mtu", String(m)])
        case .setUp(let l): return Command(words: ["link", "set", "dev", l.name, "up"])
        case .setDown(let l): return Command(words: ["link", "set", "dev", l.name, "down"])
        case .addAddress(let l, let p):
            // IPv6: usable at once (`nodad`), as topo's own executor does.
            if p.family == .ipv6 { return Command(words: ["address", "add", p.description, "dev", l.name, "nodad"]) }
            return Command(words: ["address", "add", p.description, "dev", l.name])
        case .addRoute(_, let r):
            var w = ["route", "add", r.destination.description]
            if let g = r.gateway { w += ["via", g.description] }
            if let d = r.device { w += ["dev", d] }
            if let m = r.metric { w += ["metric", String(m)] }
            if let t = r.table { w += ["table", String(t)] }
            return Command(words: w)
        case .addVlan(let l, let v):
            var w = ["link", "add", "link", v.parent.name, "name", l.name]
            if l.namespace != blockNamespace { w += ["netns", l.namespace] }
            w += ["type", "vlan", "id", String(v.id)]
            if v.protocol != .dot1q { w += ["protocol", v.protocol.rawValue] }
            return Command(words: w)
        case .addMacvlan(let l, let p, let m):
            var w = ["link", "add", "link", p.name, "name", l.name]
            if l.namespace != blockNamespace { w += ["netns", l.namespace] }
            return Command(words: w + ["type", "macvlan", "mode", m.rawValue])
        case .addIpvlan(let l, let p, let m):
            var w = ["link", "add", "link", p.name, "name", l.name]
            if l.namespace != blockNamespace { w += ["netns", l.namespace] }
            return Command(words: w + ["type", "ipvlan", "mode", m.rawValue])
        case .addVxlan(let l, let x):
            var w = ["link", "add", "name", l.name]
            if l.namespace != blockNamespace { w += ["netns", l.namespace] }
            w += ["type", "vxlan", "id", String(x.vni), "dstport", String(x.port)]
            if let r = x.remote { w += ["remote", r.description] }
            if let g = x.group { w += ["group", g.description] }
            if let a = x.local { w += ["local", a.description] }
            if let u = x.underlay { w += ["dev", u.name] }
            if let t = x.ttl { w += ["ttl", String(t)] }
            return Command(words: w)
        case .addVrf(let l, let t): return Command(words: ["link", "add", "name", l.name, "type", "vrf", "table", String(t)])
        case .addNamespace, .setSysctl, .ping, .exec, .setTC, .startDaemon:
            return nil
        case .setNoMaster(let l): return Command(words: ["link", "set", "dev", l.name, "nomaster"])
        case .removeAddress(let l, let p): return Command(words: ["address", "del", p.description, "dev", l.name])
        case .removeRoute(_, let r):
            var w = ["route", "del", r.destination.description]
            if let g = r.gateway { w += ["via", g.description] }
            if let d = r.device { w += ["dev", d] }
            if let m = r.metric { w += ["metric", String(m)] }
            if let t = r.table { w += ["table", String(t)] }
            return Command(words: w)
        case .removeLink(let l): return Command(words: ["link", "del", "dev", l.name])
        case .changeLink, .removeTC, .removeNamespace, .stopDaemon:
            return nil
        }
    }

    /// The `tc` commands (without `tc -n NS`) that build a shaping, in order: the root qdisc,
    /// then the tbf child when netem and a rate are combined.
    public static func tcCommands(device: String, _ t: Shaping) -> [[String]] {
        func netemWords() -> [String] {
            var w = ["netem"]
            if let d = t.delay {
                w += ["delay", Shaping.durationText(d)]
                if let j = t.jitter { w.append(Shaping.durationText(j)) }
            }
            if let p = t.loss { w += ["loss", p.description] }
            if let p = t.duplicate { w += ["duplicate", p.description] }
            if let p = t.reorder { w += ["reorder", p.description] }
            if let p = t.corrupt { w += ["corrupt", p.description] }
            w += ["limit", String(t.limit ?? Shaping.defaultNetemLimit)]
            return w
        }
        func tbfWords() -> [String] {
            ["tbf", "rate", "\(t.rate ?? 0)bit", "burst", "\(t.effectiveBurst ?? 0)b", "limit", "\(t.tbfLimitBytes ?? 0)"]
        }
        if t.needsNetem && t.needsTBF {
            return [["qdisc", "replace", "dev", device, "root", "handle", "1:"] + netemWords(),
                    ["qdisc", "replace", "dev", device, "parent", "1:1", "handle", "10:"] + tbfWords()]
        }
        if t.needsTBF { return [["qdisc", "replace", "dev", device, "root", "handle", "1:"] + tbfWords()] }
        return [["qdisc", "replace", "dev", device, "root", "handle", "1:"] + netemWords()]
    }

    static func render(_ plan: Plan) -> String {
        var w = ByteWriter(capacity: 256 + plan.steps.count * 64)
        w.append("#!/bin/sh\n# Built by `topo plan --format ip` from ")
        w.write(oneLineComment(plan.file))
        w.append(": the same topology with iproute2 alone.\n# Run as root. Stops at the first failure.\nset -e\n")
        // Block order: host first, then namespaces in plan order.
        var order: [String: Int] = [hostNamespace: 0]
        var blocks: [String] = [hostNamespace]
        for step in plan.steps {
            if case .addNamespace(let n) = step.operation, order[n] == nil {
                order[n] = blocks.count
                blocks.append(n)
                w.append("ip netns add ")
                w.write(sh(n))
                w.byte(10)
                w.endLine()
            }
        }
        func blockIndex(_ ns: String) -> Int {
            if let i = order[ns] { return i }
            // A namespace the plan does not create (it exists already): give it a block at the end.
            order[ns] = blocks.count
            blocks.append(ns)
            return blocks.count - 1
        }
        // Per block, the operations (veth pairs flipped to start from the earlier block):
        // creations first, then the rest in plan order.
        var creations: [[Operation]] = []
        var configs: [[Operation]] = []
        func ensure(_ i: Int) {
            while creations.count <= i { creations.append([]); configs.append([]) }
        }
        var tail: [String] = []
        // The block each link is created in, and (for the ordering of configuration blocks
        // below) the namespace of each stacked link's parent.
        var createdIn: [LinkID: Int] = [:]
        var parentNamespaces: [(child: String, parent: String)] = []
        func create(_ op: Operation, _ l: LinkID, from ns: String) {
            let i = blockIndex(ns)
            ensure(i)
            creations[i].append(op)
            createdIn[l] = i
            if ns != l.namespace { parentNamespaces.append((l.namespace, ns)) }
        }
        for step in plan.steps {
            let op = step.operation
            switch op {
            case .addNamespace:
                continue
            case .addVeth(let a, let b):
                let ia = blockIndex(a.namespace), ib = blockIndex(b.namespace)
                let i = min(ia, ib)
                ensure(i)
                creations[i].append(ib < ia ? .addVeth(b, peer: a) : op)
                createdIn[a] = i
                createdIn[b] = i
            case .addBridge(let l), .addDummy(let l), .addVrf(let l, _):
                create(op, l, from: l.namespace)
            case .addVlan(let l, let v):
                create(op, l, from: v.parent.namespace)
            case .addMacvlan(let l, let p, _), .addIpvlan(let l, let p, _):
                create(op, l, from: p.namespace)
            case .addVxlan(let l, let x):
                create(op, l, from: x.underlay?.namespace ?? l.namespace)
            case .setTC(let l, let t):
                let tc = l.namespace == hostNamespace ? "tc" : "tc -n \(sh(l.namespace))"
                for c in tcCommands(device: l.name, t) { tail.append(tc + " " + c.map(sh).joined(separator: " ")) }
            case .startDaemon(let ns, let cmd):
                tail.append("# daemon (topo run --allow-exec starts it): " + inNamespace(ns) + "sh -c \(sh(oneLineComment(cmd)))")
            case .setSysctl(let ns, let k, let v):
                tail.append(inNamespace(ns) + "sysctl -qw \(sh("\(k)=\(v)"))")
            case .ping(let ns, let a, let c):
                let what = "ping \(a) from \(ns) failed (\(plan.file):\(step.range.start.line))"
                tail.append(inNamespace(ns) + "ping -c \(c) -W 2 \(a) >/dev/null || { echo \(sh("topo: " + oneLineComment(what))) >&2; exit 1; }")
            case .exec(let ns, let cmd, _):
                // Commented out: `topo run` runs it only with --allow-exec.
                tail.append("# exec (topo run --allow-exec runs it): " + inNamespace(ns) + "sh -c \(sh(oneLineComment(cmd)))")
            default:
                let i = blockIndex(op.namespace)
                ensure(i)
                configs[i].append(op)
            }
        }
        ensure(blocks.count - 1)
        // A namespace's configuration runs in its own block unless one of its links is created
        // in a later block (a vlan whose parent's namespace comes later, a vxlan created from
        // its underlay's namespace): then it runs in a block of its own after that one, and
        // after the configuration of its links' parents' namespaces (a parent's mtu first).
        var slot = Array(0..<blocks.count)
        for (l, i) in createdIn {
            if let c = order[l.namespace], i > slot[c] { slot[c] = i }
        }
        if !parentNamespaces.isEmpty {
            for _ in 0..<blocks.count {
                var changed = false
                for (c, p) in parentNamespaces {
                    guard let ci = order[c], let pi = order[p] else { continue }
                    if slot[pi] > slot[ci] { slot[ci] = slot[pi]; changed = true }
                }
                if !changed { break }
            }
        }
        var deferred = [[Int]](repeating: [], count: blocks.count)
        for i in blocks.indices where slot[i] != i { deferred[slot[i]].append(i) }
        for (i, ns) in blocks.enumerated() {
            let own = slot[i] == i ? configs[i] : []
            if !(creations[i].isEmpty && own.isEmpty) {
                var block = BlockWriter(namespace: ns)
                for op in creations[i] { block.add(command(op, blockNamespace: ns)!, into: &w) }
                for op in own { block.add(command(op, blockNamespace: ns)!, into: &w) }
                block.finish(into: &w)
            }
            for j in deferred[i] where !configs[j].isEmpty {
                var block = BlockWriter(namespace: blocks[j])
                for op in configs[j] { block.add(command(op, blockNamespace: blocks[j])!, into: &w) }
                block.finish(into: &w)
            }
        }
        for line in tail {
            w.write(line)
            w.byte(10)
            w.endLine()
        }
        return w.finish()
    }

    static func inNamespace(_ ns: String) -> String {
        ns == hostNamespace ? "" : "ip netns exec \(sh(ns)) "
    }

    static func oneLineComment(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : $0 }))
    }

    /// Consecutive batch-safe commands go into one `ip [-n NS] -batch -` heredoc; a command
    /// with a word the batch reader cannot carry runs on its own, quoted for `sh`, in order.
    struct BlockWriter {
        let ip: String
        var inHeredoc = false

        init(namespace: String) {
            ip = namespace == hostNamespace ? "ip" : "ip -n \(PlanShell.sh(namespace))"
        }

        mutating func add(_ c: Command, into w: inout ByteWriter) {
            if c.words.allSatisfy({ batchWord($0) != .impossible }) {
                if !inHeredoc {
                    w.write(ip)
                    w.append(" -batch - <<'TOPO_EOF'\n")
                    inHeredoc = true
                }
                for (k, word) in c.words.enumerated() {
                    if k > 0 { w.byte(UInt8(ascii: " ")) }
                    if batchWord(word) == .quoted {
                        w.byte(UInt8(ascii: "\""))
                        w.write(word)
                        w.byte(UInt8(ascii: "\""))
                    } else {
                        w.write(word)
                    }
                }
                w.byte(10)
                w.endLine()
            } else {
                finish(into: &w)
                w.write(ip)
                for word in c.words {
                    w.byte(UInt8(ascii: " "))
                    w.write(sh(word))
                }
                w.byte(10)
                w.endLine()
            }
        }

        /// Closes an open heredoc.
        mutating func finish(into w: inout ByteWriter) {
            if inHeredoc {
                w.append("TOPO_EOF\n")
                inHeredoc = false
            }
        }
    }

    /// The lines `BlockWriter` writes for `cmds` in namespace `ns`.
    static func renderBlock(_ ns: String, _ cmds: [Command]) -> [String] {
        var w = ByteWriter()
        var block = BlockWriter(namespace: ns)
        for c in cmds { block.add(c, into: &w) }
        block.finish(into: &w)
        return w.finish().split(separator: "\n").map(String.init)
    }
}
