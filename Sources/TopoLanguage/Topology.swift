/// The checked model of a script: what should exist once the plan has run.
///
/// Every element keeps the range of the statement that declared it, so the planner can hand
/// each operation the source position that caused it. Collections keep script order of first
/// declaration (the planner's order inside each phase).
public struct Topology: Hashable, Sendable {
    /// A named network namespace declared with `ns`. `host` is never one of these.
    public struct Namespace: Hashable, Sendable {
        public var name: String
        /// The `ns` statement that first declared it.
        public var range: SourceRange
        public init(name: String, range: SourceRange) {
            self.name = name
            self.range = range
        }
    }

    /// What kind of link an interface is.
    public enum InterfaceKind: String, Hashable, Sendable, CaseIterable {
        case veth, bridge, dummy
        /// `lo`: exists in every namespace, never created.
        case loopback
        /// Stacked on a parent (`options` holds the parent and the kind's identity).
        case vlan, macvlan, ipvlan
        /// A VXLAN tunnel endpoint (`options` holds VNI, port, addresses, underlay).
        case vxlan
        /// A VRF device (`options` holds its routing table); its ports have it as `master`.
        case vrf
        /// A link in `host` the script uses (as a parent) but does not declare, such as a real
        /// NIC `host:eth0`: taken to exist, checked at apply, never created, changed or deleted.
        case external
    }

    /// One interface, by namespace and name.
    public struct Interface: Hashable, Sendable {
        public var id: LinkID
        public var kind: InterfaceKind
        /// The other end of a veth pair.
        public var peer: LinkID?
        /// Administrative state; every declared interface is up unless declared `down`.
        public var up: Bool
        /// The statement that first declared the interface (for `lo`: the `ns` statement or first reference).
        public var range: SourceRange

        /// The bridge (in the same namespace) this interface is a port of.
        public var master: String? {
            get { settings.master }
            set { settings.master = newValue }
        }
        /// The bridge statement that made it a port.
        public var masterRange: SourceRange? {
            get { settings.masterRange }
            set { settings.masterRange = newValue }
        }
        public var mtu: Int? {
            get { settings.mtu }
            set { settings.mtu = newValue }
        }
        /// The statement that set the MTU.
        public var mtuRange: SourceRange? {
            get { settings.mtuRange }
            set { settings.mtuRange = newValue }
        }
        /// The kind's identity and options (vlan, macvlan, ipvlan, vxlan, vrf); nil for the others.
        public var options: LinkOptions? {
            get { settings.options }
            set { settings.options = newValue }
        }
        /// Traffic control on what this interface sends (`tc IF …`, or options after `veth`).
        public var shaping: Shaping? {
            get { settings.shaping }
            set { settings.shaping = newValue }
        }
        /// The statement that set the shaping.
        public var shapingRange: SourceRange? {
            get { settings.shapingRange }
            set { settings.shapingRange = newValue }
        }
        /// The `up`/`down` statement that set the state explicitly (nil: the default).
        public var stateRange: SourceRange? {
            get { settings.stateRange }
            set { settings.stateRange = newValue }
        }

        /// What most interfaces never have (a master, an MTU, an explicit state), kept out of
        /// line: inline it made every interface 320 bytes instead of ~140.
        private struct Settings: Hashable, Sendable {
            var master: String?
            var masterRange: SourceRange?
            var mtu: Int?
            var mtuRange: SourceRange?
            var stateRange: SourceRange?
            var options: LinkOptions?
            var shaping: Shaping?
            var shapingRange: SourceRange?
        }
        private indirect enum Box: Hashable, Sendable {
            case settings(Settings)
        }
        /// Nil when all settings are nil (so equal interfaces compare equal).
        private var box: Box?

        private var settings: Settings {
            get {
                if case .settings(let s)? = box { return s }
                return Settings()
            }
            set { box = newValue == Settings() ? nil : .settings(newValue) }
        }

