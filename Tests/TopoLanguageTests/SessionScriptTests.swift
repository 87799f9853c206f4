import Foundation
import Testing
@testable import TopoLanguage

private let examplesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../examples").standardized

private func topologyOf(_ text: String, _ name: String = "t.topo") -> Topology? {
    let c = compile(SourceFile(name: name, text: text))
    return c.hasErrors ? nil : c.topology
}

/// The kernel operations of a topology, ranges and post-apply actions aside.
private func operations(_ t: Topology) -> [String] {
    makePlan(t, file: "x").steps.filter { !$0.operation.isAction }.map { "\($0.operation)" }.sorted()
}

@Suite struct SessionScriptTests {
    static let examples: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: examplesDir.path)) ?? [])
        .filter { $0.hasSuffix(".topo") }.sorted()

    /// The REPL's canonical script of a topology checks on its own and plans the same
    /// operations (so `:save`, `:edit` and every input keep the session whole).
    @Test(arguments: examples)
    func canonicalScriptRebuildsTheTopology(_ name: String) throws {
        let text = try String(contentsOf: examplesDir.appendingPathComponent(name), encoding: .utf8)
        let t = try #require(topologyOf(text, name))
        let printed = ScriptPrinter.print(sessionDeclarations(t))
        let back = try #require(topologyOf(printed), "the canonical script of \(name) does not check:\n\(printed)")
        #expect(operations(back) == operations(t), "\(name):\n\(printed)")
    }

    @Test(arguments: [
        ("ns c", "ns a, c; veth a:x <-> c:y; addr c:y 10.0.0.1/24", "ns a"),
        ("veth a:x", "ns a, b; veth a:x <-> b:y; addr b:y 10.0.0.1/24", "ns a\nns b"),
        ("veth b:y <-> a:x", "ns a, b; veth a:x <-> b:y", "ns a\nns b"),
        ("addr a:x 10.0.0.9/24", "ns a, b; veth a:x <-> b:y; addr a:x 10.0.0.1/24, 10.0.0.9/24", "ns a\nns b\nveth a:x <-> b:y\naddr a:x 10.0.0.1/24"),
        ("route a default", "ns a, b; veth a:x <-> b:y; addr a:x 10.0.0.1/24; route a default via 10.0.0.2", "ns a\nns b\nveth a:x <-> b:y\naddr a:x 10.0.0.1/24"),
        ("bridge br0 < p2 >", "ns a; bridge a:br0 < p1 p2 >; veth a:p1 <-> a:q1; veth a:p2 <-> a:q2", "ns a\nbridge a:br0 < a:p1 >\nveth a:p1 <-> a:q1\nveth a:p2 <-> a:q2"),
        ("tc a:x", "ns a, b; veth a:x <-> b:y; tc a:x rate 10mbit", "ns a\nns b\nveth a:x <-> b:y"),
        ("mtu a:x", "ns a, b; veth a:x <-> b:y; mtu a:x 1400", "ns a\nns b\nveth a:x <-> b:y"),
        ("down a:x", "ns a, b; veth a:x <-> b:y; down a:x", "ns a\nns b\nveth a:x <-> b:y"),
        ("forward a", "ns a; forward a", "ns a"),
    ])
    func noRemovesWhatItNames(_ no: String, _ before: String, _ after: String) throws {
        let t = try #require(topologyOf(before))
        let what = try parseNoStatement(no).get()
        let removed = try removing(what, from: t).get()
        #expect(ScriptPrinter.print(sessionDeclarations(removed)) == after + "\n")
    }

    @Test(arguments: [
        ("ns zz", "ns a", "the session has no namespace `zz`"),
        ("veth q", "ns a, b; veth a:x <-> b:y", "the session has no interface `q`"),
        ("addr a:x 10.9.9.9/24", "ns a, b; veth a:x <-> b:y", "`a:x` has no address 10.9.9.9/24"),
        ("dummy a:x", "ns a, b; veth a:x <-> b:y", "`a:x` is a veth, not a dummy: write `no veth a:x`"),
        ("frobnicate a", "ns a", "`no frobnicate` is not something the REPL can remove"),
        ("route a", "ns a", "usage: no route NS DEST"),
    ])
    func noExplainsWhatItCannotRemove(_ no: String, _ before: String, _ message: String) throws {
        let t = try #require(topologyOf(before))
        let result = parseNoStatement(no).flatMap { removing($0, from: t) }
        guard case .failure(let e) = result else { Issue.record("`no \(no)` should fail"); return }
        #expect(e.message.hasPrefix(message), "\(e.message)")
    }
}
