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

enum PlanText {
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
        case .addRoute(let ns, let r):
            var s = "add route \(destination(r.destination))"
            if let g = r.gateway { s += " via \(g)" }
            if let d = r.device { s += " dev \(d)" }
            if let m = r.metric { s += " metric \(m)" }
            return s + " in \(ns)"
        case .setSysctl(let ns, let k, let v): return "set sysctl \(k)=\(v) in \(ns)"
        case .ping(let ns, let a, let c): return "after apply: ping \(a) from \(ns), count \(c)"
        case .exec(let ns, let cmd): return "after apply: exec in \(ns): \(oneLine(cmd))"
        }
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

    static func render(_ plan: Plan) -> String {
        let actions = plan.steps.filter { $0.operation.isAction }.count
        let ops = plan.steps.count - actions
        var header = "plan for \(plan.file): "
        if plan.steps.isEmpty {
            header += "nothing to do"
        } else {
            header += "\(ops) operation\(ops == 1 ? "" : "s")"
            if actions > 0 { header += ", then \(actions) action\(actions == 1 ? "" : "s") after apply" }
        }
        var lines = [header]
        let descriptions = plan.steps.map { describe($0.operation) }
        let width = min(72, descriptions.map(\.count).max() ?? 0)
        let numberWidth = String(plan.steps.count).count
        for (i, step) in plan.steps.enumerated() {
            let n = String(i + 1)
            let d = descriptions[i]
            let pad = String(repeating: " ", count: max(0, width - d.count))
            lines.append("\(String(repeating: " ", count: numberWidth - n.count))\(n)  \(d)\(pad)  \(plan.file):\(step.range.start.line)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

// MARK: - JSON

enum PlanJSON {
    /// A JSON string literal: `"`, `\` and control characters escaped; other text passes as UTF-8.
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x7f {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    enum Value {
        case s(String), i(Int), b(Bool), null
        var json: String {
            switch self {
            case .s(let v): return string(v)
            case .i(let v): return String(v)
            case .b(let v): return v ? "true" : "false"
            case .null: return "null"
            }
        }
    }

    static func fields(_ op: Operation) -> (String, [(String, Value)]) {
        func link(_ l: LinkID) -> [(String, Value)] { [("namespace", .s(l.namespace)), ("name", .s(l.name))] }
        switch op {
        case .addNamespace(let n): return ("add-namespace", [("namespace", .s(n))])
        case .addVeth(let a, let b):
            return ("add-veth", link(a) + [("peer_namespace", .s(b.namespace)), ("peer_name", .s(b.name))])
        case .addBridge(let l): return ("add-bridge", link(l))
        case .addDummy(let l): return ("add-dummy", link(l))
        case .setMaster(let l, let m): return ("set-master", link(l) + [("master", .s(m))])
        case .setMTU(let l, let m): return ("set-mtu", link(l) + [("mtu", .i(m))])
        case .setUp(let l): return ("set-up", link(l))
        case .setDown(let l): return ("set-down", link(l))
        case .addAddress(let l, let p):
            return ("add-address", link(l) + [("address", .s(p.description)), ("family", .s(p.family.rawValue))])
        case .addRoute(let ns, let r):
            return ("add-route", [("namespace", .s(ns)), ("destination", .s(r.destination.description)),
                                  ("default", .b(r.isDefault)), ("family", .s(r.destination.family.rawValue)),
                                  ("gateway", r.gateway.map { .s($0.description) } ?? .null),
                                  ("device", r.device.map { .s($0) } ?? .null),
                                  ("metric", r.metric.map { .i($0) } ?? .null)])
        case .setSysctl(let ns, let k, let v):
            return ("set-sysctl", [("namespace", .s(ns)), ("key", .s(k)), ("value", .s(v))])
        case .ping(let ns, let a, let c):
            return ("ping", [("namespace", .s(ns)), ("address", .s(a.description)), ("family", .s(a.family.rawValue)),
                             ("count", .i(c))])
        case .exec(let ns, let cmd): return ("exec", [("namespace", .s(ns)), ("command", .s(cmd))])
        }
    }

    static func render(_ plan: Plan, source: SourceFile?) -> String {
        var out = "{\n  \"version\": 1,\n  \"file\": \(string(plan.file)),\n  \"operations\": ["
        for (i, step) in plan.steps.enumerated() {
            let (name, fs) = fields(step.operation)
            var all: [(String, Value)] = [("index", .i(i + 1)), ("op", .s(name))] + fs
            all.append(("action", .b(step.operation.isAction)))
            var parts = all.map { "\(string($0.0)): \($0.1.json)" }
            let r = step.range
            var src = "\"line\": \(r.start.line), \"column\": \(r.start.column), \"end_line\": \(r.end.line), \"end_column\": \(r.end.column)"
            if let source { src += ", \"text\": \(string(source.text(of: r)))" }
            parts.append("\"source\": {\(src)}")
            out += (i == 0 ? "\n" : ",\n") + "    {" + parts.joined(separator: ", ") + "}"
        }
        out += plan.steps.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
        return out
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

    /// A word for an `ip -batch` line, or nil when `ip`'s batch reader cannot carry it
    /// (it cuts lines at `#` and has no escapes inside quotes).
    static func batch(_ s: String) -> String? {
        if s.isEmpty { return "\"\"" }
        var hasSpace = false
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "#"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\"), 0...8, 10...31, 127:
                return nil
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                hasSpace = true
            default: continue
            }
        }
        return hasSpace ? "\"\(s)\"" : s
    }

    /// One `ip` command (without `ip` and `-n NS`), as argv words.
    struct Command {
        var words: [String]
    }

    static func command(_ op: Operation, blockNamespace: String) -> Command? {
        func dev(_ l: LinkID) -> [String] { ["dev", l.name] }
        switch op {
        case .addVeth(let a, let b):
            // Created from the block of `a`'s namespace; the peer goes where it belongs.
            var w = ["link", "add", "name", a.name, "type", "veth", "peer", "name", b.name]
            if b.namespace != a.namespace { w += ["netns", b.namespace] }
            return Command(words: w)
        case .addBridge(let l): return Command(words: ["link", "add", "name", l.name, "type", "bridge"])
        case .addDummy(let l): return Command(words: ["link", "add", "name", l.name, "type", "dummy"])
        case .setMaster(let l, let m): return Command(words: ["link", "set"] + dev(l) + ["master", m])
        case .setMTU(let l, let m): return Command(words: ["link", "set"] + dev(l) + ["mtu", String(m)])
        case .setUp(let l): return Command(words: ["link", "set"] + dev(l) + ["up"])
        case .setDown(let l): return Command(words: ["link", "set"] + dev(l) + ["down"])
        case .addAddress(let l, let p):
            var w = ["address", "add", p.description] + dev(l)
            if p.family == .ipv6 { w.append("nodad") }  // usable at once, as topo's own executor does
            return Command(words: w)
        case .addRoute(_, let r):
            var w = ["route", "add", r.destination.description]
            if let g = r.gateway { w += ["via", g.description] }
            if let d = r.device { w += ["dev", d] }
            if let m = r.metric { w += ["metric", String(m)] }
            return Command(words: w)
        case .addNamespace, .setSysctl, .ping, .exec:
            return nil
        }
    }

    static func render(_ plan: Plan) -> String {
        var out = [
            "#!/bin/sh",
            "# Built by `topo plan --format ip` from \(oneLineComment(plan.file)): the same topology with iproute2 alone.",
            "# Run as root. Stops at the first failure.",
            "set -e",
        ]
        // Block order: host first, then namespaces in plan order.
        var order: [String: Int] = [hostNamespace: 0]
        var blocks: [String] = [hostNamespace]
        for step in plan.steps {
            if case .addNamespace(let n) = step.operation, order[n] == nil {
                order[n] = blocks.count
                blocks.append(n)
                out.append("ip netns add \(sh(n))")
            }
        }
        func blockIndex(_ ns: String) -> Int {
            if let i = order[ns] { return i }
            // A namespace the plan does not create (it exists already): give it a block at the end.
            order[ns] = blocks.count
            blocks.append(ns)
            return blocks.count - 1
        }
        var creations: [[Command]] = []
        var configs: [[Command]] = []
        func ensure(_ i: Int) {
            while creations.count <= i { creations.append([]); configs.append([]) }
        }
        var tail: [String] = []
        for step in plan.steps {
            let op = step.operation
            let at = "\(plan.file):\(step.range.start.line)"
            switch op {
            case .addNamespace:
                continue
            case .addVeth(let a, let b):
                let ia = blockIndex(a.namespace), ib = blockIndex(b.namespace)
                let flipped: Operation = ib < ia ? .addVeth(b, peer: a) : op
                let i = min(ia, ib)
                ensure(i)
                creations[i].append(command(flipped, blockNamespace: blocks[i])!)
            case .addBridge(let l), .addDummy(let l):
                let i = blockIndex(l.namespace)
                ensure(i)
                creations[i].append(command(op, blockNamespace: l.namespace)!)
            case .setSysctl(let ns, let k, let v):
                tail.append(inNamespace(ns) + "sysctl -qw \(sh("\(k)=\(v)"))")
            case .ping(let ns, let a, let c):
                let what = "ping \(a) from \(ns) failed (\(at))"
                tail.append(inNamespace(ns) + "ping -c \(c) -W 2 \(a) >/dev/null || { echo \(sh("topo: " + oneLineComment(what))) >&2; exit 1; }")
            case .exec(let ns, let cmd):
                tail.append(inNamespace(ns) + "sh -c \(sh(cmd))")
            default:
                let i = blockIndex(op.namespace)
                ensure(i)
                configs[i].append(command(op, blockNamespace: op.namespace)!)
            }
        }
        ensure(blocks.count - 1)
        for (i, ns) in blocks.enumerated() {
            let cmds = creations[i] + configs[i]
            if cmds.isEmpty { continue }
            out += renderBlock(ns, cmds)
        }
        out += tail
        return out.joined(separator: "\n") + "\n"
    }

    static func inNamespace(_ ns: String) -> String {
        ns == hostNamespace ? "" : "ip netns exec \(sh(ns)) "
    }

    static func oneLineComment(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : $0 }))
    }

    /// Consecutive batch-safe commands go into one `ip [-n NS] -batch -` heredoc; a command
    /// with a word the batch reader cannot carry runs on its own, quoted for `sh`, in order.
    static func renderBlock(_ ns: String, _ cmds: [Command]) -> [String] {
        let ip = ns == hostNamespace ? "ip" : "ip -n \(sh(ns))"
        var out: [String] = []
        var pending: [String] = []
        func flush() {
            guard !pending.isEmpty else { return }
            out.append("\(ip) -batch - <<'TOPO_EOF'")
            out += pending
            out.append("TOPO_EOF")
            pending = []
        }
        for c in cmds {
            let words = c.words.map(batch)
            if words.allSatisfy({ $0 != nil }) {
                pending.append(words.map { $0! }.joined(separator: " "))
            } else {
                flush()
                out.append(ip + " " + c.words.map(sh).joined(separator: " "))
            }
        }
        flush()
        return out
    }
}
