import Foundation
import Testing

/// Every example's `check` and `plan` outputs (text, json, ip) against golden files in
/// Fixtures/examples/ (TOPO_UPDATE_GOLDEN=1 regenerates them).
@Suite struct ExampleGoldenTests {
    @Test(arguments: exampleNames)
    func checkAndPlan(_ name: String) throws {
        let check = try topo("check", example(name))
        #expect(check.status == 0, "topo check \(name): \(check.stderr)")
        expectGolden(check.stdout + check.stderr, "examples/\(name).check.txt")
        for (format, ext) in [("text", "plan.txt"), ("json", "plan.json"), ("ip", "plan.sh")] {
            let plan = try topo("plan", "--format", format, example(name))
            #expect(plan.status == 0, "topo plan --format \(format) \(name): \(plan.stderr)")
            expectGolden(plan.stdout, "examples/\(name).\(ext)")
        }
        // `run --dry-run` is the text plan.
        let dry = try topo("run", "--dry-run", example(name))
        #expect(dry.status == 0)
        #expect(dry.stdout == (try topo("plan", example(name))).stdout)
    }
}

/// A kernel feature an example needs beyond veth and bridge.
enum KernelFeature: String, CaseIterable, Sendable {
    case vlan, dummy, vrf, ipvlan, macvlan, vxlan, netem, tbf

    /// How a message names it.
    var name: String {
        switch self {
        case .vlan: return "802.1Q vlan (module 8021q)"
        case .dummy: return "dummy links (module dummy)"
        case .vrf: return "VRF (module vrf)"
        case .ipvlan: return "ipvlan (module ipvlan)"
        case .macvlan: return "macvlan (module macvlan)"
        case .vxlan: return "VXLAN (module vxlan)"
        case .netem: return "netem (module sch_netem)"
        case .tbf: return "tbf (module sch_tbf)"
        }
    }

    /// Bash that prints the feature's name when the kernel has it (t0 is a veth).
    var probe: String {
        switch self {
        case .vlan: return "ip link add link t0 name t0.5 type vlan id 5"
        case .dummy: return "ip link add d0 type dummy"
        case .vrf: return "ip link add vr0 type vrf table 10"
        case .ipvlan: return "ip link add link t0 name iv0 type ipvlan mode l2"
        case .macvlan: return "ip link add link t0 name mv0 type macvlan"
        case .vxlan: return "ip link add vx0 type vxlan id 1 dstport 4789"
        case .netem: return "tc qdisc add dev t0 root netem delay 1ms && tc qdisc del dev t0 root"
        case .tbf: return "tc qdisc add dev t0 root tbf rate 1mbit burst 4kb limit 10000 && tc qdisc del dev t0 root"
        }
    }
}

/// What each example needs beyond veth and bridge; its kernel test is skipped, with a message
/// naming what is missing, where the kernel lacks it (the user-mode-Linux lane runs them).
///
/// | example | needs |
/// |---|---|
/// | shaping | netem, tbf |
/// | router-on-a-stick | 802.1Q vlan |
/// | vrf-lab | VRF |
/// | vxlan-sites | VXLAN |
let exampleNeeds: [String: [KernelFeature]] = [
    "shaping": [.netem, .tbf],
    "router-on-a-stick": [.vlan],
    "vrf-lab": [.vrf],
    "vxlan-sites": [.vxlan],
]

/// The features this kernel has, probed once in a throwaway sandbox.
let kernelFeatures: Set<KernelFeature> = {
    let script = "ip link add t0 type veth peer name t1\n"
        + KernelFeature.allCases.map { "( \($0.probe) ) >/dev/null 2>&1 && echo \($0.rawValue)" }.joined(separator: "\n")
        + "\ntrue\n"
    guard let r = try? sandbox(script) else { return [] }
    return Set(r.stdout.split(separator: "\n").compactMap { KernelFeature(rawValue: String($0)) })
}()

/// Skips the running test (with a message naming them) when the kernel lacks features.
func requireFeatures(_ needed: [KernelFeature], for what: String) throws {
    let missing = needed.filter { !kernelFeatures.contains($0) }
    if missing.isEmpty { return }
    let text = "\(what) skipped: this kernel lacks " + missing.map(\.name).joined(separator: ", ")
    print("note: " + text)
    try Test.cancel(Comment(rawValue: text))
}

