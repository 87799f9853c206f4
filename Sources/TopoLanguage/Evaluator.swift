/// Bounds on evaluation, so that no script can crash, hang or exhaust memory.
public struct EvaluationLimits: Hashable, Sendable {
    /// Most `Statement`s one `evaluate` call may produce.
    public var maxObjects: Int
    /// Deepest template-call nesting.
    public var maxDepth: Int
    /// Most evaluation steps (one per statement executed and per loop iteration) in one call.
    public var maxSteps: Int
    /// Longest string a `+` may build, in bytes.
    public var maxStringLength: Int

    public init(maxObjects: Int = 100_000, maxDepth: Int = 200, maxSteps: Int = 5_000_000,
                maxStringLength: Int = 65_536) {
        self.maxObjects = maxObjects
        self.maxDepth = maxDepth
        self.maxSteps = maxSteps
        self.maxStringLength = maxStringLength
    }

    public static let `default` = EvaluationLimits()
}

/// The evaluator's output: the core statements, in script order, and every diagnostic.
public struct EvaluationResult {
    public var statements: [Statement]
    /// The first diagnostics of each kind (see `DiagnosticLimiter`).
    public var diagnostics: [Diagnostic]
    /// Those counted beyond the limit.
    public var omitted: OmittedDiagnostics
    public init(statements: [Statement], diagnostics: [Diagnostic], omitted: OmittedDiagnostics = .init()) {
        self.statements = statements
        self.diagnostics = diagnostics
        self.omitted = omitted
    }
}

/// An evaluation error; `fatal` ones (limits) stop the whole evaluation.
struct EvalError: Error {
    var diagnostic: Diagnostic
    var fatal: Bool
}

/// A template defined with `def`. It is closed over the scope it was defined in, which is
/// always the scope whose bindings hold it (a template is not a value: it cannot be stored in a
/// variable, passed or returned), so the closure is that scope, found by `Scope.lookupTemplate`,
/// and never stored here: a stored reference would make a cycle (scope → binding → template →
/// scope) and leak every scope that ran a `def`, as a `def` inside a loop body did.
final class Template {
    let name: String
    let params: [Located<String>]
    let body: [Stmt]
    let range: SourceRange
    init(name: String, params: [Located<String>], body: [Stmt], range: SourceRange) {
        self.name = name
        self.params = params
        self.body = body
        self.range = range
    }
}

enum Binding {
    case value(Value)
    case template(Template)
}

/// One lexical scope: a block, a loop iteration, a template expansion.
final class Scope {
    var bindings: [String: Binding] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> Binding? {
        var s: Scope? = self
        while let c = s {
            if let b = c.bindings[name] { return b }
            s = c.parent
        }
        return nil
    }

    /// The template bound to `name` and the scope that binds it (its closure), or nil when
    /// `name` is unbound or a value.
    func lookupTemplate(_ name: String) -> (template: Template, closure: Scope)? {
        var s: Scope? = self
        while let c = s {
            if let b = c.bindings[name] {
                if case .template(let t) = b { return (t, c) }
                return nil
            }
            s = c.parent
        }
        return nil
    }

    var visibleNames: [String] {
        var out: [String] = []
        var s: Scope? = self
        while let c = s {
            out += c.bindings.keys
            s = c.parent
        }
        return out
    }
}

/// Evaluates scripts to core `Statement`s: expands loops, conditionals and templates,
/// evaluates expressions and interpolations. Top-level `let` and `def` bindings persist across
/// `evaluate` calls (the REPL feeds one input at a time); limits count per call.
public final class Evaluator {
    public let limits: EvaluationLimits
    let globals = Scope(parent: nil)
    var statements: [Statement] = []
    var diagnostics: [Diagnostic] = []
    var limiter = DiagnosticLimiter()
    var steps = 0
    var callStack: [(name: String, range: SourceRange)] = []
    /// Blocks being executed, nested (loop and `if` bodies, template expansions); bounded by
    /// `limits.maxDepth` so that a recursive template with deeply nested blocks cannot exhaust
    /// the stack.
    var blockDepth = 0

