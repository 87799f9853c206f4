/// The checker's rules for shaping (LANGUAGE.md §11), the stacked and tunnel link kinds and
/// VRFs (§12), and daemons (§13). Choices beyond the contract are marked *decided*; each is
/// written down in docs/checker.md.
///
/// Link kinds:
/// - A stacked link (`vlan`, `macvlan`, `ipvlan`) needs a parent; a `vxlan` may name an
///   underlay (`link DEV`). The parent is a declared interface, or `host:NAME` that the script
///   does not declare: an interface of the machine, of kind `.external` (checked at apply,
///   never modified: `mtu`, `addr`, `up`/`down`, `tc` and being a port are errors on it).
///   A bare unknown parent is an error (*decided*: only `host:NAME` is taken on trust).
/// - Unplaced, unqualified, the link goes in its parent's namespace (a vxlan without `link`:
///   `host`). Parents are declared before children; a parent chain leading back to the link
///   itself is an error.
/// - Ranges: vlan id 1–4094; VNI 0–16777215; vxlan port 1–65535 (default 4789); ttl 1–255;
///   route table 1–4294967295 but not 255 (`local`); a VRF table also not 253 (`default`) or
///   254 (`main`) (*decided*); two VRFs on one table in a namespace are a warning.
/// - Kernel refusals, checked before apply: `lo` as the parent of a vlan/macvlan/ipvlan; a
///   VRF as any stacked link's parent, or an ipvlan as a macvlan's/ipvlan's (both carry
///   IFF_NO_RX_HANDLER); one device cannot be at once a bridge port, a macvlan parent and an
///   ipvlan parent (each takes the device's one rx_handler: EBUSY, measured); a passthru
///   macvlan alone on its parent; one vlan id per parent and protocol; one vxlan per
///   (underlay namespace, VNI, port, family) — the kernel's own key; an ipvlan or VRF is
///   never a bridge port; a stacked link's mtu at most its parent's.
/// - A vxlan on an underlay whose mtu the script sets (or that ends up other than 1500) gets
///   the underlay's mtu minus 50 (IPv4) or 70 (IPv6), so the planner sets it: the kernel
///   derives it only once, at creation, when the underlay still has 1500 (measured: it does
///   not follow later changes). An explicit vxlan mtu above that is an error.
extension Checker {
    // MARK: declaring

    enum ParentState {
        case ready(LinkID?)
        case wait
        case failed
    }

    /// Declares the stacked links and tunnels in rounds: a link is declared once its parent is.
    mutating func declareStacked(_ all: [PendingStacked]) {
        var waiting = all
        var failed: Set<String> = []
        while !waiting.isEmpty {
            let pendingNames = Set(waiting.map { $0.ref.name.value })
            var next: [PendingStacked] = []
            var progress = false
            for p in waiting {
                switch parentState(p, pendingNames: pendingNames, failed: failed) {
                case .ready(let parent):
                    if !declareStackedLink(p, parent: parent) { failed.insert(p.ref.name.value) }
                    progress = true
                case .failed:
                    failed.insert(p.ref.name.value)
                    progress = true
                case .wait:
                    next.append(p)
                }
            }
            waiting = next
            if progress { continue }
            // Stalled: a `host:NAME` parent that only a stuck statement could declare is an
            // interface of the machine; anything else left is a cycle.
            var unstuck = false
            for p in waiting {
                if let parent = p.parent, let q = parent.namespace, q.value == hostNamespace,
                   ifIndex[LinkID(hostNamespace, parent.name.value)] == nil,
                   external(parent.name, statement: p.statement) != nil {
                    unstuck = true
                }
            }
            if unstuck { continue }
            for p in waiting {
                let at = p.parent?.range ?? p.ref.range
                error(.cycle, "the parent of `\(p.ref)` leads back to it", at: at,
                      help: "a link cannot be stacked on itself, directly or through other links")
            }
            return
        }
    }

