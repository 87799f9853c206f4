/// The whole front half in one call: lex and parse, evaluate, check, plan.
/// Each stage collects diagnostics; later stages run only on what the earlier ones accepted,
/// so `topo check` reports every error it can find in one pass.
public struct Compilation: Sendable {
    public var file: SourceFile
    public var statements: [Statement]
    public var topology: Topology?
    /// Nil when there are errors.
    public var plan: Plan?
    /// Every stage's kept diagnostics (see `DiagnosticLimiter`), by position.
    public var diagnostics: [Diagnostic]
    /// Diagnostics the stages counted but did not keep; `DiagnosticRenderer` sums them up.
    public var omitted: OmittedDiagnostics
    public var hasErrors: Bool { diagnostics.hasErrors || omitted.errors > 0 }
}

/// Compiles a script to a plan. Pure: needs no privileges and touches nothing.
public func compile(_ file: SourceFile, limits: EvaluationLimits = .default) -> Compilation {
    // The syntax tree is needed only to evaluate: it is freed before checking, so the two
    // largest structures (the tree and the topology) are never held together.
    let (evaluated, parseDiagnostics, parseOmitted) = { () -> (EvaluationResult, [Diagnostic], OmittedDiagnostics) in
        let parsed = parseScript(file)
        return (Evaluator(limits: limits).evaluate(parsed.script), parsed.diagnostics, parsed.omitted)
    }()
    var diagnostics = parseDiagnostics + evaluated.diagnostics
    let checked = check(evaluated.statements)
    diagnostics += checked.diagnostics
    // By position; stages' own order breaks ties.
    diagnostics = diagnostics.enumerated()
        .sorted { ($0.element.range.start.offset, $0.offset) < ($1.element.range.start.offset, $1.offset) }
        .map(\.element)
    let omitted = parseOmitted + evaluated.omitted + checked.omitted
    let plan = diagnostics.hasErrors || omitted.errors > 0 ? nil : makePlan(checked.topology, file: file.name)
    return Compilation(file: file, statements: evaluated.statements, topology: checked.topology,
                       plan: plan, diagnostics: diagnostics, omitted: omitted)
}
