/// The checker: evaluated statements in, a `Topology` and every diagnostic out.
///
/// Rules (LANGUAGE.md §3, §4, §6; choices this file makes are marked *decided*):
/// - `host` is the start namespace: `ns host` is an error; `host:IF` always works.
/// - Namespaces exist only when declared with `ns` (or `host`). A qualified reference such
///   as `veth ns0:a <-> b` declares the interface, not the namespace (*decided*): an
///   undeclared namespace is reported once, at its first use, with a did-you-mean or
///   "declare it with `ns ns0`".
/// - `NS:lo` exists in every declared namespace and in `host`; a bare `lo` is `host:lo`
///   (*decided*); `lo` cannot be declared, placed or made a bridge port.
/// - An interface's namespace comes from its qualified declaration or from a placement
///   (`ns a < eth0 >`, which applies to bare declarations of that name); unplaced → `host`.
///   A placement that matches no declaration of that name's namespace is a conflict.
/// - Bare references: the single declared interface of that name; ambiguity and unknown
///   names are errors (unknown: did-you-mean when one candidate is nearest, else a list).
/// - Bridge ports resolve in the bridge's namespace first and must be in it; a port has one
///   master; a bridge can be neither its own port nor a port of another bridge (the kernel
///   refuses with ELOOP) (*decided*).
/// - Accumulation: repeats are fine, conflicting re-declarations are errors with a note at
///   the first position. The same address twice on one interface is fine; the same address
///   on two interfaces of one namespace is an error (*decided*).
/// - Addresses: multicast/unspecified are errors; an IPv4 network or broadcast address of a
///   /0–/30 prefix is a warning (*decided*).
/// - Routes: need `via` or `dev`; destination without host bits; gateway family matches;
///   `default` takes the gateway's family (IPv4 when there is none); `dev` must be in the
///   route's namespace; a gateway outside every connected prefix is a warning.
/// - MTU 68…65535 (warning below 1280 on an interface with an IPv6 address); metric fits
///   u32; `count` 1…100, default 1 (*decided*); sysctl keys start with `net.`.
public func check(_ statements: [Statement], latestWins: Bool = false) -> CheckResult {
    var checker = Checker()
    checker.latestWins = latestWins
    checker.run(statements)
    return CheckResult(topology: checker.topology(), diagnostics: checker.sortedDiagnostics(),
                       omitted: checker.limiter.omitted)
}

/// The first candidate at the smallest edit distance below 3, only when no other candidate
/// ties with it (a tie means the user is better served by a list).
func uniqueSuggestion(for name: String, among candidates: [String]) -> String? {
    var best: String?
    var bestDistance = 3
    var tie = false
    for c in candidates where c != name {
        // Cheap length filter before the O(n·m) distance.
        if abs(c.utf8.count - name.utf8.count) >= 3 { continue }
        let d = editDistance(name, c)
        if d < bestDistance {
            best = c
            bestDistance = d
            tie = false
        } else if d == bestDistance, best != nil {
            tie = true
        }
    }
    return tie ? nil : best
}

/// `` `a`, `b`, `c` `` with at most `limit` names.
func quotedList(_ names: [String], limit: Int = 12) -> String {
    var parts = names.prefix(limit).map { "`\($0)`" }
    if names.count > limit { parts.append("and \(names.count - limit) more") }
    return parts.joined(separator: ", ")
}

/// Why an interface name is not acceptable to the kernel, or nil.
public func interfaceNameProblem(_ name: String) -> String? {
    let bytes = name.utf8
    if bytes.isEmpty { return "an interface name cannot be empty" }
    if bytes.count > 15 { return "interface name `\(name)` is \(bytes.count) bytes long; the kernel allows at most 15" }
    if name == "." || name == ".." { return "`\(name)` is not a valid interface name" }
    for b in bytes {
        switch b {
        case UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "%"):
            return "interface name `\(name)` contains `\(Character(Unicode.Scalar(b)))`, which the kernel does not allow"
        case 0...32, 127:
            return "interface name `\(name)` contains whitespace or a control character"
        default: continue
        }
    }
    return nil
}

/// Why a namespace name is not acceptable to `ip netns`, or nil.
public func namespaceNameProblem(_ name: String) -> String? {
    let bytes = Array(name.utf8)
    if bytes.isEmpty { return "a namespace name cannot be empty" }
    if bytes.count > 255 { return "namespace name is \(bytes.count) bytes long; at most 255 are allowed" }
    if name == "." || name == ".." { return "`\(name)` is not a valid namespace name" }
    if bytes.contains(UInt8(ascii: "/")) { return "namespace name `\(name)` contains `/`" }
    if bytes.contains(where: { $0 < 32 || $0 == 127 }) { return "namespace name `\(name)` contains a control character" }
    return nil
}

struct Placement {
    var namespace: String
    var range: SourceRange  // the placed reference
}

struct PendingBridge {
    var bridge: LinkID
    var bridgeRef: InterfaceRef
    var ports: [InterfaceRef]
    var statement: SourceRange
    /// A VRF's ports rather than a bridge's.
    var isVRF = false
}

struct PendingRoute {
    var namespace: String
    var spec: RouteSpec
    var via: Located<IPAddress>?
    var statement: SourceRange
}

