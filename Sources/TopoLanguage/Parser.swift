/// The result of parsing: the tree (with the statements that parsed) and every diagnostic.
public struct ParseResult {
    public var script: Script
    /// The first diagnostics of each kind (see `DiagnosticLimiter`), by position.
    public var diagnostics: [Diagnostic]
    /// Those counted beyond the limit.
    public var omitted: OmittedDiagnostics
    public init(script: Script, diagnostics: [Diagnostic], omitted: OmittedDiagnostics = .init()) {
        self.script = script
        self.diagnostics = diagnostics
        self.omitted = omitted
    }
}

/// Parses a whole script, collecting all diagnostics in one pass (panic-mode recovery at the
/// next statement boundary).
public func parseScript(_ file: SourceFile) -> ParseResult {
    let p = Parser(file: file, start: 0, end: file.bytes.count, depth: 0, budget: ParseBudget())
    let stmts = p.parseStatements(inBlock: false)
    return ParseResult(script: Script(statements: stmts), diagnostics: p.allDiagnostics(),
                       omitted: p.lexer.limiter.omitted + p.limiter.omitted)
}

/// The statement keywords (reserved only at the start of a statement).
let statementKeywords = ["ns", "veth", "bridge", "dummy", "vlan", "macvlan", "ipvlan", "vxlan", "vrf", "tc",
                         "addr", "up", "down", "mtu", "route", "forward", "sysctl", "ping", "exec", "daemon",
                         "let", "for", "if", "def"]

/// Thrown after a diagnostic has been recorded; the statement loop recovers.
struct ParseError: Error {}

/// What one parse of a script may use, shared with the sub-parsers of its interpolations.
final class ParseBudget {
    /// Tokens read so far (newlines and `;` not counted).
    var tokens = 0
    /// Set when parsing stopped (too many tokens or errors): every parser then sees the end.
    var stopped = false
}

/// A recursive-descent parser with one token of lookahead, pulling tokens from a `Lexer`.
/// Newlines are skipped while `nesting > 0` (inside `< >`, `[ ]`, `( )`).
///
/// Nesting is bounded by one budget, `maxDepth`, so that neither this parser nor anything that
/// later walks the tree (the evaluator, synthesized `==` and `hash`, deinit of the indirect
/// enums) can exhaust the stack: `depth` counts blocks, parentheses, brackets, calls,
/// interpolations and unary operators on the way down, and every expression node is checked as
/// it is built so that `depth` plus the height of its subtree stays within the budget. The
/// height counts each operator of a chain (`1+1+…+1` with 300 operators is 300 levels deep,
/// though the chain is parsed by a loop).
final class Parser {
    let file: SourceFile
    var lexer: Lexer
    var tok: Token
    var prevEnd: SourceLocation
    var nesting = 0
    var depth: Int
    var diagnostics: [Diagnostic] = []
    var limiter = DiagnosticLimiter()
    static let maxDepth = 200
    /// After this many diagnostics (lexer's and parser's) parsing stops, as clang's
    /// `-ferror-limit` does: the count stays exact up to here and the work stays bounded.
    static let maxErrors = 10_000
    /// Most tokens (words, numbers, symbols; newlines and `;` aside) one script may have:
    /// a flat script at the object limit of 100 000 needs about this many, and the tree,
    /// built before evaluation, stays small (about 120 bytes a node) whatever the input.
    static let maxTokens = 500_000
    let budget: ParseBudget
    /// Set once parsing stopped (too many errors or tokens): from then on the current token is
    /// the end of input, so every open construct winds down without further messages.
    var gaveUp: Bool { budget.stopped }

    init(file: SourceFile, start: Int, end: Int, depth: Int, budget: ParseBudget) {
        self.file = file
        self.lexer = Lexer(file: file, start: start, end: end)
        self.depth = depth
        self.budget = budget
        self.tok = Token(.eof, .none, spaceBefore: true)
        self.prevEnd = file.location(ofOffset: start)
        self.tok = lexer.next()
        countToken()
    }

    /// Stops parsing here with a diagnostic that is always kept.
    func stop(_ kind: Diagnostic.Kind, _ message: String, help: String) {
        let at = SourceRange(start: tok.range.start, end: tok.range.start)
        diagnostics.append(.error(kind, message, at: at, help: help))
        budget.stopped = true
        tok = Token(.eof, at, spaceBefore: true)
    }

    func countToken() {
        switch tok.kind {
        case .newline, .semicolon, .eof: return
        default: break
        }
        budget.tokens += 1
        if budget.tokens > Parser.maxTokens, !budget.stopped {
            stop(.inputLimit, "the script has more than \(Parser.maxTokens) tokens; parsing stopped here",
                 help: "a script may declare at most 100 000 objects; generate fewer statements, or use `for` loops")
        }
    }

    /// The lexer's and the parser's diagnostics (each bounded by its limiter), by position.
    func allDiagnostics() -> [Diagnostic] {
        var all = lexer.diagnostics + diagnostics
        // stable sort by position: lexer and parser messages interleave in source order
        all = all.enumerated().sorted { a, b in
            a.element.range.start.offset != b.element.range.start.offset
                ? a.element.range.start.offset < b.element.range.start.offset : a.offset < b.offset
        }.map { $0.element }
        return all
    }

    // MARK: token helpers

    func advance() {
        prevEnd = tok.range.end
        if gaveUp {
            tok = Token(.eof, SourceRange(start: tok.range.start, end: tok.range.start), spaceBefore: true)
            return
        }
        tok = lexer.next()
        if nesting > 0 {
            var skipped = false
            while tok.kind == .newline {
                tok = lexer.next()
                skipped = true
            }
            tok.afterNewline = skipped
        }
        countToken()
    }

