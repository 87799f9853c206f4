/// The syntax tree of a topo script. Every node carries the half-open `SourceRange` it was
/// parsed from. Names in name slots are `NameSyntax` (literal text with `{expr}` parts), never
/// variables; values (addresses, prefixes, numbers) are `Expr`.

/// The root: a script's top-level statements.
public struct Script: Hashable, Sendable {
    public var statements: [Stmt]
    public init(statements: [Stmt]) { self.statements = statements }
}

/// A piece of a name or string: literal text or an interpolated expression.
public enum Segment: Hashable, Sendable {
    case text(String, SourceRange)
    case interpolation(Expr, SourceRange)
}

/// A name as written in a name slot: `h1`, `h{i}`, `"for"`, `{name}`.
public struct NameSyntax: Hashable, Sendable {
    public var parts: [Segment] {
        get {
            switch storage {
            case .literal(let s): return [.text(s, range)]
            case .parts(let p): return p
            }
        }
        set { storage = NameSyntax.normalized(newValue, range) }
    }
    public var range: SourceRange {
        didSet {
            // A literal's text keeps the range it had.
            if case .literal(let s) = storage, range != oldValue { storage = .parts([.text(s, oldValue)]) }
        }
    }
    /// Nearly every name is one literal spanning the whole name; it is kept without an array
    /// (a large script has hundreds of thousands of names). Always normalized, so `==` holds
    /// between equal names however they were built.
    private enum Storage: Hashable, Sendable {
        /// `[.text(s, range)]`.
        case literal(String)
        case parts([Segment])
    }
    private var storage: Storage

    /// Written as a quoted string.
    public var quoted: Bool
    public init(parts: [Segment], range: SourceRange, quoted: Bool = false) {
        self.storage = NameSyntax.normalized(parts, range)
        self.range = range
        self.quoted = quoted
    }

    private static func normalized(_ parts: [Segment], _ range: SourceRange) -> Storage {
        if parts.count == 1, case .text(let s, let r) = parts[0], r == range { return .literal(s) }
        return .parts(parts)
    }

    /// A plain literal name (for tests and tools).
    public static func literal(_ s: String, _ r: SourceRange) -> NameSyntax {
        NameSyntax(storage: .literal(s), range: r, quoted: false)
    }
    private init(storage: Storage, range: SourceRange, quoted: Bool) {
        self.storage = storage
        self.range = range
        self.quoted = quoted
    }
    /// The text when the name has no interpolation.
    public var literalText: String? {
        switch storage {
        case .literal(let s): return s
        case .parts(let p):
            if p.count == 1, case .text(let s, _) = p[0] { return s }
            return nil
        }
    }
}

/// `NS:IF` or `IF`.
public struct InterfaceSyntax: Hashable, Sendable {
    public var namespace: NameSyntax?
    public var name: NameSyntax
    public init(namespace: NameSyntax? = nil, name: NameSyntax) {
        self.namespace = namespace
        self.name = name
    }
    public var range: SourceRange { namespace.map { $0.range.union(name.range) } ?? name.range }
}

public enum UnaryOp: String, Hashable, Sendable { case negate = "-", not = "not" }

public enum BinaryOp: String, Hashable, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case and, or
}

/// An expression.
public indirect enum Expr: Hashable, Sendable {
    case int(Int, SourceRange)
    case bool(Bool, SourceRange)
    case address(IPAddress, SourceRange)
    case prefix(IPPrefix, SourceRange)
    /// A number with a unit: `10ms`, `0.5%`, `10mbit`, `32kb`.
    case quantity(Quantity, SourceRange)
    /// `"…"`: always a string value.
    case string([Segment], SourceRange)
    /// An unquoted interpolated word (`10.0.{i}.1/24`, `h{i}`): its text becomes a prefix,
    /// address or integer when it reads as one, else a string.
    case word([Segment], SourceRange)
    /// A variable reference.
    case variable(String, SourceRange)
    case list([Expr], SourceRange)
    /// `A..B`, inclusive.
    case range(Expr, Expr, SourceRange)
    case unary(UnaryOp, Expr, SourceRange)
    case binary(BinaryOp, Expr, Expr, SourceRange)
    /// `name(args)`: a built-in function.
    case call(String, [Expr], nameRange: SourceRange, SourceRange)

    public var range: SourceRange {
        switch self {
        case .int(_, let r), .bool(_, let r), .address(_, let r), .prefix(_, let r), .quantity(_, let r), .string(_, let r),
             .word(_, let r), .variable(_, let r), .list(_, let r), .range(_, _, let r), .unary(_, _, let r),
             .binary(_, _, _, let r), .call(_, _, _, let r):
            return r
        }
    }
}

/// A route destination as written.
public enum RouteDestinationSyntax: Hashable, Sendable {
    case `default`(SourceRange)
    case prefix(Expr)
}

/// One `KEY VALUE` option of a `tc` statement, or after `veth A <-> B`: `delay 10ms`.
public struct OptionSyntax: Hashable, Sendable {
    public var key: ShapingKey
    public var keyRange: SourceRange
    public var value: Expr
    public init(key: ShapingKey, keyRange: SourceRange, value: Expr) {
        self.key = key
        self.keyRange = keyRange
        self.value = value
    }
}

