// THROWAWAY (repl branch): the lead replaces this with the swift-argument-parser CLI.
#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "repl" {
    let rest = args.dropFirst()
    let options = ReplOptions(file: rest.first { !$0.hasPrefix("-") }, dryRun: rest.contains("--dry-run"))
    guard let engine = FakeReplEngine.fromEnvironment(options.environment) else {
        fputs("topo repl: no engine yet (set TOPO_REPL_FAKE_ENGINE=1)\n", stderr)
        exit(2)
    }
    exit(runRepl(options, engine: engine))
}
print("topo")