    func isName(_ s: String) -> Bool {
        if case .name(let n) = tok.kind { return n == s }
        return false
    }

    var atStatementEnd: Bool {
        switch tok.kind {
        case .newline, .semicolon, .rbrace, .eof: return true
        default: return false
        }
    }

    /// Records a diagnostic and returns the error to throw.
    @discardableResult
    func fail(_ kind: Diagnostic.Kind, _ message: String, at r: SourceRange, help: String? = nil,
              notes: [Diagnostic.Note] = []) -> ParseError {
        // After parsing stopped, the open constructs that wind down say nothing.
        if gaveUp { return ParseError() }
        let d = Diagnostic.error(kind, message, at: r, help: help, notes: notes)
        if limiter.admit(d) { diagnostics.append(d) }
        return ParseError()
    }

    /// An "expected X, found Y" error at the current token (silent for an already-reported literal).
    func expected(_ what: String, help: String? = nil) -> ParseError {
        if tok.kind == .invalid { return ParseError() }
        let r = tok.kind == .newline ? SourceRange(start: tok.range.start, end: tok.range.start) : tok.range
        return fail(.expected, "expected \(what), found \(tok.kind.display)", at: r, help: help)
    }

    func expect(_ k: TokenKind, _ what: String) throws {
        guard tok.kind == k else { throw expected(what) }
        advance()
    }

    /// The error for a missing closer, pointing back at the opener.
    func unclosed(_ closer: String, _ opener: String, at open: SourceRange) -> ParseError {
        let r = tok.kind == .newline || tok.kind == .eof
            ? SourceRange(start: tok.range.start, end: tok.range.start) : tok.range
        return fail(.unclosed, "`\(closer)` expected (to close `\(opener)` at \(open.start))", at: r,
                    notes: [.init("`\(opener)` opened here", at: open)])
    }