    /// Whether the parent of `p` is declared yet.
    mutating func parentState(_ p: PendingStacked, pendingNames: Set<String>, failed: Set<String>) -> ParentState {
        guard let parent = p.parent else { return .ready(nil) }
        let name = parent.name.value
        if let q = parent.namespace {
            let id = LinkID(q.value, name)
            if ifIndex[id] != nil { return .ready(id) }
            if failed.contains(name) { return .failed }
            guard checkNamespace(q) else { return .failed }
            if name == "lo" { return .ready(loopback(q.value, statement: p.statement)) }
            if pendingNames.contains(name) { return .wait }
            if q.value == hostNamespace {
                return external(parent.name, statement: p.statement).map { .ready($0) } ?? .failed
            }
            var help = unknownHelp(name, candidates: namesInNamespace[q.value] ?? [], qualifier: q.value)
            if let elsewhere = byName[name] { help = "`\(name)` is declared in `\(elsewhere.namespace)`: write `\(elsewhere)`" }
            error(.unknownInterface, "unknown interface `\(parent)`", at: parent.range, help: help)
            return .failed
        }
        if let first = byName[name] {
            if let others = alsoByName[name] {
                error(.ambiguousInterface, "`\(name)` is declared in more than one namespace", at: parent.name.range,
                      help: "qualify it: " + ([first] + others).map { "`\($0)`" }.joined(separator: " or "))
                return .failed
            }
            return .ready(first)
        }
        if failed.contains(name) { return .failed }
        if name == "lo" { return .ready(loopback(hostNamespace, statement: p.statement)) }
        if pendingNames.contains(name) { return .wait }
        error(.unknownInterface, "unknown interface `\(name)`", at: parent.name.range,
              help: uniqueSuggestion(for: name, among: declaredNames).map { "did you mean `\($0)`?" }
                  ?? "to use an existing interface of this machine, write `host:\(name)`")
        return .failed
    }

    /// `host:NAME`, an interface of the machine the script uses but does not declare.
    mutating func external(_ name: Located<String>, statement: SourceRange) -> LinkID? {
        if let problem = interfaceNameProblem(name.value) {
            error(.invalidName, problem, at: name.range)
            return nil
        }
        let id = LinkID(hostNamespace, name.value)
        if ifIndex[id] != nil { return id }
        ifIndex[id] = interfaces.count
        interfaces.append(.init(id: id, kind: .external, range: statement))
        if byName[name.value] == nil {
            byName[name.value] = id
            declaredNames.append(name.value)
        } else {
            alsoByName[name.value, default: []].append(id)
        }
        namesInNamespace[hostNamespace, default: []].append(name.value)
        return id
    }

    /// Declares one stacked link or tunnel whose parent is known; false when it cannot exist.
    mutating func declareStackedLink(_ p: PendingStacked, parent: LinkID?) -> Bool {
        guard let id = declareInterface(p.ref, kind: p.kind, mtu: p.mtu, statement: p.statement,
                                        defaultNamespace: parent?.namespace ?? hostNamespace) else { return false }
        var syntax = LinkSyntax(statement: p.statement)
        syntax.parentRange = p.parent?.range
        let options: LinkOptions?
        switch p.declaration {
        case .vlan(_, _, let vid, let proto, _):
            syntax.idRange = vid.range
            if vid.value < 1 || vid.value > 4094 {
                error(.invalidValue, "vlan id \(vid.value) is out of range", at: vid.range, help: "a vlan id is 1 to 4094")
            }
            var protocolValue = VLANProtocol.dot1q
            if let pr = proto {
                if let v = VLANProtocol(rawValue: pr.value.lowercased()) {
                    protocolValue = v
                } else {
                    error(.invalidValue, "unknown vlan protocol `\(pr.value)`", at: pr.range,
                          help: suggestion(for: pr.value.lowercased(), among: VLANProtocol.allCases.map(\.rawValue))
                            .map { "did you mean `\($0)`?" } ?? "the protocols are `802.1q` (the default) and `802.1ad` (QinQ)")
                }
            }
            options = parent.map { .vlan(VLAN(parent: $0, id: vid.value, protocol: protocolValue)) }
        case .macvlan(_, _, let mode, _):
            let m = mode.flatMap { checkMode($0, MacvlanMode.self, "macvlan") } ?? .bridge
            options = parent.map { .macvlan(parent: $0, mode: m) }
        case .ipvlan(_, _, let mode, _):
            let m = mode.flatMap { checkMode($0, IPVlanMode.self, "ipvlan") } ?? .l3
            options = parent.map { .ipvlan(parent: $0, mode: m) }
        case .vxlan(_, let x):
            syntax.idRange = x.id.range
            options = .vxlan(checkVXLAN(x, underlay: parent))
        default:
            options = nil
        }
        if let options { setOptions(id, options, ref: p.ref) }
        linkSyntax[id] = syntax
        return true
    }

