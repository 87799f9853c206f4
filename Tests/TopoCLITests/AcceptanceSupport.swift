import Foundation
import Testing

// Helpers of the acceptance tests (ShapingKernelTests, LinkKindKernelTests, ShowKernelTests,
// UMLAcceptanceTests): real traffic measured by iperf3, and the parts of `ip -d -j` and
// `ip -j route`/`rule` that LiveState's normalised state leaves out. The observers are
// iproute2 and iperf3, never topo.

/// A kernel feature or a tool an acceptance test needs is missing.
struct MissingRequirement: Error, CustomStringConvertible {
    var description: String
}

/// Skips the running test with a message when the kernel lacks `needed`; under CI=true the
/// test fails instead (this machine's kernel has tbf, vxlan and macvlan, so CI must have them).
func requireKernel(_ needed: [KernelFeature], for what: String) throws {
    let missing = needed.filter { !kernelFeatures.contains($0) }
    if missing.isEmpty { return }
    let text = "\(what): this kernel lacks " + missing.map(\.name).joined(separator: ", ")
    if UMLLane.inCI { throw MissingRequirement(description: text + " (CI=true: the test must run)") }
    try requireFeatures(needed, for: what)
}

/// Skips (fails under CI=true) when a program the test drives is not installed.
func requireTool(_ name: String, package: String, for what: String) throws {
    let found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    if found { return }
    let text = "\(what): \(name) is not installed (apt-get install \(package); .ci/run installs it)"
    if UMLLane.inCI { throw MissingRequirement(description: text + " (CI=true: the test must run)") }
    print("note: \(text)")
    try Test.cancel(Comment(rawValue: text))
}

/// Bash defining `goodput LABEL CLIENT_NS SERVER_NS SERVER_ADDR`: a 3-second TCP stream from
/// CLIENT_NS to SERVER_ADDR, measured by iperf3 at the receiver: payload bytes received over
/// the receiver's time. It prints `@@mark goodput LABEL`, iperf3's JSON report, then
/// `@@mark goodput-end LABEL`. The server is bounded by `timeout` and serves one test.
///
/// The whole stream is counted: behind a tbf the first burst adds at most its bucket and queue
/// (≈ 80 KB at 10 Mbit/s, +0.2 Mbit/s over 3 s). iperf3's `-O` (omit the first seconds) is not
/// used: its receiver-side sum then came out 10–15% above what the tbf lets through.
let goodputFunction = #"""
goodput() {
  ip netns exec "$3" timeout 30 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local srv=$! i=0
  until ip netns exec "$3" ss -Hltn 'sport = :5201' | grep -q .; do
    i=$((i + 1)); [ $i -lt 200 ] || break; sleep 0.05
  done
  echo "@@mark goodput $1"
  ip netns exec "$2" timeout 30 iperf3 -c "$4" -p 5201 -t 3 -J || true
  echo "@@mark goodput-end $1"
  wait $srv || true
}