/// The plan is proven on the real kernel: each example's `--format ip` export is run by `sh`
/// in a throwaway sandbox, its pings must answer, and the state iproute2 reads back must
/// match the golden state (Fixtures/examples/NAME.state.txt).
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ExampleExportKernelTests {
    @Test(arguments: exampleNames)
    func exportBuildsTheTopology(_ name: String) throws {
        try requireFeatures(exampleNeeds[name] ?? [], for: "example \(name)")
        let export = try topo("plan", "--format", "ip", example(name))
        try #require(export.status == 0, "\(export.stderr)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("\(name).sh")
        try export.stdout.write(to: script, atomically: true, encoding: .utf8)
        let r = try sandbox("sh '\(script.path)' >&2\n" + dumpStateScript)
        #expect(r.status == 0, "export of \(name) failed in the sandbox: \(r.stderr)")
        let state = normalizeState(r.stdout)
        #expect(!state.contains { $0.hasSuffix(" tentative") }, "IPv6 addresses must be usable at once")
        expectGolden(state.joined(separator: "\n") + "\n", "examples/\(name).state.txt")
    }
}

/// Awkward names (a namespace `it's a lab`, interfaces `x#1` and `y"2`) survive both the
/// `--format ip` export's shell and `-batch` quoting and topo's own netlink path: both build
/// the same state, which holds the names unmangled.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct AwkwardNameKernelTests {
    @Test func exportAndRunAgree() throws {
        let file = "Tests/TopoCLITests/Fixtures/kernel/awkward-names.topo"
        let export = try topo("plan", "--format", "ip", file)
        try #require(export.status == 0, "\(export.stderr)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-awkward-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("export.sh")
        try export.stdout.write(to: script, atomically: true, encoding: .utf8)
        let byExport = try sandbox("sh '\(script.path)' >&2\n" + dumpStateScript)
        #expect(byExport.status == 0, "\(byExport.stderr)\n\(export.stdout)")
        let byRun = try sandbox("\"$TOPO\" run --allow-exec '\(file)' >&2\n" + dumpStateScript)
        #expect(byRun.status == 0, "\(byRun.stderr)")
        let state = normalizeState(byExport.stdout)
        #expect(state.contains("link it's a lab:x#1 veth up mtu=1400 peer=host:y\"2"), "\(state)")
        #expect(state.contains("addr host:y\"2 10.9.0.2/24"), "\(state)")
        #expect(normalizeState(byRun.stdout) == state)
    }
}

/// The link kinds and the qdisc this machine's kernel has (macvlan, vxlan, tbf), built by the
/// `--format ip` export in a sandbox and judged by `ip -d -j link` and `tc -j qdisc`:
/// macvlan children of one parent in two namespaces ping each other (mode bridge); a vxlan
/// created from its underlay's namespace into a third one (whose configuration the export
/// runs after that creation) carries a ping; the shaped links have topo's tbf layout.
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct KindsExportKernelTests {
    static let file = "Tests/TopoCLITests/Fixtures/kernel/kinds.topo"

    @Test func exportBuildsTheKinds() throws {
        try requireFeatures([.macvlan, .vxlan, .tbf], for: "the link-kind export test")
        let export = try topo("plan", "--format", "ip", Self.file)
        try #require(export.status == 0, "\(export.stderr)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-kinds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("kinds.sh")
        try export.stdout.write(to: script, atomically: true, encoding: .utf8)
        let r = try sandbox("sh '\(script.path)' >&2\n" + dumpStateScript)
        #expect(r.status == 0, "export failed in the sandbox: \(r.stderr)\n\(export.stdout)")
        let state = normalizeState(r.stdout)
        for line in [
            "link m1:mv0 macvlan up mtu=1500 mode=bridge parent=lan:uplink",
            "link m2:mv0 macvlan up mtu=1500 mode=bridge parent=lan:uplink",
            "link oa:vx0 vxlan up mtu=1450 id=7 port=4790 remote=192.168.7.2 local=192.168.7.1 ttl=64 link-netns=ua",
            "link ub:vx0 vxlan up mtu=1450 id=7 port=4790 remote=192.168.7.1 local=192.168.7.2 ttl=64 underlay=u",
            "qdisc ua:u tbf 1: root rate=10mbit burst=16kb lat=50ms",
            "qdisc ub:u tbf 1: root rate=20mbit burst=32kb lat=50ms",
        ] {
            #expect(state.contains(line), "missing `\(line)` in \(state)")
        }
        expectGolden(state.joined(separator: "\n") + "\n", "kernel/kinds.state.txt")
    }

    /// `topo run` builds what the export builds.
    @Test
    func runAgreesWithTheExport() throws {
        let export = try topo("plan", "--format", "ip", Self.file)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-kinds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("kinds.sh")
        try export.stdout.write(to: script, atomically: true, encoding: .utf8)
        let byExport = try sandbox("sh '\(script.path)' >&2\n" + dumpStateScript)
        let byRun = try sandbox("\"$TOPO\" run '\(Self.file)' >&2\n" + dumpStateScript)
        #expect(byRun.status == 0, "\(byRun.stderr)")
        #expect(normalizeState(byRun.stdout) == normalizeState(byExport.stdout))
    }
}
