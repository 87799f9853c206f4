import Foundation
import Testing

private let fixtures = "Tests/TopoCLITests/Fixtures/kernel"

/// `topo pingall` against topologies built by `topo run` in a sandbox; judged by the exit
/// status, the matrix and, for the failing pair, by `ping` itself.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct PingAllKernelTests {
    @Test func oneUnreachablePairExitsOneAndIsNamed() throws {
        let r = try sandbox("""
            "$TOPO" run \(fixtures)/pingall-one-way.topo >/dev/null
            "$TOPO" pingall \(fixtures)/pingall-one-way.topo && echo "exit 0" || echo "exit $?"
            "$TOPO" pingall --format json \(fixtures)/pingall-one-way.topo > /run/pingall.json || true
            # iproute2's own view of the failing pair: ping agrees.
            ip netns exec a ping -c1 -W1 10.9.9.9 >/dev/null 2>&1 && echo "ping a->b ok" || echo "ping a->b fails"
            ip netns exec b ping -c1 -W1 10.0.1.1 >/dev/null 2>&1 && echo "ping b->a ok" || echo "ping b->a fails"
            echo "@@json"; cat /run/pingall.json
            """)
        let (text, json) = splitOnce(r.stdout, "@@json\n")
        #expect(text == """
            IPv4  a   b
            a     -   X
            b     ok  -

            X a -> b 10.9.9.9: no request could be sent (no route?)
            pingall: 1/2 reachable; failed: a -> b (10.9.9.9)
            exit 1
            ping a->b fails
            ping b->a ok

            """, "\(r.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(doc?["ok"] as? Bool == false)
        let pairs = doc?["pairs"] as? [[String: Any]] ?? []
        #expect(pairs.map { "\($0["from"] ?? "")>\($0["to"] ?? ""):\(($0["reachable"] as? Bool).map(String.init) ?? "?")" } == ["a>b:false", "b>a:true"])
    }

    @Test func aHealthyFiftyNamespaceLabExitsZeroQuickly() throws {
        let r = try sandbox("""
            "$TOPO" run \(fixtures)/pingall-routed-star.topo >/dev/null
            date +%s%N
            "$TOPO" pingall \(fixtures)/pingall-routed-star.topo | tail -1
            echo "exit ${PIPESTATUS[0]}"
            date +%s%N
            """)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.dropFirst().prefix(2) == ["pingall: 2550/2550 reachable", "exit 0"], "\(r.stdout)\(r.stderr)")
        let t0 = try #require(Int(lines.first ?? "")), t1 = try #require(Int(lines.last ?? ""))
        let took = Double(t1 - t0) / 1e9
        #expect(took < 5, "pingall of 51 namespaces took \(took) s")
    }

    @Test func aTopologyThatIsNotRunningExitsThree() throws {
        let r = try sandbox("""
            "$TOPO" pingall \(example("veth-pair")) 2>&1 && echo "exit 0" || echo "exit $?"
            """)
        #expect(r.stdout == "topo: pingall: not running: no namespace `ns0`, `ns1` (run `topo run examples/veth-pair.topo` first)\nexit 3\n")
    }
}

/// `a` split at the first `sep` (all of it and "" when absent).
func splitOnce(_ a: String, _ sep: String) -> (String, String) {
    guard let r = a.range(of: sep) else { return (a, "") }
    return (String(a[..<r.lowerBound]), String(a[r.upperBound...]))
}
