/// The kind-specific part of a stacked, tunnel or VRF link (LANGUAGE.md §12), in kernel terms.
///
/// What is *identity* (a change means delete + create of a topo-owned link) and what can be
/// changed in place follows the kernel (TC-LINKS-NOTES.md §8–§10):
///
/// | kind | identity | changed in place |
/// |---|---|---|
/// | vlan | parent, id, protocol | — |
/// | macvlan | parent | mode |
/// | ipvlan | parent | mode |
/// | vxlan | VNI, port, family of the remote | remote/group, local, underlay, ttl |
/// | vrf | — | table |
///
/// A vxlan's underlay changes in place only within the namespace of its socket (the
/// underlay's, else its own), and the kernel never drops one: the reconciler
/// (`Reconciler.sameIdentity`) treats both as identity.
public enum LinkOptions: Hashable, Sendable {
    /// `vlan IF link PARENT id N [protocol 802.1q|802.1ad]`
    case vlan(VLAN)
    /// `macvlan IF link PARENT [mode M]`
    case macvlan(parent: LinkID, mode: MacvlanMode)
    /// `ipvlan IF link PARENT [mode M]`
    case ipvlan(parent: LinkID, mode: IPVlanMode)
    /// `vxlan IF id VNI …`
    case vxlan(VXLAN)
    /// `vrf IF table T`
    case vrf(table: UInt32)

    /// The lower device, when the kind has one (a vxlan's underlay `link DEV` counts).
    public var parent: LinkID? {
        switch self {
        case .vlan(let v): return v.parent
        case .macvlan(let p, _), .ipvlan(let p, _): return p
        case .vxlan(let x): return x.underlay
        case .vrf: return nil
        }
    }

    /// True when `other` is the same link as far as the kernel's fixed identity goes (so a
    /// difference can be changed in place instead of deleting and creating the link).
    public func sameIdentity(as other: LinkOptions) -> Bool {
        switch (self, other) {
        case (.vlan(let a), .vlan(let b)): return a == b
        case (.macvlan(let a, _), .macvlan(let b, _)): return a == b
        case (.ipvlan(let a, _), .ipvlan(let b, _)): return a == b
        case (.vxlan(let a), .vxlan(let b)):
            return a.vni == b.vni && a.port == b.port && a.isIPv6 == b.isIPv6
        case (.vrf, .vrf): return true
        default: return false
        }
    }
}

/// The tag protocol of a vlan.
public enum VLANProtocol: String, Hashable, Sendable, CaseIterable {
    case dot1q = "802.1q"
    case dot1ad = "802.1ad"
    /// The ethertype as the kernel takes it (IFLA_VLAN_PROTOCOL, big-endian on the wire).
    public var ethertype: UInt16 { self == .dot1q ? 0x8100 : 0x88a8 }
}

/// An 802.1Q / 802.1ad sub-interface.
public struct VLAN: Hashable, Sendable {
    public var parent: LinkID
    /// 1…4094.
    public var id: Int
    public var `protocol`: VLANProtocol
    public init(parent: LinkID, id: Int, protocol: VLANProtocol = .dot1q) {
        self.parent = parent
        self.id = id
        self.protocol = `protocol`
    }
}

/// `IFLA_MACVLAN_MODE`: bridge 4 (topo's default), private 1, vepa 2 (the kernel's default), passthru 8.
public enum MacvlanMode: String, Hashable, Sendable, CaseIterable {
    case bridge, `private`, vepa, passthru
    public var kernelValue: UInt32 {
        switch self {
        case .private: return 1
        case .vepa: return 2
        case .bridge: return 4
        case .passthru: return 8
        }
    }
    public init?(kernelValue: UInt32) {
        guard let m = MacvlanMode.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = m
    }
}

/// `IFLA_IPVLAN_MODE`: l2 0, l3 1 (the default), l3s 2.
public enum IPVlanMode: String, Hashable, Sendable, CaseIterable {
    case l2, l3, l3s
    public var kernelValue: UInt16 {
        switch self {
        case .l2: return 0
        case .l3: return 1
        case .l3s: return 2
        }
    }
    public init?(kernelValue: UInt16) {
        guard let m = IPVlanMode.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = m
    }
}

/// A VXLAN tunnel endpoint.
public struct VXLAN: Hashable, Sendable {
    /// 0…16777215.
    public var vni: UInt32
    /// Unicast remote (`remote ADDR`); at most one of `remote` and `group`.
    public var remote: IPAddress?
    /// Multicast group (`group ADDR`, needs `underlay`).
    public var group: IPAddress?
    public var local: IPAddress?
    /// The underlay device (`link DEV`).
    public var underlay: LinkID?
    /// The UDP destination port: 4789 (IANA) unless given; never the kernel's 8472 default.
    public var port: Int
    /// nil: the kernel's default (inherit 0 = as set by the kernel).
    public var ttl: Int?

    public static let defaultPort = 4789

    public init(vni: UInt32, remote: IPAddress? = nil, group: IPAddress? = nil, local: IPAddress? = nil,
                underlay: LinkID? = nil, port: Int = VXLAN.defaultPort, ttl: Int? = nil) {
        self.vni = vni
        self.remote = remote
        self.group = group
        self.local = local
        self.underlay = underlay
        self.port = port
        self.ttl = ttl
    }

    /// True when the tunnel's addresses are IPv6 (the encapsulation then costs 70 bytes, not 50).
    public var isIPv6: Bool {
        (remote ?? group ?? local)?.family == .ipv6
    }

    /// The bytes the encapsulation adds: 50 over IPv4, 70 over IPv6.
    public var overhead: Int { isIPv6 ? 70 : 50 }
}