    /// A `mode` word, or nil (after an error) when it names no mode.
    mutating func checkMode<M: RawRepresentable & CaseIterable>(_ w: Located<String>, _ type: M.Type, _ kind: String) -> M?
        where M.RawValue == String {
        if let m = M(rawValue: w.value) { return m }
        let names = M.allCases.map(\.rawValue)
        error(.invalidValue, "unknown \(kind) mode `\(w.value)`", at: w.range,
              help: suggestion(for: w.value.lowercased(), among: names).map { "did you mean `\($0)`?" }
                  ?? "the modes are " + names.map { "`\($0)`" }.joined(separator: ", "))
        return nil
    }

    /// The vxlan's options, after reporting every bad clause.
    mutating func checkVXLAN(_ x: VXLANDeclaration, underlay: LinkID?) -> VXLAN {
        if x.id.value < 0 || x.id.value > 16_777_215 {
            error(.invalidValue, "vni \(x.id.value) is out of range", at: x.id.range, help: "a VNI is 0 to 16777215")
        }
        if let p = x.port, p.value < 1 || p.value > 65535 {
            error(.invalidValue, "port \(p.value) is out of range", at: p.range,
                  help: "a UDP port is 1 to 65535; leave `port` out for 4789, the IANA port")
        }
        if let t = x.ttl, t.value < 1 || t.value > 255 {
            error(.invalidValue, "ttl \(t.value) is out of range", at: t.range,
                  help: "a ttl is 1 to 255; leave it out for the kernel's default")
        }
        if let r = x.remote, let g = x.group {
            error(.conflict, "a vxlan has a `remote` or a `group`, not both", at: g.range,
                  help: "`remote` is one unicast peer; `group` a multicast group of peers",
                  notes: [.init("remote given here", at: r.range)])
        }
        if let r = x.remote {
            if r.value.isMulticast {
                error(.invalidValue, "remote `\(r.value)` is a multicast address", at: r.range,
                      help: "write `group \(r.value)` for a multicast group")
            } else if r.value.isUnspecified {
                error(.invalidValue, "remote `\(r.value)` is the unspecified address", at: r.range)
            }
        }
        if let g = x.group {
            if !g.value.isMulticast {
                error(.invalidValue, "group `\(g.value)` is not a multicast address", at: g.range,
                      help: "write `remote \(g.value)` for one unicast peer")
            } else if x.link == nil {
                error(.missingOption, "a multicast `group` needs `link DEV`, the underlay to join it on", at: g.range)
            }
        }
        if let l = x.local {
            if l.value.isMulticast || l.value.isUnspecified {
                error(.invalidValue, "local `\(l.value)` must be a unicast address of this end", at: l.range)
            } else if let peer = x.remote ?? x.group, peer.value.family != l.value.family {
                error(.familyMismatch,
                      "local `\(l.value)` is \(l.value.family == .ipv4 ? "IPv4" : "IPv6") but `\(peer.value)` is \(peer.value.family == .ipv4 ? "IPv4" : "IPv6")",
                      at: l.range)
            }
        }
        return VXLAN(vni: UInt32(clamping: max(0, x.id.value)), remote: x.remote?.value, group: x.group?.value,
                     local: x.local?.value, underlay: underlay, port: x.port?.value ?? VXLAN.defaultPort, ttl: x.ttl?.value)
    }

