/// `topo check --format json`: every diagnostic with its range, as one JSON document
/// (docs/json.md, "check"). Lines and columns are 1-based, columns count bytes, and a range
/// ends just after its last byte (`endColumn` is exclusive), as in the text diagnostics.
public func renderCheckJSON(_ c: Compilation) -> String {
    let file = jsonStringLiteral(c.file.name)
    func range(_ r: SourceRange) -> String {
        "\"file\": \(file), \"line\": \(r.start.line), \"column\": \(r.start.column), "
            + "\"endLine\": \(r.end.line), \"endColumn\": \(r.end.column)"
    }
    let errors = c.diagnostics.filter { $0.severity == .error }.count
    let warnings = c.diagnostics.filter { $0.severity == .warning }.count
    var out = "{\n  \"version\": 1,\n  \"file\": \(file),\n  \"ok\": \(errors == 0),\n"
    out += "  \"errors\": \(errors),\n  \"warnings\": \(warnings),\n"
    out += "  \"operations\": " + (c.plan.map { String($0.steps.count) } ?? "null") + ",\n"
    out += "  \"diagnostics\": ["
    for (i, d) in c.diagnostics.enumerated() {
        out += i == 0 ? "\n" : ",\n"
        out += "    {\n"
        out += "      \"severity\": \"\(d.severity.rawValue)\",\n"
        out += "      \"kind\": \"\(d.kind.rawValue)\",\n"
        out += "      \"message\": \(jsonStringLiteral(d.message)),\n"
        out += "      " + range(d.range) + ",\n"
        out += "      \"help\": " + (d.help.map(jsonStringLiteral) ?? "null") + ",\n"
        out += "      \"notes\": ["
        for (j, n) in d.notes.enumerated() {
            out += (j == 0 ? "\n" : ",\n") + "        {\"message\": \(jsonStringLiteral(n.message)), " + range(n.range) + "}"
        }
        out += d.notes.isEmpty ? "]\n" : "\n      ]\n"
        out += "    }"
    }
    out += c.diagnostics.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
    return out
}
