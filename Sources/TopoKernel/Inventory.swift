#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// One topology applied on this machine, as `topo ls` shows it.
public struct AppliedTopology: Hashable, Sendable {
    public var key: String
    /// The canonical path it was applied from (or `<stdin …>`).
    public var script: String
    public var namespaces: [String]
    public var links: [LinkID]
    public var addresses: Int
    public var routes: Int
    public var daemons: [Daemon]
    /// Unix seconds of the last run that changed something.
    public var appliedAt: Int64?
    /// Recorded objects (namespaces, links) the kernel no longer has; nil when not checked
    /// (no privileges).
    public var missing: Int?
    /// The script's text differs from the one last applied; nil when it cannot be read.
    public var scriptChanged: Bool?
    /// The state file is corrupt (then only `script` and `key` are known).
    public var corrupt: String?
    /// A run of it was killed before it finished.
    public var unfinished: Bool

    public struct Daemon: Hashable, Sendable {
        public var namespace: String
        public var command: String
        public var pid: Int32
        public var running: Bool
    }

    /// `intact`, `2 objects missing`, `script changed since`, `script gone`, `corrupt state` (comma-joined).
    public var status: String {
        if corrupt != nil { return "corrupt state" }
        var parts: [String] = []
        if let m = missing { parts.append(m == 0 ? "intact" : "\(m) object\(m == 1 ? "" : "s") missing") }
        if unfinished { parts.append("unfinished run") }
        switch scriptChanged {
        case true?: parts.append("script changed since")
        case nil: parts.append(script.hasPrefix("<") ? "from stdin" : "script gone")
        default: break
        }
        return parts.isEmpty ? "unknown" : parts.joined(separator: ", ")
    }
}

extension Executor {
    /// Every topology with a state file in `stateDirectory`, checked against the kernel when
    /// `checkKernel` (needs privileges).
    public func inventory(stateDirectory: String = StateStore.defaultDirectory, checkKernel: Bool) -> [AppliedTopology] {
        let store = StateStore(directory: stateDirectory)
        let existing = checkKernel ? (try? backend.listNamespaces()).map(Set.init) : nil
        var out: [AppliedTopology] = []
        for (key, result) in store.all() {
            switch result {
            case .failure(let e):
                out.append(AppliedTopology(key: key, script: "?", namespaces: [], links: [], addresses: 0, routes: 0, daemons: [],
                                           appliedAt: nil, missing: nil, scriptChanged: nil, corrupt: e.reason, unfinished: false))
            case .success(let loaded):
                let r = loaded.record
                var t = AppliedTopology(key: key, script: r.script, namespaces: r.namespaces.sorted(), links: r.links.sorted(),
                                        addresses: r.addresses.count, routes: r.routes.count,
                                        daemons: r.daemons.map { .init(namespace: $0.namespace, command: $0.command, pid: $0.pid,
                                                                       running: daemonIsRunning(pid: $0.pid, startTime: $0.startTime)) }
                                            .sorted { ($0.namespace, $0.command) < ($1.namespace, $1.command) },
                                        appliedAt: r.appliedAt, missing: nil, scriptChanged: nil, corrupt: nil,
                                        unfinished: loaded.unfinishedRun)
                if let text = try? store.readFile(r.script), !r.script.hasPrefix("<") {
                    t.scriptChanged = r.scriptHash.map { $0 != fnv1a64Hex(text) } ?? true
                }
                if let existing {
                    var missing = r.namespaces.filter { !existing.contains($0) }.count
                    let linkNS = Set(r.links.map(\.namespace)).filter { $0 == hostNamespace || existing.contains($0) }
                    let live = (try? backend.readState(of: linkNS.sorted(), sysctls: [:])) ?? [:]
                    for l in r.links {
                        if !(l.namespace == hostNamespace || existing.contains(l.namespace)) {
                            if !r.namespaces.contains(l.namespace) { missing += 1 }
                            continue
                        }
                        if live[l.namespace]?.link(l.name) == nil { missing += 1 }
                    }
                    missing += t.daemons.filter { !$0.running }.count
                    t.missing = missing
                }
                out.append(t)
            }
        }
        return out
    }
}
