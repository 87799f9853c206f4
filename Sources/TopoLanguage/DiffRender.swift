/// How a list of changes (`topo diff`, `topo run`'s report) is summed up and printed.
///
/// Objects are namespaces, links, addresses, routes, qdiscs and daemons. A run's headline counts
/// objects created and removed, and objects changed in place (an interface whose mtu and state
/// changed is one changed object); settings made on a link this run creates are part of
/// creating it and are not counted again.
public struct ChangeSummary: Hashable, Sendable {
    public var created = 0
    public var changed = 0
    public var removed = 0
    /// One line per object: namespaces and links by name; addresses, routes and attributes
    /// grouped per interface (per namespace for routes and sysctls).
    public var lines: [String] = []

    public init(_ changes: [Change]) {
        // Links this run creates: their settings are part of the creation.
        var fresh: Set<LinkID> = []
        for c in changes where c.mark == .create {
            switch c.operation {
            case .addNamespace, .addVeth, .addBridge, .addDummy, .addVlan, .addMacvlan, .addIpvlan, .addVxlan, .addVrf:
                created += 1
                lines.append("+ " + ChangeSummary.objectText(c.operation))
                switch c.operation {
                case .addVeth(let a, let b): fresh.insert(a); fresh.insert(b)
                case .addBridge(let l), .addDummy(let l), .addVlan(let l, _), .addMacvlan(let l, _, _), .addIpvlan(let l, _, _),
                     .addVxlan(let l, _), .addVrf(let l, _):
                    fresh.insert(l)
                default: break
                }
            case .startDaemon(let ns, let cmd):
                created += 1
                lines.append("+ daemon in \(ns): \(PlanText.oneLine(cmd))")
            default: break
            }
        }
        // Per interface / namespace groups, in first-seen order.
        var order: [(String, Change.Mark)] = []
        var groups: [String: [String]] = [:]
        var changedSubjects: Set<String> = []
        func put(_ subject: String, _ mark: Change.Mark, _ text: String) {
            let k = mark.rawValue + subject
            if groups[k] == nil { order.append((subject, mark)) }
            groups[k, default: []].append(text)
        }
        for c in changes {
            let op = c.operation
            switch (c.mark, op) {
            case (.create, .addAddress(let l, let p)):
                created += 1
                put(PlanText.qualified(l), .create, "address \(p)")
            case (.create, .addRoute(let ns, let r)):
                created += 1
                put(ns, .create, "route \(PlanText.route(r))")
            case (.create, .setTC(let l, let t)):
                created += 1
                put(PlanText.qualified(l), .create, "tc \(t.description)")
            case (.create, .setMaster(let l, let m)):
                if !fresh.contains(l) { put(PlanText.qualified(l), .create, "master \(m)") }
            case (.create, .setMTU(let l, let m)):
                if !fresh.contains(l) { put(PlanText.qualified(l), .create, "mtu \(m)") }
            case (.create, .setDown(let l)):
                if !fresh.contains(l) { put(PlanText.qualified(l), .create, "down") }
            case (.create, .setSysctl(let ns, let k, let v)):
                put(ns, .create, "sysctl \(k) = \(v)")
            case (.change, _):
                let subject = ChangeSummary.subject(op)
                if changedSubjects.insert(subject).inserted { changed += 1 }
                put(subject, .change, ChangeSummary.changeText(c))
            case (.remove, .removeNamespace(let n)):
                removed += 1
                lines.append("- namespace \(n)")
            case (.remove, .removeLink(let l)):
                removed += 1
                lines.append("- link \(PlanText.qualified(l))" + (c.old.map { " (\($0))" } ?? ""))
            case (.remove, .removeAddress(let l, let p)):
                removed += 1
                put(PlanText.qualified(l), .remove, "address \(p)")
            case (.remove, .removeRoute(let ns, let r)):
                removed += 1
                put(ns, .remove, "route \(PlanText.route(r))")
            case (.remove, .removeTC(let l)):
                removed += 1
                put(PlanText.qualified(l), .remove, "tc " + (c.old ?? ""))
            case (.remove, .stopDaemon(let ns, let cmd)):
                removed += 1
                lines.append("- daemon in \(ns): \(PlanText.oneLine(cmd))")
            default:
                break
            }
        }
        for (subject, mark) in order {
            lines.append("\(mark.rawValue) \(subject): " + groups[mark.rawValue + subject]!.joined(separator: ", "))
        }
        // Removals after the rest, as they run.
        lines = lines.filter { !$0.hasPrefix("- ") } + lines.filter { $0.hasPrefix("- ") }
    }

    /// `3 created, 1 changed, 2 removed`, or `0 changes (already in place)`.
    public var headline: String {
        if created == 0 && changed == 0 && removed == 0 { return "0 changes (already in place)" }
        return "\(created) created, \(changed) changed, \(removed) removed"
    }