struct Checker {
    /// The REPL's rule (LANGUAGE.md §10): a statement that sets an attribute already set (mtu,
    /// up/down, a sysctl, a route's gateway for one destination, traffic control) replaces the
    /// earlier setting instead of conflicting with it.
    var latestWins = false
    var diagnostics: [Diagnostic] = []
    var limiter = DiagnosticLimiter()
    var namespaces: [Topology.Namespace] = []
    var nsIndex: [String: Int] = [:]
    var reportedNamespaces: Set<String> = []
    var interfaces: [Topology.Interface] = []
    var ifIndex: [LinkID: Int] = [:]
    /// Declared (non-loopback) interfaces by name, in declaration order.
    /// The first declared (non-loopback) interface of each name; `alsoByName` has the others,
    /// in declaration order (rare: one array per name here cost 100 000 allocations).
    var byName: [String: LinkID] = [:]
    var alsoByName: [String: [LinkID]] = [:]
    var declaredNames: [String] = []
    /// Names of declared interfaces per namespace, in declaration order.
    var namesInNamespace: [String: [String]] = [:]
    var placements: [String: Placement] = [:]
    var mtuValueRange: [LinkID: SourceRange] = [:]
    var addresses: [Topology.Address] = []
    /// The first address per (namespace, address), as an index into `addresses`.
    var addressOwner: [AddressKey: Int] = [:]
    /// Where each of `addresses` was written (the prefix itself, not the statement).
    var addressValueRanges: [SourceRange] = []
    var routes: [PendingRoute] = []
    var routeOwner: [RouteKey: (RouteSpec, SourceRange)] = [:]
    var sysctls: [Topology.Sysctl] = []
    var sysctlOwner: [SysctlKey: (String, SourceRange)] = [:]
    var actions: [Topology.Action] = []
    var daemons: [Topology.Daemon] = []
    var daemonOwner: [DaemonKey: SourceRange] = [:]
    /// Where the parts of a stacked link were written (its `link` value, its `id`), for the
    /// rules that need the whole picture (CheckerLinks.swift).
    var linkSyntax: [LinkID: LinkSyntax] = [:]
    /// Where each interface's `burst` was written (checked against its mtu at the end).
    var burstRange: [LinkID: SourceRange] = [:]
    /// Ports per bridge so far (the kernel's limit is checked as they are added).
    var portCount: [LinkID: Int] = [:]

    /// An address is unique per namespace and VRF (two VRFs may reuse one address space).
    struct AddressKey: Hashable { var namespace: String; var vrf: String?; var address: IPAddress }
    struct RouteKey: Hashable { var namespace: String; var destination: IPPrefix; var metric: Int; var table: UInt32? }
    struct DaemonKey: Hashable { var namespace: String; var command: String }
    struct SysctlKey: Hashable { var namespace: String; var key: String }

    mutating func error(_ kind: Diagnostic.Kind, _ message: String, at range: SourceRange,
                        help: String? = nil, notes: [Diagnostic.Note] = []) {
        let d = Diagnostic.error(kind, message, at: range, help: help, notes: notes)
        if limiter.admit(d) { diagnostics.append(d) }
    }

    mutating func warning(_ kind: Diagnostic.Kind, _ message: String, at range: SourceRange, help: String? = nil) {
        let d = Diagnostic.warning(kind, message, at: range, help: help)
        if limiter.admit(d) { diagnostics.append(d) }
    }

    func sortedDiagnostics() -> [Diagnostic] {
        // Stable sort by position, so the report reads top to bottom.
        diagnostics.enumerated().sorted {
            ($0.element.range.start.offset, $0.offset) < ($1.element.range.start.offset, $1.offset)
        }.map(\.element)
    }

    func topology() -> Topology {
        Topology(namespaces: namespaces, interfaces: interfaces, addresses: addresses,
                 routes: routes.map { Topology.Route(namespace: $0.namespace, spec: $0.spec, range: $0.statement) },
                 sysctls: sysctls, daemons: daemons, actions: actions)
    }

    // MARK: passes

