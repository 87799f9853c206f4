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

/// The plan is proven on the real kernel: each example's `--format ip` export is run by `sh`
/// in a throwaway sandbox, its pings must answer, and the state iproute2 reads back must
/// match the golden state (Fixtures/examples/NAME.state.txt).
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct ExampleExportKernelTests {
    @Test(arguments: exampleNames)
    func exportBuildsTheTopology(_ name: String) throws {
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