    static func objectText(_ op: Operation) -> String {
        switch op {
        case .addNamespace(let n): return "namespace \(n)"
        default:
            let d = PlanText.describe(op)
            return d.hasPrefix("add ") ? String(d.dropFirst(4)) : d
        }
    }

    /// What a `~` change is about: an interface, or a namespace for routes and sysctls.
    static func subject(_ op: Operation) -> String {
        switch op {
        case .addRoute(let ns, _), .setSysctl(let ns, _, _): return ns
        default:
            if case .addNamespace = op { return op.namespace }
            return linkOf(op).map(PlanText.qualified) ?? op.namespace
        }
    }

    static func linkOf(_ op: Operation) -> LinkID? {
        switch op {
        case .setMaster(let l, _), .setNoMaster(let l), .setMTU(let l, _), .setUp(let l), .setDown(let l), .setTC(let l, _),
             .changeLink(let l, _), .removeTC(let l), .addAddress(let l, _), .removeAddress(let l, _), .removeLink(let l):
            return l
        default: return nil
        }
    }

    /// `mtu 1500 → 9000`, `down → up`, `master br0 → master br1`, `sysctl net.ipv4.ip_forward 0 → 1`.
    public static func changeText(_ c: Change) -> String {
        let old = c.old ?? "?"
        switch c.operation {
        case .setMTU(_, let m): return "mtu \(old) → \(m)"
        case .setUp: return "\(old) → up"
        case .setDown: return "\(old) → down"
        case .setMaster(_, let m): return "\(old) → master \(m)"
        case .setNoMaster: return "\(old) → nomaster"
        case .setTC(_, let t): return "tc \(old) → \(t.description)"
        case .setSysctl(_, let k, let v): return "sysctl \(k) \(old) → \(v)"
        case .addRoute(_, let r): return "route \(old) → \(PlanText.route(r))"
        case .changeLink(_, let o): return "\(old) → \(PlanText.options(o))"
        default: return PlanText.describe(c.operation)
        }
    }
}

/// The output formats of `topo diff`.
public enum DiffFormat: String, CaseIterable, Sendable {
    case text, json
}

/// Renders a diff: one operation per line, marked `+`, `~` (with old → new) or `-`, with its
/// source line (`file:line`; none for removals, whose statement is gone); `no changes` when empty.
public func renderDiff(_ changes: [Change], file: String, as format: DiffFormat) -> String {
    switch format {
    case .text:
        if changes.isEmpty { return "no changes\n" }
        let texts = changes.map { c -> String in
            c.mark == .change ? ChangeSummary.subject(c.operation) + ": " + ChangeSummary.changeText(c) : PlanText.describe(c.operation)
        }
        let width = min(72, texts.map(\.count).max() ?? 0)
        var out = ""
        for (c, t) in zip(changes, texts) {
            out += c.mark.rawValue + " " + t
            if c.step.range != .none {
                out += String(repeating: " ", count: max(0, width - t.count)) + "  \(file):\(c.step.range.start.line)"
            }
            out += "\n"
        }
        let s = ChangeSummary(changes)
        out += "\(file): \(s.headline)\n"
        return out
    case .json:
        let s = ChangeSummary(changes)
        var w = ByteWriter(capacity: 256 + changes.count * 200)
        w.append("{\n  \"version\": 2,\n  \"file\": ")
        PlanJSON.string(file, into: &w)
        w.append(",\n  \"summary\": {\"created\": ")
        w.write(s.created)
        w.append(", \"changed\": ")
        w.write(s.changed)
        w.append(", \"removed\": ")
        w.write(s.removed)
        w.append("},\n  \"changes\": [")
        for (i, obj) in changeJSONObjects(changes).enumerated() {
            w.append(i == 0 ? "\n    " : ",\n    ")
            w.write(obj)
            w.endLine()
        }
        w.write(changes.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return w.finish()
    }
}

/// Each change as one JSON object: `{"mark": "+", "op": …, <the operation's fields>, "old": …,
/// "source": {…} | null}` (the objects of `topo diff --format json` and `topo run --format json`).
public func changeJSONObjects(_ changes: [Change]) -> [String] {
    changes.map { c in
        var w = ByteWriter(capacity: 200)
        w.append("{\"mark\": \"")
        w.write(c.mark.rawValue)
        w.append("\", ")
        PlanJSON.fields(c.operation, into: &w)
        w.append(", \"old\": ")
        if let o = c.old { PlanJSON.string(o, into: &w) } else { w.append("null") }
        if c.step.range == .none {
            w.append(", \"source\": null}")
        } else {
            w.append(", \"source\": ")
            PlanJSON.rangeFields(c.step.range, into: &w)
            w.append("}}")
        }
        return w.finish()
    }
}
