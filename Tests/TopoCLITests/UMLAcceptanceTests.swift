import Foundation
import Testing

/// Acceptance tests of what this machine's kernel lacks (netem, 802.1Q vlan, ipvlan, vrf,
/// dummy), run on the user-mode-Linux lane with the topo built here (`UMLLane.topo`), judged by
/// ping, iperf3, `tc -j` and `ip -d -j` inside UML. Related checks share one boot (~3 s each).
///
/// IPv6 is a module in Debian's UML kernel: the lane loads it (`forward` writes
/// `net.ipv6.conf.all.forwarding`).
@Suite(.enabled(if: UMLLane.enabled, UMLLane.skipComment))
struct UMLAcceptanceTests {
    // MARK: shaping

    /// Three shaped pairs: a veth with `delay 20ms` (both ends), a `tc … loss 30%` on one end
    /// (so one way of each ping), a veth with `delay 10ms rate 10mbit` (netem with a tbf child).
    static func shaped(delay: String = "20ms") -> String {
        """
        ns a1, b1, a2, b2, a3, b3
        veth a1:e0 <-> b1:e0 delay \(delay)
        veth a2:e0 <-> b2:e0
        tc a2:e0 loss 30%
        veth a3:e0 <-> b3:e0 delay 10ms rate 10mbit
        for i in 1..3 {
          addr a{i}:e0 10.{i}.0.1/24
          addr b{i}:e0 10.{i}.0.2/24
        }

        """
    }