    public init(limits: EvaluationLimits = .default) {
        self.limits = limits
    }

    /// The top-level bindings, to put back with `restore` (the REPL drops a failed input's `let`s).
    public struct Snapshot {
        let bindings: [String: Binding]
    }

    public func snapshot() -> Snapshot { Snapshot(bindings: globals.bindings) }

    public func restore(_ s: Snapshot) { globals.bindings = s.bindings }

    /// Evaluates a parsed script. A statement with an error produces no `Statement`;
    /// evaluation goes on with the next one (limit errors stop it).
    public func evaluate(_ script: Script) -> EvaluationResult {
        statements = []
        diagnostics = []
        limiter = DiagnosticLimiter()
        steps = 0
        callStack = []
        blockDepth = 0
        do {
            try execBlock(script.statements, in: globals)
        } catch let e as EvalError {
            report(e.diagnostic)
        } catch {}
        let r = EvaluationResult(statements: statements, diagnostics: diagnostics, omitted: limiter.omitted)
        statements = []
        diagnostics = []
        return r
    }


    /// The value of a global variable, if bound.
    public func value(of name: String) -> Value? {
        if case .value(let v)? = globals.bindings[name] { return v }
        return nil
    }


    // MARK: errors

    func err(_ kind: Diagnostic.Kind, _ message: String, at r: SourceRange, help: String? = nil,
             fatal: Bool = false) -> EvalError {
        var notes: [Diagnostic.Note] = []
        if let c = callStack.last {
            notes.append(.init("in the expansion of template `\(c.name)` called here", at: c.range))
        }
        return EvalError(diagnostic: .error(kind, message, at: r, help: help, notes: notes), fatal: fatal)
    }

    func step(_ r: SourceRange) throws {
        steps += 1
        if steps > limits.maxSteps {
            throw err(.stepLimit, "evaluation exceeds the budget of \(limits.maxSteps) steps", at: r,
                      help: "a loop or template expansion runs too long", fatal: true)
        }
    }

    // MARK: statements

    /// Keeps `d` unless the limit is reached (then only counts it).
    func report(_ d: Diagnostic) {
        if limiter.admit(d) { diagnostics.append(d) }
    }

    /// A diagnostic count that also moves when diagnostics are only counted.
    var reportedCount: Int { diagnostics.count + limiter.omitted.total }

    func execBlock(_ body: [Stmt], in scope: Scope) throws {
        for s in body {
            do {
                try exec(s, in: scope)
            } catch let e as EvalError {
                if e.fatal { throw e }
                report(e.diagnostic)
            }
        }
    }

    /// Runs a nested block (a body or a template expansion) within the depth budget.
    func execNested(_ body: [Stmt], in scope: Scope, at r: SourceRange) throws {
        if blockDepth >= limits.maxDepth {
            throw err(.recursionLimit, "blocks and template expansions nested deeper than \(limits.maxDepth) levels", at: r,
                      help: "does a template call itself without end?", fatal: true)
        }
        blockDepth += 1
        defer { blockDepth -= 1 }
        try execBlock(body, in: scope)
    }

    func emit(_ d: Declaration, _ r: SourceRange) throws {
        if statements.count >= limits.maxObjects {
            throw err(.objectLimit, "more than \(limits.maxObjects) objects declared", at: r,
                      help: "a loop or template declares too many objects", fatal: true)
        }
        statements.append(Statement(d, at: r))
    }

