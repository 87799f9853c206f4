import Foundation
import Testing

/// vxlan and macvlan (the kinds this machine's kernel has) through `topo run`, judged by
/// `ip -d -j` and ping: the overlay carries traffic, its attributes are those the `--format
/// ip` export (iproute2) builds, a changed VNI replaces the link, destroy leaves nothing.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct LinkKindKernelTests {
    /// Two namespaces on a jumbo veth underlay, a vxlan in each: the tunnel's mtu is the
    /// underlay's less 50 (8950), which topo sets after the underlay's.
    static func overlay(vni: Int) -> String {
        """
        ns ua, ub
        veth ua:u <-> ub:u mtu 9000
        addr ua:u 192.168.7.1/24
        addr ub:u 192.168.7.2/24
        vxlan ua:vx0 id \(vni) remote 192.168.7.2 local 192.168.7.1 link ua:u
        vxlan ub:vx0 id \(vni) remote 192.168.7.1 local 192.168.7.2 link ub:u ttl 32
        addr ua:vx0 10.77.0.1/24
        addr ub:vx0 10.77.0.2/24

        """
    }

    /// Runs `body(path)` after `topo run` of `lab` in a sandbox (`path` and `$LAB` are the
    /// script's path): the stdout's parts, marked `before`, `run`, then the body's own.
    private func build(_ lab: String, _ body: (String) -> String) throws -> [String: String] {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/lab.topo"
        let r = try sandbox(writeInSandbox(lab, to: path) + """
            LAB='\(path)'
            echo "@@mark before"; \(dumpStateScript)
            echo "@@mark run"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            \(body(path))
            """)
        #expect(r.status == 0, "\(r.stderr)")
        var p = parts(r.stdout)
        p["stderr"] = r.stderr
        #expect(!(p["run"] ?? "").contains("exit "), "topo run failed: \(p["run"] ?? "")")
        return p
    }

    /// What the `--format ip` export of `lab` builds: the normalised state and the kinds' details.
    private func exportState(_ lab: String) throws -> (state: [String], extras: [String]) {
        let file = try writeTemporary(lab, name: "lab.topo")
        let dir = (file as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let export = try topo("plan", "--format", "ip", file)
        try #require(export.status == 0, "\(export.stderr)")
        try export.stdout.write(toFile: dir + "/export.sh", atomically: true, encoding: .utf8)
        let r = try sandbox("""
            sh '\(dir)/export.sh' >&2
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark extras"; \(dumpExtrasScript)
            """)
        try #require(r.status == 0, "the export failed: \(r.stderr)\n\(export.stdout)")
        let p = parts(r.stdout)
        return (normalizeState(p["state"] ?? ""), normalizeExtras(p["extras"] ?? ""))
    }

    /// The overlay pings across (full-size frames of the tunnel's mtu too, not fragmented);
    /// `ip -d -j` shows id, port 4789, local, remote, the underlay and mtu 8950, and every
    /// detail equals what the export builds.
    @Test func vxlanOverlay() throws {
        try requireKernel([.vxlan], for: "vxlan overlay")
        let lab = Self.overlay(vni: 42)
        let p = try build(lab) { _ in """
            echo "@@mark ping"; ip netns exec ua ping -c 3 -i 0.2 -W 2 10.77.0.2 || echo "exit $?"
            echo "@@mark bigping"; ip netns exec ua ping -c 2 -i 0.2 -W 2 -M do -s 8922 10.77.0.2 || echo "exit $?"
            echo "@@mark vx"; ip -n ua -d -j link show vx0
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark extras"; \(dumpExtrasScript)
            """ }
        #expect((pingReceived(p["ping"] ?? "") ?? 0) >= 1, "no ping across the overlay: \(p["ping"] ?? "")")
        #expect((pingReceived(p["bigping"] ?? "") ?? 0) >= 1, "an 8950-byte frame does not cross: \(p["bigping"] ?? "")")
        let vx = try #require(jsonArrays(p["vx"] ?? "").first, "\(p["vx"] ?? "")")
        let data = ((vx["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
        #expect(data["id"] as? Int == 42 && data["port"] as? Int == 4789, "\(data)")
        #expect(data["local"] as? String == "192.168.7.1" && data["remote"] as? String == "192.168.7.2", "\(data)")
        #expect(data["link"] as? String == "u" && vx["mtu"] as? Int == 8950, "\(vx)")
        #expect(data["learning"] as? Bool == true, "iproute2 turns learning on: \(data)")

        let state = normalizeState(p["state"] ?? ""), extras = normalizeExtras(p["extras"] ?? "")
        #expect(state.contains("link ub:vx0 vxlan up mtu=8950 id=42 port=4789 remote=192.168.7.1 local=192.168.7.2 ttl=32 underlay=u"),
                "\(state)")
        let export = try exportState(lab)
        #expect(state == export.state, "topo run and the export differ:\n\(diffLines(state, export.state))")
        #expect(extras == export.extras, "the vxlans' details differ:\n\(diffLines(extras, export.extras))")
        #expect(extras.filter { $0.hasPrefix("details ") }.count == 2, "\(extras)")
    }

    /// A changed VNI is an identity change: both vxlans are deleted and created again (new
    /// ifindexes), with their addresses; the overlay works again, a re-run changes nothing; a
    /// changed ttl is changed in place; dropping the underlay is refused with a conflict (the
    /// kernel cannot do it in place nor hold the new tunnel beside the old); destroy leaves the
    /// sandbox as it was.
    @Test func vxlanChangedVNIThenDestroy() throws {
        try requireKernel([.vxlan], for: "vxlan converge")
        let p = try build(Self.overlay(vni: 42)) { path in """
            echo "@@mark v1"; ip -n ua -j link show vx0; ip -n ub -j link show vx0
            \(writeInSandbox(Self.overlay(vni: 4242), to: path))
            echo "@@mark diff"; "$TOPO" diff "$LAB" 2>&1 || true
            echo "@@mark run2"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark v2"; ip -n ua -j -d link show vx0; ip -n ub -j -d link show vx0
            echo "@@mark addr"; ip -n ua -br addr show vx0; ip -n ub -br addr show vx0
            echo "@@mark ping"; ip netns exec ub ping -c 3 -i 0.2 -W 2 10.77.0.1 || echo "exit $?"
            echo "@@mark rerun"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            \(writeInSandbox(Self.overlay(vni: 4242).replacingOccurrences(of: "ttl 32", with: "ttl 16"), to: path))
            echo "@@mark run3"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark v3"; ip -n ub -j -d link show vx0
            \(writeInSandbox(Self.overlay(vni: 4242).replacingOccurrences(of: " link ub:u ttl 32", with: ""), to: path))
            echo "@@mark run4"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark v4"; ip -n ub -j -d link show vx0
            echo "@@mark destroy"; "$TOPO" destroy "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark end"; \(dumpStateScript)
            """ }
        let diff = p["diff"] ?? "", run2 = p["run2"] ?? ""
        #expect(diff.contains("4242"), "the diff does not show the new VNI: \(diff)")
        #expect(run2.contains("4 created, 0 changed, 2 removed") && run2.contains("- link ua:vx0 (vxlan, replaced)")
                && run2.contains("- link ub:vx0 (vxlan, replaced)"), "a VNI change replaces the links: \(run2)")
        let v1 = jsonArrays(p["v1"] ?? ""), v2 = jsonArrays(p["v2"] ?? "")
        try #require(v1.count == 2 && v2.count == 2, "\(p["v1"] ?? "")\n\(p["v2"] ?? "")")
        for (old, new) in zip(v1, v2) {
            #expect(old["ifindex"] as? Int != new["ifindex"] as? Int, "not re-created: \(old) → \(new)")
            let data = ((new["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
            #expect(data["id"] as? Int == 4242 && new["mtu"] as? Int == 8950, "\(new)")
        }
        #expect((p["addr"] ?? "").contains("10.77.0.1/24") && (p["addr"] ?? "").contains("10.77.0.2/24"), "\(p["addr"] ?? "")")
        #expect((pingReceived(p["ping"] ?? "") ?? 0) >= 1, "\(p["ping"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        // A ttl is changed in place: the same link (ifindex), the new ttl.
        #expect((p["run3"] ?? "").contains("0 created, 1 changed, 0 removed"), "\(p["run3"] ?? "")")
        let v3 = try #require(jsonArrays(p["v3"] ?? "").first, "\(p["v3"] ?? "")")
        #expect(v3["ifindex"] as? Int == v2[1]["ifindex"] as? Int, "a ttl change must not re-create: \(v3)")
        #expect(((v3["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["ttl"] as? Int == 16, "\(v3)")
        // Dropping the underlay (in the tunnel's own namespace): the kernel cannot drop it in
        // place, nor hold a second vxlan of that VNI beside the old one: a conflict, no change.
        let run4 = p["run4"] ?? ""
        #expect(run4.contains("exit 3") && run4.contains("cannot drop the underlay of `ub:vx0` in place"), "\(run4)")
        let v4 = try #require(jsonArrays(p["v4"] ?? "").first, "\(p["v4"] ?? "")")
        #expect(canonicalJSON(v4) == canonicalJSON(v3), "the refused run changed ub:vx0: \(v3) → \(v4)")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
        #expect(normalizeState(p["end"] ?? "") == normalizeState(p["before"] ?? ""), "destroy left something")
    }

    static let macvlans = """
        ns lan, m1, m2, m3
        veth lan:uplink <-> lan:peer
        macvlan m1:mv0 link lan:uplink
        macvlan m2:mv0 link lan:uplink mode bridge
        macvlan m3:mv0 link lan:uplink mode private
        addr m1:mv0 10.5.0.1/24
        addr m2:mv0 10.5.0.2/24
        addr m3:mv0 10.5.0.3/24

        """

    /// Macvlan children of one parent in two other namespaces, mode bridge (topo's default when
    /// none is given): they ping each other; a third in mode private is cut off (the control
    /// that shows the mode is real), until its mode is changed in place to bridge. The state is
    /// the export's; destroy leaves nothing.
    @Test func macvlanChildrenInTwoNamespaces() throws {
        try requireKernel([.macvlan], for: "macvlan")
        let p = try build(Self.macvlans) { path in """
            echo "@@mark ping"; ip netns exec m1 ping -c 3 -i 0.2 -W 2 10.5.0.2 || echo "exit $?"
            echo "@@mark private"; ip netns exec m1 ping -c 1 -W 1 10.5.0.3 || echo "exit $?"
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark extras"; \(dumpExtrasScript)
            echo "@@mark index"; ip -n m3 -j link show mv0
            \(writeInSandbox(Self.macvlans.replacingOccurrences(of: " mode private", with: ""), to: path))
            echo "@@mark bridged"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark index2"; ip -n m3 -j -d link show mv0
            echo "@@mark ping3"; ip netns exec m1 ping -c 3 -i 0.2 -W 2 10.5.0.3 || echo "exit $?"
            echo "@@mark destroy"; "$TOPO" destroy "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark end"; \(dumpStateScript)
            """ }
        #expect((pingReceived(p["ping"] ?? "") ?? 0) >= 1, "\(p["ping"] ?? "")")
        #expect(pingReceived(p["private"] ?? "") == 0, "a private macvlan must not be reached: \(p["private"] ?? "")")
        let state = normalizeState(p["state"] ?? "")
        for line in ["link m1:mv0 macvlan up mtu=1500 mode=bridge parent=lan:uplink",
                     "link m2:mv0 macvlan up mtu=1500 mode=bridge parent=lan:uplink",
                     "link m3:mv0 macvlan up mtu=1500 mode=private parent=lan:uplink"] {
            #expect(state.contains(line), "missing `\(line)`: \(state)")
        }
        let export = try exportState(Self.macvlans)
        #expect(state == export.state, "topo run and the export differ:\n\(diffLines(state, export.state))")
        let extras = normalizeExtras(p["extras"] ?? "")
        #expect(extras == export.extras, "the macvlans' details differ:\n\(diffLines(extras, export.extras))")
        // private → bridge (the mode left out: topo's default) is changed in place, and m3 is reached.
        #expect((p["bridged"] ?? "").contains("~ m3:mv0: macvlan mode private → macvlan mode bridge"), "\(p["bridged"] ?? "")")
        let i1 = jsonArrays(p["index"] ?? "").first?["ifindex"] as? Int
        let after = jsonArrays(p["index2"] ?? "").first
        #expect(i1 != nil && after?["ifindex"] as? Int == i1, "re-created: \(p["index"] ?? "") → \(p["index2"] ?? "")")
        #expect(((after?["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["mode"] as? String == "bridge")
        #expect((pingReceived(p["ping3"] ?? "") ?? 0) >= 1, "\(p["ping3"] ?? "")")
        #expect(!(p["destroy"] ?? "").contains("exit "), "\(p["destroy"] ?? "")")
        #expect(normalizeState(p["end"] ?? "") == normalizeState(p["before"] ?? ""), "destroy left something")
    }

    /// The macvlans' parent veth gets another peer: topo replaces it, and makes the macvlans
    /// again on the new one (the kernel deletes a macvlan with its lower device). Regression:
    /// they were kept in the plan and gone after the run, until the next run made them again.
    @Test func macvlansFollowAReplacedParent() throws {
        try requireKernel([.macvlan], for: "macvlan on a replaced parent")
        let v1 = Self.macvlans + "ns far\n"
        let v2 = v1.replacingOccurrences(of: "veth lan:uplink <-> lan:peer", with: "veth lan:uplink <-> far:peer")
        let p = try build(v1) { path in """
            \(writeInSandbox(v2, to: path))
            echo "@@mark v2"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark links"; ip -n m1 -br link show mv0; ip -n m2 -br link show mv0
            echo "@@mark ping"; ip netns exec m1 ping -c 3 -i 0.2 -W 2 10.5.0.2 || echo "exit $?"
            echo "@@mark rerun"; "$TOPO" run "$LAB" 2>&1 || echo "exit $?"
            echo "@@mark state"; \(dumpStateScript)
            """ }
        let v2run = p["v2"] ?? ""
        #expect(v2run.contains("- link m1:mv0 (macvlan, replaced)") && v2run.contains("+ macvlan m1:mv0 link lan:uplink mode bridge"),
                "\(v2run)")
        #expect((p["links"] ?? "").split(separator: "\n").count == 2, "the macvlans are gone: \(p["links"] ?? "")\n\(p["stderr"] ?? "")")
        #expect((pingReceived(p["ping"] ?? "") ?? 0) >= 1, "\(p["ping"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        let state = normalizeState(p["state"] ?? "")
        #expect(state.contains("link m3:mv0 macvlan up mtu=1500 mode=private parent=lan:uplink"), "\(state)")
        #expect(state.contains("link lan:uplink veth up mtu=1500 peer=far:peer"), "\(state)")
    }
}

/// The lines only in `a` (`-`) and only in `b` (`+`).
func diffLines(_ a: [String], _ b: [String]) -> String {
    let sa = Set(a), sb = Set(b)
    return (a.filter { !sb.contains($0) }.map { "- " + $0 } + b.filter { !sa.contains($0) }.map { "+ " + $0 })
        .joined(separator: "\n")
}
