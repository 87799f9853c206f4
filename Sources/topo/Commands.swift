import Glibc
import TopoLanguage
import TopoKernel

// The kernel-facing commands; wired to TopoKernel's executor.

func applyCommand(plan: Plan, source: SourceFile, script: ScriptOptions, allowExec: Bool) throws -> Int32 {
    printError("topo: run is not available yet")
    return Exit.kernel
}

func destroyCommand(source: SourceFile, script: ScriptOptions) throws -> Int32 {
    printError("topo: destroy is not available yet")
    return Exit.kernel
}

func showCommand(format: ShowFormat, namespaces: [String]) throws -> Int32 {
    printError("topo: show is not available yet")
    return Exit.kernel
}

func replCommand(file: String?, dryRun: Bool, allowExec: Bool) -> Int32 {
    printError("topo: repl is not available yet")
    return Exit.kernel
}
