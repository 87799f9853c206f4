/// The name of the namespace topo was started in. Never created or deleted.
public let hostNamespace = "host"

/// A link by namespace and name. `namespace` is `host` for the start namespace.
public struct LinkID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(_ namespace: String, _ name: String) {
        self.namespace = namespace
        self.name = name
    }
    public var description: String { "\(namespace):\(name)" }
    public static func < (a: LinkID, b: LinkID) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// A route as the kernel keeps it in the main table.
public struct RouteSpec: Hashable, Sendable {
    /// Destination; the default route is `0.0.0.0/0` or `::/0`.
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// Output device name, in the route's namespace.
    public var device: String?
    public var metric: Int?
    public init(destination: IPPrefix, gateway: IPAddress? = nil, device: String? = nil, metric: Int? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.device = device
        self.metric = metric
    }
    public var isDefault: Bool { destination.length == 0 }
}

/// One kernel operation (or post-apply action) of a plan.
///
/// Veth and bridge/dummy links are created directly in their namespaces, so there is no
/// separate "move" operation: a veth whose ends go to two namespaces is one `addVeth`.
public enum Operation: Hashable, Sendable {
    /// `ip netns add NAME` (the namespace's `lo` is brought up by a following `setUp`).
    case addNamespace(String)
    /// `ip link add A type veth peer name B`, each end created in its own namespace.
    case addVeth(LinkID, peer: LinkID)
    /// `ip link add BR type bridge`
    case addBridge(LinkID)
    /// `ip link add IF type dummy`
    case addDummy(LinkID)
    /// `ip link set PORT master BR` (the bridge is in the port's namespace).
    case setMaster(LinkID, master: String)
    /// `ip link set IF mtu M`
    case setMTU(LinkID, Int)
    /// `ip link set IF up`
    case setUp(LinkID)
    /// `ip link set IF down` (only to correct a live link that is up; new links start down).
    case setDown(LinkID)
    /// `ip addr add PREFIX dev IF`
    case addAddress(LinkID, IPPrefix)
    /// `ip route add …` in a namespace. (Boxed: inline it made every step 32 bytes bigger.)
    indirect case addRoute(namespace: String, RouteSpec)
    /// `sysctl -w KEY=VALUE` inside a namespace (`forward` becomes two of these).
    case setSysctl(namespace: String, key: String, value: String)
    /// After apply: ICMP echo from the namespace must be answered.
    case ping(namespace: String, address: IPAddress, count: Int)
    /// After apply: run a command in the namespace (needs `--allow-exec`).
    case exec(namespace: String, command: String)

    /// True for the post-apply actions (`ping`, `exec`), which change nothing.
    public var isAction: Bool {
        switch self {
        case .ping, .exec: return true
        default: return false
        }
    }

    /// The namespace the operation runs in.
    public var namespace: String {
        switch self {
        case .addNamespace(let n): return n
        case .addVeth(let l, _), .addBridge(let l), .addDummy(let l), .setMaster(let l, _),
             .setMTU(let l, _), .setUp(let l), .setDown(let l), .addAddress(let l, _):
            return l.namespace
        case .addRoute(let n, _), .setSysctl(let n, _, _), .ping(let n, _, _), .exec(let n, _):
            return n
        }
    }
}

/// An operation with the source range of the statement that caused it.
public struct PlanStep: Hashable, Sendable {
    public var operation: Operation
    public var range: SourceRange
    public init(_ operation: Operation, at range: SourceRange) {
        self.operation = operation
        self.range = range
    }
}

/// An ordered list of operations: namespaces, links, bridge ports, MTU, up, addresses,
/// routes, sysctls; then the post-apply actions in script order.
public struct Plan: Hashable, Sendable {
    /// Display name of the script (`lab.topo`), for `file:line` in output.
    public var file: String
    public var steps: [PlanStep]
    public init(file: String, steps: [PlanStep]) {
        self.file = file
        self.steps = steps
    }
}
