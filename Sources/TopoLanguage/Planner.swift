/// Compiles a checked topology to an ordered plan (LANGUAGE.md §6):
///
/// 1. namespaces (`addNamespace`),
/// 2. links (`addVeth` once per pair, each end created in its namespace; `addBridge`, `addDummy`,
///    `addVrf`), then the stacked links (`addVlan`, `addMacvlan`, `addIpvlan`, `addVxlan`),
///    parents before children,
/// 3. bridge and VRF ports (`setMaster`),
/// 4. MTU (`setMTU`; a veth's `mtu M` sets both ends; parents before children, so a vlan or
///    vxlan never exceeds its parent's mtu on the way),
/// 5. traffic control (`setTC`),
/// 6. up/down (`lo` of every created namespace, every declared interface not declared `down`;
///    `setDown` for interfaces declared `down`; `host:lo` only when the script names its state),
/// 7. addresses, 8. routes, 9. sysctls,
/// 10. after apply: daemons (`startDaemon`), then the actions (`ping`, `exec`) in script order.
///
/// Links of the machine (`.external`) get no operation. Inside each phase the order is script
/// order of first declaration (the checker declares parents before children). Every step carries the
/// range of the statement that caused it. The topology should be free of check errors.
public func makePlan(_ topology: Topology, file: String) -> Plan {
    var steps: [PlanStep] = []
    steps.reserveCapacity(topology.interfaces.count * 3 + topology.namespaces.count + topology.addresses.count)

    for ns in topology.namespaces {
        steps.append(PlanStep(.addNamespace(ns.name), at: ns.range))
    }

    // A veth pair is created once, at whichever end comes first. The two ends are nearly
    // always neighbours in `interfaces` (one statement declares both), which needs no
    // hashing; other pairs are tracked in a set.
    let interfaces = topology.interfaces
    var createdVeth: Set<LinkID> = []
    for (k, i) in interfaces.enumerated() {
        switch i.kind {
        case .loopback:
            continue
        case .veth:
            guard let peer = i.peer else { continue }
            if k > 0 && interfaces[k - 1].id == peer { continue }  // created with the previous one
            if !(k + 1 < interfaces.count && interfaces[k + 1].id == peer) {
                if createdVeth.contains(i.id) { continue }
                createdVeth.insert(peer)
            }
            steps.append(PlanStep(.addVeth(i.id, peer: peer), at: i.range))
        case .bridge:
            steps.append(PlanStep(.addBridge(i.id), at: i.range))
        case .dummy:
            steps.append(PlanStep(.addDummy(i.id), at: i.range))
        case .vrf:
            if case .vrf(let table)? = i.options { steps.append(PlanStep(.addVrf(i.id, table: table), at: i.range)) }
        case .vlan, .macvlan, .ipvlan, .vxlan, .external:
            continue
        }
    }

    // Stacked links, parents before children (a vlan on a macvlan on a veth): by depth, then
    // script order.
    var stacked: [(depth: Int, order: Int, step: PlanStep)] = []
    var kindOf: [LinkID: Topology.Interface] = [:]
    var anyStacked = false
    for i in interfaces {
        switch i.kind {
        case .vlan, .macvlan, .ipvlan, .vxlan:
            anyStacked = true
            if i.options?.parent != nil { kindOf[i.id] = i }
        default: continue
        }
    }
    if anyStacked {
        func depth(_ id: LinkID) -> Int {
            var d = 0
            var cur = kindOf[id]?.options?.parent
            while let p = cur, let next = kindOf[p], d < 64 {
                d += 1
                cur = next.options?.parent
            }
            return d
        }
        for (k, i) in interfaces.enumerated() {
            let op: Operation
            switch (i.kind, i.options) {
            case (.vlan, .vlan(let v)?): op = .addVlan(i.id, v)
            case (.macvlan, .macvlan(let p, let m)?): op = .addMacvlan(i.id, parent: p, mode: m)
            case (.ipvlan, .ipvlan(let p, let m)?): op = .addIpvlan(i.id, parent: p, mode: m)
            case (.vxlan, .vxlan(let x)?): op = .addVxlan(i.id, x)
            default: continue
            }
            stacked.append((depth(i.id), k, PlanStep(op, at: i.range)))
        }
        stacked.sort { ($0.depth, $0.order) < ($1.depth, $1.order) }
        steps += stacked.map(\.step)
    }

    for i in topology.interfaces {
        if let m = i.master { steps.append(PlanStep(.setMaster(i.id, master: m), at: i.masterRange ?? i.range)) }
    }

    for i in topology.interfaces {
        if let m = i.mtu { steps.append(PlanStep(.setMTU(i.id, m), at: i.mtuRange ?? i.range)) }
    }

    for i in topology.interfaces {
        if let t = i.shaping, !t.isEmpty { steps.append(PlanStep(.setTC(i.id, t), at: i.shapingRange ?? i.range)) }
    }

    for i in topology.interfaces {
        if i.kind == .external { continue }
        if i.kind == .loopback && i.id.namespace == hostNamespace && i.stateRange == nil { continue }
        let range = i.stateRange ?? i.range
        steps.append(PlanStep(i.up ? .setUp(i.id) : .setDown(i.id), at: range))
    }

    for a in topology.addresses {
        steps.append(PlanStep(.addAddress(a.interface, a.prefix), at: a.range))
    }
    for r in topology.routes {
        steps.append(PlanStep(.addRoute(namespace: r.namespace, r.spec), at: r.range))
    }
    for s in topology.sysctls {
        steps.append(PlanStep(.setSysctl(namespace: s.namespace, key: s.key, value: s.value), at: s.range))
    }
    for d in topology.daemons {
        steps.append(PlanStep(.startDaemon(namespace: d.namespace, command: d.command), at: d.range))
    }
    for a in topology.actions {
        switch a.kind {
        case .ping(let address, let count):
            steps.append(PlanStep(.ping(namespace: a.namespace, address: address, count: count), at: a.range))
        case .exec(let command, let timeout):
            steps.append(PlanStep(.exec(namespace: a.namespace, command: command, timeout: timeout), at: a.range))
        }
    }
    return Plan(file: file, steps: steps)
}
