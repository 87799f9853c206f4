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

/// One evaluated core statement.
public indirect enum Declaration: Hashable, Sendable {
    /// `ns N` / `ns N < IF… >`
    case namespace(Located<String>, placed: [InterfaceRef])
    /// `veth A <-> B [mtu M]`
    case veth(InterfaceRef, InterfaceRef, mtu: Located<Int>?)
    /// `bridge BR < PORT… > [mtu M]`
    case bridge(InterfaceRef, ports: [InterfaceRef], mtu: Located<Int>?)
    /// `dummy IF [mtu M]`
    case dummy(InterfaceRef, mtu: Located<Int>?)
    /// `addr IF PREFIX…`
    case address(InterfaceRef, [Located<IPPrefix>])
    /// `up IF…` / `down IF…`
    case linkState([InterfaceRef], up: Bool)
    /// `mtu IF M`
    case mtu(InterfaceRef, Located<Int>)
    /// `route NS DEST [via GW] [dev IF] [metric K]`
    case route(namespace: Located<String>, destination: Located<RouteDestination>,
               via: Located<IPAddress>?, dev: InterfaceRef?, metric: Located<Int>?)
    /// `forward NS`
    case forward(Located<String>)
    /// `sysctl NS KEY = VALUE`
    case sysctl(namespace: Located<String>, key: Located<String>, value: Located<String>)
    /// `ping NS ADDR [count K]`
    case ping(namespace: Located<String>, address: Located<IPAddress>, count: Located<Int>?)
    /// `exec NS "command"`
    case exec(namespace: Located<String>, command: Located<String>)
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
