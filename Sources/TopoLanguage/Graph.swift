/// `topo graph`: a checked topology as a picture, in Graphviz `dot` or Mermaid flowchart
/// syntax. Pure: the same topology always gives the same text.
///
/// - A namespace is a node (its IP stack, labelled with its name and the addresses on its
///   `lo`). A namespace that holds devices (a bridge, a VRF, a dummy, a stacked or tunnel
///   link, a NIC of the host) becomes a cluster holding its node and those devices.
/// - A bridge, VRF, dummy, vlan/macvlan/ipvlan, vxlan or external NIC is a node labelled with
///   its kind, name, identity (vlan id, vxlan VNI and remote, VRF table) and addresses. It
///   hangs off its master (a bridge or VRF) if it has one, else off its namespace's node when
///   it carries addresses (a VRF, a dummy or a NIC always does); a stacked link and a vxlan
///   have a dashed edge to their parent (underlay).
/// - A veth pair is an edge between what its ends attach to (their bridge or VRF, else their
///   namespace), labelled at each end with the interface name, its addresses and shaping.
///   A veth end that is itself a parent of a stacked link is drawn as a node in between.
public enum GraphFormat: String, Hashable, Sendable, CaseIterable {
    case dot, mermaid
}

public func renderGraph(_ topology: Topology, as format: GraphFormat, title: String) -> String {
    let g = TopologyGraph(topology)
    switch format {
    case .dot: return g.dot(title: title)
    case .mermaid: return g.mermaid(title: title)
    }
}

/// The graph of a topology, independent of the output syntax.
struct TopologyGraph {
    enum Shape { case namespace, bridge, vrf, device, external }
    struct Node {
        var id: String
        var lines: [String]
        var shape: Shape
    }
    enum Style { case solid, dashed, dotted }
    struct Edge {
        var from: String
        var to: String
        /// Text at the `from` end and at the `to` end (veth pairs), or in the middle.
        var tail: [String] = []
        var head: [String] = []
        var style: Style = .solid
    }
    struct Group {
        var namespace: String
        /// Set when the namespace is drawn as a cluster.
        var clusterID: String?
        var nodes: [Node]
    }

    var groups: [Group] = []
    var edges: [Edge] = []