    func enter() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw fail(.recursionLimit, "nesting deeper than \(Parser.maxDepth) levels", at: tok.range)
        }
    }

    /// Skips to the next statement boundary: a newline or `;` outside braces, a `}` closing the
    /// enclosing block, a token after a skipped newline, or the end.
    func synchronize() {
        if gaveUp { return }
        nesting = 0
        var braces = 0
        while true {
            switch tok.kind {
            case .eof: return
            case .newline, .semicolon: if braces == 0 { return }
            case .lbrace: braces += 1
            case .rbrace:
                if braces == 0 { return }
                braces -= 1
            default:
                if tok.afterNewline && braces == 0 { return }
            }
            advance()
            // Skipping may pass lexer errors (a line of stray bytes): stop there too.
            if tooManyErrors() { return }
        }
    }

    // MARK: statements

    /// True once there were `maxErrors` diagnostics; the first time, reports where parsing stops.
    func tooManyErrors() -> Bool {
        if gaveUp { return true }
        if lexer.limiter.count + limiter.count < Parser.maxErrors { return false }
        stop(.errorLimit, "too many errors (\(Parser.maxErrors)); parsing stopped here", help: "fix the errors above first")
        return true
    }

    // statements -> { [stmt] (NEWLINE | ";") }          (until `}` in a block, or the end)
    func parseStatements(inBlock: Bool) -> [Stmt] {
        var out: [Stmt] = []
        while true {
            while tok.kind == .newline || tok.kind == .semicolon { advance() }
            if tooManyErrors() { return out }
            if tok.kind == .eof { return out }
            if tok.kind == .rbrace {
                if inBlock { return out }
                fail(.unexpectedToken, "unexpected `}`", at: tok.range, help: "no block is open here")
                advance()
                continue
            }
            let startOffset = tok.range.start.offset
            do {
                let s = try parseStatement()
                out.append(s)
                if !atStatementEnd {
                    throw expected("end of statement (a newline or `;`)")
                }
            } catch {
                synchronize()
                // never stall on the token that failed
                if tok.range.start.offset == startOffset && tok.kind != .eof && tok.kind != .rbrace { advance() }
            }
        }
    }

    // stmt -> ns-stmt | veth-stmt | bridge-stmt | dummy-stmt | vlan-stmt | macvlan-stmt | ipvlan-stmt
    //       | vxlan-stmt | vrf-stmt | tc-stmt | addr-stmt | state-stmt | mtu-stmt
    //       | route-stmt | forward-stmt | sysctl-stmt | ping-stmt | exec-stmt | daemon-stmt
    //       | let-stmt | for-stmt | if-stmt | def-stmt | call-stmt
    func parseStatement() throws -> Stmt {
        let start = tok.range
        guard case .name(let kw) = tok.kind else {
            if tok.kind == .invalid { throw ParseError() }
            throw fail(.unexpectedToken, "expected a statement, found \(tok.kind.display)", at: tok.range,
                       help: tok.kind == .lbrace ? "a `{` opens a block only after a `for`, `if`, `else` or `def` header" : nil)
        }
        switch kw {
        case "ns": return try parseNs()
        case "veth": return try parseVeth()
        case "bridge": return try parseBridge()
        case "dummy": return try parseDummy()
        case "vlan": return try parseVlan()
        case "macvlan", "ipvlan": return try parseMacvlan(ipvlan: kw == "ipvlan")
        case "vxlan": return try parseVxlan()
        case "vrf": return try parseVrf()
        case "tc": return try parseTC()
        case "daemon": return try parseDaemon()
        case "addr": return try parseAddr()
        case "up", "down": return try parseLinkState(up: kw == "up")
        case "mtu": return try parseMtu()
        case "route": return try parseRoute()
        case "forward": return try parseForward()
        case "sysctl": return try parseSysctl()
        case "ping": return try parsePing()
        case "exec": return try parseExec()
        case "let": return try parseLet()
        case "for": return try parseFor()
        case "if": return try parseIf()
        case "def": return try parseDef()
        case "else":
            throw fail(.unexpectedToken, "`else` without `if`", at: start,
                       help: "`else` goes on the same line as the `}` that closes the `if` block")
        default:
            advance()
            if tok.kind == .lparen { return try parseCall(kw, start) }
            let sug = suggestion(for: kw, among: statementKeywords)
            throw fail(.unknownStatement, "unknown statement `\(kw)`", at: start,
                       help: sug.map { "did you mean `\($0)`?" }
                           ?? "statements are \(statementKeywords.map { "`\($0)`" }.joined(separator: ", "))")
        }
    }

    func span(_ start: SourceRange) -> SourceRange { SourceRange(start: start.start, end: prevEnd) }

    // ns-stmt -> "ns" name { "," name } [ "<" iface-list ">" ]
    func parseNs() throws -> Stmt {
        let start = tok.range
        advance()
        var names = [try parseName("a namespace name")]
        while tok.kind == .comma {
            advance()
            names.append(try parseName("a namespace name"))
        }
        var placed: [InterfaceSyntax] = []
        if tok.kind == .lt {
            let lt = tok.range
            placed = try parseAngleList()
            if names.count > 1 {
                throw fail(.unexpectedToken, "interfaces can be placed in only one namespace at a time", at: lt,
                           help: "write one `ns N < … >` per namespace")
            }
        }
        return .ns(names, placed: placed, span(start))
    }

    // iface-list -> "<" { iface [","] } ">"
    func parseAngleList() throws -> [InterfaceSyntax] {
        let open = tok.range
        nesting += 1
        advance()
        var out: [InterfaceSyntax] = []
        while true {
            if tok.kind == .gt {
                nesting -= 1
                advance()
                return out
            }
            var closerMissing = false
            switch tok.kind {
            case .eof, .semicolon, .rbrace, .lbrace: closerMissing = true
            case .name(let s): closerMissing = tok.afterNewline && statementKeywords.contains(s)
            default: break
            }
            if closerMissing {
                nesting -= 1
                throw unclosed(">", "<", at: open)
            }
            switch tok.kind {
            case .name, .word, .string, .int, .lbrace: out.append(try parseInterface())
            default: throw expected("an interface name or `>`")
            }
            if tok.kind == .comma { advance() }
        }
    }

    // attr -> [ KEY expr ]             (KEY is `mtu`, or `count` for ping)
    func parseAttribute(_ key: String) throws -> Expr? {
        var value: Expr?
        while !atStatementEnd {
            guard case .name(let a) = tok.kind, a == key else {
                var help: String? = nil
                if case .name(let a) = tok.kind, editDistance(a, key) < 3 { help = "did you mean `\(key)`?" }
                throw expected("`\(key)` or end of statement", help: help)
            }
            if value != nil { throw fail(.unexpectedToken, "`\(a)` given twice", at: tok.range) }
            advance()
            value = try parseExpr()
        }
        return value
    }

    /// Parses `KEY value` clauses up to the end of the statement, each key at most once:
    /// `body` parses the value of the key it is given (the key already consumed). An unknown
    /// word gets a did-you-mean among `keys`; `angle`, when given, also accepts a `< … >` list.
    func parseClauses(_ keys: [String], angle: (() throws -> Void)? = nil,
                      _ body: (String, SourceRange) throws -> Void) throws {
        var seen: Set<String> = []
        var previous: String?
        while !atStatementEnd {
            if tok.kind == .lt, let angle {
                if seen.contains("<") { throw fail(.unexpectedToken, "a second `<` list", at: tok.range) }
                seen.insert("<")
                try angle()
                previous = "<"
                continue
            }
            guard case .name(let k) = tok.kind, keys.contains(k) else {
                let list = keys.map { "`\($0)`" }.joined(separator: ", ")
                var help: String? = nil
                if case .name(let a) = tok.kind {
                    if let s = suggestion(for: a, among: keys) { help = "did you mean `\(s)`?" }
                } else if previous == "delay", tok.kind != .invalid {
                    help = "write the jitter as `jitter \(file.text(of: tok.range))`"
                }
                throw expected("\(list) or end of statement", help: help)
            }
            if seen.contains(k) { throw fail(.unexpectedToken, "`\(k)` given twice", at: tok.range) }
            seen.insert(k)
            let keyRange = tok.range
            advance()
            if atStatementEnd { throw expected("a value after `\(k)`") }
            try body(k, keyRange)
            previous = k
        }
    }

    static let shapingKeys = ShapingKey.allCases.map(\.rawValue)

    /// One shaping option's value (the key already read).
    func shapingOption(_ k: String, _ keyRange: SourceRange) throws -> OptionSyntax {
        OptionSyntax(key: ShapingKey(rawValue: k)!, keyRange: keyRange, value: try parseExpr())
    }

    // veth-stmt -> "veth" iface "<->" iface { "mtu" expr | tc-option }
    func parseVeth() throws -> Stmt {
        let start = tok.range
        advance()
        let a = try parseInterface()
        guard tok.kind == .arrow else {
            throw expected("`<->` between the two ends of the veth pair")
        }
        advance()
        let b = try parseInterface("an interface name after `<->`")
        var mtu: Expr?
        var shaping: [OptionSyntax] = []
        try parseClauses(["mtu"] + Parser.shapingKeys) { k, r in
            if k == "mtu" { mtu = try parseExpr() } else { shaping.append(try shapingOption(k, r)) }
        }
        return .veth(a, b, mtu: mtu, shaping: shaping, span(start))
    }

    // tc-stmt -> "tc" iface tc-option { tc-option }
    // tc-option -> ( "delay" | "jitter" | "loss" | "duplicate" | "reorder" | "corrupt" | "rate" | "burst" | "limit" ) expr
    func parseTC() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        if atStatementEnd { throw expected("a tc option like `delay 10ms`, `loss 1%` or `rate 10mbit`") }
        var options: [OptionSyntax] = []
        try parseClauses(Parser.shapingKeys) { k, r in options.append(try shapingOption(k, r)) }
        return .tc(i, options, span(start))
    }

    /// A word where a fixed keyword value stands (`protocol 802.1q`, `mode bridge`): a name,
    /// a string, an interpolated word, or the text of a number with a unit.
    func parseWordValue(_ what: String) throws -> NameSyntax {
        if case .quantity(let text) = tok.kind {
            let r = tok.range
            advance()
            return .literal(text, r)
        }
        return try parseName(what)
    }

    // vlan-stmt -> "vlan" iface { "link" iface | "id" expr | "protocol" word | "mtu" expr }
    //              ("link" and "id" required)
    func parseVlan() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        var link: InterfaceSyntax?, id: Expr?, proto: NameSyntax?, mtu: Expr?
        try parseClauses(["link", "id", "protocol", "mtu"]) { k, _ in
            switch k {
            case "link": link = try parseInterface("the parent interface")
            case "id": id = try parseExpr()
            case "protocol": proto = try parseWordValue("`802.1q` or `802.1ad`")
            default: mtu = try parseExpr()
            }
        }
        guard let link else { throw expected("`link PARENT` (the interface the vlan is on)") }
        guard let id else { throw expected("`id N` (the vlan id, 1 to 4094)") }
        return .vlan(i, link: link, id: id, protocol: proto, mtu: mtu, span(start))
    }

    // macvlan-stmt -> "macvlan" iface { "link" iface | "mode" name | "mtu" expr }   ("link" required)
    // ipvlan-stmt  -> "ipvlan" iface { "link" iface | "mode" name | "mtu" expr }    ("link" required)
    func parseMacvlan(ipvlan: Bool) throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        var link: InterfaceSyntax?, mode: NameSyntax?, mtu: Expr?
        let modes = ipvlan ? "`l2`, `l3` or `l3s`" : "`bridge`, `private`, `vepa` or `passthru`"
        try parseClauses(["link", "mode", "mtu"]) { k, _ in
            switch k {
            case "link": link = try parseInterface("the parent interface")
            case "mode": mode = try parseWordValue(modes)
            default: mtu = try parseExpr()
            }
        }
        guard let link else { throw expected("`link PARENT` (the interface the \(ipvlan ? "ipvlan" : "macvlan") is on)") }
        return ipvlan ? .ipvlan(i, link: link, mode: mode, mtu: mtu, span(start))
                      : .macvlan(i, link: link, mode: mode, mtu: mtu, span(start))
    }

    // vxlan-stmt -> "vxlan" iface { "id" expr | "remote" expr | "group" expr | "local" expr
    //               | "link" iface | "port" expr | "ttl" expr | "mtu" expr }   ("id" required)
    func parseVxlan() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        var x = VXLANSyntax(id: .int(0, .none))
        var id: Expr?
        try parseClauses(["id", "remote", "group", "local", "link", "port", "ttl", "mtu"]) { k, _ in
            switch k {
            case "id": id = try parseExpr()
            case "remote": x.remote = try parseExpr()
            case "group": x.group = try parseExpr()
            case "local": x.local = try parseExpr()
            case "link": x.link = try parseInterface("the underlay interface")
            case "port": x.port = try parseExpr()
            case "ttl": x.ttl = try parseExpr()
            default: x.mtu = try parseExpr()
            }
        }
        guard let id else { throw expected("`id VNI` (the VXLAN network identifier, 0 to 16777215)") }
        x.id = id
        return .vxlan(i, x, span(start))
    }

    // vrf-stmt -> "vrf" iface { "table" expr | iface-list | "mtu" expr }   ("table" required)
    func parseVrf() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface("a VRF name")
        var table: Expr?, mtu: Expr?
        var ports: [InterfaceSyntax] = []
        try parseClauses(["table", "mtu"], angle: { ports = try self.parseAngleList() }) { k, _ in
            // Not a full expression: `table 10 < eth1 >` is not a comparison.
            if k == "table" { table = try parseArithmetic() } else { mtu = try parseExpr() }
        }
        guard let table else { throw expected("`table T` (the VRF's routing table)") }
        return .vrf(i, table: table, ports: ports, mtu: mtu, span(start))
    }

    // daemon-stmt -> "daemon" name expr
    func parseDaemon() throws -> Stmt {
        let start = tok.range
        advance()
        let ns = try parseName("a namespace name")
        if atStatementEnd { throw expected("a command string like \"iperf3 -s\"") }
        let cmd = try parseExpr()
        if !atStatementEnd { throw expected("end of statement", help: "quote the whole command: daemon NS \"cmd arg…\"") }
        return .daemon(ns, cmd, span(start))
    }

    // bridge-stmt -> "bridge" iface [ iface-list ] attr
    func parseBridge() throws -> Stmt {
        let start = tok.range
        advance()
        let br = try parseInterface("a bridge name")
        var ports: [InterfaceSyntax] = []
        if tok.kind == .lt { ports = try parseAngleList() }
        return .bridge(br, ports: ports, mtu: try parseAttribute("mtu"), span(start))
    }

    // dummy-stmt -> "dummy" iface attr
    func parseDummy() throws -> Stmt {
        let start = tok.range
        advance()
        let d = try parseInterface()
        return .dummy(d, mtu: try parseAttribute("mtu"), span(start))
    }

    // addr-stmt -> "addr" iface expr { "," expr }
    func parseAddr() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        if atStatementEnd { throw expected("an address prefix like `10.0.1.1/24`") }
        var list = [try parseExpr()]
        while tok.kind == .comma {
            advance()
            list.append(try parseExpr())
        }
        return .addr(i, list, span(start))
    }

    // state-stmt -> ("up" | "down") iface { [","] iface }
    func parseLinkState(up: Bool) throws -> Stmt {
        let start = tok.range
        advance()
        var list = [try parseInterface()]
        while !atStatementEnd {
            if tok.kind == .comma { advance() }
            list.append(try parseInterface())
        }
        return .linkState(list, up: up, span(start))
    }

    // mtu-stmt -> "mtu" iface expr
    func parseMtu() throws -> Stmt {
        let start = tok.range
        advance()
        let i = try parseInterface()
        if atStatementEnd { throw expected("an MTU value") }
        return .mtu(i, try parseExpr(), span(start))
    }

    // route-stmt -> "route" name ( "default" | expr ) route-attr { route-attr }
    // route-attr -> "via" expr | "dev" iface | "metric" expr | "table" expr
    func parseRoute() throws -> Stmt {
        let start = tok.range
        advance()
        let ns = try parseName("a namespace name")
        let dest: RouteDestinationSyntax
        if isName("default") {
            dest = .default(tok.range)
            advance()
        } else {
            if atStatementEnd { throw expected("a destination prefix or `default`") }
            dest = .prefix(try parseExpr())
        }
        var via: Expr?, dev: InterfaceSyntax?, metric: Expr?, table: Expr?
        try parseClauses(["via", "dev", "metric", "table"]) { a, _ in
            switch a {
            case "via": via = try parseExpr()
            case "dev": dev = try parseInterface()
            case "metric": metric = try parseExpr()
            default: table = try parseExpr()
            }
        }
        if via == nil && dev == nil {
            throw expected("`via GATEWAY` or `dev IF`")
        }
        return .route(ns, dest, via: via, dev: dev, metric: metric, table: table, span(start))
    }

    // forward-stmt -> "forward" name
    func parseForward() throws -> Stmt {
        let start = tok.range
        advance()
        return .forward(try parseName("a namespace name"), span(start))
    }

    // sysctl-stmt -> "sysctl" name name "=" value
    // value -> name | INT | "-" INT | STRING | ADDRESS | PREFIX
    func parseSysctl() throws -> Stmt {
        let start = tok.range
        advance()
        let ns = try parseName("a namespace name")
        let key = try parseName("a sysctl key like `net.ipv4.ip_forward`")
        guard tok.kind == .assign else { throw expected("`=` after the sysctl key") }
        advance()
        let value: NameSyntax
        switch tok.kind {
        case .int, .address, .prefix:
            value = .literal(file.text(of: tok.range), tok.range)
            advance()
        case .minus:
            let m = tok.range
            advance()
            guard case .int = tok.kind, tok.range.start.offset == m.end.offset else { throw expected("a number after `-`") }
            let r = m.union(tok.range)
            value = .literal(file.text(of: r), r)
            advance()
        default:
            value = try parseName("a sysctl value")
        }
        return .sysctl(ns, key: key, value: value, span(start))
    }

    // ping-stmt -> "ping" name expr attr
    func parsePing() throws -> Stmt {
        let start = tok.range
        advance()
        let ns = try parseName("a namespace name")
        if atStatementEnd { throw expected("an address to ping") }
        let a = try parseExpr()
        return .ping(ns, a, count: try parseAttribute("count"), span(start))
    }

    // exec-stmt -> "exec" name expr [ "timeout" expr ]
    func parseExec() throws -> Stmt {
        let start = tok.range
        advance()
        let ns = try parseName("a namespace name")
        if atStatementEnd { throw expected("a command string like \"ip addr\"") }
        let cmd = try parseExpr()
        return .exec(ns, cmd, timeout: try parseAttribute("timeout"), span(start))
    }

    // let-stmt -> "let" NAME "=" expr
    func parseLet() throws -> Stmt {
        let start = tok.range
        advance()
        guard case .name(let n) = tok.kind else { throw expected("a variable name") }
        let nr = tok.range
        advance()
        guard tok.kind == .assign else { throw expected("`=` after `let \(n)`") }
        advance()
        if atStatementEnd { throw expected("an expression") }
        return .let(n, nameRange: nr, try parseExpr(), span(start))
    }

    // block -> "{" statements "}"
    func parseBlock(_ what: String) throws -> [Stmt] {
        guard tok.kind == .lbrace else {
            throw expected("`{` to open the \(what) body", help: tok.kind == .newline ? "put the `{` on the same line" : nil)
        }
        try enter()
        defer { depth -= 1 }
        let open = tok.range
        let saved = nesting
        nesting = 0
        advance()
        let body = parseStatements(inBlock: true)
        nesting = saved
        if gaveUp { throw ParseError() }
        guard tok.kind == .rbrace else { throw unclosed("}", "{", at: open) }
        advance()
        return body
    }

    // for-stmt -> "for" NAME "in" expr block
    func parseFor() throws -> Stmt {
        let start = tok.range
        advance()
        guard case .name(let v) = tok.kind else { throw expected("a loop variable name") }
        let vr = tok.range
        advance()
        guard isName("in") else { throw expected("`in` after `for \(v)`") }
        advance()
        if tok.kind == .lbrace { throw expected("a range or list to loop over") }
        let seq = try parseExpr()
        let body = try parseBlock("`for`")
        return .for(v, nameRange: vr, seq, body: body, span(start))
    }

    // if-stmt -> "if" expr block [ "else" ( if-stmt | block ) ]
    func parseIf() throws -> Stmt {
        let start = tok.range
        advance()
        if tok.kind == .lbrace { throw expected("a condition") }
        let cond = try parseExpr()
        let then = try parseBlock("`if`")
        var els: [Stmt]? = nil
        if isName("else") {
            advance()
            if isName("if") {
                try enter()
                defer { depth -= 1 }
                els = [try parseIf()]
            } else {
                els = try parseBlock("`else`")
            }
        }
        return .if(cond, then: then, else: els, span(start))
    }

    // def-stmt -> "def" NAME "(" [ NAME { "," NAME } ] ")" block
    func parseDef() throws -> Stmt {
        let start = tok.range
        advance()
        guard case .name(let n) = tok.kind else { throw expected("a template name") }
        let nr = tok.range
        if statementKeywords.contains(n) {
            throw fail(.unexpectedToken, "`\(n)` is a statement keyword and cannot name a template", at: nr)
        }
        advance()
        guard tok.kind == .lparen else { throw expected("`(` after the template name") }
        let open = tok.range
        nesting += 1
        advance()
        var params: [Located<String>] = []
        while tok.kind != .rparen {
            guard case .name(let p) = tok.kind else {
                nesting -= 1
                if tok.kind == .eof || tok.kind == .lbrace { throw unclosed(")", "(", at: open) }
                throw expected("a parameter name")
            }
            if params.contains(where: { $0.value == p }) {
                nesting -= 1
                throw fail(.unexpectedToken, "parameter `\(p)` given twice", at: tok.range)
            }
            params.append(Located(p, at: tok.range))
            advance()
            if tok.kind == .comma { advance() } else if tok.kind != .rparen {
                nesting -= 1
                if tok.kind == .eof || tok.kind == .lbrace { throw unclosed(")", "(", at: open) }
                throw expected("`,` or `)`")
            }
        }
        nesting -= 1
        advance()
        let body = try parseBlock("template")
        return .def(n, nameRange: nr, params: params, body: body, span(start))
    }

    // call-stmt -> NAME "(" [ expr { "," expr } ] ")"
    func parseCall(_ name: String, _ nameRange: SourceRange) throws -> Stmt {
        let args = try parseArguments()
        return .call(name, nameRange: nameRange, args, span(nameRange))
    }

    // args -> "(" [ expr { "," expr } [","] ] ")"
    func parseArguments() throws -> [Expr] {
        try parseArgumentsWithHeight().exprs
    }

    /// The arguments and the height of the tallest (0 when none).
    func parseArgumentsWithHeight() throws -> (exprs: [Expr], height: Int) {
        let open = tok.range
        nesting += 1
        advance()
        var args: [Expr] = []
        var height = 0
        while tok.kind != .rparen {
            if tok.kind == .eof || tok.kind == .semicolon || tok.kind == .rbrace {
                nesting -= 1
                throw unclosed(")", "(", at: open)
            }
            do {
                let e = try parseExprWithHeight()
                args.append(e.expr)
                height = max(height, e.height)
            } catch { nesting -= 1; throw error }
            if tok.kind == .comma { advance() } else if tok.kind != .rparen {
                nesting -= 1
                if tok.kind == .eof || tok.kind == .semicolon || tok.kind == .rbrace { throw unclosed(")", "(", at: open) }
                throw expected("`,` or `)`")
            }
        }
        nesting -= 1
        advance()
        return (args, height)
    }

    /// The quantity a literal such as `10ms` stands for; a bad unit is reported at the unit,
    /// and a rate in bytes per second gets a warning saying what it means.
    func quantity(_ text: String, at r: SourceRange) throws -> Quantity {
        switch Quantity.parse(text) {
        case .success(let q)?:
            if let w = Quantity.bytesPerSecondWarning(text) {
                diagnostics.append(.warning(.ambiguousUnit, w.message, at: r, help: w.help))
            }
            return q
        case .failure(let e)?:
            let (message, help) = Quantity.message(e, in: text)
            var at = r
            if case .unknownUnit(_, let offset, _) = e {
                let s = SourceLocation(line: r.start.line, column: r.start.column + offset, offset: r.start.offset + offset)
                at = SourceRange(start: s, end: r.end)
            }
            throw fail(e == .overflow ? .invalidNumber : .invalidQuantity, message, at: at, help: help)
        case nil:
            throw fail(.invalidNumber, "invalid number `\(text)`", at: r)
        }
    }

    // MARK: names

    // iface -> name [ ":" name ]
    func parseInterface(_ what: String = "an interface name") throws -> InterfaceSyntax {
        let first = try parseName(what)
        if tok.kind == .colon {
            advance()
            let n = try parseName("an interface name after `:`")
            return InterfaceSyntax(namespace: first, name: n)
        }
        return InterfaceSyntax(name: first)
    }

    // name -> NAME | INT | WORD | STRING | "{" expr "}" { WORDCHAR | "{" expr "}" }
    func parseName(_ what: String) throws -> NameSyntax {
        if tok.kind == .lbrace {
            tok = lexer.relexWord(at: tok.range.start.offset, spaceBefore: tok.spaceBefore)
        }
        let r = tok.range
        switch tok.kind {
        case .name(let s):
            advance()
            return .literal(s, r)
        case .int:
            let s = file.text(of: r)
            advance()
            return .literal(s, r)
        case .quantity(let text):
            throw fail(.invalidNumber, "expected \(what), found `\(text)`", at: r,
                       help: "a name must start with a letter or `_`; quote it (\"\(text)\") to use it as a name")
        case .word(let parts):
            advance()
            return NameSyntax(parts: try segments(parts), range: r)
        case .string(let parts):
            advance()
            return NameSyntax(parts: try segments(parts), range: r, quoted: true)
        default:
            throw expected(what)
        }
    }

    /// Turns lexer word parts into segments, parsing each `{expr}` with a sub-parser.
    func segments(_ parts: [WordPart]) throws -> [Segment] {
        try segmentsWithHeight(parts).segments
    }

    /// The segments and the height of the tallest interpolated expression (0 when none).
    func segmentsWithHeight(_ parts: [WordPart]) throws -> (segments: [Segment], height: Int) {
        var out: [Segment] = []
        var ok = true
        var height = 0
        for p in parts {
            switch p {
            case .text(let s, let r): out.append(.text(s, r))
            case .interpolation(let inner, let outer):
                if let e = parseInterpolation(inner, outer) {
                    out.append(.interpolation(e.expr, outer))
                    height = max(height, e.height)
                } else {
                    ok = false
                }
            }
        }
        if !ok { throw ParseError() }
        return (out, height)
    }

    func parseInterpolation(_ inner: SourceRange, _ outer: SourceRange) -> Parsed? {
        let sub = Parser(file: file, start: inner.start.offset, end: inner.end.offset, depth: depth + 1, budget: budget)
        sub.nesting = 1
        defer {
            for d in sub.lexer.diagnostics + sub.diagnostics {
                // Where parsing stopped is always told.
                if d.kind == .inputLimit || d.kind == .errorLimit || limiter.admit(d) { diagnostics.append(d) }
            }
            limiter.absorb(sub.lexer.limiter.omitted + sub.limiter.omitted)
        }
        if sub.depth > Parser.maxDepth {
            sub.fail(.recursionLimit, "interpolation nested deeper than \(Parser.maxDepth) levels", at: outer)
            return nil
        }
        if sub.tok.kind == .eof {
            sub.fail(.expected, "expected an expression inside `{}`", at: outer)
            return nil
        }
        do {
            let e = try sub.parseExprWithHeight()
            if sub.tok.kind != .eof { throw sub.expected("`}` after the interpolated expression") }
            return e
        } catch {
            return nil
        }
    }

    // MARK: expressions

    /// An expression and the height of its tree (a literal is 1).
    struct Parsed {
        var expr: Expr
        var height: Int
        init(_ expr: Expr, _ height: Int) {
            self.expr = expr
            self.height = height
        }
    }

    /// A node of height `height` about to be built: an error at `r` when it would take the
    /// tree deeper than the budget.
    func node(_ expr: Expr, height: Int, at r: SourceRange) throws -> Parsed {
        if depth + height > Parser.maxDepth {
            throw fail(.recursionLimit, "expression nested deeper than \(Parser.maxDepth) levels", at: r,
                       help: "each operator of a chain counts as one level; split it with `let`")
        }
        return Parsed(expr, height)
    }

    /// A binary node over `l` and `r`, with the operator's token range for a depth error.
    func binary(_ op: BinaryOp, _ l: Parsed, _ r: Parsed, at opRange: SourceRange) throws -> Parsed {
        try node(.binary(op, l.expr, r.expr, l.expr.range.union(r.expr.range)),
                 height: 1 + max(l.height, r.height), at: opRange)
    }

    // expr -> or-expr
    func parseExpr() throws -> Expr {
        try parseExprWithHeight().expr
    }

    func parseExprWithHeight() throws -> Parsed {
        try enter()
        defer { depth -= 1 }
        return try parseOr()
    }

    // or-expr -> and-expr { "or" and-expr }
    func parseOr() throws -> Parsed {
        var l = try parseAnd()
        while isName("or") {
            let o = tok.range
            advance()
            l = try binary(.or, l, try parseAnd(), at: o)
        }
        return l
    }

    // and-expr -> not-expr { "and" not-expr }
    func parseAnd() throws -> Parsed {
        var l = try parseNot()
        while isName("and") {
            let o = tok.range
            advance()
            l = try binary(.and, l, try parseNot(), at: o)
        }
        return l
    }

    // not-expr -> "not" not-expr | cmp-expr
    func parseNot() throws -> Parsed {
        if isName("not") {
            let s = tok.range
            advance()
            try enter()
            defer { depth -= 1 }
            let e = try parseNot()
            return try node(.unary(.not, e.expr, s.union(e.expr.range)), height: e.height + 1, at: s)
        }
        return try parseComparison()
    }

    // cmp-expr -> range-expr [ ("==" | "!=" | "<" | "<=" | ">" | ">=") range-expr ]
    func parseComparison() throws -> Parsed {
        let l = try parseRange()
        let op: BinaryOp
        switch tok.kind {
        case .eq: op = .eq
        case .ne: op = .ne
        case .lt: op = .lt
        case .le: op = .le
        case .gt: op = .gt
        case .ge: op = .ge
        default: return l
        }
        let o = tok.range
        advance()
        return try binary(op, l, try parseRange(), at: o)
    }

    /// An arithmetic expression (no comparison, range or boolean operator), for a value that a
    /// `<` may follow: `vrf blue table 10 < eth1 >`.
    func parseArithmetic() throws -> Expr {
        try parseAdditive().expr
    }

    // range-expr -> add-expr [ ".." add-expr ]
    func parseRange() throws -> Parsed {
        let l = try parseAdditive()
        guard tok.kind == .dotdot else { return l }
        let o = tok.range
        advance()
        let r = try parseAdditive()
        return try node(.range(l.expr, r.expr, l.expr.range.union(r.expr.range)),
                        height: 1 + max(l.height, r.height), at: o)
    }

    // add-expr -> mul-expr { ("+" | "-") mul-expr }
    func parseAdditive() throws -> Parsed {
        var l = try parseMultiplicative()
        while tok.kind == .plus || tok.kind == .minus {
            let op: BinaryOp = tok.kind == .plus ? .add : .sub
            let o = tok.range
            advance()
            l = try binary(op, l, try parseMultiplicative(), at: o)
        }
        return l
    }

    // mul-expr -> unary-expr { ("*" | "/" | "%") unary-expr }
    func parseMultiplicative() throws -> Parsed {
        var l = try parseUnary()
        while true {
            let op: BinaryOp
            switch tok.kind {
            case .star: op = .mul
            case .slash: op = .div
            case .percent: op = .mod
            default: return l
            }
            let o = tok.range
            advance()
            l = try binary(op, l, try parseUnary(), at: o)
        }
    }

    // unary-expr -> "-" unary-expr | primary
    func parseUnary() throws -> Parsed {
        if tok.kind == .minus {
            let s = tok.range
            advance()
            try enter()
            defer { depth -= 1 }
            let e = try parseUnary()
            // fold `-INT` so that -9223372036854775808 is not an overflow
            if case .int(let n, let r) = e.expr { return Parsed(.int(-n, s.union(r)), 1) }
            return try node(.unary(.negate, e.expr, s.union(e.expr.range)), height: e.height + 1, at: s)
        }
        return try parsePrimary()
    }

    // primary -> INT | ADDRESS | PREFIX | STRING | WORD | "true" | "false" | NAME [ args ]
    //          | "(" expr ")" | "[" [ expr { "," expr } [","] ] "]"
    func parsePrimary() throws -> Parsed {
        if tok.kind == .lbrace {
            tok = lexer.relexWord(at: tok.range.start.offset, spaceBefore: tok.spaceBefore)
        }
        let r = tok.range
        switch tok.kind {
        case .int(let n): advance(); return Parsed(.int(n, r), 1)
        case .address(let a): advance(); return Parsed(.address(a, r), 1)
        case .prefix(let p): advance(); return Parsed(.prefix(p, r), 1)
        case .quantity(let text):
            advance()
            return Parsed(.quantity(try quantity(text, at: r), r), 1)
        case .string(let parts):
            advance()
            let s = try segmentsWithHeight(parts)
            return try node(.string(s.segments, r), height: s.height + 1, at: r)
        case .word(let parts):
            advance()
            let s = try segmentsWithHeight(parts)
            return try node(.word(s.segments, r), height: s.height + 1, at: r)
        case .name(let n):
            advance()
            if n == "true" || n == "false" { return Parsed(.bool(n == "true", r), 1) }
            if tok.kind == .lparen {
                let args = try parseArgumentsWithHeight()
                return try node(.call(n, args.exprs, nameRange: r, span(r)), height: args.height + 1, at: r)
            }
            return Parsed(.variable(n, r), 1)
        case .lparen:
            nesting += 1
            advance()
            let e: Parsed
            do { e = try parseExprWithHeight() } catch { nesting -= 1; throw error }
            guard tok.kind == .rparen else {
                nesting -= 1
                throw unclosed(")", "(", at: r)
            }
            nesting -= 1
            advance()
            return e
        case .lbracket:
            nesting += 1
            advance()
            var items: [Expr] = []
            var height = 0
            while tok.kind != .rbracket {
                if tok.kind == .eof || tok.kind == .semicolon || tok.kind == .rbrace {
                    nesting -= 1
                    throw unclosed("]", "[", at: r)
                }
                do {
                    let e = try parseExprWithHeight()
                    items.append(e.expr)
                    height = max(height, e.height)
                } catch { nesting -= 1; throw error }
                if tok.kind == .comma { advance() } else if tok.kind != .rbracket {
                    nesting -= 1
                    if tok.kind == .eof || tok.kind == .semicolon || tok.kind == .rbrace { throw unclosed("]", "[", at: r) }
                    throw expected("`,` or `]`")
                }
            }
            nesting -= 1
            advance()
            return try node(.list(items, span(r)), height: height + 1, at: r)
        case .lt:
            throw expected("an expression", help: "`<` starts an interface list only after `ns NAME` or `bridge NAME`")
        default:
            throw expected("an expression")
        }
    }
}

/// True when `text` can be run as it is; false while a `{`, `<`, `[`, `(` or a string is
/// still open at the end (the REPL then asks for another line).
public func isCompleteInput(_ text: String) -> Bool {
    let file = SourceFile(name: "<repl>", text: text)
    let r = parseScript(file)
    let end = file.bytes.count
    for d in r.diagnostics {
        if d.kind == .unterminatedString { return false }
        if d.kind == .unclosed && d.range.start.offset >= end { return false }
    }
    return true
}
