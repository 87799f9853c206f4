import Foundation

/// Bash that prints the live state of the sandbox (the start namespace as `host`, and every
/// named namespace) with iproute2's JSON, section by section. The observer is iproute2, never topo.
let dumpStateScript = #"""
dump_ns() {
  local name=$1; shift
  echo "@@ns $name"
  echo "@@links"; ip "$@" -j -d link show
  echo "@@ids"; ip "$@" -j netns list-id
  echo "@@addrs"; ip "$@" -j addr show
  echo "@@routes"; ip "$@" -j route show table main; ip "$@" -j -6 route show table main
  echo "@@fwd"
  if [ "$name" = host ]; then sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
  else ip netns exec "$name" sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding; fi
}
dump_ns host
ls -1 /run/netns 2>/dev/null | sort | while IFS= read -r ns; do dump_ns "$ns" -n "$ns"; done
"""#

/// The live state normalised to sorted text lines, one object a line, independent of
/// ifindexes, MAC addresses and dump order:
///
///     ns ns0 forward=0/0
///     link ns0:veth0 veth up mtu=1500 peer=ns1:veth1
///     link host:p1 veth up mtu=1500 master=br0 peer=h1:eth0
///     addr ns0:veth0 10.0.1.1/24
///     route ns0 10.9.3.0/24 via 10.9.2.254 dev eth1
func normalizeState(_ dump: String) -> [String] {
    struct NS { var name = ""; var sections: [String: String] = [:] }
    var spaces: [NS] = []
    var section = ""
    for line in dump.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@@ns ") {
            spaces.append(NS(name: String(line.dropFirst(5))))
            continue
        }
        if line.hasPrefix("@@") { section = String(line.dropFirst(2)); continue }
        guard !spaces.isEmpty else { continue }
        spaces[spaces.count - 1].sections[section, default: ""] += line + "\n"
    }
    func json(_ s: String?) -> [[String: Any]] {
        // A section may hold several JSON arrays back to back (v4 then v6 routes).
        var out: [[String: Any]] = []
        for chunk in (s ?? "").split(separator: "\n") where chunk.hasPrefix("[") {
            if let a = try? JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [[String: Any]] { out += a }
        }
        return out
    }
    // ifindex → name per namespace, and nsid → namespace name per namespace.
    var names: [String: [Int: String]] = [:]
    var ids: [String: [Int: String]] = [:]
    for ns in spaces {
        for l in json(ns.sections["links"]) {
            if let i = l["ifindex"] as? Int, let n = l["ifname"] as? String { names[ns.name, default: [:]][i] = n }
        }
        for e in json(ns.sections["ids"]) {
            if let i = e["nsid"] as? Int { ids[ns.name, default: [:]][i] = (e["name"] as? String) ?? "host" }
        }
    }
    var lines: [String] = []
    for ns in spaces {
        let fwd = (ns.sections["fwd"] ?? "").split(separator: "\n").joined(separator: "/")
        lines.append("ns \(ns.name) forward=\(fwd)")
        for l in json(ns.sections["links"]) {
            guard let name = l["ifname"] as? String else { continue }
            let flags = (l["flags"] as? [String]) ?? []
            let kind = ((l["linkinfo"] as? [String: Any])?["info_kind"] as? String) ?? (name == "lo" ? "loopback" : "other")
            var s = "link \(ns.name):\(name) \(kind) \(flags.contains("UP") ? "up" : "down") mtu=\(l["mtu"] as? Int ?? 0)"
            if let m = l["master"] as? String { s += " master=\(m)" }
            if kind == "veth", let peerIndex = l["link_index"] as? Int {
                var peerNS = ns.name
                if let nsid = l["link_netnsid"] as? Int { peerNS = ids[ns.name]?[nsid] ?? "host" }
                s += " peer=\(peerNS):\(names[peerNS]?[peerIndex] ?? "#\(peerIndex)")"
            } else if kind == "veth", let peer = l["link"] as? String {
                s += " peer=\(ns.name):\(peer)"
            }
            lines.append(s)
        }
        for a in json(ns.sections["addrs"]) {
            guard let name = a["ifname"] as? String else { continue }
            for info in (a["addr_info"] as? [[String: Any]]) ?? [] {
                guard let local = info["local"] as? String, let len = info["prefixlen"] as? Int else { continue }
                if (info["scope"] as? String) == "link" || (name == "lo" && (local == "127.0.0.1" || local == "::1")) { continue }
                var s = "addr \(ns.name):\(name) \(local)/\(len)"
                if info["tentative"] as? Bool == true { s += " tentative" }
                lines.append(s)
            }
        }
        for r in json(ns.sections["routes"]) {
            if let proto = r["protocol"] as? String, proto == "kernel" { continue }
            guard let dst = r["dst"] as? String else { continue }
            if dst.hasPrefix("fe80::") || dst.hasPrefix("ff00::") { continue }
            var s = "route \(ns.name) \(dst)"
            if let gw = r["gateway"] as? String { s += " via \(gw)" }
            if let dev = r["dev"] as? String { s += " dev \(dev)" }
            if let m = r["metric"] as? Int, m != 0, m != 1024 { s += " metric \(m)" }
            lines.append(s)
        }
    }
    return lines.sorted()
}