/// The clauses of a `vxlan` statement, each optional but `id`.
public struct VXLANSyntax: Hashable, Sendable {
    public var id: Expr
    public var remote: Expr?
    public var group: Expr?
    public var local: Expr?
    public var link: InterfaceSyntax?
    public var port: Expr?
    public var ttl: Expr?
    public var mtu: Expr?
    public init(id: Expr, remote: Expr? = nil, group: Expr? = nil, local: Expr? = nil, link: InterfaceSyntax? = nil,
                port: Expr? = nil, ttl: Expr? = nil, mtu: Expr? = nil) {
        self.id = id
        self.remote = remote
        self.group = group
        self.local = local
        self.link = link
        self.port = port
        self.ttl = ttl
        self.mtu = mtu
    }
}

/// A statement. Core statements (LANGUAGE.md §4, §11–§13) and scripting statements (§5).
public indirect enum Stmt: Hashable, Sendable {
    /// `ns N [, N…] [< IF… >]`
    case ns([NameSyntax], placed: [InterfaceSyntax], SourceRange)
    /// `veth A <-> B [mtu M] [tc options]`
    case veth(InterfaceSyntax, InterfaceSyntax, mtu: Expr?, shaping: [OptionSyntax], SourceRange)
    /// `bridge BR [< PORT… >] [mtu M]`
    case bridge(InterfaceSyntax, ports: [InterfaceSyntax], mtu: Expr?, SourceRange)
    /// `dummy IF [mtu M]`
    case dummy(InterfaceSyntax, mtu: Expr?, SourceRange)
    /// `vlan IF link PARENT id N [protocol P] [mtu M]`
    case vlan(InterfaceSyntax, link: InterfaceSyntax, id: Expr, protocol: NameSyntax?, mtu: Expr?, SourceRange)
    /// `macvlan IF link PARENT [mode M] [mtu M]`
    case macvlan(InterfaceSyntax, link: InterfaceSyntax, mode: NameSyntax?, mtu: Expr?, SourceRange)
    /// `ipvlan IF link PARENT [mode M] [mtu M]`
    case ipvlan(InterfaceSyntax, link: InterfaceSyntax, mode: NameSyntax?, mtu: Expr?, SourceRange)
    /// `vxlan IF id VNI [remote A | group A] [local A] [link DEV] [port P] [ttl T] [mtu M]`
    case vxlan(InterfaceSyntax, VXLANSyntax, SourceRange)
    /// `vrf VRF table T [< IF… >] [mtu M]`
    case vrf(InterfaceSyntax, table: Expr, ports: [InterfaceSyntax], mtu: Expr?, SourceRange)
    /// `tc IF OPTION…`
    case tc(InterfaceSyntax, [OptionSyntax], SourceRange)
    /// `addr IF PREFIX [, PREFIX…]`
    case addr(InterfaceSyntax, [Expr], SourceRange)
    /// `up IF…` / `down IF…`
    case linkState([InterfaceSyntax], up: Bool, SourceRange)
    /// `mtu IF M`
    case mtu(InterfaceSyntax, Expr, SourceRange)
    /// `route NS DEST [via GW] [dev IF] [metric K] [table T]`
    case route(NameSyntax, RouteDestinationSyntax, via: Expr?, dev: InterfaceSyntax?, metric: Expr?, table: Expr?, SourceRange)
    /// `forward NS`
    case forward(NameSyntax, SourceRange)
    /// `sysctl NS KEY = VALUE`
    case sysctl(NameSyntax, key: NameSyntax, value: NameSyntax, SourceRange)
    /// `ping NS ADDR [count K]`
    case ping(NameSyntax, Expr, count: Expr?, SourceRange)
    /// `exec NS "command" [timeout D]`
    case exec(NameSyntax, Expr, timeout: Expr?, SourceRange)
    /// `daemon NS "command"`
    case daemon(NameSyntax, Expr, SourceRange)
    /// `let x = EXPR`
    case `let`(String, nameRange: SourceRange, Expr, SourceRange)
    /// `for v in EXPR { … }`
    case `for`(String, nameRange: SourceRange, Expr, body: [Stmt], SourceRange)
    /// `if EXPR { … } [else { … } | else if …]`
    case `if`(Expr, then: [Stmt], else: [Stmt]?, SourceRange)
    /// `def NAME(p, q) { … }`
    case def(String, nameRange: SourceRange, params: [Located<String>], body: [Stmt], SourceRange)
    /// `NAME(a, b)`: expand a template.
    case call(String, nameRange: SourceRange, [Expr], SourceRange)

    public var range: SourceRange {
        switch self {
        case .ns(_, _, let r), .veth(_, _, _, _, let r), .bridge(_, _, _, let r), .dummy(_, _, let r),
             .vlan(_, _, _, _, _, let r), .macvlan(_, _, _, _, let r), .ipvlan(_, _, _, _, let r), .vxlan(_, _, let r),
             .vrf(_, _, _, _, let r), .tc(_, _, let r),
             .addr(_, _, let r), .linkState(_, _, let r), .mtu(_, _, let r), .route(_, _, _, _, _, _, let r),
             .forward(_, let r), .sysctl(_, _, _, let r), .ping(_, _, _, let r), .exec(_, _, _, let r),
             .daemon(_, _, let r),
             .let(_, _, _, let r), .for(_, _, _, _, let r), .if(_, _, _, let r), .def(_, _, _, _, let r),
             .call(_, _, _, let r):
            return r
        }
    }
}
