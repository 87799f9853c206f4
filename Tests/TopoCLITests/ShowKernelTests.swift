import Foundation
import Testing

/// `topo show` against labs on the real kernel: the printed script passes `topo check` on its
/// own, rebuilds (in a fresh sandbox) the same state for everything it models, judged by
/// `ip -d -j`, `ip -j route`/`rule` and `tc -j`, and names everything else in a
/// `# not modelled:` comment.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ShowKernelTests {
    /// The state (LiveState's normalised lines and the extras) a sandbox script leaves, with
    /// `topo show`'s output: `prepare` builds the lab.
    private func showLab(_ prepare: String) throws -> (shown: String, state: [String], extras: [String], stderr: String) {
        let r = try sandbox("""
            \(prepare)
            echo "@@mark show"; "$TOPO" show || echo "exit $?"
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark extras"; \(dumpExtrasScript)
            """)
        try #require(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        return (p["show"] ?? "", normalizeState(p["state"] ?? ""), normalizeExtras(p["extras"] ?? ""), r.stderr)
    }

    /// Checks `shown` with `topo check`, runs it in a fresh sandbox and returns that state.
    private func rebuild(_ shown: String) throws -> (state: [String], extras: [String]) {
        let file = try writeTemporary(shown, name: "shown.topo")
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let check = try topo("check", file)
        #expect(check.status == 0, "the shown script does not check:\n\(check.stdout)\(check.stderr)\n\(shown)")
        let r = try sandbox("""
            "$TOPO" run '\(file)' >&2
            echo "@@mark state"; \(dumpStateScript)
            echo "@@mark extras"; \(dumpExtrasScript)
            """)
        try #require(r.status == 0, "the shown script does not run: \(r.stderr)\n\(shown)")
        let p = parts(r.stdout)
        return (normalizeState(p["state"] ?? ""), normalizeExtras(p["extras"] ?? ""))
    }

    /// A vxlan overlay and macvlans (with a shaped underlay) built by `topo run`: shown, checked
    /// and rebuilt, `ip -d -j` sees the same links, options, addresses and qdiscs.
    @Test func showRoundTripOfVxlanAndMacvlan() throws {
        try requireKernel([.vxlan, .macvlan, .tbf], for: "show round trip")
        let lab = LinkKindKernelTests.overlay(vni: 42) + LinkKindKernelTests.macvlans + "tc ua:u rate 10mbit\n"
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let built = try showLab(writeInSandbox(lab, to: dir + "/lab.topo") + "\"$TOPO\" run '\(dir)/lab.topo' >&2\n")
        for line in ["vxlan ub:vx0 id 42 remote 192.168.7.1 local 192.168.7.2 link ub:u ttl 32",
                     "macvlan m3:mv0 link lan:uplink mode private", "tc ua:u rate 10mbit"] {
            #expect(built.shown.contains(line), "`\(line)` not shown:\n\(built.shown)")
        }
        #expect(!built.shown.contains("not modelled"), "\(built.shown)")
        #expect(built.extras.filter { $0.hasPrefix("details ") }.count == 5, "\(built.extras)")
        let again = try rebuild(built.shown)
        #expect(again.state == built.state, "show round trip:\n\(diffLines(built.state, again.state))\n\(built.shown)")
        #expect(again.extras == built.extras, "show round trip:\n\(diffLines(built.extras, again.extras))")
    }

    /// A lab built by hand with `ip` and `tc`: vxlan, macvlan, veth, bridge, a route in table
    /// 10, a rule, a blackhole route, IPv4-only forwarding, a tbf in topo's layout and an htb
    /// that is not. The script checks; run in a fresh sandbox it rebuilds everything but the
    /// rule, the blackhole route and the htb, which each have a `# not modelled:` line.
    @Test func showOfAHandBuiltLab() throws {
        try requireKernel([.vxlan, .macvlan, .tbf], for: "show of a hand-built lab")
        let built = try showLab("""
            ip netns add r; ip netns add s; ip netns add m1; ip netns add m2
            ip -n r link add u type veth peer name u netns s
            ip -n r addr add 192.168.9.1/24 dev u; ip -n s addr add 192.168.9.2/24 dev u
            ip -n r link set u up; ip -n s link set u up
            ip -n r link add vx0 type vxlan id 99 remote 192.168.9.2 local 192.168.9.1 dev u dstport 4789
            ip -n s link add vx0 type vxlan id 99 remote 192.168.9.1 local 192.168.9.2 dev u dstport 4789
            ip -n r link add br0 type bridge
            ip -n r link set vx0 master br0
            ip -n r link add p1 type veth peer name eth0 netns m1
            ip -n r link set p1 master br0
            ip -n r link set br0 up; ip -n r link set vx0 up; ip -n r link set p1 up
            ip -n r addr add 10.20.0.1/24 dev br0
            ip -n s link set vx0 up; ip -n s addr add 10.20.0.2/24 dev vx0
            ip -n m1 link set eth0 up; ip -n m1 addr add 10.20.0.3/24 dev eth0
            ip -n s link add mv0 link u type macvlan mode bridge
            ip -n s link set mv0 netns m2
            ip -n m2 link set mv0 up; ip -n m2 addr add 192.168.9.5/24 dev mv0
            ip -n r route add 10.30.0.0/16 via 192.168.9.2 table 10
            ip -n r rule add from 10.20.0.0/24 lookup 10 pref 1000
            ip -n r route add blackhole 10.66.0.0/16
            ip netns exec r sysctl -qw net.ipv4.ip_forward=1
            tc -n m1 qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 16kb latency 50ms
            tc -n s qdisc add dev u root handle 1: htb default 1
            ip netns exec m1 ping -c 1 -W 2 10.20.0.2 >&2
            """)
        let shown = built.shown
        for line in ["vxlan r:vx0 id 99 remote 192.168.9.2 local 192.168.9.1 link r:u",
                     "macvlan m2:mv0 link s:u mode bridge",
                     "route r 10.30.0.0/16 via 192.168.9.2 table 10",
                     "sysctl r net.ipv4.ip_forward = 1",
                     "tc m1:eth0 rate 10mbit"] {
            #expect(shown.contains(line), "`\(line)` not shown:\n\(shown)")
        }
        #expect(!shown.split(separator: "\n").contains { $0.hasPrefix("forward ") }, "IPv4-only forwarding shown as `forward`:\n\(shown)")
        let comments = shown.split(separator: "\n").filter { $0.hasPrefix("# not modelled:") }.map(String.init)
        for (what, needle) in [("the rule", "rule from 10.20.0.0/24 lookup 10 pref 1000"),
                               ("the blackhole route", "blackhole route 10.66.0.0/16"), ("the htb", "htb")] {
            #expect(comments.contains { $0.contains(needle) }, "\(what) is not named in a `# not modelled:` line:\n\(shown)")
        }
        #expect(comments.count == 3, "\(comments)")

        let again = try rebuild(shown)
        // What show cannot express is all that may differ.
        let unmodelled: (String) -> Bool = { $0 == "route r 10.66.0.0/16" || $0.hasPrefix("qdisc s:u htb") || $0.hasPrefix("rule r ") }
        let expected = built.state.filter { !unmodelled($0) }
        #expect(again.state == expected, "rebuilt state:\n\(diffLines(expected, again.state))\n\(shown)")
        #expect(built.state.contains("route r 10.66.0.0/16") && built.state.contains { $0.hasPrefix("qdisc s:u htb") },
                "\(built.state)")
        let expectedExtras = built.extras.filter { !unmodelled($0) }
        #expect(built.extras.contains("rule r from 10.20.0.0/24 lookup 10 pref 1000"), "\(built.extras)")
        #expect(built.extras.contains("route r table 10 10.30.0.0/16 via 192.168.9.2 dev u"), "\(built.extras)")
        #expect(again.extras == expectedExtras, "rebuilt extras:\n\(diffLines(expectedExtras, again.extras))")
    }
}