    mutating func run(_ statements: [Statement]) {
        // Sized up front, to what the statements declare: growing hash tables dominated large
        // topologies, and sizing them by the statement count wasted tens of megabytes.
        var namespaceCount = 0, interfaceCount = 0, addressCount = 0
        for s in statements {
            switch s.declaration {
            case .namespace: namespaceCount += 1
            case .veth: interfaceCount += 2
            case .bridge, .dummy, .vlan, .macvlan, .ipvlan, .vxlan, .vrf: interfaceCount += 1
            case .address(_, let prefixes): addressCount += prefixes.count
            default: break
            }
        }
        nsIndex.reserveCapacity(namespaceCount)
        namespaces.reserveCapacity(namespaceCount)
        ifIndex.reserveCapacity(interfaceCount + namespaceCount)
        interfaces.reserveCapacity(interfaceCount + namespaceCount)
        byName.reserveCapacity(interfaceCount)
        declaredNames.reserveCapacity(interfaceCount)
        addressOwner.reserveCapacity(addressCount)
        addresses.reserveCapacity(addressCount)
        addressValueRanges.reserveCapacity(addressCount)
        // Pass 1: namespaces and placements (order in the script does not matter).
        for s in statements {
            if case .namespace(let name, let placed) = s.declaration { declareNamespace(name, placed: placed, statement: s.range) }
        }
        // Pass 2: interface declarations.
        var bridges: [PendingBridge] = []
        var stacked: [PendingStacked] = []
        for s in statements {
            switch s.declaration {
            case .veth(let a, let b, let mtu, _):
                let ia = declareInterface(a, kind: .veth, mtu: mtu, statement: s.range)
                let ib = declareInterface(b, kind: .veth, mtu: mtu, statement: s.range)
                if let ia, let ib {
                    if ia == ib {
                        error(.selfReference, "a veth cannot join `\(b)` to itself", at: b.range,
                              help: "give the two ends different names or namespaces")
                    } else {
                        setPeer(ia, ib, ref: a, statement: s.range)
                        setPeer(ib, ia, ref: b, statement: s.range)
                    }
                }
            case .bridge(let br, let ports, let mtu):
                if let id = declareInterface(br, kind: .bridge, mtu: mtu, statement: s.range) {
                    bridges.append(PendingBridge(bridge: id, bridgeRef: br, ports: ports, statement: s.range))
                }
            case .dummy(let ref, let mtu):
                _ = declareInterface(ref, kind: .dummy, mtu: mtu, statement: s.range)
            case .vrf(let ref, let table, let ports, let mtu):
                if let id = declareVRF(ref, table: table, mtu: mtu, statement: s.range) {
                    bridges.append(PendingBridge(bridge: id, bridgeRef: ref, ports: ports, statement: s.range, isVRF: true))
                }
            case .vlan, .macvlan, .ipvlan, .vxlan:
                if let p = PendingStacked(s) { stacked.append(p) }
            default:
                break
            }
        }
        // Pass 2b: stacked links and tunnels, parents first (their namespace defaults to the parent's).
        if !stacked.isEmpty { declareStacked(stacked) }
        // Pass 3: placements must match a declaration.
        checkPlacements(statements)
        // Pass 4: bridge and VRF ports.
        for b in bridges { attachPorts(b) }
        // Pass 5: everything else, in script order.
        for s in statements { checkOther(s) }
        // Pass 6: checks that need the whole picture.
        finalChecks()
        checkLinks()
    }

    // MARK: namespaces

    mutating func declareNamespace(_ name: Located<String>, placed: [InterfaceRef], statement: SourceRange) {
        let n = name.value
        if n == hostNamespace {
            error(.reservedName, "`host` is the namespace topo starts in and cannot be declared", at: name.range,
                  help: "interfaces that are not placed already live in `host`; refer to them as `host:IF`")
        } else if let problem = namespaceNameProblem(n) {
            error(.invalidName, problem, at: name.range)
        } else if nsIndex[n] == nil {
            nsIndex[n] = namespaces.count
            namespaces.append(.init(name: n, range: statement))
            let lo = LinkID(n, "lo")
            ifIndex[lo] = interfaces.count
            interfaces.append(.init(id: lo, kind: .loopback, range: statement))
        }
        for ref in placed {
            if let q = ref.namespace, q.value != n {
                error(.placementConflict, "`\(ref)` is qualified with namespace `\(q.value)` but placed in `\(n)`",
                      at: q.range, help: "write `\(ref.name.value)` or `\(n):\(ref.name.value)`")
                continue
            }
            let ifName = ref.name.value
            if ifName == "lo" {
                error(.invalidValue, "`lo` exists in every namespace and cannot be placed", at: ref.name.range,
                      help: "refer to a namespace's loopback as `\(n):lo`")
                continue
            }
            if let first = placements[ifName] {
                if first.namespace != n {
                    error(.placementConflict, "`\(ifName)` is placed in `\(n)` but already placed in `\(first.namespace)`",
                          at: ref.name.range, notes: [.init("first placed here", at: first.range)])
                }
            } else {
                placements[ifName] = Placement(namespace: n, range: ref.name.range)
            }
        }
    }

    /// True when the namespace exists (declared or `host`); otherwise reports it once.
    @discardableResult
    mutating func checkNamespace(_ name: Located<String>) -> Bool {
        let n = name.value
        if n == hostNamespace || nsIndex[n] != nil { return true }
        if reportedNamespaces.insert(n).inserted {
            let help: String
            if let s = uniqueSuggestion(for: n, among: namespaces.map(\.name) + [hostNamespace]) {
                help = "did you mean `\(s)`?"
            } else if namespaceNameProblem(n) == nil {
                help = "declare it with `ns \(n)`"
            } else {
                help = namespaceNameProblem(n)!
            }
            error(.unknownNamespace, "unknown namespace `\(n)`", at: name.range, help: help)
        }
        return false
    }

    // MARK: interface declarations