"""#

/// The goodput in Mbit/s that `goodput LABEL …` measured (iperf3's receiver side), or nil
/// with iperf3's error when it did not run.
func goodputMbit(_ parts: [String: String], _ label: String) -> (mbit: Double?, report: String) {
    let text = parts["goodput \(label)"] ?? ""
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        return (nil, "no iperf3 report: \(text)")
    }
    if let error = object["error"] as? String { return (nil, "iperf3: \(error)") }
    let end = object["end"] as? [String: Any]
    let received = end?["sum_received"] as? [String: Any]
    guard let bps = received?["bits_per_second"] as? Double else { return (nil, "no sum_received in \(text.prefix(400))") }
    return (bps / 1e6, "")
}

/// The replies ping counted (`3 packets transmitted, 2 received, …`), nil without a summary.
/// Reachability checks ask for at least one reply of three: on a loaded machine the first
/// packet may wait out a slow neighbour resolution, which is not what they test.
func pingReceived(_ output: String) -> Int? {
    guard let line = output.split(separator: "\n").first(where: { $0.contains("packets transmitted") }),
          let field = line.split(separator: ",").first(where: { $0.contains("received") }) else { return nil }
    return Int(field.trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
}

/// The JSON of `value` with sorted keys, so that dictionaries compare as text.
func canonicalJSON(_ value: Any) -> String {
    guard JSONSerialization.isValidJSONObject([value]),
          let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) else { return "\(value)" }
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}

/// The JSON arrays of a section of a dump (several may follow each other).
func jsonArrays(_ text: String) -> [[String: Any]] {
    var out: [[String: Any]] = []
    for chunk in text.split(separator: "\n") where chunk.hasPrefix("[") {
        if let a = try? JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [[String: Any]] { out += a }
    }
    return out
}

/// Bash printing, per namespace of the sandbox (`host` and every named one), what
/// `dumpStateScript` does not: `ip -d -j link` (again, for the kinds' details), routes of
/// every table but main and local, and the rules.
let dumpExtrasScript = #"""
extras_ns() {
  local name=$1; shift
  echo "@@xns $name"
  echo "@@xlinks"; ip "$@" -j -d link show
  echo "@@xroutes"; ip "$@" -4 -j route show table all; ip "$@" -6 -j route show table all
  echo "@@xrules"; ip "$@" -4 -j rule show; ip "$@" -6 -j rule show
}
extras_ns host
ls -1 /run/netns 2>/dev/null | sort | while IFS= read -r ns; do extras_ns "$ns" -n "$ns"; done
"""#

/// From a `dumpExtrasScript` dump, sorted lines:
///
///     details r:vx0 vxlan mtu=1450 {"ageing":300,"id":99,"learning":true,"link":"u",…}
///     route r table 10 10.30.0.0/16 via 192.168.9.2 dev u
///     rule r from 10.20.0.0/24 lookup 10 pref 1000
///
/// `details` is every field of IFLA_INFO_DATA as iproute2 reads it, for the kinds whose data
/// is configuration (vlan, macvlan, ipvlan, vxlan, vrf, dummy); a bridge's holds timers.
/// Rules and routes are only those nobody gets for free: no kernel or l3mdev rules, no
/// kernel routes, nothing of the local table.
func normalizeExtras(_ dump: String) -> [String] {
    var lines: [String] = []
    var ns = "", section = ""
    var sections: [String: [String: String]] = [:]
    var order: [String] = []
    for line in dump.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@@xns ") { ns = String(line.dropFirst(6)); order.append(ns); continue }
        if line.hasPrefix("@@x") { section = String(line.dropFirst(3)); continue }
        guard !ns.isEmpty else { continue }
        sections[ns, default: [:]][section, default: ""] += line + "\n"
    }
    for ns in order {
        let s = sections[ns] ?? [:]
        for l in jsonArrays(s["links"] ?? "") {
            guard let name = l["ifname"] as? String,
                  let info = l["linkinfo"] as? [String: Any], let kind = info["info_kind"] as? String,
                  ["vlan", "macvlan", "ipvlan", "vxlan", "vrf", "dummy"].contains(kind) else { continue }
            lines.append("details \(ns):\(name) \(kind) mtu=\(l["mtu"] as? Int ?? 0) "
                         + canonicalJSON(info["info_data"] ?? [String: Any]()))
        }
        for r in jsonArrays(s["routes"] ?? "") {
            let table = "\(r["table"] ?? "main")"
            if table == "main" || table == "local" { continue }
            if (r["protocol"] as? String) == "kernel" { continue }
            guard let dst = r["dst"] as? String else { continue }
            if dst.hasPrefix("fe80::") || dst.hasPrefix("ff00::") || dst.hasPrefix("multicast") { continue }
            var line = "route \(ns) table \(table) "
            if let type = r["type"] as? String, type != "unicast" { line += "\(type) " }
            line += dst
            if let gw = r["gateway"] as? String { line += " via \(gw)" }
            if let dev = r["dev"] as? String { line += " dev \(dev)" }
            lines.append(line)
        }
        for r in jsonArrays(s["rules"] ?? "") {
            if (r["protocol"] as? String) == "kernel" { continue }
            if r["l3mdev"] != nil { continue }
            let table = "\(r["table"] ?? "?")"
            let src = (r["src"] as? String) ?? "all"
            if ["local", "main", "default"].contains(table) && src == "all" && r["dst"] == nil { continue }
            var line = "rule \(ns) from \(src)"
            if let len = r["srclen"] { line += "/\(len)" }
            if let dst = r["dst"] { line += " to \(dst)" + (r["dstlen"].map { "/\($0)" } ?? "") }
            line += " lookup \(table) pref \(r["priority"] ?? "?")"
            lines.append(line)
        }
    }
    return lines.sorted()
}

/// Writes `text` to a fresh file under /tmp and returns its path (the caller removes the
/// directory, `dirname` of it).
func writeTemporary(_ text: String, name: String) throws -> String {
    let dir = try temporaryDirectory()
    let path = dir + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A sandbox script line that writes `text` to `path` (a quoted here-document, no expansion).
func writeInSandbox(_ text: String, to path: String) -> String {
    UMLLane.writeFile(path, text)
}
