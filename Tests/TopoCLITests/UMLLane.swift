import Foundation
import Testing

/// The user-mode-Linux lane: kernel tests that need what this machine's kernel lacks (netem,
/// 802.1Q, dummy, vrf, ipvlan, …) run inside Debian's user-mode Linux, booted per test by
/// `Tests/uml/run.sh` with this machine's root file system read-only as its root and the test
/// script as its work. The `topo` built for this test run is on that file system, so
/// `"$TOPO"` inside is the binary under test. See docs/testing.md.
///
///     @Suite(.enabled(if: UMLLane.enabled, UMLLane.skipComment))
///     struct MyUMLTests {
///         @Test func dummyHasAddress() throws {
///             let r = try UMLLane.topo("ns a\ndummy a:d0\naddr a:d0 192.0.2.1/32\n",
///                                      check: "ip -n a -br addr show d0 | grep -q 192.0.2.1/32",
///                                      modules: ["dummy"])
///             r.expectSuccess()
///         }
///     }
enum UMLLane {
    /// The UML kernel (`$UML_LANE_KERNEL`, default Debian's `/usr/bin/linux.uml`).
    static let kernel = ProcessInfo.processInfo.environment["UML_LANE_KERNEL"] ?? "/usr/bin/linux.uml"
    /// Where its modules are, one tree per release (`$UML_LANE_MODULES`).
    static let modulesRoot = ProcessInfo.processInfo.environment["UML_LANE_MODULES"] ?? "/usr/lib/uml/modules"
    /// The runner script.
    static let runner = packageRoot.appendingPathComponent("Tests/uml/run.sh").path
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Why the lane cannot run with this kernel and modules tree, or nil when it can.
    static func absence(kernel: String, modulesRoot: String) -> String? {
        guard FileManager.default.isExecutableFile(atPath: kernel) else {
            return "no user-mode Linux kernel at \(kernel) (apt-get install user-mode-linux kmod)"
        }
        guard let version = try? runProcess([kernel, "--version"], timeout: 30), version.status == 0 else {
            return "\(kernel) --version failed"
        }
        let release = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: "\(modulesRoot)/\(release)", isDirectory: &isDir), isDir.boolValue else {
            return "no modules for UML \(release) under \(modulesRoot) (apt-get install user-mode-linux)"
        }
        return nil
    }

    /// nil when the lane can run here, else why not.
    static let absenceReason: String? = absence(kernel: kernel, modulesRoot: modulesRoot)
    /// The UML kernel's release (`6.1.176`), when it is present.
    static let release: String? = available
        ? (try? runProcess([kernel, "--version"], timeout: 30))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    /// The UML kernel and its modules are present.
    static var available: Bool { absenceReason == nil }
    /// Lane tests run when the lane is available, and always under CI=true (where an absent
    /// lane fails them instead of skipping).
    static let enabled: Bool = {
        if let why = absenceReason, !inCI { print("note: user-mode Linux lane tests skipped: \(why)") }
        return available || inCI
    }()
    static var skipComment: Comment {
        Comment(rawValue: "user-mode Linux lane skipped: \(absenceReason ?? "absent")")
    }

    /// What one boot produced.
    struct Result: Sendable {
        /// The script's exit status (124: it exceeded its time limit); nil when the lane itself failed.
        var status: Int32?
        /// The script's stdout and stderr, interleaved as written.
        var output: String
        /// Why the lane failed (no UML, a module that did not load, UML killed), else nil.
        var laneError: String?
        /// UML's console (kernel messages, init's complaints).
        var console: String
        /// Seconds of UML uptime at init, after the modules, at the script's end; host wall time.
        var timing: [String: Double]
        /// The private TMPDIR the runner used (gone now; every UML process named it).
        var tmpdir: String = ""

        /// Everything a failure message needs.
        var report: String {
            var s = "status: \(status.map(String.init) ?? "none (lane failed)")\n"
            if let laneError { s += "lane error: \(laneError)\n" }
            s += "--- output\n\(output)"
            if status == nil { s += "--- console (last lines)\n" + console.split(separator: "\n").suffix(20).joined(separator: "\n") }
            return s
        }

        /// Expects the script to have ended with status 0.
        func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(status == 0, "the script inside UML failed:\n\(report)", sourceLocation: sourceLocation)
        }
    }

    /// Boots UML, loads `modules`, and runs `script` (bash) with `timeout` seconds to finish.
    /// `$TOPO` is the topo under test and the working directory the package root (read-only),
    /// so `"$TOPO" run examples/x.topo` works. `/run` and `/tmp` are private tmpfs.
    /// `hostTimeout` (default `timeout` + 60) bounds the whole boot; past it UML is killed.
    /// A failure of the lane itself (a module that does not load, UML killed) comes back as
    /// `status == nil` with `laneError` set. Records an issue when the lane is absent and when
    /// the run leaves a temp file or a UML process behind.
    static func run(script: String, modules: [String] = [], timeout: Int = 60,
                    hostTimeout: Int? = nil, environment: [String: String] = [:], autoload: Bool = true,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        if let why = absenceReason {
            Issue.record("user-mode Linux lane is absent\(inCI ? " under CI=true" : ""): \(why)", sourceLocation: sourceLocation)
            return Result(status: nil, output: "", laneError: why, console: "", timing: [:])
        }
        // A private TMPDIR per run: the runner's temp dir goes there, so "nothing left behind"
        // can be checked exactly (the directory is empty again, no process names it).
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("topo-uml-\(UUID().uuidString.prefix(8))")
        let tmp = scratch.appendingPathComponent("tmp"), out = scratch.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let scriptFile = scratch.appendingPathComponent("test.sh")
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)

        var argv = [runner, "-q", "-o", out.path, "-t", String(timeout), "-C", packageRoot.path,
                    "-e", "TOPO=\(topoBinary)", "-e", "NO_COLOR=1"]
        if let hostTimeout { argv += ["-T", String(hostTimeout)] }
        if !modules.isEmpty { argv += ["-m", modules.joined(separator: ",")] }
        if !autoload { argv.append("-n") }
        for (k, v) in environment.sorted(by: { $0.key < $1.key }) { argv += ["-e", "\(k)=\(v)"] }
        argv.append(scriptFile.path)
        let limit = TimeInterval((hostTimeout ?? timeout + 60) + 30)
        let r = try runProcess(argv, environment: ["TMPDIR": tmp.path], timeout: limit)

        func read(_ name: String) -> String? {
            try? String(contentsOf: out.appendingPathComponent(name), encoding: .utf8)
        }
        var result = Result(status: read("status").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
                            output: read("output") ?? "", laneError: nil, console: read("console") ?? "",
                            timing: [:], tmpdir: tmp.path)
        for line in (read("timing") ?? "").split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let v = Double(f[1]) { result.timing[String(f[0])] = v }
        }
        if result.status == nil {
            let why = read("lane-error") ?? r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            result.laneError = why.isEmpty ? "runner exited \(r.status) without a status" : why
        }

        let leftTemp = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
        #expect(leftTemp.isEmpty, "the UML lane left \(leftTemp) in its TMPDIR", sourceLocation: sourceLocation)
        let leftProcs = processes(mentioning: tmp.path)
        #expect(leftProcs.isEmpty, "the UML lane left processes behind: \(leftProcs)", sourceLocation: sourceLocation)
        return result
    }

    /// Bash that writes `text` to `path` verbatim (a quoted here-document).
    static func writeFile(_ path: String, _ text: String) -> String {
        var tag = "TOPO_UML_EOF"
        while text.contains(tag) { tag += "_" }
        return "cat > '\(path)' <<'\(tag)'\n\(text)\(text.hasSuffix("\n") || text.isEmpty ? "" : "\n")\(tag)\n"
    }

    /// What `topo(_:check:)` saw: `topo run`'s status and output, then the check's (nil: not
    /// reached, because the run failed or the lane did).
    struct TopoResult: Sendable {
        var lane: Result
        var runStatus: Int32?
        var runOutput: String
        var checkStatus: Int32?
        var checkOutput: String

        /// Expects `topo run` and the check to have succeeded.
        func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(runStatus == 0, "topo run inside UML failed:\n\(runOutput)\n\(lane.report)", sourceLocation: sourceLocation)
            if runStatus == 0 {
                #expect(checkStatus == 0, "the check inside UML failed:\n\(checkOutput)\n\(lane.report)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    /// Boots UML, writes `topology` to `$LAB` (/tmp/lab.topo inside), runs `"$TOPO" run "$LAB"`
    /// and, when that succeeds, `check` under `bash -e` (so any failing command fails it) in
    /// the same UML; `$TOPO` and `$LAB` are set there too (a check may run topo again).
    static func topo(_ topology: String, check: String, modules: [String] = [], timeout: Int = 60,
                     runArguments: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> TopoResult {
        let args = runArguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let script = writeFile("/tmp/lab.topo", topology) + writeFile("/tmp/check.sh", check) + """
            export LAB=/tmp/lab.topo
            echo "@@run"
            "$TOPO" run \(args) "$LAB" 2>&1
            rc=$?
            echo "@@run-status $rc"
            [ $rc -eq 0 ] || exit $rc
            echo "@@check"
            bash -e /tmp/check.sh 2>&1
            rc=$?
            echo "@@check-status $rc"
            exit $rc

            """
        let lane = try run(script: script, modules: modules, timeout: timeout, sourceLocation: sourceLocation)
        var result = TopoResult(lane: lane, runStatus: nil, runOutput: "", checkStatus: nil, checkOutput: "")
        var section = ""
        for line in lane.output.split(separator: "\n", omittingEmptySubsequences: false) {
            switch line {
            case "@@run", "@@check": section = String(line.dropFirst(2))
            case _ where line.hasPrefix("@@run-status "): result.runStatus = Int32(line.dropFirst(13)); section = ""
            case _ where line.hasPrefix("@@check-status "): result.checkStatus = Int32(line.dropFirst(15)); section = ""
            default:
                if section == "run" { result.runOutput += line + "\n" }
                if section == "check" { result.checkOutput += line + "\n" }
            }
        }
        return result
    }

    /// Pids and command lines of the processes whose command line contains `needle`.
    static func processes(mentioning needle: String) -> [String] {
        let me = getpid()
        var found: [String] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
            let cmdline = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if cmdline.contains(needle) { found.append("\(pid): \(cmdline)") }
        }
        return found
    }
}

/// Round-trip times in ms of every reply in ping's output (`… time=40.3 ms`).
func pingTimes(_ output: String) -> [Double] {
    output.split(separator: "\n").compactMap { line in
        guard let r = line.range(of: " time=") else { return nil }
        let rest = line[r.upperBound...]
        return Double(rest.prefix { $0.isNumber || $0 == "." })
    }
}

/// The median of `values` (nil when empty).
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