    /// Declares (or re-declares) an interface; returns its id, or nil when it cannot exist.
    mutating func declareInterface(_ ref: InterfaceRef, kind: Topology.InterfaceKind, mtu: Located<Int>?,
                                   statement: SourceRange, defaultNamespace: String = hostNamespace) -> LinkID? {
        let name = ref.name.value
        if name == "lo" {
            error(.reservedName, "`lo` is the loopback interface every namespace has; it cannot be declared",
                  at: ref.name.range, help: "use another name")
            return nil
        }
        if let problem = interfaceNameProblem(name) {
            error(.invalidName, problem, at: ref.name.range)
        }
        let ns: String
        if let q = ref.namespace {
            ns = q.value
            if ns != hostNamespace, nsIndex[ns] == nil {
                if ns != hostNamespace, namespaceNameProblem(ns) != nil, !reportedNamespaces.contains(ns) {
                    // An invalid name is reported as such, not as unknown.
                    reportedNamespaces.insert(ns)
                    error(.invalidName, namespaceNameProblem(ns)!, at: q.range)
                } else {
                    checkNamespace(q)
                }
            }
        } else {
            ns = placements[name]?.namespace ?? defaultNamespace
        }
        if let m = mtu { checkMTUValue(m) }
        let id = LinkID(ns, name)
        if let i = ifIndex[id] {
            let existing = interfaces[i]
            if existing.kind != kind {
                let what = existing.kind == .external ? "used as an existing interface of the machine (not declared)"
                    : "declared as a \(existing.kind.rawValue)"
                error(.conflict, "`\(id)` is already \(what)", at: ref.range,
                      notes: [.init(existing.kind == .external ? "first used here" : "first declared here", at: existing.range)])
                return nil
            }
            if let m = mtu {
                if let old = existing.mtu, old != m.value, !latestWins {
                    error(.conflict, "`\(id)` already has mtu \(old)", at: m.range,
                          notes: [.init("mtu first set here", at: existing.mtuRange ?? existing.range)])
                } else if existing.mtu == nil || latestWins {
                    interfaces[i].mtu = m.value
                    interfaces[i].mtuRange = statement
                    mtuValueRange[id] = m.range
                }
            }
            return id
        }
        ifIndex[id] = interfaces.count
        interfaces.append(.init(id: id, kind: kind, mtu: mtu?.value, mtuRange: mtu == nil ? nil : statement,
                                range: statement))
        if let m = mtu { mtuValueRange[id] = m.range }
        if byName[name] == nil {
            byName[name] = id
            declaredNames.append(name)
        } else {
            alsoByName[name, default: []].append(id)
        }
        namesInNamespace[ns, default: []].append(name)
        return id
    }

    mutating func setPeer(_ id: LinkID, _ peer: LinkID, ref: InterfaceRef, statement: SourceRange) {
        guard let i = ifIndex[id] else { return }
        if let old = interfaces[i].peer {
            if old != peer {
                error(.conflict, "`\(id)` is already a veth end paired with `\(old)`", at: ref.range,
                      notes: [.init("first declared here", at: interfaces[i].range)])
            }
        } else {
            interfaces[i].peer = peer
        }
    }

    mutating func checkPlacements(_ statements: [Statement]) {
        for s in statements {
            guard case .namespace(let ns, let placed) = s.declaration else { continue }
            for ref in placed where ref.name.value != "lo" {
                if let q = ref.namespace, q.value != ns.value { continue }  // already reported
                let name = ref.name.value
                if ifIndex[LinkID(ns.value, name)] != nil { continue }
                if let p = placements[name], p.namespace != ns.value { continue }  // already reported
                if let other = byName[name], let i = ifIndex[other] {
                    let decl = interfaces[i]
                    error(.placementConflict,
                          "`\(name)` is placed in `\(ns.value)` but declared in `\(other.namespace)`",
                          at: ref.name.range, help: "remove the placement or the namespace in the declaration",
                          notes: [.init("declared here", at: decl.range)])
                } else {
                    error(.unknownInterface, "unknown interface `\(name)`", at: ref.name.range,
                          help: unknownHelp(name, candidates: declaredNames) ??
                              "declare it with `veth`, `bridge` or `dummy`; `ns` only places interfaces")
                }
            }
        }
    }

    // MARK: references

    func unknownHelp(_ name: String, candidates: [String], qualifier: String? = nil) -> String? {
        if let s = uniqueSuggestion(for: name, among: candidates) {
            return "did you mean `\(qualifier.map { "\($0):" } ?? "")\(s)`?"
        }
        if candidates.isEmpty { return nil }
        let noun = qualifier.map { "interfaces in `\($0)`" } ?? "interfaces"
        return "declared \(noun) are \(quotedList(candidates))"
    }

    mutating func loopback(_ ns: String, statement: SourceRange) -> LinkID {
        let id = LinkID(ns, "lo")
        if ifIndex[id] == nil {
            ifIndex[id] = interfaces.count
            interfaces.append(.init(id: id, kind: .loopback, range: statement))
        }
        return id
    }

    /// Resolves a reference anywhere (addr, up/down, mtu).
    mutating func resolve(_ ref: InterfaceRef, statement: SourceRange) -> LinkID? {
        let name = ref.name.value
        if let q = ref.namespace {
            let id = LinkID(q.value, name)
            if ifIndex[id] != nil { return id }
            guard checkNamespace(q) else { return nil }
            if name == "lo" { return loopback(q.value, statement: statement) }
            var help = unknownHelp(name, candidates: namesInNamespace[q.value] ?? [], qualifier: q.value)
            if let elsewhere = byName[name] {
                help = "`\(name)` is declared in `\(elsewhere.namespace)`: write `\(elsewhere)`"
            }
            error(.unknownInterface, "unknown interface `\(ref)`", at: ref.range, help: help)
            return nil
        }
        if let first = byName[name] {
            guard let others = alsoByName[name] else { return first }
            error(.ambiguousInterface, "`\(name)` is declared in more than one namespace", at: ref.name.range,
                  help: "qualify it: " + ([first] + others).map { "`\($0)`" }.joined(separator: " or "))
            return nil
        }
        if name == "lo" { return loopback(hostNamespace, statement: statement) }
        error(.unknownInterface, "unknown interface `\(name)`", at: ref.name.range,
              help: unknownHelp(name, candidates: declaredNames) ?? "no interfaces are declared; declare one with `veth`, `bridge` or `dummy`")
        return nil
    }