    func exec(_ s: Stmt, in scope: Scope) throws {
        try step(s.range)
        switch s {
        case .ns(let names, let placed, let r):
            let ifs = try placed.map { try iface($0, scope) }
            let ns = try names.map { try name($0, scope) }
            for n in ns { try emit(.namespace(n, placed: ifs), r) }
        case .veth(let a, let b, let mtu, let options, let r):
            try emit(.veth(try iface(a, scope), try iface(b, scope), mtu: try mtu.map { try int($0, scope, "MTU") },
                           shaping: try shaping(options, scope)), r)
        case .vlan(let i, let link, let id, let proto, let mtu, let r):
            try emit(.vlan(try iface(i, scope), link: try iface(link, scope), id: try int(id, scope, "vlan id"),
                           protocol: try proto.map { try name($0, scope) }, mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .macvlan(let i, let link, let mode, let mtu, let r):
            try emit(.macvlan(try iface(i, scope), link: try iface(link, scope), mode: try mode.map { try name($0, scope) },
                              mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .ipvlan(let i, let link, let mode, let mtu, let r):
            try emit(.ipvlan(try iface(i, scope), link: try iface(link, scope), mode: try mode.map { try name($0, scope) },
                             mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .vxlan(let i, let x, let r):
            let d = VXLANDeclaration(
                id: try int(x.id, scope, "VNI"),
                remote: try x.remote.map { try address($0, scope, "remote") },
                group: try x.group.map { try address($0, scope, "group") },
                local: try x.local.map { try address($0, scope, "local address") },
                link: try x.link.map { try iface($0, scope) },
                port: try x.port.map { try int($0, scope, "port") },
                ttl: try x.ttl.map { try int($0, scope, "ttl") },
                mtu: try x.mtu.map { try int($0, scope, "MTU") })
            try emit(.vxlan(try iface(i, scope), d), r)
        case .vrf(let i, let table, let ports, let mtu, let r):
            try emit(.vrf(try iface(i, scope), table: try int(table, scope, "table"), ports: try ports.map { try iface($0, scope) },
                          mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .tc(let i, let options, let r):
            try emit(.tc(try iface(i, scope), try shaping(options, scope)), r)
        case .bridge(let br, let ports, let mtu, let r):
            try emit(.bridge(try iface(br, scope), ports: try ports.map { try iface($0, scope) },
                             mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .dummy(let d, let mtu, let r):
            try emit(.dummy(try iface(d, scope), mtu: try mtu.map { try int($0, scope, "MTU") }), r)
        case .addr(let i, let list, let r):
            try emit(.address(try iface(i, scope), try list.map { try prefix($0, scope) }), r)
        case .linkState(let list, let up, let r):
            try emit(.linkState(try list.map { try iface($0, scope) }, up: up), r)
        case .mtu(let i, let m, let r):
            try emit(.mtu(try iface(i, scope), try int(m, scope, "MTU")), r)
        case .route(let ns, let dest, let via, let dev, let metric, let table, let r):
            let n = try name(ns, scope)
            let d: Located<RouteDestination>
            switch dest {
            case .default(let dr): d = Located(.default, at: dr)
            case .prefix(let e):
                switch try eval(e, scope) {
                case .prefix(let p): d = Located(.prefix(p), at: e.range)
                case .address(let a): d = Located(.prefix(IPPrefix(address: a, length: a.family.bits)), at: e.range)
                case .string(let s) where IPPrefix(s) != nil: d = Located(.prefix(IPPrefix(s)!), at: e.range)
                case let v:
                    throw err(.typeMismatch, "expected a destination prefix or `default`, found \(v.typeName) `\(v)`", at: e.range)
                }
            }
            try emit(.route(namespace: n, destination: d, via: try via.map { try address($0, scope, "gateway") },
                            dev: try dev.map { try iface($0, scope) },
                            metric: try metric.map { try int($0, scope, "metric") },
                            table: try table.map { try int($0, scope, "table") }), r)
        case .forward(let ns, let r):
            try emit(.forward(try name(ns, scope)), r)
        case .sysctl(let ns, let key, let value, let r):
            try emit(.sysctl(namespace: try name(ns, scope), key: try name(key, scope), value: try name(value, scope)), r)
        case .ping(let ns, let a, let count, let r):
            try emit(.ping(namespace: try name(ns, scope), address: try address(a, scope, "address to ping"),
                           count: try count.map { try int($0, scope, "count") }), r)
        case .exec(let ns, let c, let timeout, let r):
            let n = try name(ns, scope)
            let v = try eval(c, scope)
            guard case .string(let cmd) = v else {
                throw err(.typeMismatch, "expected a command string, found \(v.typeName) `\(v)`", at: c.range,
                          help: "quote the command: exec NS \"ip addr\"")
            }
            try emit(.exec(namespace: n, command: Located(cmd, at: c.range),
                           timeout: try timeout.map { try quantity($0, scope, .duration, "timeout") }), r)
        case .daemon(let ns, let c, let r):
            let n = try name(ns, scope)
            let v = try eval(c, scope)
            guard case .string(let cmd) = v else {
                throw err(.typeMismatch, "expected a command string, found \(v.typeName) `\(v)`", at: c.range,
                          help: "quote the command: daemon NS \"iperf3 -s\"")
            }
            try emit(.daemon(namespace: n, command: Located(cmd, at: c.range)), r)
        case .let(let n, _, let e, _):
            scope.bindings[n] = .value(try eval(e, scope))
        case .for(let v, _, let seqExpr, let body, _):
            let seq = try eval(seqExpr, scope)
            switch seq {
            case .range(let a, let b):
                guard let count = Value.rangeCount(a, b), count <= limits.maxSteps - steps else {
                    throw err(.stepLimit, "a loop over `\(a)..\(b)` exceeds the budget of \(limits.maxSteps) steps",
                              at: seqExpr.range, fatal: true)
                }
                var i = a
                for k in 0..<count {
                    if k > 0 { i += 1 }
                    if try !iteration(v, .int(i), body, scope, seqExpr.range) { break }
                }
            case .list(let items):
                for x in items {
                    if try !iteration(v, x, body, scope, seqExpr.range) { break }
                }
            default:
                throw err(.typeMismatch, "cannot loop over a \(seq.typeName)", at: seqExpr.range,
                          help: "loop over a range `1..4` or a list `[a, b]`")
            }
        case .if(let c, let then, let els, _):
            let v = try eval(c, scope)
            guard case .bool(let b) = v else {
                throw err(.typeMismatch, "a condition must be a boolean, found \(v.typeName) `\(v)`", at: c.range,
                          help: "compare it, e.g. `x == 1`")
            }
            if b {
                try execNested(then, in: Scope(parent: scope), at: s.range)
            } else if let els {
                try execNested(els, in: Scope(parent: scope), at: s.range)
            }
        case .def(let n, _, let params, let body, let r):
            scope.bindings[n] = .template(Template(name: n, params: params, body: body, range: r))
        case .call(let n, let nr, let args, let r):
            guard let (t, closure) = scope.lookupTemplate(n) else {
                if Builtins.names.contains(n) {
                    throw err(.unknownFunction, "`\(n)` is a built-in function, not a template", at: nr,
                              help: "use it inside an expression, e.g. `let x = \(n)(…)`")
                }
                let templates = scope.visibleNames.filter { if case .template? = scope.lookup($0) { return true }; return false }
                let sug = suggestion(for: n, among: templates + statementKeywords)
                throw err(.unknownFunction, "unknown template `\(n)`", at: nr,
                          help: sug.map { "did you mean `\($0)`?" } ?? "define it first with `def \(n)(…) { … }`")
            }
            guard args.count == t.params.count else {
                throw err(.wrongArgumentCount, "template `\(n)` takes \(t.params.count) argument\(t.params.count == 1 ? "" : "s") but \(args.count) \(args.count == 1 ? "was" : "were") given",
                          at: r)
            }
            let values = try args.map { try eval($0, scope) }
            if callStack.count >= limits.maxDepth {
                throw err(.recursionLimit, "template expansion deeper than \(limits.maxDepth) levels", at: r,
                          help: "does `\(n)` call itself without end?", fatal: true)
            }
            let child = Scope(parent: closure)
            for (p, v) in zip(t.params, values) { child.bindings[p.value] = .value(v) }
            callStack.append((n, r))
            defer { callStack.removeLast() }
            try execNested(t.body, in: child, at: r)
        }
    }

    /// One loop iteration; false when the body reported an error (the loop then stops, so a
    /// mistake in a 10 000-iteration loop is reported once).
    func iteration(_ v: String, _ x: Value, _ body: [Stmt], _ scope: Scope, _ r: SourceRange) throws -> Bool {
        try step(r)
        let child = Scope(parent: scope)
        child.bindings[v] = .value(x)
        let before = reportedCount
        try execNested(body, in: child, at: r)
        return reportedCount == before
    }

    // MARK: slots

    func text(_ parts: [Segment], _ scope: Scope) throws -> String {
        if parts.count == 1, case .text(let s, _) = parts[0] { return s }
        var out = ""
        for p in parts {
            switch p {
            case .text(let s, _): out += s
            case .interpolation(let e, let r):
                let v = try eval(e, scope)
                guard let t = v.interpolationText else {
                    throw err(.invalidInterpolation, "cannot interpolate a \(v.typeName) into text", at: r,
                              help: "interpolate one element, e.g. loop over it with `for`")
                }
                out += t
            }
        }
        return out
    }

    func name(_ n: NameSyntax, _ scope: Scope) throws -> Located<String> {
        if let s = n.literalText { return Located(s, at: n.range) }
        return Located(try text(n.parts, scope), at: n.range)
    }

    func iface(_ i: InterfaceSyntax, _ scope: Scope) throws -> InterfaceRef {
        InterfaceRef(namespace: try i.namespace.map { try name($0, scope) }, name: try name(i.name, scope))
    }

    func int(_ e: Expr, _ scope: Scope, _ what: String) throws -> Located<Int> {
        let v = try eval(e, scope)
        guard case .int(let n) = v else {
            throw err(.typeMismatch, "expected an integer \(what), found \(v.typeName) `\(v)`", at: e.range)
        }
        return Located(n, at: e.range)
    }

    func prefix(_ e: Expr, _ scope: Scope) throws -> Located<IPPrefix> {
        let v = try eval(e, scope)
        switch v {
        case .prefix(let p): return Located(p, at: e.range)
        case .string(let s):
            if let p = IPPrefix(s) { return Located(p, at: e.range) }
        case .address(let a):
            throw err(.typeMismatch, "expected an address with a prefix length, found address `\(a)`", at: e.range,
                      help: "add the prefix length, e.g. `\(a)/\(a.family == .ipv4 ? 24 : 64)`")
        default: break
        }
        throw err(.typeMismatch, "expected a prefix like `10.0.1.1/24`, found \(v.typeName) `\(v)`", at: e.range)
    }

    func address(_ e: Expr, _ scope: Scope, _ what: String) throws -> Located<IPAddress> {
        let v = try eval(e, scope)
        switch v {
        case .address(let a): return Located(a, at: e.range)
        case .prefix(let p): return Located(p.address, at: e.range)
        case .string(let s):
            if let a = IPAddress(s) { return Located(a, at: e.range) }
        default: break
        }
        throw err(.typeMismatch, "expected an address as the \(what), found \(v.typeName) `\(v)`", at: e.range)
    }

    /// Shaping options, each value in its key's unit.
    func shaping(_ options: [OptionSyntax], _ scope: Scope) throws -> [ShapingOption] {
        try options.map { o in
            if let d = o.key.dimension {
                return ShapingOption(o.key, try quantity(o.value, scope, d, o.key.rawValue), keyRange: o.keyRange)
            }
            let n = try int(o.value, scope, "queue length in packets for `\(o.key.rawValue)`")
            return ShapingOption(o.key, Located(Int64(n.value), at: n.range), keyRange: o.keyRange)
        }
    }

    /// A quantity of dimension `d`, as its value in the dimension's fixed unit.
    func quantity(_ e: Expr, _ scope: Scope, _ d: Quantity.Dimension, _ what: String) throws -> Located<Int64> {
        let v = try eval(e, scope)
        switch v {
        case .quantity(let q) where q.dimension == d:
            return Located(q.value, at: e.range)
        case .quantity(let q):
            var help: String? = nil
            if d == .size && q.dimension == .rate {
                help = "a size counts bytes: \(Quantity.unitList(.size)) (tc's `kbit` as a size is 128 bytes, not a rate)"
            } else if d == .rate && q.dimension == .size {
                help = "a rate is per second: \(Quantity.unitList(.rate))"
            }
            throw err(.typeMismatch, "expected \(d.example) for `\(what)`, found \(q.dimension.rawValue) `\(q)`",
                      at: e.range, help: help)
        case .int(let n):
            let unit: String
            switch d {
            case .duration: unit = what == "timeout" ? "s" : "ms"
            case .percentage: unit = "%"
            case .rate: unit = "mbit"
            case .size: unit = "b"
            }
            throw err(.typeMismatch, "expected \(d.example) for `\(what)`, found integer `\(n)`", at: e.range,
                      help: "add a unit: `\(n)\(unit)`")
        case .string(let s):
            if case .failure(let f)? = Quantity.parse(s) {
                let (m, h) = Quantity.message(f, in: s)
                throw err(.invalidQuantity, m, at: e.range, help: h)
            }
            throw err(.typeMismatch, "expected \(d.example) for `\(what)`, found string `\(v)`", at: e.range)
        default:
            throw err(.typeMismatch, "expected \(d.example) for `\(what)`, found \(v.typeName) `\(v)`", at: e.range)
        }
    }

    // MARK: expressions

    /// The value of an unquoted interpolated word: a prefix, address or integer when its text
    /// reads as one, else a string.
    func classify(_ t: String, _ r: SourceRange) throws -> Value {
        if let p = IPPrefix(t) { return .prefix(p) }
        if let a = IPAddress(t) { return .address(a) }
        // `{d}ms`, `{p}%`: a quantity when the unit is known (a bad unit is reported where a
        // quantity is expected; elsewhere the word stays text).
        if case .success(let q)? = Quantity.parse(t) {
            if let w = Quantity.bytesPerSecondWarning(t) {
                diagnostics.append(.warning(.ambiguousUnit, w.message, at: r, help: w.help))
            }
            return .quantity(q)
        }
        if let f = t.utf8.first, f >= 48, f <= 57 {
            if t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                guard let n = Int(t) else { throw err(.overflow, "integer `\(t)` does not fit in 64 bits", at: r) }
                return .int(n)
            }
            if !Quantity.looksLikeQuantity(t) && (t.utf8.contains(UInt8(ascii: ".")) || t.utf8.contains(UInt8(ascii: "/"))) {
                throw err(.invalidAddress, "`\(t)` is not a valid address or prefix", at: r)
            }
        }
        return .string(t)
    }

    func eval(_ e: Expr, _ scope: Scope) throws -> Value {
        switch e {
        case .int(let n, _): return .int(n)
        case .bool(let b, _): return .bool(b)
        case .address(let a, _): return .address(a)
        case .prefix(let p, _): return .prefix(p)
        case .quantity(let q, _): return .quantity(q)
        case .string(let parts, let r):
            let s = try text(parts, scope)
            if s.utf8.count > limits.maxStringLength {
                throw err(.invalidArgument, "string longer than \(limits.maxStringLength) bytes", at: r)
            }
            return .string(s)
        case .word(let parts, let r):
            return try classify(try text(parts, scope), r)
        case .variable(let n, let r):
            switch scope.lookup(n) {
            case .value(let v)?: return v
            case .template?:
                throw err(.typeMismatch, "`\(n)` is a template, not a value", at: r,
                          help: "expand it as a statement: `\(n)(…)`")
            case nil:
                var help: String
                let bytes = Array(n.utf8)
                if let i = bytes.firstIndex(of: UInt8(ascii: "-")),
                   scope.lookup(String(decoding: bytes[..<i], as: UTF8.self)) != nil {
                    help = "`\(n)` is one name (a `-` between letters or digits joins a name); write `\(String(decoding: bytes[..<i], as: UTF8.self)) - \(String(decoding: bytes[(i + 1)...], as: UTF8.self))` to subtract"
                } else if let s = suggestion(for: n, among: scope.visibleNames) {
                    help = "did you mean `\(s)`?"
                } else {
                    help = "to use `\(n)` as text, quote it: \"\(n)\""
                }
                throw err(.undefinedVariable, "undefined variable `\(n)`", at: r, help: help)
            }
        case .list(let items, _):
            return .list(try items.map { try eval($0, scope) })
        case .range(let a, let b, _):
            let av = try eval(a, scope), bv = try eval(b, scope)
            guard case .int(let x) = av else { throw err(.typeMismatch, "a range bound must be an integer, found \(av.typeName) `\(av)`", at: a.range) }
            guard case .int(let y) = bv else { throw err(.typeMismatch, "a range bound must be an integer, found \(bv.typeName) `\(bv)`", at: b.range) }
            return .range(x, y)
        case .unary(let op, let x, let r):
            let v = try eval(x, scope)
            switch (op, v) {
            case (.negate, .int(let n)):
                let (m, o) = (0).subtractingReportingOverflow(n)
                if o { throw err(.overflow, "integer overflow: `-(\(n))` does not fit in 64 bits", at: r) }
                return .int(m)
            case (.not, .bool(let b)): return .bool(!b)
            case (.negate, .quantity(let q)):
                let (m, o) = (0 as Int64).subtractingReportingOverflow(q.value)
                if o { throw err(.overflow, "`-(\(q))` does not fit in 64 bits", at: r) }
                return .quantity(q.with(m))
            default:
                throw err(.typeMismatch, "`\(op.rawValue)` cannot be applied to a \(v.typeName)", at: r)
            }
        case .binary(let op, let a, let b, let r):
            return try binary(op, a, b, r, scope)
        case .call(let n, let args, let nr, let r):
            if case .template? = scope.lookup(n) {
                throw err(.typeMismatch, "template `\(n)` declares objects and has no value", at: nr,
                          help: "expand it as a statement on its own line")
            }
            let values = try args.map { try eval($0, scope) }
            return try callBuiltin(n, values, args, nameRange: nr, range: r)
        }
    }

    func binary(_ op: BinaryOp, _ a: Expr, _ b: Expr, _ r: SourceRange, _ scope: Scope) throws -> Value {
        if op == .and || op == .or {
            let l = try eval(a, scope)
            guard case .bool(let x) = l else {
                throw err(.typeMismatch, "`\(op.rawValue)` needs booleans, found \(l.typeName) `\(l)`", at: a.range)
            }
            if op == .and && !x { return .bool(false) }
            if op == .or && x { return .bool(true) }
            let rv = try eval(b, scope)
            guard case .bool(let y) = rv else {
                throw err(.typeMismatch, "`\(op.rawValue)` needs booleans, found \(rv.typeName) `\(rv)`", at: b.range)
            }
            return .bool(y)
        }
        let l = try eval(a, scope), rv = try eval(b, scope)
        func mismatch() -> EvalError {
            err(.typeMismatch, "`\(op.rawValue)` cannot be applied to \(l.typeName) and \(rv.typeName)", at: r,
                help: (l.typeName == "string" || rv.typeName == "string") && op == .add
                    ? "use interpolation to build text: \"{a}{b}\"" : nil)
        }
        func overflow() -> EvalError {
            err(.overflow, "integer overflow: `\(l) \(op.rawValue) \(rv)` does not fit in 64 bits", at: r)
        }
        switch op {
        case .add, .sub, .mul, .div, .mod:
            switch (l, rv) {
            case (.int(let x), .int(let y)):
                let res: (Int, Bool)
                switch op {
                case .add: res = x.addingReportingOverflow(y)
                case .sub: res = x.subtractingReportingOverflow(y)
                case .mul: res = x.multipliedReportingOverflow(by: y)
                case .div, .mod:
                    if y == 0 {
                        throw err(.divisionByZero, op == .div ? "division by zero" : "remainder by zero", at: r)
                    }
                    res = op == .div ? x.dividedReportingOverflow(by: y) : x.remainderReportingOverflow(dividingBy: y)
                default: fatalError("unreachable")
                }
                if res.1 { throw overflow() }
                return .int(res.0)
            case (.address(let x), .int(let y)) where op == .add || op == .sub:
                var n = y
                if op == .sub {
                    let (m, o) = (0).subtractingReportingOverflow(y)
                    if o { throw overflow() }
                    n = m
                }
                guard let res = x.adding(n) else {
                    throw err(.overflow, "`\(x) \(op.rawValue) \(y)` leaves the address range", at: r)
                }
                return .address(res)
            case (.int(let y), .address(let x)) where op == .add:
                guard let res = x.adding(y) else {
                    throw err(.overflow, "`\(y) + \(x)` leaves the address range", at: r)
                }
                return .address(res)
            case (.quantity(let x), .quantity(let y)) where (op == .add || op == .sub) && x.dimension == y.dimension:
                let (v, o) = op == .add ? x.value.addingReportingOverflow(y.value) : x.value.subtractingReportingOverflow(y.value)
                if o { throw overflow() }
                return .quantity(x.with(v))
            case (.quantity(let x), .int(let y)) where op == .mul, (.int(let y), .quantity(let x)) where op == .mul:
                let (v, o) = x.value.multipliedReportingOverflow(by: Int64(y))
                if o { throw overflow() }
                return .quantity(x.with(v))
            case (.quantity(let x), .int(let y)) where op == .div:
                if y == 0 { throw err(.divisionByZero, "division by zero", at: r) }
                let step: Int64 = x.dimension == .duration ? 1000 : 1
                let (q, o) = x.value.dividedReportingOverflow(by: Int64(y))
                if o { throw overflow() }
                if x.value % Int64(y) != 0 || q % step != 0 {
                    throw err(.invalidQuantity, "`\(x) / \(y)` is not exact", at: r,
                              help: x.dimension == .duration ? "durations are kept to the microsecond" : "divide a value that is a multiple of \(y)")
                }
                return .quantity(x.with(q))
            case (.string(let x), .string(let y)) where op == .add:
                if x.utf8.count + y.utf8.count > limits.maxStringLength {
                    throw err(.invalidArgument, "string longer than \(limits.maxStringLength) bytes", at: r)
                }
                return .string(x + y)
            default:
                throw mismatch()
            }
        case .eq, .ne:
            guard l.typeName == rv.typeName else {
                throw err(.typeMismatch, "cannot compare \(l.typeName) `\(l)` with \(rv.typeName) `\(rv)`", at: r)
            }
            return .bool((l == rv) == (op == .eq))
        case .lt, .le, .gt, .ge:
            let c: Int  // -1, 0, 1
            switch (l, rv) {
            case (.int(let x), .int(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            case (.string(let x), .string(let y)): c = x < y ? -1 : (x == y ? 0 : 1)
            case (.address(let x), .address(let y)) where x.family == y.family: c = x < y ? -1 : (x == y ? 0 : 1)
            case (.quantity(let x), .quantity(let y)) where x.dimension == y.dimension:
                c = x.value < y.value ? -1 : (x.value == y.value ? 0 : 1)
            default: throw mismatch()
            }
            switch op {
            case .lt: return .bool(c < 0)
            case .le: return .bool(c <= 0)
            case .gt: return .bool(c > 0)
            default: return .bool(c >= 0)
            }
        case .and, .or:
            fatalError("handled above")
        }
    }
}
