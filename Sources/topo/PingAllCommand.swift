import ArgumentParser
import Glibc
import TopoKernel
import TopoLanguage

enum PingAllFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

struct PingAllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingall",
        abstract: "Ping, from every namespace of a running topology that has an address, every other such namespace.",
        discussion: "One address of each namespace per family (the first in script order; IPv6 link-local "
            + "addresses are skipped), all pairs at once. Prints a matrix per family with the failures "
            + "marked and a summary line; exits 1 if any pair failed, 3 if the topology is not running.")
    @OptionGroup var script: ScriptOptions
    @Option(name: .long, help: "text (matrices and a summary) or json.")
    var format: PingAllFormat = .text
    @Option(name: .long, help: "Seconds to wait for each pair's answer (requests are resent meanwhile).")
    var timeout: Double = 2

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    func run() throws {
        let result = try script.compileOrExit()
        guard let topology = result.topology else { throw Exiting(code: Exit.script) }
        if let code = requirePrivileges("pingall") { throw Exiting(code: code) }
        let backend: NetlinkBackend
        do { backend = try NetlinkBackend() } catch {
            printError("topo: \(error)")
            throw Exiting(code: Exit.kernel)
        }
        let report = PingAll.run(topology, backend: backend, timeout: timeout)
        switch format {
        case .text:
            if !report.missing.isEmpty {
                printError("topo: \(report.summary()) (run `topo run \(script.file)` first)")
            } else if report.refusal != nil {
                printError("topo: \(report.summary())")
            } else {
                writeOut(report.text())
            }
        case .json:
            writeOut(report.json(file: result.file.name))
        }
        // 3: not running; 2: too many pairs (a usage limit); 1: a pair failed.
        let code = !report.missing.isEmpty ? Exit.kernel : report.refusal != nil ? Exit.usage
            : report.allReachable ? Exit.ok : Exit.script
        throw Exiting(code: code)
    }
}