    /// Resolves a reference that must be in `ns` (bridge ports, route devices).
    mutating func resolve(_ ref: InterfaceRef, in ns: String, role: String, owner: String,
                          excludeBridges: Bool) -> LinkID? {
        let name = ref.name.value
        if let q = ref.namespace, q.value != ns {
            let id = LinkID(q.value, name)
            if ifIndex[id] == nil { _ = resolve(ref, statement: ref.range); return nil }
            error(.portNamespace, "\(role) `\(ref)` is not in namespace `\(ns)` of \(owner)", at: q.range,
                  help: "\(role)s must be in the same namespace as \(owner)")
            return nil
        }
        let id = LinkID(ns, name)
        if ifIndex[id] != nil { return id }
        if let other = byName[name] {
            error(.portNamespace, "\(role) `\(name)` is in namespace `\(other.namespace)`, not in `\(ns)` of \(owner)",
                  at: ref.range, help: "\(role)s must be in the same namespace as \(owner)")
            return nil
        }
        if name == "lo" { return loopback(ns, statement: ref.range) }
        error(.unknownInterface, "unknown interface `\(ref)`", at: ref.range,
              help: unknownHelp(name, candidates: candidates(in: ns, excludeBridges: excludeBridges))
                ?? "no interfaces are declared in `\(ns)`")
        return nil
    }

    func candidates(in ns: String, excludeBridges: Bool) -> [String] {
        (namesInNamespace[ns] ?? []).filter { n in
            guard excludeBridges, let i = ifIndex[LinkID(ns, n)] else { return true }
            return interfaces[i].kind != .bridge
        }
    }

    mutating func attachPorts(_ b: PendingBridge) {
        let ns = b.bridge.namespace
        let noun = b.isVRF ? "vrf" : "bridge"
        let owner = "\(noun) `\(b.bridge.name)`"
        for port in b.ports {
            guard let id = resolve(port, in: ns, role: "port", owner: owner, excludeBridges: !b.isVRF) else { continue }
            guard let i = ifIndex[id] else { continue }
            if id == b.bridge {
                error(.selfReference, "\(noun) `\(b.bridge.name)` cannot be its own port", at: port.range)
                continue
            }
            switch interfaces[i].kind {
            case .bridge where !b.isVRF:
                error(.invalidValue, "bridge `\(id.name)` cannot be a port of bridge `\(b.bridge.name)`", at: port.range,
                      help: "the kernel does not enslave a bridge to another bridge; join them with a veth pair")
                continue
            case .loopback:
                error(.invalidValue, "`lo` cannot be a \(noun) port", at: port.range)
                continue
            case .vrf:
                error(.invalidValue, "vrf `\(id.name)` cannot be a port of \(owner)", at: port.range,
                      help: "the kernel does not enslave a VRF device to anything")
                continue
            case .ipvlan where !b.isVRF:
                error(.invalidValue, "ipvlan `\(id.name)` cannot be a bridge port", at: port.range,
                      help: "the kernel refuses to bridge an ipvlan; use a macvlan or a veth pair")
                continue
            case .external:
                error(.unmodifiable, "`\(id)` is not declared by this script and topo never changes it", at: port.range,
                      help: "make a port of an interface the script declares")
                continue
            default: break
            }
            if let old = interfaces[i].master {
                if old != b.bridge.name {
                    let oldIsVRF = ifIndex[LinkID(ns, old)].map { interfaces[$0].kind == .vrf } ?? false
                    error(.conflict, "`\(id.name)` is already a port of \(oldIsVRF ? "vrf" : "bridge") `\(old)`", at: port.range,
                          help: "an interface can have only one master",
                          notes: [.init("made a port here", at: interfaces[i].masterRange ?? interfaces[i].range)])
                }
            } else {
                interfaces[i].master = b.bridge.name
                interfaces[i].masterRange = b.statement
                if !b.isVRF {
                    let n = portCount[b.bridge, default: 0] + 1
                    portCount[b.bridge] = n
                    if n == Checker.maxBridgePorts + 1, let bi = ifIndex[b.bridge] {
                        diagnostics.append(.warning(
                            .tooManyPorts,
                            "bridge `\(b.bridge)` gets its \(n)th port here; the kernel takes at most \(Checker.maxBridgePorts) ports per bridge",
                            at: port.range,
                            help: "the kernel refuses more with \"Exchange full\"; spread the ports over several bridges",
                            notes: [.init("bridge declared here", at: interfaces[bi].range)]))
                    }
                }
            }
        }
    }

    /// The most ports a Linux bridge takes (port numbers 1…1023: BR_MAX_PORTS is 1024 and
    /// number 0 is reserved; the 1024th `ip link set … master` fails with EXFULL, measured).
    static let maxBridgePorts = 1023

    // MARK: other statements

    mutating func checkMTUValue(_ m: Located<Int>) {
        if m.value < 68 || m.value > 65535 {
            error(.invalidValue, "mtu \(m.value) is out of range", at: m.range, help: "an mtu must be between 68 and 65535")
        }
    }

