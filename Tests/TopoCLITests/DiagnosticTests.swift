import Foundation
import Testing

let errorFixtures: [String] = {
    let dir = packageRoot.appendingPathComponent("Tests/TopoCLITests/Fixtures/errors")
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return files.filter { $0.hasSuffix(".topo") }.map { String($0.dropLast(5)) }.sorted()
}()

/// Bad scripts: `topo check` exits 1 and prints rustc-style diagnostics matching the golden
/// file beside the script (Fixtures/errors/NAME.check.txt).
@Suite struct DiagnosticGoldenTests {
    @Test(arguments: errorFixtures)
    func checkReportsErrors(_ name: String) throws {
        let path = "Tests/TopoCLITests/Fixtures/errors/\(name).topo"
        let r = try topo("check", path)
        #expect(r.status == 1, "exit status \(r.status)")
        #expect(r.stdout.isEmpty)
        expectGolden(r.stderr, "errors/\(name).check.txt")
        let short = try topo("check", "--diagnostics", "short", path)
        #expect(short.status == 1)
        for line in short.stderr.split(separator: "\n") where !line.hasPrefix("topo: ") {
            #expect(line.hasPrefix(Substring(path + ":")), "short diagnostics are one line each: \(line)")
        }
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try topo("plan", "--format", "yaml", example("veth-pair")).status == 2)
        #expect(try topo("frobnicate").status == 2)
        #expect(try topo("check", "/nonexistent/x.topo").status == 2)
        #expect(try topo("--help").status == 0)
    }

    @Test func stdinIsDash() throws {
        let r = try topo("plan", "-", stdin: "ns a\nns b\nveth a:x <-> b:y\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("<stdin>:3"))
        let bad = try topo("check", "-", stdin: "veth a <->\n")
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("<stdin>:1:"))
    }

    @Test func checkAndPlanNeedNoPrivileges() throws {
        // Run as nobody when we are root: check/plan must still work.
        guard isRoot, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        let r = try runProcess(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                topoBinary, "plan", "-"], stdin: "ns a\nns b\nveth a:x <-> b:y\n")
        #expect(r.status == 0, "\(r.stderr)")
    }
}