    init(_ t: Topology) {
        var addresses: [LinkID: [IPPrefix]] = [:]
        for a in t.addresses { addresses[a.interface, default: []].append(a.prefix) }
        let byID = Dictionary(t.interfaces.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let position = Dictionary(t.interfaces.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })

        // Namespaces in order: declared ones, then `host` if anything lives there.
        var order = t.namespaces.map(\.name)
        let usesHost = t.interfaces.contains { $0.id.namespace == hostNamespace && $0.kind != .loopback }
            || addresses.keys.contains { $0.namespace == hostNamespace }
        if usesHost, !order.contains(hostNamespace) { order.append(hostNamespace) }

        // Veth ends that are parents of stacked links become nodes of their own.
        var parents = Set<LinkID>()
        for i in t.interfaces { if let p = i.options?.parent { parents.insert(p) } }
        func isNode(_ i: Topology.Interface) -> Bool {
            switch i.kind {
            case .veth: return parents.contains(i.id)
            case .loopback: return false
            default: return true
            }
        }

        var nextID = 0
        func newID() -> String { defer { nextID += 1 }; return "n\(nextID)" }
        var nsNode: [String: String] = [:]
        var ifNode: [LinkID: String] = [:]
        var groupIndex: [String: Int] = [:]
        for ns in order {
            let id = newID()
            nsNode[ns] = id
            var lines = [ns]
            for p in addresses[LinkID(ns, "lo")] ?? [] { lines.append("lo \(p)") }
            groupIndex[ns] = groups.count
            groups.append(Group(namespace: ns, clusterID: nil, nodes: [Node(id: id, lines: lines, shape: .namespace)]))
        }
        for i in t.interfaces where isNode(i) {
            guard let g = groupIndex[i.id.namespace] else { continue }
            let id = newID()
            ifNode[i.id] = id
            groups[g].nodes.append(Node(id: id, lines: TopologyGraph.deviceLines(i, addresses[i.id] ?? []),
                                        shape: TopologyGraph.shape(i.kind)))
        }
        var clusters = 0
        for g in groups.indices where groups[g].nodes.count > 1 {
            groups[g].clusterID = "cluster_\(clusters)"
            clusters += 1
        }

        /// What a veth end (or a device's master link) attaches to.
        func attach(_ id: LinkID) -> String? {
            if let n = ifNode[id] { return n }
            if let i = byID[id], let m = i.master, let n = ifNode[LinkID(id.namespace, m)] { return n }
            return nsNode[id.namespace]
        }
        func endLines(_ i: Topology.Interface) -> [String] {
            var lines = [i.id.name + (i.up ? "" : " (down)")]
            lines += (addresses[i.id] ?? []).map(\.description)
            if let s = i.shaping { lines.append(s.description) }
            return lines
        }

        for i in t.interfaces {
            switch i.kind {
            case .veth:
                if let own = ifNode[i.id] {
                    // A veth end drawn as a node: to its master, else to its namespace.
                    if let to = i.master.flatMap({ ifNode[LinkID(i.id.namespace, $0)] }) ?? nsNode[i.id.namespace] {
                        edges.append(Edge(from: own, to: to, style: .dotted))
                    }
                }
                // Each pair once: from the end declared first.
                guard let p = i.peer, let other = byID[p], let mine = position[i.id], let theirs = position[p],
                      mine < theirs else { continue }
                // An end drawn as its own node is labelled there, not on the edge.
                if let a = attach(i.id), let b = attach(p) {
                    edges.append(Edge(from: a, to: b, tail: ifNode[i.id] == nil ? endLines(i) : [],
                                      head: ifNode[p] == nil ? endLines(other) : []))
                }
            case .loopback:
                continue
            default:
                guard let own = ifNode[i.id] else { continue }
                if let m = i.master, let to = ifNode[LinkID(i.id.namespace, m)] {
                    edges.append(Edge(from: own, to: to))
                } else if let to = nsNode[i.id.namespace],
                          i.kind == .vrf || i.kind == .dummy || i.kind == .external || !(addresses[i.id] ?? []).isEmpty {
                    edges.append(Edge(from: own, to: to, style: .dotted))
                }
                // The parent (underlay) is always a node of its own: `attach` finds it.
                if let parent = i.options?.parent, let to = attach(parent) {
                    edges.append(Edge(from: own, to: to, style: .dashed))
                }
            }
        }
    }

    static func shape(_ k: Topology.InterfaceKind) -> Shape {
        switch k {
        case .bridge: return .bridge
        case .vrf: return .vrf
        case .external: return .external
        default: return .device
        }
    }

    /// `bridge br0`, `vlan eth0.10 (id 10)`, `vxlan vx0 (vni 42, remote 10.0.0.2)`, then the addresses.
    static func deviceLines(_ i: Topology.Interface, _ addresses: [IPPrefix]) -> [String] {
        var head: String
        switch i.kind {
        case .external: head = "\(i.id.name) (external)"
        default: head = "\(i.kind.rawValue) \(i.id.name)"
        }
        switch i.options {
        case .vlan(let v)?:
            head += " (id \(v.id)" + (v.protocol == .dot1q ? ")" : ", \(v.protocol.rawValue))")
        case .macvlan(_, let mode)?:
            head += " (\(mode.rawValue))"
        case .ipvlan(_, let mode)?:
            head += " (\(mode.rawValue))"
        case .vxlan(let x)?:
            var parts = ["vni \(x.vni)"]
            if let r = x.remote { parts.append("remote \(r)") }
            if let g = x.group { parts.append("group \(g)") }
            if let l = x.local { parts.append("local \(l)") }
            if x.port != VXLAN.defaultPort { parts.append("port \(x.port)") }
            head += " (" + parts.joined(separator: ", ") + ")"
        case .vrf(let table)?:
            head += " (table \(table))"
        case nil:
            break
        }
        if !i.up { head += " (down)" }
        var lines = [head] + addresses.map(\.description)
        if let s = i.shaping { lines.append(s.description) }
        return lines
    }

    // MARK: - dot