    /// Records a link's options, or reports a conflict with an earlier, different declaration.
    mutating func setOptions(_ id: LinkID, _ options: LinkOptions, ref: InterfaceRef) {
        guard let i = ifIndex[id] else { return }
        if let old = interfaces[i].options {
            if old != options {
                error(.conflict, "`\(id)` is already declared with other options", at: ref.range,
                      help: "declare it once, or repeat it identically",
                      notes: [.init("first declared here", at: interfaces[i].range)])
            }
            return
        }
        interfaces[i].options = options
    }

    /// `vrf VRF table T`: declares the VRF device; its ports are attached with the bridges'.
    mutating func declareVRF(_ ref: InterfaceRef, table: Located<Int>, mtu: Located<Int>?, statement: SourceRange) -> LinkID? {
        guard let id = declareInterface(ref, kind: .vrf, mtu: mtu, statement: statement) else { return nil }
        var ok = checkRouteTable(table)
        if ok, [253, 254].contains(table.value) {
            error(.invalidValue, "table \(table.value) is the `\(table.value == 254 ? "main" : "default")` table; a vrf needs a table of its own",
                  at: table.range, help: "pick a number such as 10 for the vrf's table")
            ok = false
        }
        setOptions(id, .vrf(table: UInt32(clamping: max(0, table.value))), ref: ref)
        var syntax = LinkSyntax(statement: statement)
        syntax.idRange = table.range
        linkSyntax[id] = syntax
        return id
    }

    /// A routing table number: 1–4294967295, not 255 (`local`, the kernel's).
    mutating func checkRouteTable(_ t: Located<Int>) -> Bool {
        if t.value < 1 || t.value > 4_294_967_295 {
            error(.invalidValue, "table \(t.value) is out of range", at: t.range, help: "a routing table is 1 to 4294967295")
            return false
        }
        if t.value == 255 {
            error(.invalidValue, "table 255 is the kernel's `local` table", at: t.range,
                  help: "use another table; 254 is `main`")
            return false
        }
        return true
    }

    /// False (after an error) when the interface is one the script does not declare.
    mutating func modifiable(_ id: LinkID, _ ref: InterfaceRef, _ what: String) -> Bool {
        guard let i = ifIndex[id], interfaces[i].kind == .external else { return true }
        error(.unmodifiable, "`\(id)` is not declared by this script and topo never changes it", at: ref.range,
              help: "topo only uses it as a parent; set \(what) on an interface the script declares")
        return false
    }

    // MARK: shaping

