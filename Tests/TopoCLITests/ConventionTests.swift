import Foundation
import Testing

/// `--version`, shell completion scripts and the man page.
@Suite struct ConventionTests {
    @Test func versionIsOneLine() throws {
        let r = try topo("--version")
        #expect(r.status == 0)
        let v = r.stdout.trimmingCharacters(in: .newlines)
        #expect(!v.isEmpty && !v.contains("\n") && v.first?.isNumber == true, "\(r.stdout)")
        // The man page's footer carries the same version.
        #expect((try topo("--generate-manual")).stdout.contains("\"topo \(v)\""))
    }

    @Test(arguments: [("bash", "complete -o filenames -F _topo topo"), ("zsh", "#compdef topo"), ("fish", "complete -c 'topo'")])
    func completionScripts(_ shell: String, _ marker: String) throws {
        let r = try topo("--generate-completion-script", shell)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(marker), "the \(shell) script lacks `\(marker)`")
        for sub in ["run", "pingall", "exec", "graph", "sandbox"] {
            #expect(r.stdout.contains(sub), "the \(shell) script does not know `\(sub)`")
        }
    }

    @Test func bashAcceptsItsScript() throws {
        let r = try topo("--generate-completion-script", "bash")
        let check = try runProcess(["/bin/bash", "-n"], stdin: r.stdout)
        #expect(check.status == 0, "\(check.stderr)")
    }

    /// docs/topo.1 is what `topo --generate-manual` prints (regenerate it with
    /// `swift run topo --generate-manual > docs/topo.1`), and groff reads it without a warning.
    @Test func theManPageIsCurrent() throws {
        let r = try topo("--generate-manual")
        #expect(r.status == 0)
        let url = packageRoot.appendingPathComponent("docs/topo.1")
        if ProcessInfo.processInfo.environment["TOPO_UPDATE_GOLDEN"] == "1" {
            try r.stdout.write(to: url, atomically: true, encoding: .utf8)
        }
        let current = try String(contentsOf: url, encoding: .utf8)
        #expect(current == r.stdout, "docs/topo.1 is stale: run `swift run topo --generate-manual > docs/topo.1`")
        for sub in ["run", "plan", "check", "destroy", "show", "repl", "pingall", "exec", "graph", "sandbox"] {
            #expect(current.contains(".SS \"topo \(sub)\""), "the man page lacks `topo \(sub)`")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") {
            let g = try runProcess(["/usr/bin/groff", "-man", "-Tutf8", "-ww", "-z"], stdin: current)
            #expect(g.status == 0 && g.stderr.isEmpty, "groff: \(g.stderr)")
        }
    }
}
