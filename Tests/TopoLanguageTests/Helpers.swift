@testable import TopoLanguage

func src(_ text: String) -> SourceFile { SourceFile(name: "t.topo", text: text) }

/// Parse, then (when parsing succeeded) evaluate; all diagnostics in order.
func run(_ text: String, limits: EvaluationLimits = .default) -> (statements: [Statement], diagnostics: [Diagnostic]) {
    let p = parseScript(src(text))
    if p.diagnostics.hasErrors { return ([], p.diagnostics) }
    let e = Evaluator(limits: limits).evaluate(p.script)
    return (e.statements, e.diagnostics)
}

/// A location computed independently of SourceFile: 1-based line and column (bytes).
func at(_ text: String, _ line: Int, _ col: Int) -> SourceLocation {
    var off = 0
    var l = 1
    for b in text.utf8 {
        if l == line { break }
        off += 1
        if b == 10 { l += 1 }
    }
    return SourceLocation(line: line, column: col, offset: off + col - 1)
}

/// The range of `len` bytes at line:col.
func R(_ text: String, _ line: Int, _ col: Int, _ len: Int) -> SourceRange {
    SourceRange(start: at(text, line, col), end: at(text, line, col + len))
}

/// Test-side rendering of declarations (ranges dropped), to compare against hand-written text.
func show(_ d: Declaration) -> String {
    func i(_ r: InterfaceRef) -> String { r.description }
    func m(_ x: Located<Int>?) -> String { x.map { " mtu \($0.value)" } ?? "" }
    switch d {
    case .namespace(let n, let placed):
        return "ns \(n.value)" + (placed.isEmpty ? "" : " < " + placed.map(i).joined(separator: " ") + " >")
    case .veth(let a, let b, let mtu, let shaping):
        return "veth \(i(a)) <-> \(i(b))\(m(mtu))" + shaping.map { " \($0.key.rawValue) \($0.valueText)" }.joined()
    case .bridge(let b, let ports, let mtu): return "bridge \(i(b)) < " + ports.map(i).joined(separator: " ") + " >\(m(mtu))"
    case .dummy(let d, let mtu): return "dummy \(i(d))\(m(mtu))"
    case .address(let d, let ps): return "addr \(i(d)) " + ps.map { $0.value.description }.joined(separator: ", ")
    case .linkState(let l, let up): return (up ? "up " : "down ") + l.map(i).joined(separator: " ")
    case .mtu(let d, let v): return "mtu \(i(d)) \(v.value)"
    case .route(let ns, let dest, let via, let dev, let metric, let table):
        var s = "route \(ns.value) "
        switch dest.value { case .default: s += "default"; case .prefix(let p): s += p.description }
        if let via { s += " via \(via.value)" }
        if let dev { s += " dev \(i(dev))" }
        if let metric { s += " metric \(metric.value)" }
        if let table { s += " table \(table.value)" }
        return s
    case .forward(let n): return "forward \(n.value)"
    case .sysctl(let n, let k, let v): return "sysctl \(n.value) \(k.value) = \(v.value)"
    case .ping(let n, let a, let c): return "ping \(n.value) \(a.value)" + (c.map { " count \($0.value)" } ?? "")
    case .exec(let n, let c, let t):
        return "exec \(n.value) \"\(c.value)\"" + (t.map { " timeout \(Quantity.duration(nanoseconds: $0.value))" } ?? "")
    case .vlan, .macvlan, .ipvlan, .vxlan, .vrf, .tc, .daemon:
        return ScriptPrinter.lines(d).joined(separator: "; ")
    }
}

func lines(_ text: String) -> [String] {
    let r = run(text)
    return r.diagnostics.hasErrors ? r.diagnostics.map { "error: \($0.message)" } : r.statements.map { show($0.declaration) }
}