    /// The shaping the options ask for, or nil after reporting what is wrong with them.
    mutating func buildShaping(_ options: [ShapingOption]) -> Shaping? {
        var s = Shaping()
        var ok = true
        var present: Set<ShapingKey> = []
        for o in options { present.insert(o.key) }
        for o in options {
            let v = o.value.value
            let text = "\(o.key.rawValue) \(o.valueText)"
            if v < 0 {
                error(.invalidValue, "`\(o.key.rawValue)` cannot be negative", at: o.value.range)
                ok = false
                continue
            }
            switch o.key {
            case .delay:
                s.delay = v
            case .jitter:
                if v > Int64(Int32.max) {
                    error(.invalidValue, "`\(text)` is more jitter than the kernel keeps", at: o.value.range,
                          help: "netem's jitter is at most 2.147483s")
                    ok = false
                }
                s.jitter = v
            case .loss, .duplicate, .reorder, .corrupt:
                if v > Percentage.hundred.millionths {
                    error(.invalidValue, "`\(text)` is more than 100%", at: o.value.range)
                    ok = false
                }
                let p = Percentage(millionths: v)
                switch o.key {
                case .loss: s.loss = p
                case .duplicate: s.duplicate = p
                case .reorder: s.reorder = p
                default: s.corrupt = p
                }
            case .rate:
                if v == 0 {
                    error(.invalidValue, "a rate of 0 sends nothing", at: o.value.range,
                          help: "leave `rate` out for a link without a rate limit")
                    ok = false
                }
                s.rate = UInt64(v)
            case .burst:
                if v > Int64(UInt32.max) {
                    error(.invalidValue, "`\(text)` is larger than the kernel's token bucket (4 GiB)", at: o.value.range)
                    ok = false
                }
                s.burst = UInt64(v)
            case .limit:
                if v == 0 {
                    error(.invalidValue, "`limit 0` drops every packet", at: o.value.range,
                          help: "the limit is the queue length in packets; leave it out for 1000")
                    ok = false
                } else if v > Int64(UInt32.max) {
                    error(.invalidValue, "`\(text)` is out of range", at: o.value.range, help: "a limit fits in 32 bits")
                    ok = false
                }
                s.limit = UInt32(clamping: v)
            }
        }
        func needs(_ k: ShapingKey, _ other: ShapingKey, _ help: String) {
            guard present.contains(k), !present.contains(other), let o = options.first(where: { $0.key == k }) else { return }
            error(.missingOption, "`\(k.rawValue)` needs a `\(other.rawValue)`", at: o.keyRange, help: help)
            ok = false
        }
        needs(.jitter, .delay, "jitter varies the delay: add `delay 10ms`, say")
        needs(.reorder, .delay, "netem reorders by sending some packets without the delay: add `delay 10ms`, say")
        needs(.burst, .rate, "`burst` is the token bucket of a rate limit: add `rate 10mbit`, say")
        return ok ? s : nil
    }

    /// Records an interface's shaping, or reports a conflict with a different one.
    mutating func setShaping(_ id: LinkID, _ shaping: Shaping, ref: InterfaceRef, options: [ShapingOption],
                             statement: SourceRange) {
        guard let i = ifIndex[id] else { return }
        if let old = interfaces[i].shaping, !latestWins {
            if old != shaping {
                error(.conflict, "`\(id)` is already shaped with `\(old.description)`", at: ref.range,
                      help: "one interface has one shaping; give all its options in one place",
                      notes: [.init("first shaped here", at: interfaces[i].shapingRange ?? interfaces[i].range)])
            }
            return
        }
        interfaces[i].shaping = shaping
        interfaces[i].shapingRange = statement
        if let b = options.first(where: { $0.key == .burst }) { burstRange[id] = b.value.range }
    }

    // MARK: daemons

