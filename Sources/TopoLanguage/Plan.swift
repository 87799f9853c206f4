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
    /// The routing table (`table T`); nil is the main table (254).
    public var table: UInt32?
    public init(destination: IPPrefix, gateway: IPAddress? = nil, device: String? = nil, metric: Int? = nil,
                table: UInt32? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.device = device
        self.metric = metric
        self.table = table == RouteSpec.mainTable ? nil : table
    }
    public var isDefault: Bool { destination.length == 0 }
    /// The main table's id.
    public static let mainTable: UInt32 = 254
}

/// One kernel operation (or post-apply action) of a plan or of a diff.
///
/// Links are created directly in their namespaces, so there is no separate "move" operation:
/// a veth whose ends go to two namespaces is one `addVeth`. The planner (`makePlan`) emits
/// only the creating and setting operations; the reconciler (`topo run`, `topo diff`) also
/// emits the `remove…`, `setNoMaster`, `changeLink` and restoring `set…` operations.
public enum Operation: Hashable, Sendable {
    /// `ip netns add NAME` (the namespace's `lo` is brought up by a following `setUp`).
    case addNamespace(String)
    /// `ip link add A type veth peer name B`, each end created in its own namespace.
    case addVeth(LinkID, peer: LinkID)
    /// `ip link add BR type bridge`
    case addBridge(LinkID)
    /// `ip link add IF type dummy`
    case addDummy(LinkID)
    /// `ip link add IF link PARENT type vlan id N [protocol P]`
    case addVlan(LinkID, VLAN)
    /// `ip link add IF link PARENT type macvlan mode M`
    case addMacvlan(LinkID, parent: LinkID, mode: MacvlanMode)
    /// `ip link add IF link PARENT type ipvlan mode M`
    case addIpvlan(LinkID, parent: LinkID, mode: IPVlanMode)
    /// `ip link add IF type vxlan id VNI dstport P [remote|group A] [local A] [dev D] [ttl T]`
    case addVxlan(LinkID, VXLAN)
    /// `ip link add IF type vrf table T`
    case addVrf(LinkID, table: UInt32)
    /// `ip link set PORT master BR` (the bridge or VRF is in the port's namespace).
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
    /// `tc qdisc replace dev IF root …` (the layout is in `Shaping`'s documentation).
    case setTC(LinkID, Shaping)
    /// After apply: start a daemon in the namespace (needs `--allow-exec`).
    case startDaemon(namespace: String, command: String)
    /// After apply: ICMP echo from the namespace must be answered.
    case ping(namespace: String, address: IPAddress, count: Int)
    /// After apply: run a command in the namespace (needs `--allow-exec`); `timeout` in
    /// seconds (nil: 60).
    case exec(namespace: String, command: String, timeout: Double?)

    // Operations only the reconciler emits (changing and removing what exists).

    /// `ip link set IF nomaster`
    case setNoMaster(LinkID)
    /// `ip link set IF type KIND …`: change the in-place options of a link (vxlan remote,
    /// macvlan mode, …) without deleting it.
    case changeLink(LinkID, LinkOptions)
    /// `tc qdisc del dev IF root`: the kernel's default qdisc returns.
    case removeTC(LinkID)
    /// `ip addr del PREFIX dev IF`
    case removeAddress(LinkID, IPPrefix)
    /// `ip route del …`
    indirect case removeRoute(namespace: String, RouteSpec)
    /// `ip link del IF` (a veth takes its peer with it).
    case removeLink(LinkID)
    /// `ip netns del NAME`, with everything in it.
    case removeNamespace(String)
    /// Stop a daemon this topology started (SIGTERM, SIGKILL after 5 s).
    case stopDaemon(namespace: String, command: String)

    /// Every namespace the operation touches: its own, and a veth peer's, a stacked link's
    /// parent's, a vxlan underlay's when they are elsewhere.
    public var namespaces: [String] {
        var out = [namespace]
        switch self {
        case .addVeth(_, let p): out.append(p.namespace)
        case .addVlan(_, let v): out.append(v.parent.namespace)
        case .addMacvlan(_, let p, _), .addIpvlan(_, let p, _): out.append(p.namespace)
        case .addVxlan(_, let x): if let u = x.underlay { out.append(u.namespace) }
        default: break
        }
        return out
    }

    /// True for the post-apply actions (`ping`, `exec`), which change nothing.
    public var isAction: Bool {
        switch self {
        case .ping, .exec: return true
        default: return false
        }
    }

    /// True for what runs after the kernel changes are in place: daemons, then the actions.
    public var isAfterApply: Bool {
        switch self {
        case .ping, .exec, .startDaemon: return true
        default: return false
        }
    }

    /// True for the operations that remove something (`-` in a diff).
    public var isRemoval: Bool {
        switch self {
        case .removeTC, .removeAddress, .removeRoute, .removeLink, .removeNamespace, .stopDaemon: return true
        default: return false
        }
    }

    /// The namespace the operation runs in.
    public var namespace: String {
        switch self {
        case .addNamespace(let n): return n
        case .addVeth(let l, _), .addBridge(let l), .addDummy(let l), .addVlan(let l, _), .addMacvlan(let l, _, _),
             .addIpvlan(let l, _, _), .addVxlan(let l, _), .addVrf(let l, _), .setMaster(let l, _),
             .setMTU(let l, _), .setUp(let l), .setDown(let l), .addAddress(let l, _), .setTC(let l, _),
             .setNoMaster(let l), .changeLink(let l, _), .removeTC(let l), .removeAddress(let l, _), .removeLink(let l):
            return l.namespace
        case .addRoute(let n, _), .setSysctl(let n, _, _), .ping(let n, _, _), .exec(let n, _, _),
             .startDaemon(let n, _), .removeRoute(let n, _), .removeNamespace(let n), .stopDaemon(let n, _):
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

extension Plan {
    /// The steps that touch only namespaces in `scope` (see `ApplyOptions.scope`), and every
    /// action (`ping`, `exec`: they run wherever they are).
    public func restricted(to scope: Set<String>) -> Plan {
        Plan(file: file, steps: steps.filter { $0.operation.isAction || $0.operation.namespaces.allSatisfy(scope.contains) })
    }
}

/// One line of a diff (`topo diff`, `topo run`'s report): an operation marked `+` (creates),
/// `~` (changes something that exists, with its old value) or `-` (removes), and the source
/// range of the statement it comes from (`.none` for a removal: the statement is gone).
public struct Change: Hashable, Sendable {
    public enum Mark: String, Hashable, Sendable {
        case create = "+"
        case change = "~"
        case remove = "-"
    }
    public var mark: Mark
    public var step: PlanStep
    /// For `~`: the live value before (`1500` for an mtu, `down`, `bridge br0`, `delay 10ms`).
    public var old: String?
    public init(_ mark: Mark, _ step: PlanStep, old: String? = nil) {
        self.mark = mark
        self.step = step
        self.old = old
    }
    public var operation: Operation { step.operation }
}
