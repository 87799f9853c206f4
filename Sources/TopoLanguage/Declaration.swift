/// The evaluator's output and the checker's input: the core statements of LANGUAGE.md §4 with
/// every expression, interpolation, loop and template already evaluated to plain values.
/// Each value keeps the source range it came from, so the checker can point at the smallest span.

/// A name with the range of source text it came from.
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var range: SourceRange
    public init(_ value: Value, at range: SourceRange) {
        self.value = value
        self.range = range
    }
}

/// An interface reference as written: `ns0:veth0` (qualified) or `veth0` (bare).
public struct InterfaceRef: Hashable, Sendable, CustomStringConvertible {
    public var namespace: Located<String>?
    public var name: Located<String>
    public init(namespace: Located<String>? = nil, name: Located<String>) {
        self.namespace = namespace
        self.name = name
    }
    /// The range of the whole reference (`ns0:veth0`).
    public var range: SourceRange { namespace.map { $0.range.union(name.range) } ?? name.range }
    public var description: String { namespace.map { "\($0.value):\(name.value)" } ?? name.value }
}

/// The destination of a route: a prefix, or `default` (family fixed later by the gateway).
public enum RouteDestination: Hashable, Sendable {
    case prefix(IPPrefix)
    case `default`
}

/// One evaluated shaping option (`delay 10ms`): the value in the key's fixed unit —
/// nanoseconds, millionths of a percent, bits per second, bytes, or packets for `limit`.
public struct ShapingOption: Hashable, Sendable {
    public var key: ShapingKey
    public var keyRange: SourceRange
    public var value: Located<Int64>
    public init(_ key: ShapingKey, _ value: Located<Int64>, keyRange: SourceRange) {
        self.key = key
        self.keyRange = keyRange
        self.value = value
    }

    /// The value as script text: `10ms`, `0.5%`, `10mbit`, `32kb`, `1000`.
    public var valueText: String {
        key.dimension.map { Quantity($0, value.value).description } ?? String(value.value)
    }
}

/// The evaluated clauses of a `vxlan` statement.
public struct VXLANDeclaration: Hashable, Sendable {
    public var id: Located<Int>
    public var remote: Located<IPAddress>?
    public var group: Located<IPAddress>?
    public var local: Located<IPAddress>?
    public var link: InterfaceRef?
    public var port: Located<Int>?
    public var ttl: Located<Int>?
    public var mtu: Located<Int>?
    public init(id: Located<Int>, remote: Located<IPAddress>? = nil, group: Located<IPAddress>? = nil,
                local: Located<IPAddress>? = nil, link: InterfaceRef? = nil, port: Located<Int>? = nil,
                ttl: Located<Int>? = nil, mtu: Located<Int>? = nil) {
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

/// One evaluated core statement.
public indirect enum Declaration: Hashable, Sendable {
    /// `ns N` / `ns N < IF… >`
    case namespace(Located<String>, placed: [InterfaceRef])
    /// `veth A <-> B [mtu M] [tc options]` (the options shape both ends)
    case veth(InterfaceRef, InterfaceRef, mtu: Located<Int>?, shaping: [ShapingOption] = [])
    /// `bridge BR < PORT… > [mtu M]`
    case bridge(InterfaceRef, ports: [InterfaceRef], mtu: Located<Int>?)
    /// `dummy IF [mtu M]`
    case dummy(InterfaceRef, mtu: Located<Int>?)
    /// `vlan IF link PARENT id N [protocol P] [mtu M]`
    case vlan(InterfaceRef, link: InterfaceRef, id: Located<Int>, protocol: Located<String>?, mtu: Located<Int>?)
    /// `macvlan IF link PARENT [mode M] [mtu M]`
    case macvlan(InterfaceRef, link: InterfaceRef, mode: Located<String>?, mtu: Located<Int>?)
    /// `ipvlan IF link PARENT [mode M] [mtu M]`
    case ipvlan(InterfaceRef, link: InterfaceRef, mode: Located<String>?, mtu: Located<Int>?)
    /// `vxlan IF id VNI …`
    case vxlan(InterfaceRef, VXLANDeclaration)
    /// `vrf VRF table T [< IF… >] [mtu M]`
    case vrf(InterfaceRef, table: Located<Int>, ports: [InterfaceRef], mtu: Located<Int>?)
    /// `tc IF OPTION…`
    case tc(InterfaceRef, [ShapingOption])
    /// `addr IF PREFIX…`
    case address(InterfaceRef, [Located<IPPrefix>])
    /// `up IF…` / `down IF…`
    case linkState([InterfaceRef], up: Bool)
    /// `mtu IF M`
    case mtu(InterfaceRef, Located<Int>)
    /// `route NS DEST [via GW] [dev IF] [metric K] [table T]`
    case route(namespace: Located<String>, destination: Located<RouteDestination>,
               via: Located<IPAddress>?, dev: InterfaceRef?, metric: Located<Int>?, table: Located<Int>? = nil)
    /// `forward NS`
    case forward(Located<String>)
    /// `sysctl NS KEY = VALUE`
    case sysctl(namespace: Located<String>, key: Located<String>, value: Located<String>)
    /// `ping NS ADDR [count K]`
    case ping(namespace: Located<String>, address: Located<IPAddress>, count: Located<Int>?)
    /// `exec NS "command" [timeout D]` (`timeout` in nanoseconds)
    case exec(namespace: Located<String>, command: Located<String>, timeout: Located<Int64>? = nil)
    /// `daemon NS "command"`
    case daemon(namespace: Located<String>, command: Located<String>)
}

/// A declaration with the range of the whole statement that produced it.
/// (For a statement inside a `for` body or a template, that is the statement in the body.)
public struct Statement: Hashable, Sendable {
    public var declaration: Declaration
    public var range: SourceRange
    public init(_ declaration: Declaration, at range: SourceRange) {
        self.declaration = declaration
        self.range = range
    }
}