    mutating func checkOther(_ s: Statement) {
        switch s.declaration {
        case .namespace, .bridge, .dummy, .vlan, .macvlan, .ipvlan, .vxlan, .vrf:
            break
        case .veth(let a, let b, _, let options):
            guard !options.isEmpty, let shaping = buildShaping(options) else { return }
            // The ends were declared in pass 2; they resolve to themselves (or failed there).
            for end in [a, b] {
                let id = LinkID(end.namespace?.value ?? placements[end.name.value]?.namespace ?? hostNamespace, end.name.value)
                if ifIndex[id] != nil { setShaping(id, shaping, ref: end, options: options, statement: s.range) }
            }
        case .tc(let ref, let options):
            let shaping = buildShaping(options)
            guard let id = resolve(ref, statement: s.range), let shaping else { return }
            if let i = ifIndex[id], interfaces[i].kind == .external {
                error(.unmodifiable, "`\(id)` is not declared by this script and topo never changes it", at: ref.range,
                      help: "shape an interface the script declares (a macvlan or vlan on it, for example)")
                return
            }
            if id == LinkID(hostNamespace, "lo") {
                error(.invalidValue, "topo does not shape `host:lo`: it would slow every local connection of this machine",
                      at: ref.range, help: "shape `lo` of a namespace the script declares, such as `\(namespaces.first?.name ?? "ns0"):lo`")
                return
            }
            setShaping(id, shaping, ref: ref, options: options, statement: s.range)
        case .daemon(let ns, let command):
            checkDaemon(ns, command, statement: s.range)
        case .address(let ref, let prefixes):
            var valid: [Located<IPPrefix>] = []
            for p in prefixes where checkAddressPrefix(p) { valid.append(p) }
            guard let id = resolve(ref, statement: s.range), modifiable(id, ref, "an address") else { return }
            for p in valid { addAddress(id, p, statement: s.range) }
        case .linkState(let refs, let up):
            for ref in refs {
                guard let id = resolve(ref, statement: s.range), let i = ifIndex[id], modifiable(id, ref, "its state") else { continue }
                if let r = interfaces[i].stateRange, !latestWins {
                    if interfaces[i].up != up {
                        error(.conflict, "`\(id)` is already declared \(up ? "down" : "up")", at: ref.range,
                              notes: [.init("declared \(up ? "down" : "up") here", at: r)])
                    }
                } else {
                    interfaces[i].up = up
                    interfaces[i].stateRange = s.range
                }
            }
        case .mtu(let ref, let m):
            checkMTUValue(m)
            guard let id = resolve(ref, statement: s.range), let i = ifIndex[id], modifiable(id, ref, "an mtu") else { return }
            if let old = interfaces[i].mtu, !latestWins {
                if old != m.value {
                    error(.conflict, "`\(id)` already has mtu \(old)", at: m.range,
                          notes: [.init("mtu first set here", at: interfaces[i].mtuRange ?? interfaces[i].range)])
                }
            } else {
                interfaces[i].mtu = m.value
                interfaces[i].mtuRange = s.range
                mtuValueRange[id] = m.range
            }
        case .route(let nsName, let destination, let via, let dev, let metric, let table):
            checkRoute(nsName, destination, via, dev, metric, table, statement: s.range)
        case .forward(let ns):
            guard checkNamespace(ns) else { return }
            addSysctl(ns.value, "net.ipv4.ip_forward", "1", at: ns.range, statement: s.range)
            addSysctl(ns.value, "net.ipv6.conf.all.forwarding", "1", at: ns.range, statement: s.range)
        case .sysctl(let ns, let key, let value):
            let nsOK = checkNamespace(ns)
            var ok = true
            if let problem = sysctlKeyProblem(key.value) {
                error(.invalidSysctl, problem, at: key.range, help: "topo sets `net.*` sysctls only, such as `net.ipv4.ip_forward`")
                ok = false
            }
            if value.value.isEmpty || value.value.utf8.contains(where: { $0 < 32 || $0 == 127 }) {
                error(.invalidValue, "a sysctl value must be non-empty text on one line", at: value.range)
                ok = false
            }
            if ok && nsOK { addSysctl(ns.value, key.value, value.value, at: key.range, statement: s.range) }
        case .ping(let ns, let address, let count):
            let nsOK = checkNamespace(ns)
            var ok = true
            if let c = count, c.value < 1 || c.value > 100 {
                error(.invalidValue, "ping count \(c.value) is out of range", at: c.range, help: "a count must be between 1 and 100")
                ok = false
            }
            if address.value.isUnspecified {
                error(.invalidValue, "cannot ping the unspecified address `\(address.value)`", at: address.range)
                ok = false
            }
            if ok && nsOK {
                actions.append(.init(namespace: ns.value, kind: .ping(address: address.value, count: count?.value ?? 1),
                                     range: s.range))
            }
        case .exec(let ns, let command, let timeout):
            let nsOK = checkNamespace(ns)
            var ok = true
            if let t = timeout, t.value <= 0 {
                error(.invalidValue, "a timeout must be longer than 0", at: t.range, help: "the default is 60s")
                ok = false
            }
            if command.value.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\n" }) {
                error(.invalidValue, "an exec command cannot be empty", at: command.range)
            } else if command.value.utf8.contains(0) {
                error(.invalidValue, "an exec command cannot contain a NUL byte", at: command.range)
            } else if nsOK && ok {
                let seconds = timeout.map { Double($0.value) / 1e9 }
                actions.append(.init(namespace: ns.value, kind: .exec(command: command.value, timeout: seconds), range: s.range))
            }
        }
    }

    /// Family-specific validity of an interface address; false when it must not be used.
    mutating func checkAddressPrefix(_ p: Located<IPPrefix>) -> Bool {
        let prefix = p.value
        if prefix.length < 0 || prefix.length > prefix.family.bits {
            error(.invalidPrefix, "prefix length /\(prefix.length) is out of range for \(prefix.family == .ipv4 ? "IPv4" : "IPv6")",
                  at: p.range, help: "IPv4 prefixes are /0 to /32, IPv6 prefixes /0 to /128")
            return false
        }
        if prefix.address.isUnspecified {
            error(.invalidPrefix, "`\(prefix)` is the unspecified address and cannot be assigned", at: p.range)
            return false
        }
        if prefix.address.isMulticast {
            error(.invalidPrefix, "`\(prefix.address)` is a multicast address and cannot be assigned", at: p.range)
            return false
        }
        if prefix.family == .ipv4, prefix.length <= 30 {
            let network = prefix.network
            if network.address == prefix.address {
                let host = network.host(1).map { "`\($0)`" } ?? "a host address"
                warning(.invalidPrefix, "`\(prefix)` is the network address of its prefix", at: p.range,
                        help: "use a host address, such as \(host)")
            } else if network.host(-1)?.address == prefix.address {
                warning(.invalidPrefix, "`\(prefix)` is the broadcast address of its prefix", at: p.range,
                        help: "use a host address of the prefix")
            }
        }
        return true
    }

    /// The VRF an interface routes in: its master, or its bridge's master, when that is a VRF.
    func vrfOf(_ id: LinkID) -> String? {
        var cur = id
        for _ in 0..<2 {
            guard let i = ifIndex[cur], let m = interfaces[i].master, let mi = ifIndex[LinkID(id.namespace, m)] else { return nil }
            if interfaces[mi].kind == .vrf { return m }
            cur = LinkID(id.namespace, m)
        }
        return nil
    }

    mutating func addAddress(_ id: LinkID, _ p: Located<IPPrefix>, statement: SourceRange) {
        let key = AddressKey(namespace: id.namespace, vrf: vrfOf(id), address: p.value.address)
        if let first = addressOwner[key] {
            let owner = addresses[first].interface, prefix = addresses[first].prefix, range = addressValueRanges[first]
            if owner == id && prefix == p.value { return }  // identical repeat
            if owner == id {
                error(.conflict, "`\(p.value.address)` is already on `\(id)` as `\(prefix)`", at: p.range,
                      notes: [.init("first added here", at: range)])
            } else {
                let scope = key.vrf.map { "vrf `\($0)` of namespace `\(id.namespace)`" } ?? "namespace `\(id.namespace)`"
                error(.conflict, "address `\(p.value.address)` is already on `\(owner)` in \(scope)",
                      at: p.range, help: "an address can be on only one interface of a namespace (or of a vrf)",
                      notes: [.init("first added here", at: range)])
            }
            return
        }
        addressOwner[key] = addresses.count
        addresses.append(.init(interface: id, prefix: p.value, range: statement))
        addressValueRanges.append(p.range)
    }

    mutating func checkRoute(_ nsName: Located<String>, _ destination: Located<RouteDestination>,
                             _ via: Located<IPAddress>?, _ dev: InterfaceRef?, _ metric: Located<Int>?,
                             _ table: Located<Int>?, statement: SourceRange) {
        var ok = checkNamespace(nsName)
        let ns = nsName.value
        var dest: IPPrefix
        switch destination.value {
        case .default:
            dest = .any(via?.value.family ?? .ipv4)
        case .prefix(let p):
            dest = p
            if p.length < 0 || p.length > p.family.bits {
                error(.invalidPrefix, "prefix length /\(p.length) is out of range", at: destination.range)
                ok = false
            } else if !p.isNetwork {
                error(.invalidPrefix, "route destination `\(p)` has host bits set", at: destination.range,
                      help: "did you mean `\(p.network)`?")
                ok = false
                dest = p.network
            }
        }
        if via == nil && dev == nil {
            error(.invalidValue, "a route needs `via GATEWAY` or `dev IF`", at: destination.range)
            ok = false
        }
        if let gw = via {
            if gw.value.family != dest.family {
                error(.familyMismatch,
                      "gateway `\(gw.value)` is \(gw.value.family == .ipv4 ? "IPv4" : "IPv6") but destination `\(dest)` is \(dest.family == .ipv4 ? "IPv4" : "IPv6")",
                      at: gw.range)
                ok = false
            } else if gw.value.isUnspecified || gw.value.isMulticast {
                error(.invalidValue, "`\(gw.value)` cannot be a gateway", at: gw.range)
                ok = false
            }
        }
        if let m = metric, m.value < 0 || m.value > 4_294_967_295 {
            error(.invalidValue, "metric \(m.value) is out of range", at: m.range, help: "a metric must be between 0 and 4294967295")
            ok = false
        }
        if let t = table, !checkRouteTable(t) { ok = false }
        var device: String?
        if let dev, ok || nsIndex[ns] != nil || ns == hostNamespace {
            if let id = resolve(dev, in: ns, role: "device", owner: "the route", excludeBridges: false) {
                device = id.name
            } else {
                ok = false
            }
        }
        guard ok else { return }
        let spec = RouteSpec(destination: dest, gateway: via?.value, device: device, metric: metric?.value,
                             table: table.map { UInt32($0.value) })
        let key = RouteKey(namespace: ns, destination: dest, metric: metric?.value ?? 0, table: spec.table)
        if let (first, range) = routeOwner[key] {
            if latestWins, first != spec, let k = routes.firstIndex(where: { $0.namespace == ns && $0.spec == first }) {
                routes[k] = PendingRoute(namespace: ns, spec: spec, via: via, statement: statement)
                routeOwner[key] = (spec, destination.range)
                return
            }
            if first != spec {
                let inTable = spec.table.map { " of table \($0)" } ?? ""
                error(.conflict, "a route to `\(dest)` with metric \(metric?.value ?? 0) is already declared in `\(ns)`\(inTable)",
                      at: destination.range, help: "give one of them another `metric`",
                      notes: [.init("first declared here", at: range)])
            }
            return
        }
        routeOwner[key] = (spec, destination.range)
        routes.append(PendingRoute(namespace: ns, spec: spec, via: via, statement: statement))
    }

    mutating func addSysctl(_ ns: String, _ key: String, _ value: String, at range: SourceRange, statement: SourceRange) {
        let k = SysctlKey(namespace: ns, key: key.replacingSlashes())
        if let (old, first) = sysctlOwner[k] {
            if latestWins, old != value, let i = sysctls.firstIndex(where: { $0.namespace == ns && $0.key.replacingSlashes() == k.key }) {
                sysctls[i] = .init(namespace: ns, key: key, value: value, range: statement)
                sysctlOwner[k] = (value, range)
                return
            }
            if old != value {
                error(.conflict, "sysctl `\(key)` in `\(ns)` is already set to `\(old)`", at: range,
                      notes: [.init("first set here", at: first)])
            }
            return
        }
        sysctlOwner[k] = (value, range)
        sysctls.append(.init(namespace: ns, key: key, value: value, range: statement))
    }

    mutating func finalChecks() {
        // Connected prefixes per namespace, for gateway reachability.
        // (Only built when some route has a gateway to check.)
        let gatewayChecks = routes.contains { $0.via != nil }
        var connected: [String: [(LinkID, IPPrefix)]] = [:]
        var hasV6: Set<LinkID> = []
        for a in addresses {
            if gatewayChecks { connected[a.interface.namespace, default: []].append((a.interface, a.prefix.network)) }
            if a.prefix.family == .ipv6 { hasV6.insert(a.interface) }
        }
        for r in routes where r.spec.gateway == nil {
            if let d = r.spec.device {
                connected[r.namespace, default: []].append((LinkID(r.namespace, d), r.spec.destination))
            }
        }
        for r in routes {
            guard let gw = r.via else { continue }
            if case .v6(let hi, _) = gw.value, hi >> 54 == 0x3fa { continue }  // fe80::/10 is on-link by definition
            let onLink = (connected[r.namespace] ?? []).contains { entry in
                (r.spec.device == nil || entry.0.name == r.spec.device) && entry.1.contains(gw.value)
            }
            if !onLink {
                warning(.unreachableGateway, "gateway `\(gw.value)` is not on a connected network of `\(r.namespace)`",
                        at: gw.range,
                        help: "the kernel refuses such a route; add an address in the gateway's network to an interface of `\(r.namespace)`")
            }
        }
        for iface in interfaces {
            if let m = iface.mtu, m < 1280, hasV6.contains(iface.id) {
                warning(.invalidValue, "mtu \(m) is below 1280, the IPv6 minimum, but `\(iface.id)` has an IPv6 address",
                        at: mtuValueRange[iface.id] ?? iface.mtuRange ?? iface.range,
                        help: "the kernel disables IPv6 on links with an mtu below 1280")
            }
        }
    }
}

