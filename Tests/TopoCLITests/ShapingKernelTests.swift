import Foundation
import Testing

/// The `tc` statement and veth shaping on this machine's kernel (tbf present, netem absent),
/// through `topo run`, judged by `tc -j` and by real TCP traffic (iperf3, at the receiver).
///
/// A rate-limited TCP stream gets at most 1448 payload bytes per 1514-byte frame, 95.6% of the
/// rate: 9.56 Mbit/s at `rate 10mbit`; the window asked for is 80–105% of the rate.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ShapingKernelTests {
    static let pair = """
        ns a
        ns b
        veth a:e0 <-> b:e0
        addr a:e0 10.9.0.1/24
        addr b:e0 10.9.0.2/24

        """

    private func requirements(_ what: String) throws {
        try requireKernel([.tbf], for: what)
        try requireTool("iperf3", package: "iperf3", for: what)
    }

    /// `tc a:e0 rate 10mbit` shapes what a:e0 sends: a→b within 8–10.5 Mbit/s, b→a unshaped
    /// (several times the rate). tc sees a tbf on a:e0 and the default on b:e0.
    @Test func rateShapesOneDirection() throws {
        try requirements("tc rate")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try sandbox(goodputFunction + writeInSandbox(Self.pair + "tc a:e0 rate 10mbit\n", to: dir + "/lab.topo") + """
            "$TOPO" run '\(dir)/lab.topo' >&2
            echo "@@mark qdisc-a"; tc -n a -j qdisc show dev e0
            echo "@@mark qdisc-b"; tc -n b -j qdisc show dev e0
            goodput ab a b 10.9.0.2
            goodput ba b a 10.9.0.1
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        let qa = jsonArrays(p["qdisc-a"] ?? "")
        #expect(qa.count == 1 && qa.first?["kind"] as? String == "tbf" && qa.first?["handle"] as? String == "1:",
                "a:e0: \(p["qdisc-a"] ?? "")")
        #expect((qa.first?["options"] as? [String: Any])?["rate"] as? Int == 1_250_000, "a:e0: \(p["qdisc-a"] ?? "")")
        let qb = jsonArrays(p["qdisc-b"] ?? "")
        #expect(qb.count == 1 && qb.first?["kind"] as? String == "noqueue", "b:e0 must keep the default: \(p["qdisc-b"] ?? "")")

        let ab = goodputMbit(p, "ab"), ba = goodputMbit(p, "ba")
        print("measured: tc a:e0 rate 10mbit: a→b \(ab.mbit.map { String(format: "%.2f", $0) } ?? "-") Mbit/s, "
              + "b→a \(ba.mbit.map { String(format: "%.0f", $0) } ?? "-") Mbit/s")
        let shaped = try #require(ab.mbit, "a→b: \(ab.report)")
        #expect(shaped >= 8 && shaped <= 10.5, "a→b goodput \(shaped) Mbit/s, want 8–10.5")
        let unshaped = try #require(ba.mbit, "b→a: \(ba.report)")
        #expect(unshaped > 50, "b→a goodput \(unshaped) Mbit/s: the reverse direction must not be shaped")
    }

    /// `veth … rate 5mbit` shapes both ends: each direction within 4–5.25 Mbit/s.
    @Test func vethRateShapesBothDirections() throws {
        try requirements("veth rate")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lab = Self.pair.replacingOccurrences(of: "veth a:e0 <-> b:e0", with: "veth a:e0 <-> b:e0 rate 5mbit")
        let r = try sandbox(goodputFunction + writeInSandbox(lab, to: dir + "/lab.topo") + """
            "$TOPO" run '\(dir)/lab.topo' >&2
            echo "@@mark qdiscs"; tc -n a -j qdisc show dev e0; tc -n b -j qdisc show dev e0
            goodput ab a b 10.9.0.2
            goodput ba b a 10.9.0.1
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        let q = jsonArrays(p["qdiscs"] ?? "")
        #expect(q.count == 2 && q.allSatisfy { $0["kind"] as? String == "tbf"
            && ($0["options"] as? [String: Any])?["rate"] as? Int == 625_000 }, "\(p["qdiscs"] ?? "")")
        for label in ["ab", "ba"] {
            let g = goodputMbit(p, label)
            print("measured: veth rate 5mbit: \(label == "ab" ? "a→b" : "b→a") \(g.mbit.map { String(format: "%.2f", $0) } ?? "-") Mbit/s")
            let mbit = try #require(g.mbit, "\(label): \(g.report)")
            #expect(mbit >= 4 && mbit <= 5.25, "\(label) goodput \(mbit) Mbit/s, want 4–5.25")
        }
    }

    /// Converging 10 → 20 mbit changes the tbf in place (same handle; its byte counter keeps
    /// counting, which a delete and re-add would reset) and the stream follows (16–21 Mbit/s);
    /// dropping the `tc` statement brings the kernel's default back; destroy leaves nothing.
    @Test func convergeRateThenDropIt() throws {
        try requirements("tc converge")
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lab = dir + "/lab.topo"
        let r = try sandbox(goodputFunction + """
            echo "@@mark before"; \(dumpStateScript)
            \(writeInSandbox(Self.pair + "tc a:e0 rate 10mbit\n", to: lab))
            "$TOPO" run '\(lab)' >&2
            goodput at10 a b 10.9.0.2
            echo "@@mark stats10"; tc -n a -s -j qdisc show dev e0
            \(writeInSandbox(Self.pair + "tc a:e0 rate 20mbit\n", to: lab))
            echo "@@mark diff20"; "$TOPO" diff '\(lab)' 2>&1 || true
            echo "@@mark run20"; "$TOPO" run '\(lab)' 2>&1 || echo "exit $?"
            echo "@@mark stats20"; tc -n a -s -j qdisc show dev e0
            goodput at20 a b 10.9.0.2
            echo "@@mark rerun"; "$TOPO" run '\(lab)' 2>&1 || echo "exit $?"
            \(writeInSandbox(Self.pair, to: lab))
            echo "@@mark drop"; "$TOPO" run '\(lab)' 2>&1 || echo "exit $?"
            echo "@@mark dropped"; tc -n a -j qdisc show dev e0
            goodput dropped a b 10.9.0.2
            echo "@@mark destroy"; "$TOPO" destroy '\(lab)' 2>&1 || echo "exit $?"
            echo "@@mark end"; \(dumpStateScript)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        for step in ["run20", "rerun", "drop", "destroy"] {
            #expect(!(p[step] ?? "").contains("exit "), "`\(step)` failed: \(p[step] ?? "")")
        }
        #expect((p["diff20"] ?? "").contains("20mbit"), "diff: \(p["diff20"] ?? "")")
        #expect((p["run20"] ?? "").contains("0 created, 1 changed, 0 removed"), "\(p["run20"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")

        func tbf(_ part: String) -> (rate: Int?, bytes: Int?, handle: String?) {
            let q = jsonArrays(p[part] ?? "").first
            return ((q?["options"] as? [String: Any])?["rate"] as? Int, q?["bytes"] as? Int, q?["handle"] as? String)
        }
        let at10 = tbf("stats10"), at20 = tbf("stats20")
        #expect(at10.rate == 1_250_000 && at10.handle == "1:", "\(p["stats10"] ?? "")")
        #expect(at20.rate == 2_500_000 && at20.handle == "1:", "\(p["stats20"] ?? "")")
        let sent10 = try #require(at10.bytes), sent20 = try #require(at20.bytes)
        #expect(sent10 > 1_000_000 && sent20 >= sent10, "the tbf was rebuilt, not changed in place: \(sent10) then \(sent20) bytes")

        let g10 = goodputMbit(p, "at10"), g20 = goodputMbit(p, "at20"), g0 = goodputMbit(p, "dropped")
        print("measured: converge: 10mbit \(g10.mbit.map { String(format: "%.2f", $0) } ?? "-"), "
              + "20mbit \(g20.mbit.map { String(format: "%.2f", $0) } ?? "-"), "
              + "dropped \(g0.mbit.map { String(format: "%.0f", $0) } ?? "-") Mbit/s")
        let m10 = try #require(g10.mbit, "\(g10.report)"), m20 = try #require(g20.mbit, "\(g20.report)")
        #expect(m10 >= 8 && m10 <= 10.5, "at 10mbit: \(m10) Mbit/s")
        #expect(m20 >= 16 && m20 <= 21, "at 20mbit: \(m20) Mbit/s")

        let dropped = jsonArrays(p["dropped"] ?? "")
        #expect(dropped.count == 1 && dropped.first?["kind"] as? String == "noqueue" && dropped.first?["handle"] as? String == "0:",
                "the default qdisc must return: \(p["dropped"] ?? "")")
        let m0 = try #require(g0.mbit, "\(g0.report)")
        #expect(m0 > 50, "unshaped again: \(m0) Mbit/s")
        #expect(normalizeState(p["end"] ?? "") == normalizeState(p["before"] ?? ""), "destroy left something")
    }

    static let exported = """
        # Every form of the lone-tbf layout this kernel has.
        ns a, b, c
        veth a:e0 <-> b:e0 rate 5mbit
        veth a:e1 <-> c:e0 mtu 9000
        tc a:e1 rate 10mbit burst 32kb
        tc c:e0 rate 1gbit limit 100
        tc a:lo rate 100mbit
        addr a:e0 10.9.0.1/24
        addr b:e0 10.9.0.2/24

        """

    /// The `--format ip` export builds the same `tc -j qdisc` state as `topo run`: every
    /// qdisc of every namespace, all its options, compared as JSON.
    @Test func exportBuildsTheSameQdiscs() throws {
        try requireKernel([.tbf], for: "tc export")
        let file = try writeTemporary(Self.exported, name: "shaped.topo")
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let export = try topo("plan", "--format", "ip", file)
        try #require(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("qdisc replace dev e1 root handle 1: tbf"), "\(export.stdout)")
        let script = (file as NSString).deletingLastPathComponent + "/export.sh"
        try export.stdout.write(toFile: script, atomically: true, encoding: .utf8)
        let qdiscs = """
            for ns in a b c; do echo "@@mark $ns"; tc -n $ns -j qdisc show; done
            """
        let byExport = try sandbox("sh '\(script)' >&2\n" + qdiscs)
        let byRun = try sandbox("\"$TOPO\" run '\(file)' >&2\n" + qdiscs)
        try #require(byExport.status == 0, "export: \(byExport.stderr)\n\(export.stdout)")
        try #require(byRun.status == 0, "run: \(byRun.stderr)")
        let e = parts(byExport.stdout), t = parts(byRun.stdout)
        for ns in ["a", "b", "c"] {
            let ours = jsonArrays(t[ns] ?? "").map(canonicalJSON).sorted()
            let theirs = jsonArrays(e[ns] ?? "").map(canonicalJSON).sorted()
            #expect(ours.count >= 2, "\(ns): \(t[ns] ?? "")")
            #expect(ours == theirs, "\(ns): topo run built\n\(ours.joined(separator: "\n"))\nthe export built\n\(theirs.joined(separator: "\n"))")
        }
    }

    /// Asking for netem on a kernel without it: exit 3, one error naming netem and its module,
    /// the whole run rolled back (no namespace, link or state file left).
    @Test func netemMissingFailsCleanly() throws {
        try requireKernel([.tbf], for: "netem refused")
        if kernelFeatures.contains(.netem) {
            let text = "netem refused: this kernel has netem (the user-mode-Linux lane runs the netem tests)"
            print("note: " + text)
            try Test.cancel(Comment(rawValue: text))
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lab = Self.pair + "tc b:e0 rate 10mbit\ntc a:e0 delay 20ms loss 1%\n"
        let r = try sandbox(writeInSandbox(lab, to: dir + "/lab.topo") + """
            echo "@@mark before"; \(dumpStateScript)
            echo "@@mark run"; "$TOPO" run '\(dir)/lab.topo' 2>&1 && echo "exit 0" || echo "exit $?"
            echo "@@mark after"; \(dumpStateScript)
            echo "@@mark files"; find /run/netns /run/topo -type f ! -name '*.lock'

            """)
        try #require(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        let run = p["run"] ?? ""
        #expect(run.contains("exit 3"), "\(run)")
        #expect(run.contains("error: cannot set tc a:e0 delay 20ms loss 1%"), "\(run)")
        #expect(run.contains("the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem)"), "\(run)")
        #expect(normalizeState(p["after"] ?? "") == normalizeState(p["before"] ?? ""), "the failed run left something")
        let files = (p["files"] ?? "").split(separator: "\n")
        #expect(files.isEmpty, "left in /run: \(files)")
    }
}
