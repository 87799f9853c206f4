import Foundation
import Testing

/// `topo check --format json`: goldens beside the text ones (Fixtures/errors/NAME.check.json),
/// valid JSON, and the same positions as the text diagnostics.
@Suite struct CheckJSONTests {
    @Test(arguments: errorFixtures)
    func errorsAsJSON(_ name: String) throws {
        let path = "Tests/TopoCLITests/Fixtures/errors/\(name).topo"
        let r = try topo("check", "--format", "json", path)
        #expect(r.status == 1, "exit status \(r.status)")
        #expect(r.stderr.isEmpty, "json mode prints nothing on stderr: \(r.stderr)")
        expectGolden(r.stdout, "errors/\(name).check.json")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(doc["ok"] as? Bool == false)
        let diags = doc["diagnostics"] as? [[String: Any]] ?? []
        #expect(diags.count == (doc["errors"] as? Int ?? -1) + (doc["warnings"] as? Int ?? -1))
        // The text diagnostics' heads (`file:line:col: severity: message`) are the same, in order.
        let text = try topo("check", "--diagnostics", "short", path)
        let heads = text.stderr.split(separator: "\n").filter { !$0.hasPrefix("topo: ") }.map { line -> String in
            String(line.split(separator: " (help: ").first ?? "")
        }
        let fromJSON = diags.map { d in
            "\(d["file"] ?? ""):\(d["line"] ?? ""):\(d["column"] ?? ""): \(d["severity"] ?? ""): \(d["message"] ?? "")"
        }
        #expect(fromJSON == heads)
    }

    @Test func aCleanScript() throws {
        let r = try topo("check", "--format", "json", example("veth-pair"))
        #expect(r.status == 0)
        expectGolden(r.stdout, "examples/veth-pair.check.json")
    }

    @Test func standardInputAndAwkwardText() throws {
        let r = try topo("check", "--format", "json", "-", stdin: "ns \"a\\\"b\"\nveth \"a\\\"b\":x <-> \"c\\td\":y\n")
        #expect(r.status == 1)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(doc["file"] as? String == "<stdin>")
        let d = (doc["diagnostics"] as? [[String: Any]])?.first
        #expect((d?["message"] as? String)?.contains("c\td") == true, "\(r.stdout)")
        #expect(d?["line"] as? Int == 2)
    }
}
