#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// A stand-in engine for tests of the terminal side (enabled with `TOPO_REPL_FAKE_ENGINE=1`).
/// It treats each complete input as one statement, records it, fails on inputs containing the
/// word `bad`, and learns names from a few statement shapes so Tab completion has something
/// to offer: `ns N…`, `ns N < IF… >`, `veth [NS:]A <-> [NS:]B`, `dummy IF`, `bridge BR < P… >`.
final class FakeReplEngine: ReplEngine {
    /// The inputs accepted so far, in order.
    private(set) var statements: [String] = []
    private var namespaces: [String] = []
    private var interfaces: [(ns: String, name: String)] = []
    private var history: [(namespaces: [String], interfaces: [(ns: String, name: String)])] = []

    init() {}

    /// The fake engine when the environment asks for it (`TOPO_REPL_FAKE_ENGINE=1`), else nil.
    static func fromEnvironment(_ env: [String: String]) -> FakeReplEngine? {
        env["TOPO_REPL_FAKE_ENGINE"] == "1" ? FakeReplEngine() : nil
    }

    func submit(_ text: String) -> ReplOutcome {
        let words = Self.words(text)
        if words.contains("bad") {
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? text
            let column = (Substring(line).replFind("bad").map { line.utf8.distance(from: line.startIndex, to: $0.lowerBound) } ?? 0) + 1
            let file = SourceFile(name: "<repl>", text: text)
            let start = file.location(ofOffset: column - 1)
            let end = file.location(ofOffset: column - 1 + 3)
            let d = Diagnostic.error(.unknownStatement, "the fake engine refuses `bad`",
                                     at: SourceRange(start: start, end: end), help: "leave `bad` out")
            return .failure(DiagnosticRenderer().render(d, in: file))
        }
        history.append((namespaces, interfaces))
        learn(words)
        statements.append(text)
        let lines = text.split(separator: "\n").count
        return .ok("ok #\(statements.count) (\(lines) line\(lines == 1 ? "" : "s"))")
    }

    private func learn(_ words: [String]) {
        guard let first = words.first else { return }
        func addNS(_ n: String) { if n != "host", !namespaces.contains(n) { namespaces.append(n) } }
        func addIF(_ ref: String, defaultNS: String = "host") {
            let parts = ref.split(separator: ":", maxSplits: 1).map(String.init)
            let (ns, name) = parts.count == 2 ? (parts[0], parts[1]) : (defaultNS, ref)
            if ns != "host" { addNS(ns) }
            if !interfaces.contains(where: { $0.ns == ns && $0.name == name }) { interfaces.append((ns, name)) }
        }
        let rest = words.dropFirst().filter { !["<", ">", "<->", ",", "mtu"].contains($0) && Int($0) == nil }
        switch first {
        case "ns":
            guard let n = rest.first else { return }
            if words.contains("<") { addNS(n); rest.dropFirst().forEach { addIF($0, defaultNS: n) } }
            else { rest.forEach(addNS) }
        case "veth", "dummy": rest.forEach { addIF($0) }
        case "bridge": rest.forEach { addIF($0) }
        default: break
        }
    }

    private static func words(_ text: String) -> [String] {
        var spaced = ""
        for ch in text.replReplacing("<->", with: " ") {
            if ch == "<" || ch == ">" || ch == "," || ch == ";" { spaced += " \(ch) " } else { spaced.append(ch) }
        }
        return spaced.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
    }

    func plan() -> ReplOutcome {
        if statements.isEmpty { return .ok("(empty plan)") }
        return .ok(statements.enumerated().map { "\($0.offset + 1). \($0.element.replReplacing("\n", with: " "))" }.joined(separator: "\n"))
    }

    func show(_ namespace: String?) -> ReplOutcome {
        if let ns = namespace, ns != "host", !namespaces.contains(ns) {
            var msg = "error: no namespace `\(ns)` in this session"
            if let s = suggestion(for: ns, among: namespaces) { msg += "\nhelp: did you mean `\(s)`?" }
            return .failure(msg)
        }
        let list = namespace.map { [$0] } ?? (["host"] + namespaces)
        return .ok(list.map { ns in "\(ns): " + interfaceNames(in: ns).joined(separator: " ") }.joined(separator: "\n"))
    }

    func ping(namespace: String, address: String) -> ReplOutcome {
        namespaces.contains(namespace) || namespace == "host"
            ? .ok("ping \(namespace) \(address): ok (fake)")
            : .failure("error: no namespace `\(namespace)` in this session")
    }

    func undo() -> ReplOutcome {
        guard let last = statements.popLast(), let before = history.popLast() else {
            return .failure("error: nothing to undo")
        }
        (namespaces, interfaces) = before
        return .ok("undid: \(last.split(separator: "\n").first.map(String.init) ?? "")")
    }

    func destroy() -> ReplOutcome {
        let n = statements.count
        statements.removeAll(); namespaces.removeAll(); interfaces.removeAll(); history.removeAll()
        return .ok("destroyed \(n) statement\(n == 1 ? "" : "s")")
    }

    func save(to path: String) -> ReplOutcome {
        guard let f = fopen(path, "w") else { return .failure("error: cannot write `\(path)`: \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        for s in statements { fputs(s + "\n", f) }
        return .ok("saved \(statements.count) statement\(statements.count == 1 ? "" : "s") to \(path)")
    }

    func load(path: String) -> ReplOutcome {
        guard let f = fopen(path, "r") else { return .failure("error: cannot read `\(path)`: \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var out: [String] = [], diags: [String] = [], ok = true
        var pending = ""
        while let line = ReplPlainReader.readLine(f) {
            pending += pending.isEmpty ? line : "\n" + line
            guard isComplete(pending) else { continue }
            if !pending.replTrimmed.isEmpty {
                let r = submit(pending)
                if !r.output.isEmpty { out.append(r.output) }
                if !r.diagnostics.isEmpty { diags.append(r.diagnostics) }
                ok = ok && r.succeeded
            }
            pending = ""
        }
        return ReplOutcome(output: out.joined(separator: "\n"), diagnostics: diags.joined(separator: "\n"), succeeded: ok)
    }

    func edit() -> ReplOutcome { .ok("edited (fake)") }
    func pingall() -> ReplOutcome { .ok("pingall: 0/0 reachable (fake)") }

    func reset() -> ReplOutcome {
        statements.removeAll(); namespaces.removeAll(); interfaces.removeAll(); history.removeAll()
        return .ok("session reset")
    }

    var namespaceNames: [String] { namespaces }

    func interfaceNames(in namespace: String?) -> [String] {
        interfaces.filter { namespace == nil || $0.ns == namespace }.map(\.name)
    }
}
