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
  echo "@@qdiscs"; tc "$@" -j qdisc show
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
///     link m1:mv0 macvlan up mtu=1500 mode=bridge parent=lan:uplink
///     link oa:vx0 vxlan up mtu=1450 id=7 port=4790 remote=192.168.7.2 local=192.168.7.1 ttl=64 link-netns=ua
///     qdisc ua:u tbf 1: root rate=10mbit burst=16kb lat=50ms
///
/// Stacked links name their parent (resolved across namespaces like a veth peer); a vxlan
/// names its underlay only in its own namespace (`underlay=`), else the underlay's namespace
/// (`link-netns=`: `ip -j` resolves the underlay's ifindex in the wrong namespace). Qdiscs
/// are listed only when they are not a kernel default (handle 0:).
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
            let data = ((l["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
            func other(_ key: String) {
                if let index = l["link_index"] as? Int {
                    var otherNS = ns.name
                    if let nsid = l["link_netnsid"] as? Int { otherNS = ids[ns.name]?[nsid] ?? "host" }
                    s += " \(key)=\(otherNS):\(names[otherNS]?[index] ?? "#\(index)")"
                } else if let name = l["link"] as? String {
                    s += " \(key)=\(ns.name):\(name)"
                }
            }
            switch kind {
            case "veth":
                other("peer")
            case "vlan":
                s += " id=\(data["id"] ?? "?") protocol=\(data["protocol"] ?? "?")"
                other("parent")
            case "macvlan", "ipvlan":
                s += " mode=\(data["mode"] ?? "?")"
                other("parent")
            case "vxlan":
                s += " id=\(data["id"] ?? "?") port=\(data["port"] ?? "?")"
                for k in ["remote", "group", "local"] { if let v = data[k] { s += " \(k)=\(v)" } }
                if let t = data["ttl"] as? Int, t != 0 { s += " ttl=\(t)" }
                if let nsid = l["link_netnsid"] as? Int {
                    s += " link-netns=\(ids[ns.name]?[nsid] ?? "host")"
                } else if let u = data["link"] as? String {
                    s += " underlay=\(u)"
                }
            case "vrf":
                s += " table=\(data["table"] ?? "?")"
            default:
                break
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
        for q in json(ns.sections["qdiscs"]) {
            guard let kind = q["kind"] as? String, let handle = q["handle"] as? String, handle != "0:",
                  let dev = q["dev"] as? String else { continue }
            var s = "qdisc \(ns.name):\(dev) \(kind) \(handle) " + ((q["root"] as? Bool) == true ? "root" : "parent=\(q["parent"] ?? "?")")
            let o = (q["options"] as? [String: Any]) ?? [:]
            func rate(_ bytes: Int) -> String {
                let bits = bytes * 8
                for (f, u) in [(1_000_000_000, "gbit"), (1_000_000, "mbit"), (1000, "kbit")] where bits % f == 0 { return "\(bits / f)\(u)" }
                return "\(bits)bit"
            }
            if kind == "tbf" {
                // The burst reads back through ticks: to the nearest KiB.
                if let r = o["rate"] as? Int { s += " rate=\(rate(r))" }
                if let b = o["burst"] as? Int { s += " burst=\((b + 512) / 1024)kb" }
                if let l = o["lat"] as? Int { s += " lat=\(l / 1000)ms" }
            } else {
                // Nested options (netem's `delay`, `loss-random`) as JSON with sorted keys.
                s += " " + o.keys.sorted().map { "\($0)=\(canonicalJSON(o[$0]!))" }.joined(separator: " ")
            }
            lines.append(s)
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