    mutating func checkDaemon(_ ns: Located<String>, _ command: Located<String>, statement: SourceRange) {
        let nsOK = checkNamespace(ns)
        if command.value.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\n" }) {
            error(.invalidValue, "a daemon command cannot be empty", at: command.range)
            return
        }
        if command.value.utf8.contains(0) {
            error(.invalidValue, "a daemon command cannot contain a NUL byte", at: command.range)
            return
        }
        guard nsOK else { return }
        let key = DaemonKey(namespace: ns.value, command: command.value)
        if let first = daemonOwner[key] {
            diagnostics.append(.warning(.duplicate, "this daemon is already declared in `\(ns.value)`; it is started once",
                                        at: command.range, help: "to run two, make their commands differ",
                                        notes: [.init("first declared here", at: first)]))
            return
        }
        daemonOwner[key] = command.range
        daemons.append(.init(namespace: ns.value, command: command.value, range: statement))
    }

    // MARK: rules that need the whole picture

    /// The mtu the link will have once the plan has run, when it can be known: the script's,
    /// else what the kernel gives it (links are created before any mtu is set, so a stacked
    /// link starts at 1500 and follows its parent only down; a vxlan with an underlay starts
    /// at 1450/1430). Nil for links of the machine and VRFs.
    func effectiveMTU(_ id: LinkID, depth: Int = 0) -> Int? {
        guard depth < 64, let i = ifIndex[id] else { return nil }
        let iface = interfaces[i]
        if let m = iface.mtu { return m }
        switch iface.kind {
        case .external, .vrf: return nil
        case .loopback: return 65536
        case .vlan, .macvlan, .ipvlan:
            guard let p = iface.options?.parent else { return 1500 }
            if let pi = ifIndex[p], interfaces[pi].kind == .external { return nil }
            return effectiveMTU(p, depth: depth + 1).map { min(1500, $0) }
        case .vxlan:
            guard case .vxlan(let x)? = iface.options, let u = x.underlay else { return 1500 }
            return effectiveMTU(u, depth: depth + 1).map { $0 - x.overhead }
        case .veth, .bridge, .dummy: return 1500
        }
    }

    mutating func checkLinks() {
        var hasStacked = false
        for i in interfaces where i.options != nil { hasStacked = true; break }
        if hasStacked { checkStacked() }
        // A burst smaller than one frame drops every full-size frame (measured: 1000 bytes
        // passes 900-byte pings and drops 1400-byte ones).
        for (id, range) in burstRange {
            guard let i = ifIndex[id], let b = interfaces[i].shaping?.burst else { continue }
            let frame = (effectiveMTU(id) ?? 1500) + 14
            if b < UInt64(frame) {
                error(.invalidValue, "burst \(Shaping.sizeText(b)) is smaller than one full-size frame of `\(id)` (\(frame) bytes)",
                      at: range, help: "frames larger than the burst are dropped; use at least `\(Shaping.sizeText(UInt64(frame)))`")
            }
        }
        // netem holds what is in flight during the delay: at rate R and delay D about R·D of
        // full-size frames, which its queue (`limit`, 1000 packets by default) must hold.
        for i in interfaces {
            guard let s = i.shaping, let d = s.delay, let bps = s.rateBytesPerSecond else { continue }
            let inFlight = Double(bps) * Double(d) / 1e9 / 1514
            let limit = s.limit ?? Shaping.defaultNetemLimit
            if inFlight > Double(limit) {
                diagnostics.append(.warning(
                    .invalidValue,
                    "at \(Shaping.rateText(s.rate!)) and \(Shaping.durationText(d)) about \(Int(inFlight.rounded(.up))) packets are in flight, more than the queue of \(limit)",
                    at: i.shapingRange ?? i.range,
                    help: "netem drops what does not fit; give `limit \(Int(inFlight.rounded(.up)) * 2)`, say"))
            }
        }
        for i in interfaces {
            guard let s = i.shaping, s.rate != nil, s.burst == nil, let b = s.effectiveBurst,
                  let m = effectiveMTU(i.id), b < UInt64(m + 14) else { continue }
            // A warning: GSO packets are split to fit, only large datagrams are dropped.
            diagnostics.append(.warning(
                .invalidValue, "the default burst \(Shaping.sizeText(b)) is smaller than one full-size frame of `\(i.id)` (mtu \(m))",
                at: i.shapingRange ?? i.range, help: "frames larger than the burst are dropped; give a `burst` of at least \(m + 14) bytes"))
        }
    }

    mutating func checkStacked() {
        // Derived vxlan mtus first (parents come before children in `interfaces`).
        for k in interfaces.indices {
            guard interfaces[k].kind == .vxlan, interfaces[k].mtu == nil,
                  case .vxlan(let x)? = interfaces[k].options, let u = x.underlay,
                  let ui = ifIndex[u], interfaces[ui].kind != .external,
                  let m = effectiveMTU(u), m != 1500 else { continue }
            interfaces[k].mtu = m - x.overhead
            interfaces[k].mtuRange = interfaces[ui].mtuRange ?? interfaces[k].range
        }
        var rxUser: [LinkID: (kind: Topology.InterfaceKind, child: LinkID)] = [:]
        var macvlans: [LinkID: [(id: LinkID, mode: MacvlanMode)]] = [:]
        var vlanIDs: [VLANKey: LinkID] = [:]
        var vnis: [VXLANKey: LinkID] = [:]
        var vrfTables: [VRFKey: LinkID] = [:]
        for iface in interfaces {
            guard let options = iface.options else { continue }
            let syntax = linkSyntax[iface.id]
            let parentRange = syntax?.parentRange ?? iface.range
            let idRange = syntax?.idRange ?? iface.range
            if case .vrf(let table) = options {
                let key = VRFKey(namespace: iface.id.namespace, table: table)
                if let first = vrfTables[key] {
                    // A warning: the kernel allows it (unless net.vrf.strict_mode is 1), but the
                    // two VRFs then route alike.
                    diagnostics.append(.warning(
                        .conflict, "vrf `\(first.name)` already uses table \(table) in `\(iface.id.namespace)`", at: idRange,
                        help: "give each vrf a table of its own; sharing one, they route alike",
                        notes: [.init("first used here", at: linkSyntax[first]?.idRange ?? iface.range)]))
                } else {
                    vrfTables[key] = iface.id
                }
                continue
            }
            guard let parent = options.parent, let pi = ifIndex[parent] else {
                if case .vxlan(let x) = options { checkVNI(iface, x, idRange, &vnis) }
                continue
            }
            let p = interfaces[pi]
            let kindName = iface.kind.rawValue
            if case .vxlan(let x) = options {
                checkVNI(iface, x, idRange, &vnis)
                if let m = iface.mtu, let um = effectiveMTU(parent), m > um - x.overhead {
                    error(.invalidValue,
                          "mtu \(m) of `\(iface.id)` is above \(um - x.overhead): the underlay's \(um) less \(x.overhead) bytes of VXLAN encapsulation",
                          at: mtuValueRange[iface.id] ?? iface.mtuRange ?? iface.range,
                          help: "the kernel refuses it; lower this mtu or raise the underlay's")
                }
                continue
            }
            // vlan, macvlan, ipvlan
            if p.kind == .loopback {
                error(.invalidValue, "`lo` cannot be the parent of a \(kindName)", at: parentRange,
                      help: "the kernel refuses it; put the \(kindName) on an ethernet-like interface")
                continue
            }
            if p.kind == .vrf || (p.kind == .ipvlan && iface.kind != .vlan) {
                error(.invalidValue, "a\(p.kind == .ipvlan ? "n" : "") \(p.kind.rawValue) cannot be the parent of a \(kindName)",
                      at: parentRange, help: "the kernel refuses it; put the \(kindName) on the \(p.kind.rawValue)'s own parent or ports")
                continue
            }
            if let m = iface.mtu, let pm = effectiveMTU(parent), m > pm {
                error(.invalidValue, "mtu \(m) of `\(iface.id)` is above the mtu \(pm) of its parent `\(parent)`",
                      at: mtuValueRange[iface.id] ?? iface.mtuRange ?? iface.range,
                      help: "the kernel refuses it; lower this mtu or raise the parent's")
            }
            switch options {
            case .vlan(let v):
                let key = VLANKey(parent: parent, id: v.id, protocol: v.protocol)
                if let first = vlanIDs[key] {
                    error(.conflict, "`\(parent)` already has vlan \(v.id) (`\(first)`)", at: idRange,
                          notes: [.init("first declared here", at: linkSyntax[first]?.idRange ?? iface.range)])
                } else {
                    vlanIDs[key] = iface.id
                }
            case .macvlan, .ipvlan:
                if p.master != nil, let bi = ifIndex[LinkID(parent.namespace, p.master!)], interfaces[bi].kind == .bridge {
                    error(.conflict, "`\(parent)` is a port of bridge `\(p.master!)`; the kernel cannot also put a \(kindName) on it",
                          at: parentRange, help: "put the \(kindName) on the bridge `\(p.master!)` instead",
                          notes: [.init("made a port here", at: p.masterRange ?? p.range)])
                } else if let first = rxUser[parent], first.kind != iface.kind {
                    error(.conflict,
                          "`\(parent)` already has a\(first.kind == .ipvlan ? "n" : "") \(first.kind.rawValue) (`\(first.child)`); the kernel cannot also put a\(iface.kind == .ipvlan ? "n" : "") \(kindName) on it",
                          at: parentRange, notes: [.init("first one here", at: linkSyntax[first.child]?.parentRange ?? iface.range)])
                } else if rxUser[parent] == nil {
                    rxUser[parent] = (iface.kind, iface.id)
                }
                if case .macvlan(_, let mode) = options {
                    let earlier = macvlans[parent, default: []]
                    if let first = earlier.first, mode == .passthru || earlier.contains(where: { $0.mode == .passthru }) {
                        let pass = mode == .passthru ? iface.id : earlier.first { $0.mode == .passthru }!.id
                        error(.conflict, "a passthru macvlan must be the only macvlan on `\(parent)`: `\(pass)` is passthru",
                              at: parentRange, help: "give `\(parent)` one passthru macvlan, or use mode bridge for all",
                              notes: [.init("first macvlan on `\(parent)` here", at: linkSyntax[first.id]?.parentRange ?? iface.range)])
                    }
                    macvlans[parent, default: []].append((iface.id, mode))
                }
            case .vxlan, .vrf:
                break
            }
        }
    }

    mutating func checkVNI(_ iface: Topology.Interface, _ x: VXLAN, _ idRange: SourceRange, _ vnis: inout [VXLANKey: LinkID]) {
        let key = VXLANKey(namespace: x.underlay?.namespace ?? iface.id.namespace, vni: x.vni, port: x.port, ipv6: x.isIPv6)
        if let first = vnis[key] {
            error(.conflict, "a vxlan with VNI \(x.vni) and port \(x.port) already exists in `\(key.namespace)` (`\(first)`)",
                  at: idRange, help: "the kernel keeps one per VNI and port in the underlay's namespace; give one another `port`",
                  notes: [.init("first declared here", at: linkSyntax[first]?.idRange ?? iface.range)])
        } else {
            vnis[key] = iface.id
        }
    }

    struct VLANKey: Hashable { var parent: LinkID; var id: Int; var `protocol`: VLANProtocol }
    struct VXLANKey: Hashable { var namespace: String; var vni: UInt32; var port: Int; var ipv6: Bool }
    struct VRFKey: Hashable { var namespace: String; var table: UInt32 }
}