    func dot(title: String) -> String {
        var out = "graph \(dotString(title)) {\n"
        out += "  graph [fontname=\"Helvetica\", fontsize=11, nodesep=0.6, ranksep=0.9];\n"
        out += "  node [fontname=\"Helvetica\", fontsize=11];\n"
        out += "  edge [fontname=\"Helvetica\", fontsize=9, labelfontsize=9];\n"
        for g in groups {
            if let c = g.clusterID {
                out += "  subgraph \(c) {\n"
                out += "    label=\(dotString(g.namespace)); style=\"rounded,dashed\"; color=\"gray50\";\n"
                for n in g.nodes { out += "    " + dotNode(n) + "\n" }
                out += "  }\n"
            } else {
                for n in g.nodes { out += "  " + dotNode(n) + "\n" }
            }
        }
        for e in edges {
            var attrs: [String] = []
            if !e.tail.isEmpty { attrs.append("taillabel=" + dotString(e.tail.joined(separator: "\n"))) }
            if !e.head.isEmpty { attrs.append("headlabel=" + dotString(e.head.joined(separator: "\n"))) }
            // Room for the ends' labels on a veth pair.
            if !e.tail.isEmpty || !e.head.isEmpty { attrs.append("minlen=2") }
            switch e.style {
            case .solid: break
            case .dashed: attrs.append("style=dashed")
            case .dotted: attrs.append("style=dotted")
            }
            out += "  \(e.from) -- \(e.to)" + (attrs.isEmpty ? "" : " [" + attrs.joined(separator: ", ") + "]") + ";\n"
        }
        return out + "}\n"
    }

    private func dotNode(_ n: Node) -> String {
        let shape: String
        switch n.shape {
        case .namespace: shape = "shape=box, style=bold"
        case .bridge: shape = "shape=ellipse"
        case .vrf: shape = "shape=hexagon"
        case .device: shape = "shape=box, style=rounded"
        case .external: shape = "shape=box, style=dashed"
        }
        return "\(n.id) [label=\(dotString(n.lines.joined(separator: "\n"))), \(shape)];"
    }

    /// A dot double-quoted string: `"` and `\` escaped, newlines as `\n` (centred lines).
    private func dotString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r", "\t": out += " "
            default:
                if c.value < 0x20 || c.value == 0x7f { out += " " } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    // MARK: - Mermaid

    func mermaid(title: String) -> String {
        // The title is YAML front matter: a single-quoted scalar (a quote doubled).
        let yaml = "'" + String(title.map { $0 == "\n" ? " " : $0 }).split(separator: "'", omittingEmptySubsequences: false)
            .joined(separator: "''") + "'"
        var out = "---\ntitle: \(yaml)\n---\nflowchart LR\n"
        for g in groups {
            if let c = g.clusterID {
                out += "  subgraph \(c) [\"\(mermaidText(g.namespace))\"]\n"
                for n in g.nodes { out += "    " + mermaidNode(n) + "\n" }
                out += "  end\n"
            } else {
                for n in g.nodes { out += "  " + mermaidNode(n) + "\n" }
            }
        }
        for e in edges {
            // One label per edge in Mermaid: `tail — head`.
            let parts = [e.tail, e.head].filter { !$0.isEmpty }.map { $0.map(mermaidText).joined(separator: "<br>") }
            let label = parts.joined(separator: " — ")
            let link: String
            switch e.style {
            case .solid: link = "---"
            case .dashed, .dotted: link = "-.-"
            }
            out += "  \(e.from) \(link)" + (label.isEmpty ? "" : "|\"\(label)\"|") + " \(e.to)\n"
        }
        return out
    }

    private func mermaidNode(_ n: Node) -> String {
        let label = "\"" + n.lines.map(mermaidText).joined(separator: "<br>") + "\""
        switch n.shape {
        case .namespace: return "\(n.id)[\(label)]"
        case .bridge: return "\(n.id)([\(label)])"
        case .vrf: return "\(n.id){{\(label)}}"
        case .device: return "\(n.id)(\(label))"
        case .external: return "\(n.id)[/\(label)/]"
        }
    }

    /// Text for a quoted Mermaid label: characters Mermaid or its HTML labels would read as
    /// syntax are written as entity codes (`#quot;`, `#35;`, `#lt;`, …).
    private func mermaidText(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "#quot;"
            case "#": out += "#35;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            case "&": out += "#amp;"
            case "\n", "\r", "\t": out += " "
            default:
                if c.value < 0x20 || c.value == 0x7f { out += " " } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}