    /// One boot: the delay gives a 36–48 ms round trip; 30% loss one way loses 20–40% of 300
    /// pings; delay 10ms with rate 10mbit gives both a 19–26 ms round trip and 8–10.5 Mbit/s
    /// of TCP; a changed delay (20 → 35 ms) is changed in place (netem's byte counter goes on)
    /// and gives 66–78 ms; a re-run changes nothing; destroy leaves nothing.
    @Test func shapingHolds() throws {
        try requireTool("iperf3", package: "iperf3", for: "shaping on the UML lane")
        let v2 = Self.shaped(delay: "35ms")
        let r = try UMLLane.topo(Self.shaped(), check: goodputFunction + """
            rtt() { ip netns exec "$1" ping -c 1 -W 2 "$2" >/dev/null || true; echo "@@mark rtt $3"; ip netns exec "$1" ping -c 10 -i 0.2 -W 2 "$2" || true; }
            echo "@@mark qdiscs"; for n in a1 b1 a2 b2 a3 b3; do tc -n $n -j qdisc show dev e0; done
            rtt a1 10.1.0.2 delay
            ip netns exec a2 ping -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null || true
            echo "@@mark loss"; ip netns exec a2 ping -q -c 300 -i 0.01 -W 1 10.2.0.2 || true
            rtt a3 10.3.0.2 both
            goodput both a3 b3 10.3.0.2
            echo "@@mark stats1"; tc -n a1 -s -j qdisc show dev e0
            \(UMLLane.writeFile("/tmp/lab.topo", v2))
            echo "@@mark converge"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark stats2"; tc -n a1 -s -j qdisc show dev e0
            rtt a1 10.1.0.2 changed
            echo "@@mark rerun"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark left"; ip netns list; find /run/topo -name '*.state'
            """, modules: ["ipv6"], timeout: 150)
        r.expectSuccess()
        let p = parts(r.checkOutput)

        let q = jsonArrays(p["qdiscs"] ?? "")
        #expect(q.filter { $0["kind"] as? String == "netem" }.count == 5 && q.filter { $0["kind"] as? String == "tbf" }.count == 2
                && q.contains { $0["kind"] as? String == "noqueue" }, "qdiscs: \(p["qdiscs"] ?? "")")
        #expect(q.contains { $0["kind"] as? String == "tbf" && $0["parent"] as? String == "1:1" && $0["handle"] as? String == "10:" },
                "the rate is a tbf under the netem: \(p["qdiscs"] ?? "")")

        let delay = pingTimes(p["rtt delay"] ?? ""), both = pingTimes(p["rtt both"] ?? ""), changed = pingTimes(p["rtt changed"] ?? "")
        let loss = p["loss"] ?? ""
        let received = pingReceived(loss)
        let g = goodputMbit(p, "both")
        func ms(_ t: [Double]) -> String { median(t).map { String(format: "%.1f", $0) } ?? "-" }
        print("measured (UML): delay 20ms RTT median \(ms(delay)) ms; loss 30%: \(received.map { "\(300 - $0)/300 lost" } ?? "-"); "
              + "delay 10ms rate 10mbit: RTT \(ms(both)) ms, \(g.mbit.map { String(format: "%.2f", $0) } ?? "-") Mbit/s; "
              + "delay 35ms RTT \(ms(changed)) ms")

        let m1 = try #require(median(delay), "no replies: \(p["rtt delay"] ?? "")")
        #expect(delay.count >= 9 && m1 >= 36 && m1 <= 48, "delay 20ms: RTTs \(delay)")
        let got = try #require(received, "no ping summary: \(loss)")
        #expect(got >= 180 && got <= 240, "loss 30%: \(300 - got) of 300 lost, want 60–120")
        let m3 = try #require(median(both), "no replies: \(p["rtt both"] ?? "")")
        #expect(m3 >= 19 && m3 <= 26, "delay 10ms rate 10mbit: RTTs \(both)")
        let mbit = try #require(g.mbit, "\(g.report)")
        #expect(mbit >= 8 && mbit <= 10.5, "delay 10ms rate 10mbit: \(mbit) Mbit/s")

        let converge = p["converge"] ?? ""
        #expect(converge.contains("0 created, 2 changed, 0 removed") && converge.contains("~ a1:e0: tc delay 20ms → delay 35ms"),
                "\(converge)")
        func netem(_ part: String) -> (bytes: Int?, delay: Double?) {
            let n = jsonArrays(p[part] ?? "").first { $0["kind"] as? String == "netem" }
            return (n?["bytes"] as? Int, ((n?["options"] as? [String: Any])?["delay"] as? [String: Any])?["delay"] as? Double)
        }
        let s1 = netem("stats1"), s2 = netem("stats2")
        #expect(s1.delay == 0.02 && s2.delay == 0.035, "\(p["stats1"] ?? "")\n\(p["stats2"] ?? "")")
        #expect((s1.bytes ?? 0) > 0 && (s2.bytes ?? 0) >= (s1.bytes ?? 0), "netem rebuilt instead of changed: \(s1) → \(s2)")
        let m2 = try #require(median(changed), "no replies: \(p["rtt changed"] ?? "")")
        #expect(m2 >= 66 && m2 <= 78, "delay 35ms: RTTs \(changed)")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
        #expect((p["left"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "left behind: \(p["left"] ?? "")")
    }

    // MARK: link kinds

    static let kinds = """
        # A trunk between t1 and t2 carrying vlans 100 and 200. t1 has both sub-interfaces; on
        # t2's side each vlan ends in a namespace of its own, and both of those share a subnet
        # (10.0.0.0/24) that only the vlans keep apart.
        ns t1, t2, h100, h200
        veth t1:trunk <-> t2:trunk
        vlan t1:trunk.100 link t1:trunk id 100
        vlan t1:trunk.200 link t1:trunk id 200
        vlan h100:eth0 link t2:trunk id 100
        vlan h200:eth0 link t2:trunk id 200
        addr t1:trunk.100 10.100.0.1/24
        addr t1:trunk.200 10.200.0.1/24
        addr h100:eth0 10.100.0.2/24, 10.0.0.1/24
        addr h200:eth0 10.200.0.2/24, 10.0.0.2/24

        # Two ipvlans (mode l2) of one parent in two namespaces, and the parent's far end.
        ns lan, far, i1, i2
        veth lan:up <-> far:e0
        ipvlan i1:iv0 link lan:up mode l2
        ipvlan i2:iv0 link lan:up mode l2
        addr i1:iv0 10.60.0.1/24
        addr i2:iv0 10.60.0.2/24
        addr far:e0 10.60.0.9/24

        # A vrf whose table 10 holds the only route to 10.9.0.0/16.
        ns vr, vx
        veth vr:e0 <-> vx:e0
        vrf vr:red table 10 < e0 >
        addr vr:e0 10.70.0.1/24
        addr vx:e0 10.70.0.2/24
        addr vx:lo 10.9.0.1/32
        route vx default via 10.70.0.1
        route vr 10.9.0.0/16 via 10.70.0.2 table 10

        # A dummy with an address.
        ns d
        dummy d:d0
        addr d:d0 192.0.2.1/32

        """

    /// One boot: pings over vlan 100 and 200 answer and nothing crosses between them; the
    /// ipvlans reach each other and the far end; a ping bound to the vrf goes through its
    /// table (the main table has no route); the dummy holds its address; `ip -d -j` shows each
    /// kind with its id, mode and table; a re-run changes nothing; destroy leaves nothing.
    @Test func linkKindsWork() throws {
        let r = try UMLLane.topo(Self.kinds, check: """
            p() { echo "@@mark $1"; shift; "$@" 2>&1 || echo "exit $?"; }
            p vlan100 ip netns exec t1 ping -c 3 -i 0.2 -W 2 10.100.0.2
            p vlan200 ip netns exec t1 ping -c 3 -i 0.2 -W 2 10.200.0.2
            p across ip netns exec h100 ping -c 3 -i 0.2 -W 1 10.0.0.2
            p across-control ip netns exec h100 ping -c 3 -i 0.2 -W 2 10.100.0.1
            p ipvlan ip netns exec i1 ping -c 3 -i 0.2 -W 2 10.60.0.2
            p ipvlan-far ip netns exec i1 ping -c 3 -i 0.2 -W 2 10.60.0.9
            p vrf ip netns exec vr ping -I red -c 2 -i 0.2 -W 2 10.9.0.1
            p novrf ip netns exec vr ping -c 1 -W 1 10.9.0.1
            p table ip -n vr -j route show table 10
            p dummy ip netns exec d ping -c 3 -i 0.2 -W 2 192.0.2.1
            p links sh -c 'for n in t1 h100 h200 i1 i2 vr d; do ip -n $n -d -j link show; done'
            p addr ip -n d -j addr show d0
            p rerun "$TOPO" run "$LAB"
            p destroy "$TOPO" destroy "$LAB"
            p left sh -c 'ip netns list; find /run/topo -name "*.state"'
            """, modules: ["ipv6"], timeout: 150)
        r.expectSuccess()
        let p = parts(r.checkOutput)
        for (part, what) in [("vlan100", "over vlan 100"), ("vlan200", "over vlan 200"), ("across-control", "h100 to t1 over vlan 100"),
                             ("ipvlan", "between the ipvlans"), ("ipvlan-far", "from an ipvlan to the parent's far end"),
                             ("vrf", "through the vrf's table"), ("dummy", "to the dummy's address")] {
            #expect((pingReceived(p[part] ?? "") ?? 0) >= 1, "no ping \(what): \(p[part] ?? "")")
        }
        #expect(pingReceived(p["across"] ?? "") == 0, "vlan 100 reached vlan 200: \(p["across"] ?? "")")
        #expect((p["novrf"] ?? "").contains("exit "), "10.9.0.1 reached outside the vrf: \(p["novrf"] ?? "")")
        let table = jsonArrays(p["table"] ?? "")
        #expect(table.contains { $0["dst"] as? String == "10.9.0.0/16" && $0["gateway"] as? String == "10.70.0.2" }, "\(p["table"] ?? "")")

        var links: [String: [String: Any]] = [:]
        for l in jsonArrays(p["links"] ?? "") { if let n = l["ifname"] as? String { links[n] = l } }
        func info(_ name: String) -> (kind: String?, data: [String: Any]) {
            let li = links[name]?["linkinfo"] as? [String: Any]
            return (li?["info_kind"] as? String, (li?["info_data"] as? [String: Any]) ?? [:])
        }
        #expect(info("trunk.100").kind == "vlan" && info("trunk.100").data["id"] as? Int == 100
                && info("trunk.100").data["protocol"] as? String == "802.1Q", "\(info("trunk.100"))")
        #expect(info("trunk.200").data["id"] as? Int == 200 && info("eth0").kind == "vlan", "\(info("trunk.200"))")
        #expect(info("iv0").kind == "ipvlan" && info("iv0").data["mode"] as? String == "l2", "\(info("iv0"))")
        #expect(info("red").kind == "vrf" && info("red").data["table"] as? Int == 10, "\(info("red"))")
        #expect(links["e0"]?["master"] as? String == "red", "vr:e0 is not the vrf's port: \(links["e0"] ?? [:])")
        #expect(info("d0").kind == "dummy" && (links["d0"]?["flags"] as? [String])?.contains("UP") == true, "\(links["d0"] ?? [:])")
        #expect((p["addr"] ?? "").contains("\"local\":\"192.0.2.1\",\"prefixlen\":32"), "\(p["addr"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
        #expect((p["left"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "left behind: \(p["left"] ?? "")")
    }

    // MARK: converging the kinds

    static func convergeLab(table: Int, mode: String, id: Int) -> String {
        """
        ns vr, vx
        veth vr:e0 <-> vx:e0
        vrf vr:red table \(table) < e0 >
        addr vr:e0 10.70.0.1/24, fd00:70::1/64
        addr vx:e0 10.70.0.2/24, fd00:70::2/64
        addr vx:lo 10.9.0.1/32
        route vx default via 10.70.0.1
        route vr 10.9.0.0/16 via 10.70.0.2 table \(table)
        route vr fd00:99::/64 via fd00:70::2 table \(table)
        ns lan, i1
        veth lan:up <-> lan:e9
        ipvlan i1:iv0 link lan:up mode \(mode)
        vlan lan:up.5 link lan:up id \(id)

        """
    }

    /// The links, addresses and routes of every namespace of `convergeLab`, from `ip -j`, as
    /// sorted lines (no link-local addresses, operstate or statistics).
    static func kindState(_ text: String) -> [String] {
        var lines: [String] = []
        var ns = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("@@ns ") { ns = String(line.dropFirst(5)); continue }
            guard line.hasPrefix("[") else { continue }
            for o in jsonArrays(String(line)) {
                if let name = o["ifname"] as? String, o["addr_info"] == nil {
                    let info = o["linkinfo"] as? [String: Any]
                    let data = (info?["info_data"] as? [String: Any]) ?? [:]
                    let kept = data.filter { ["table", "mode", "id", "protocol"].contains($0.key) }
                    lines.append("link \(ns):\(name) #\(o["ifindex"] ?? "?") \(info?["info_kind"] ?? "-") "
                                 + "\(((o["flags"] as? [String]) ?? []).contains("UP") ? "up" : "down") mtu=\(o["mtu"] ?? "?") "
                                 + "master=\(o["master"] ?? "-") \(canonicalJSON(kept))")
                } else if let name = o["ifname"] as? String {
                    for a in (o["addr_info"] as? [[String: Any]]) ?? [] where (a["scope"] as? String) != "link" {
                        lines.append("addr \(ns):\(name) \(a["local"] ?? "?")/\(a["prefixlen"] ?? "?")")
                    }
                } else if let dst = o["dst"] as? String, (o["protocol"] as? String) != "kernel" {
                    lines.append("route \(ns) \(o["table"] ?? "main") \(o["type"] ?? "unicast") \(dst) via \(o["gateway"] ?? "-") dev \(o["dev"] ?? "-")")
                }
            }
        }
        return lines.sorted()
    }

    /// One boot: a vrf given another table (replaced: its port follows it, the route moves to
    /// the new table, a ping bound to the vrf goes through), an ipvlan's mode changed in place
    /// and a vlan's id (replaced); the same converge failed at every operation in turn leaves
    /// the kernel exactly as before it (judged by `ip -j`), until it goes through.
    /// Regressions: the vrf's port kept its master's name but lost the master with the old vrf,
    /// so the route in the new table failed the run; moved into the new vrf, the port lost its
    /// IPv6 address and routes (the vrf cycles it), and a rollback lost them too.
    @Test func kindsConvergeAndRollBack() throws {
        let v1 = Self.convergeLab(table: 10, mode: "l2", id: 5), v2 = Self.convergeLab(table: 11, mode: "l3", id: 6)
        let r = try UMLLane.topo(v1, check: """
            st() { for n in vr vx lan i1; do echo "@@ns $n"; ip -n $n -d -j link show; ip -n $n -j addr show
                   ip -n $n -4 -j route show table all; ip -n $n -6 -j route show table all; done; }
            echo "@@mark v1"; st
            \(UMLLane.writeFile("/tmp/lab.topo", v2))
            k=0
            while [ $k -lt 60 ]; do
              if TOPO_FAIL_AT=$k "$TOPO" run "$LAB" > /tmp/out 2>&1; then echo "@@mark done $k"; cat /tmp/out; break; fi
              if grep -q 'rollback incomplete' /tmp/out; then echo "@@mark incomplete $k"; cat /tmp/out; fi
              echo "@@mark after $k"; st
              k=$((k + 1))
            done
            echo "@@mark v2"; st
            echo "@@mark ping"; ip netns exec vr ping -I red -c 2 -i 0.2 -W 2 10.9.0.1 2>&1 || echo "exit $?"
            echo "@@mark ping6"; ip netns exec vr ping -6 -I red -c 3 -i 0.2 -W 2 fd00:70::2 2>&1 || echo "exit $?"
            echo "@@mark rerun"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy "$LAB" 2>&1 || echo "exit $?"
            """, modules: ["ipv6"], timeout: 240)
        r.expectSuccess()
        let p = parts(r.checkOutput)
        let before = Self.kindState(p["v1"] ?? "")
        #expect(before.contains { $0.hasPrefix("link vr:e0 ") && $0.contains("master=red") }, "\(before)")
        let injected = p.keys.filter { $0.hasPrefix("after ") }.sorted()
        #expect(injected.count >= 5, "too few operations failed: \(injected)")
        #expect(!p.keys.contains { $0.hasPrefix("incomplete ") }, "a rollback was incomplete: \(p.filter { $0.key.hasPrefix("incomplete ") })")
        for k in injected {
            let after = Self.kindState(p[k] ?? "")
            #expect(after == before, "failure \(k) left the kernel changed:\n\(diffLines(before, after))")
        }
        let done = try #require(p.first { $0.key.hasPrefix("done ") }, "the converge never went through")
        #expect(done.value.contains("~ vr:e0: master red → master red") && done.value.contains("- link vr:red (vrf, replaced)")
                && done.value.contains("~ i1:iv0: ipvlan mode l2 → ipvlan mode l3") && done.value.contains("- link lan:up.5 (vlan, replaced)"),
                "\(done.value)")
        let after = Self.kindState(p["v2"] ?? "")
        #expect(after.contains { $0.hasPrefix("link vr:e0 ") && $0.contains("master=red") }, "the port left the vrf: \(after)")
        #expect(after.contains { $0.hasPrefix("link vr:red ") && $0.contains("\"table\":11") }, "\(after)")
        #expect(after.contains("route vr 11 unicast 10.9.0.0/16 via 10.70.0.2 dev e0"), "\(after)")
        // The new vrf cycled its port: the IPv6 address and route are there again.
        #expect(after.contains("addr vr:e0 fd00:70::1/64") && after.contains("route vr 11 unicast fd00:99::/64 via fd00:70::2 dev e0"),
                "\(after)")
        #expect((pingReceived(p["ping6"] ?? "") ?? 0) >= 1, "\(p["ping6"] ?? "")")
        #expect(after.contains { $0.hasPrefix("link i1:iv0 ") && $0.contains("\"mode\":\"l3\"") }, "\(after)")
        #expect(after.contains { $0.hasPrefix("link lan:up.5 ") && $0.contains("\"id\":6") }, "\(after)")
        #expect((pingReceived(p["ping"] ?? "") ?? 0) >= 1, "\(p["ping"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
    }

    // MARK: the examples

    static let laneExamples = ["router-on-a-stick", "vrf-lab", "shaping"]

    /// One boot per example: `topo run` (its own pings answer), a re-run is a no-op, destroy
    /// leaves the UML as it was; then the `--format ip` export builds the same state, which is
    /// the golden state (Fixtures/examples/NAME.state.txt, which this machine's kernel cannot
    /// build; TOPO_UPDATE_GOLDEN=1 writes it from the export here).
    @Test(arguments: laneExamples)
    func exampleRunsRerunsAndDestroys(_ name: String) throws {
        let r = try UMLLane.run(script: """
            echo "@@mark before"; \(dumpStateScript)
            echo "@@mark run"; "$TOPO" run \(example(name)) 2>&1 || echo "exit $?"
            echo "@@mark after"; \(dumpStateScript)
            echo "@@mark rerun"; "$TOPO" run \(example(name)) 2>&1 || echo "exit $?"
            echo "@@mark diff"; "$TOPO" diff \(example(name)) 2>&1 || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy \(example(name)) 2>&1 || echo "exit $?"
            echo "@@mark end"; \(dumpStateScript)
            echo "@@mark files"; find /run/topo -name '*.state'
            "$TOPO" plan --format ip \(example(name)) > /tmp/export.sh
            echo "@@mark export"; sh /tmp/export.sh 2>&1 || echo "exit $?"
            echo "@@mark exported"; \(dumpStateScript)
            """, modules: ["ipv6"], timeout: 150)
        #expect(r.status == 0, "\(r.report)")
        let p = parts(r.output)
        let run = p["run"] ?? ""
        #expect(!run.contains("exit ") && run.contains("answered"), "topo run \(name): \(run)")
        #expect(!run.contains(" 0/"), "a ping of \(name) got no answer: \(run)")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        #expect((p["diff"] ?? "").hasPrefix("no changes"), "\(p["diff"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
        #expect(normalizeState(p["end"] ?? "") == normalizeState(p["before"] ?? ""), "destroy left something")
        #expect((p["files"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(p["files"] ?? "")")
        #expect(!(p["export"] ?? "").contains("exit "), "the export failed: \(p["export"] ?? "")")
        let byRun = normalizeState(p["after"] ?? ""), byExport = normalizeState(p["exported"] ?? "")
        #expect(byRun == byExport, "topo run and the export differ:\n\(diffLines(byRun, byExport))")
        expectGolden(byExport.joined(separator: "\n") + "\n", "examples/\(name).state.txt")
    }
}