/// A `vlan`/`macvlan`/`ipvlan`/`vxlan` statement waiting for its parent to be declared.
struct PendingStacked {
    var ref: InterfaceRef
    var kind: Topology.InterfaceKind
    /// The parent (`link PARENT`); nil only for a vxlan without an underlay.
    var parent: InterfaceRef?
    var mtu: Located<Int>?
    var declaration: Declaration
    var statement: SourceRange

    init?(_ s: Statement) {
        switch s.declaration {
        case .vlan(let r, let l, _, _, let m): (ref, kind, parent, mtu) = (r, .vlan, l, m)
        case .macvlan(let r, let l, _, let m): (ref, kind, parent, mtu) = (r, .macvlan, l, m)
        case .ipvlan(let r, let l, _, let m): (ref, kind, parent, mtu) = (r, .ipvlan, l, m)
        case .vxlan(let r, let x): (ref, kind, parent, mtu) = (r, .vxlan, x.link, x.mtu)
        default: return nil
        }
        declaration = s.declaration
        statement = s.range
    }
}

/// Where the parts of a link statement were written.
struct LinkSyntax {
    var statement: SourceRange
    /// The `link PARENT` value.
    var parentRange: SourceRange?
    /// The vlan `id`, vxlan `id` or vrf `table` value.
    var idRange: SourceRange?
}
