import TopoKernel
import TopoLanguage

/// `topo run --format json`: one document on standard output (docs/json.md).
func renderRunJSON(file: String, report: ApplyReport?, error: ExecutionError?) -> String {
    func str(_ s: String) -> String { jsonStringLiteral(s) }
    var out = "{\n  \"version\": 1,\n  \"file\": \(str(file)),\n  \"ok\": \(error == nil)"
    let changes = report?.changes ?? []
    let s = ChangeSummary(changes)
    out += ",\n  \"summary\": {\"created\": \(s.created), \"changed\": \(s.changed), \"removed\": \(s.removed)}"
    out += ",\n  \"changes\": [" + changeJSONObjects(changes).map { "\n    " + $0 }.joined(separator: ",")
        + (changes.isEmpty ? "]" : "\n  ]")
    let daemons = report?.daemons ?? []
    out += ",\n  \"daemons\": [" + daemons.map {
        "\n    {\"namespace\": \(str($0.namespace)), \"command\": \(str($0.command)), \"pid\": \($0.pid)}"
    }.joined(separator: ",") + (daemons.isEmpty ? "]" : "\n  ]")
    let actions = report?.actions ?? []
    out += ",\n  \"actions\": [" + actions.map { a -> String in
        let line = a.step.range.start.line
        switch a.step.operation {
        case .ping(let ns, let addr, _):
            return "\n    {\"op\": \"ping\", \"namespace\": \(str(ns)), \"address\": \(str(addr.description)), "
                + "\"sent\": \(a.ping?.sent ?? 0), \"received\": \(a.ping?.received ?? 0), \"ok\": true, \"line\": \(line)}"
        case .exec(let ns, let cmd, _):
            return "\n    {\"op\": \"exec\", \"namespace\": \(str(ns)), \"command\": \(str(cmd)), "
                + "\"status\": \(a.exec?.status ?? 0), \"output\": \(str(a.exec?.output ?? "")), \"ok\": true, \"line\": \(line)}"
        default:
            return "\n    {\"op\": \"other\", \"line\": \(line)}"
        }
    }.joined(separator: ",") + (actions.isEmpty ? "]" : "\n  ]")
    if let e = error {
        var obj = "{\"message\": \(str(e.message)), \"exit_code\": \(e.exitCode)"
        if let r = e.range, r != .none {
            obj += ", \"line\": \(r.start.line), \"column\": \(r.start.column), \"end_line\": \(r.end.line), \"end_column\": \(r.end.column)"
        } else {
            obj += ", \"line\": null"
        }
        obj += ", \"help\": " + (e.help.map(str) ?? "null")
        obj += ", \"rolled_back\": \(e.exitCode == 3 && e.rollbackErrors.isEmpty)"
        obj += ", \"notes\": [" + e.notes.map { n in
            "{\"message\": \(str(n.message)), \"line\": \(n.range.start.line), \"column\": \(n.range.start.column)}"
        }.joined(separator: ", ") + "]}"
        out += ",\n  \"error\": " + obj
    } else {
        out += ",\n  \"error\": null"
    }
    return out + "\n}\n"
}