        public init(id: LinkID, kind: InterfaceKind, peer: LinkID? = nil, master: String? = nil,
                    masterRange: SourceRange? = nil, mtu: Int? = nil, mtuRange: SourceRange? = nil,
                    up: Bool = true, stateRange: SourceRange? = nil, range: SourceRange) {
            self.id = id
            self.kind = kind
            self.peer = peer
            self.up = up
            self.range = range
            self.settings = Settings(master: master, masterRange: masterRange, mtu: mtu, mtuRange: mtuRange,
                                     stateRange: stateRange)
        }
    }

    /// An address on an interface (`addr IF PREFIX`).
    public struct Address: Hashable, Sendable {
        public var interface: LinkID
        public var prefix: IPPrefix
        public var range: SourceRange
        public init(interface: LinkID, prefix: IPPrefix, range: SourceRange) {
            self.interface = interface
            self.prefix = prefix
            self.range = range
        }
    }

    /// A route in a namespace's main table.
    public struct Route: Hashable, Sendable {
        public var namespace: String
        public var spec: RouteSpec
        public var range: SourceRange
        public init(namespace: String, spec: RouteSpec, range: SourceRange) {
            self.namespace = namespace
            self.spec = spec
            self.range = range
        }
    }

    /// A sysctl inside a namespace (`forward NS` gives two of these).
    public struct Sysctl: Hashable, Sendable {
        public var namespace: String
        public var key: String
        public var value: String
        public var range: SourceRange
        public init(namespace: String, key: String, value: String, range: SourceRange) {
            self.namespace = namespace
            self.key = key
            self.value = value
            self.range = range
        }
    }

    /// A long-running process started in a namespace after apply (`daemon NS "command"`),
    /// owned by the topology: stopped by destroy and by convergence, restarted when it died.
    public struct Daemon: Hashable, Sendable {
        public var namespace: String
        public var command: String
        public var range: SourceRange
        public init(namespace: String, command: String, range: SourceRange) {
            self.namespace = namespace
            self.command = command
            self.range = range
        }
    }

    /// A post-apply action, in script order.
    public struct Action: Hashable, Sendable {
        public enum Kind: Hashable, Sendable {
            case ping(address: IPAddress, count: Int)
            /// `timeout`: seconds before the command's process group is killed (nil: 60).
            case exec(command: String, timeout: Double?)
        }
        public var namespace: String
        public var kind: Kind
        public var range: SourceRange
        public init(namespace: String, kind: Kind, range: SourceRange) {
            self.namespace = namespace
            self.kind = kind
            self.range = range
        }
    }

    /// Declared namespaces, in order of first declaration.
    public var namespaces: [Namespace]
    /// All interfaces, in order of first declaration (`lo` of each declared namespace included).
    public var interfaces: [Interface]
    /// Addresses in script order, without duplicates.
    public var addresses: [Address]
    public var routes: [Route]
    public var sysctls: [Sysctl]
    /// Daemons in script order.
    public var daemons: [Daemon]
    public var actions: [Action]

    public init(namespaces: [Namespace] = [], interfaces: [Interface] = [], addresses: [Address] = [],
                routes: [Route] = [], sysctls: [Sysctl] = [], daemons: [Daemon] = [], actions: [Action] = []) {
        self.namespaces = namespaces
        self.interfaces = interfaces
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.daemons = daemons
        self.actions = actions
    }

    /// The interface with this id, if any (linear; for tests and tools, not hot paths).
    public func interface(_ id: LinkID) -> Interface? { interfaces.first { $0.id == id } }
}

/// The checker's output: the topology (best effort when there are errors) and every diagnostic.
public struct CheckResult: Hashable, Sendable {
    public var topology: Topology
    /// The first diagnostics of each kind (see `DiagnosticLimiter`), by position.
    public var diagnostics: [Diagnostic]
    /// Those counted beyond the limit.
    public var omitted: OmittedDiagnostics
    public init(topology: Topology, diagnostics: [Diagnostic], omitted: OmittedDiagnostics = .init()) {
        self.topology = topology
        self.diagnostics = diagnostics
        self.omitted = omitted
    }
    public var hasErrors: Bool { diagnostics.hasErrors }
}