/// Why a sysctl key is not one topo sets, or nil. Keys start with `net.` and use name
/// characters (`A-Z a-z 0-9 _ -`) between `.` or `/` separators.
public func sysctlKeyProblem(_ key: String) -> String? {
    guard key.hasPrefix("net.") || key.hasPrefix("net/") else {
        return "sysctl key `\(key)` does not start with `net.`"
    }
    var previousSeparator = false
    for (i, b) in key.utf8.enumerated() {
        let isSep = b == UInt8(ascii: ".") || b == UInt8(ascii: "/")
        let isName = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        if !isSep && !isName {
            return "sysctl key `\(key)` contains a character that is not allowed in a sysctl name"
        }
        if isSep && (previousSeparator || i == key.utf8.count - 1) {
            return "sysctl key `\(key)` has an empty component"
        }
        previousSeparator = isSep
    }
    return nil
}

extension String {
    /// `net/ipv4/ip_forward` → `net.ipv4.ip_forward` for comparing keys (only when no `.` is inside a component).
    func replacingSlashes() -> String {
        if !utf8.contains(UInt8(ascii: "/")) { return self }
        if utf8.contains(UInt8(ascii: ".")) { return self }
        return String(decoding: utf8.map { $0 == UInt8(ascii: "/") ? UInt8(ascii: ".") : $0 }, as: UTF8.self)
    }
}

extension IPAddress {
    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a == 0
        case .v6(let h, let l): return h == 0 && l == 0
        }
    }

    /// `224.0.0.0/4` or `ff00::/8`.
    public var isMulticast: Bool {
        switch self {
        case .v4(let a): return a >> 28 == 0xe
        case .v6(let h, _): return h >> 56 == 0xff
        }
    }
}
