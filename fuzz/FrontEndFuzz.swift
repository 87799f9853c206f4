// A libFuzzer target over the front end and the renderers. Not part of the SwiftPM build:
// bench/fuzz.sh compiles it together with Sources/TopoLanguage/*.swift into one module with
// `swiftc -sanitize=fuzzer -parse-as-library`, so internal declarations are visible here.
//
// One input is one script (raw bytes). Each run: lex, parse, evaluate, check and plan
// (`compile`), render the diagnostics, render the plan in every format, print the evaluated
// declarations back with ScriptPrinter, ask the REPL's completeness question. A crash, a
// trap, a stack overflow, a timeout or runaway memory is a finding (libFuzzer reports it);
// so is a broken invariant below (a `fatalError` with the reason):
//  - rendered diagnostics hold no raw control character (nothing reaches a terminal raw);
//  - a script that compiles without errors prints back (ScriptPrinter) as a script that
//    compiles without errors to the same operations.

/// Small evaluation limits keep one run fast; the limits themselves are tested elsewhere.
let fuzzLimits = EvaluationLimits(maxObjects: 2_000, maxDepth: 200, maxSteps: 200_000, maxStringLength: 4_096)

func isTerminalSafe(_ s: String) -> Bool {
    for u in s.unicodeScalars {
        let v = u.value
        if (v < 0x20 && v != 0x0A) || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) {
            return false
        }
    }
    return true
}

/// The plan's operations in words, sorted (the order of equal phases may differ in a reprint).
func operations(_ plan: Plan) -> [String] {
    plan.steps.map { PlanText.describeForErrors($0.operation) }.sorted()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let file = SourceFile(name: "fuzz.topo", bytes: bytes)

    _ = Lexer.tokenize(file)
    let c = compile(file, limits: fuzzLimits)

    for style in [DiagnosticRenderer.Style.full, .short] {
        let out = DiagnosticRenderer(style: style).render(c.diagnostics, in: file, omitted: c.omitted)
        if !isTerminalSafe(out) { fatalError("rendered diagnostics hold a raw control character:\n\(out.debugDescription)") }
    }

    if let plan = c.plan {
        for format in PlanFormat.allCases { _ = renderPlan(plan, as: format, source: file) }
    }

    let printed = ScriptPrinter.print(c.statements.map(\.declaration))
    if let plan = c.plan {
        let again = compile(SourceFile(name: "printed.topo", text: printed), limits: fuzzLimits)
        guard let replan = again.plan else {
            let first = again.diagnostics.first.map { DiagnosticRenderer().render($0, in: again.file) } ?? "?"
            fatalError("ScriptPrinter's output does not compile:\n\(printed)\n\(first)")
        }
        if operations(plan) != operations(replan) {
            fatalError("ScriptPrinter's output plans other operations:\n\(printed)")
        }
    }

    if size < 4096, let text = String(validating: bytes, as: UTF8.self) {
        _ = isCompleteInput(text)
    }
    return 0
}
