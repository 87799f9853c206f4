#if canImport(Glibc)
import Glibc
#endif
import TopoLanguage

/// What `destroy` removed and restored.
public struct DestroyReport: Hashable, Sendable {
    /// False when no state was recorded for the key (nothing to do).
    public var hadState: Bool
    public var namespaces: [String]
    /// Namespaces where links were deleted by group.
    public var linkGroupNamespaces: [String]
    public var addresses: Int
    public var routes: Int
    /// Attributes and sysctls of objects topo did not create, put back as topo found them.
    public var restored: Int
    public var daemons: Int
    /// Namespaces the record names but whose marker does not name this topology: left alone.
    public var skipped: [String]

    public init(hadState: Bool, namespaces: [String] = [], linkGroupNamespaces: [String] = [], addresses: Int = 0,
                routes: Int = 0, restored: Int = 0, daemons: Int = 0, skipped: [String] = []) {
        self.hadState = hadState
        self.namespaces = namespaces
        self.linkGroupNamespaces = linkGroupNamespaces
        self.addresses = addresses
        self.routes = routes
        self.restored = restored
        self.daemons = daemons
        self.skipped = skipped
    }

    /// `removed 2 namespaces, links in 1 namespace, 0 addresses, 0 routes` / `nothing to destroy`.
    public var summary: String {
        if !hadState { return "nothing to destroy" }
        var s = "removed \(namespaces.count) namespace\(namespaces.count == 1 ? "" : "s"), "
            + "links in \(linkGroupNamespaces.count) namespace\(linkGroupNamespaces.count == 1 ? "" : "s"), "
            + "\(addresses) address\(addresses == 1 ? "" : "es"), \(routes) route\(routes == 1 ? "" : "s")"
        if daemons > 0 { s += ", \(daemons) daemon\(daemons == 1 ? "" : "s")" }
        if restored > 0 { s += "; restored \(restored) setting\(restored == 1 ? "" : "s")" }
        return s
    }
}

/// How `destroy` treats the state file.
public enum DestroyMode: Sendable {
    /// Trust the state file (it must be intact).
    case normal
    /// The state file is corrupt: use every line whose checksum holds (topo wrote it), delete
    /// only what the kernel's markers confirm, then set the file aside.
    case recover
    /// Set the state file aside and touch nothing in the kernel.
    case forget
}

extension Executor {
    /// Removes exactly what topo's runs recorded under `stateKey` and puts back what they
    /// changed, then the state file: daemons stopped; attributes and sysctls of objects topo
    /// did not create restored; recorded routes and addresses removed; the recorded link groups
    /// deleted (one request per namespace, before any namespace goes, so host-side veth ends
    /// vanish at once); then the namespaces topo created whose marker names this topology.
    /// Objects already gone are fine. Objects topo did not create are never deleted.
    ///
    /// - Throws: `ExecutionError` (`.state`, or `.kernel` with the state file kept so a
    ///   second `destroy` can finish the job).
    @discardableResult
    public func destroy(stateKey: String, stateDirectory: String = StateStore.defaultDirectory,
                        mode: DestroyMode = .normal) throws -> DestroyReport {
        let store = StateStore(directory: stateDirectory)
        let lock: StateLock
        var rec: OwnershipRecord?
        do {
            lock = try store.lock(stateKey)
        } catch {
            throw ExecutionError(.state("\(error)"), "cannot use state file: \(error)")
        }
        defer { lock.unlock() }
        // Each namespace's marker is read once (the checks below ask up to three times).
        var owners: [String: String?] = [:]
        func markerOwner(_ n: String) -> String? {
            if let o = owners[n] { return o }
            let o = store.markerOwner(n)
            owners[n] = .some(o)
            return o
        }
        // And the namespaces are listed once (nothing is deleted before the last look).
        var listed: [String]? = nil
        func listNamespaces() throws -> [String] {
            if let l = listed { return l }
            let l = try backend.listNamespaces()
            listed = l
            return l
        }
        switch mode {
        case .normal:
            do { rec = try store.load(stateKey) } catch let e as StateFileError {
                throw ExecutionError(.state(e.description), "cannot use state file: \(e)",
                                     help: e.corrupt ? "`topo destroy --recover FILE` removes what the kernel's markers confirm and sets the state aside; `topo destroy --forget FILE` only sets it aside" : nil)
            } catch {
                throw ExecutionError(.state("\(error)"), "cannot use state file: \(error)")
            }
        case .recover:
            if let data = try? store.readFile(store.statePath(stateKey)) {
                rec = StateFormat.parseLenient(String(decoding: data, as: UTF8.self))
            }
            // Namespaces whose marker names this topology, even if no line survived.
            if let names = try? listNamespaces() {
                for n in names where markerOwner(n) == stateKey {
                    if rec == nil { rec = OwnershipRecord() }
                    rec!.namespaces.insert(n)
                }
            }
        case .forget:
            do { _ = try store.quarantine(stateKey) } catch {
                throw ExecutionError(.state("\(error)"), "cannot set the state file aside: \(error)")
            }
            return DestroyReport(hadState: true)
        }
        // Namespaces whose marker names this topology are its own, whatever the record says.
        if mode == .normal, let names = try? listNamespaces() {
            for n in names where markerOwner(n) == stateKey && rec?.namespaces.contains(n) != true {
                if rec == nil { rec = OwnershipRecord() }
                rec!.namespaces.insert(n)
            }
        }
        guard let record = rec else { return DestroyReport(hadState: false) }

        let existing: Set<String>
        do { existing = Set(try listNamespaces()) } catch {
            throw ExecutionError(.kernel(kernelErrorOf(error)), "cannot list network namespaces: \(error)")
        }
        func present(_ ns: String) -> Bool { ns == hostNamespace || existing.contains(ns) }
        // A namespace is deleted only when the kernel-side marker agrees it is ours (a version-1
        // record predates markers and was written whole, so it is trusted).
        var dying: [String] = []
        var report = DestroyReport(hadState: true)
        for n in record.namespaces.sorted() where existing.contains(n) {
            if markerOwner(n) == stateKey || (record.legacy && markerOwner(n) == nil) { dying.append(n) } else {
                report.skipped.append(n)
            }
        }
        let dyingSet = Set(dying)
        let owned = Set(record.namespaces)
        var errors: [String] = []
        var firstError: KernelError? = nil
        func fail(_ what: String, _ e: KernelError) {
            errors.append("\(what): \(e)")
            if firstError == nil { firstError = e }
        }
        let gone: Set<Int32> = [ENOENT, ESRCH, ENODEV, EADDRNOTAVAIL, ENXIO]

        // Daemons first: they may hold on to what is removed next.
        for d in record.daemons where daemonIsRunning(pid: d.pid, startTime: d.startTime) {
            stopDaemon(pid: d.pid, startTime: d.startTime)
            report.daemons += 1
        }

        // Live state of the namespaces topo changed but did not create.
        var toRead: Set<String> = [hostNamespace]
        for l in record.originals.keys { toRead.insert(l.namespace) }
        for k in record.sysctls.keys { toRead.insert(k.namespace) }
        for l in record.shaped { toRead.insert(l.namespace) }
        let readable = toRead.filter { present($0) && !owned.contains($0) }.sorted()
        var sysctlKeys: [String: [String]] = [:]
        for k in record.sysctls.keys where readable.contains(k.namespace) { sysctlKeys[k.namespace, default: []].append(k.key) }
        let live = (try? backend.readState(of: readable, sysctls: sysctlKeys)) ?? [:]

        // Routes and addresses topo added, then the settings of objects topo did not create
        // back as found (the reverse of how they were made); per namespace, pipelined.
        var perNS: [String: [KernelOp]] = [:]
        var order: [String] = []
        func queue(_ ns: String, _ op: KernelOp) {
            if perNS[ns] == nil { order.append(ns) }
            perNS[ns, default: []].append(op)
        }
        // (Those on links topo made go with the links.)
        for r in record.routes where present(r.namespace) && !owned.contains(r.namespace)
            && !(r.route.device.map { record.links.contains(LinkID(r.namespace, $0)) } ?? false) {
            queue(r.namespace, .deleteRoute(r.route))
        }
        for a in record.addresses.sorted() where present(a.link.namespace) && !owned.contains(a.link.namespace)
            && !record.links.contains(a.link) {
            queue(a.link.namespace, .deleteAddress(link: a.link.name, prefix: a.prefix))
        }
        for (id, o) in record.originals.sorted(by: { $0.key < $1.key }) where !owned.contains(id.namespace) {
            guard let l = live[id.namespace]?.link(id.name), !record.ownsLink(id.namespace, group: l.group) else { continue }
            if let m = o.master, m != l.master { queue(id.namespace, .setMaster(link: id.name, master: m)) }
            if let m = o.mtu, m != l.mtu { queue(id.namespace, .setMTU(link: id.name, mtu: m)) }
            if let u = o.up, u != l.up { queue(id.namespace, .setUp(link: id.name, up: u)) }
        }
        for id in record.shaped.sorted() where !owned.contains(id.namespace) {
            guard let l = live[id.namespace]?.link(id.name), !record.ownsLink(id.namespace, group: l.group), l.rootQdisc != nil else { continue }
            queue(id.namespace, .deleteQdisc(link: id.name))
        }
        for (k, v) in record.sysctls.sorted(by: { $0.key < $1.key }) where !owned.contains(k.namespace) && present(k.namespace) {
            if let cur = live[k.namespace]?.sysctls[k.key], normSysctl(cur) == normSysctl(v) { continue }
            queue(k.namespace, .setSysctl(key: k.key, value: v))
        }
        for ns in order {
            let ops = perNS[ns] ?? []
            for (op, r) in zip(ops, backend.apply(ops, in: ns)) {
                switch r {
                case .success:
                    switch op {
                    case .deleteRoute: report.routes += 1
                    case .deleteAddress: report.addresses += 1
                    default: report.restored += 1
                    }
                case .failure(let e):
                    if let n = e.errnoValue, gone.contains(n) { continue }
                    fail("\(op) in `\(ns)`", e)
                }
            }
        }
        // Links by group (the group is the kernel's mark of a topo link).
        for ns in record.linkGroups.keys.sorted() where present(ns) && !dyingSet.contains(ns) {
            for g in (record.linkGroups[ns] ?? []).sorted() {
                do {
                    try backend.deleteLinks(group: g, in: ns)
                    if !report.linkGroupNamespaces.contains(ns) { report.linkGroupNamespaces.append(ns) }
                } catch {
                    let e = kernelErrorOf(error)
                    if let n = e.errnoValue, gone.contains(n) { continue }
                    fail("delete links of group \(g) in `\(ns)`", e)
                }
            }
        }
        // Namespaces.
        for (n, r) in zip(dying, backend.deleteNamespaces(dying)) {
            switch r {
            case .success:
                report.namespaces.append(n)
                store.unclaim(n, key: stateKey)
            case .failure(let e): fail("delete namespace `\(n)`", e)
            }
        }
        // Half-made namespace files this topology left.
        for n in (try? backend.halfMadeNamespaces()) ?? [] where markerOwner(n) == stateKey || record.namespaces.contains(n) {
            if (try? backend.removeHalfMadeNamespace(n)) != nil { store.unclaim(n, key: stateKey) }
        }
        // Markers of namespaces that are gone.
        for n in record.namespaces where !existing.contains(n) { store.unclaim(n, key: stateKey) }
        if let e = firstError {
            throw ExecutionError(.kernel(e), "cannot destroy everything recorded: " + errors.joined(separator: "; "))
        }
        do {
            if mode == .recover { _ = try store.quarantine(stateKey) } else { try store.remove(stateKey) }
        } catch {
            throw ExecutionError(.state("\(error)"), "cannot remove state file: \(error)")
        }
        return report
    }
}

extension StateFormat {
    /// Every fact from the lines whose checksum holds (for recovering from a corrupt file).
    static func parseLenient(_ text: String) -> OwnershipRecord {
        var r = OwnershipRecord()
        for raw in text.split(separator: "\n") {
            guard let p = unseal(raw) else { continue }
            if p.hasPrefix("script ") { r.script = unesc(String(p.dropFirst(7))) ?? r.script; continue }
            if p.hasPrefix("+ "), let f = Fact(line: String(p.dropFirst(2))) { r.apply(f, adding: true); continue }
            if p.hasPrefix("- "), let f = Fact(line: String(p.dropFirst(2))) { r.apply(f, adding: false); continue }
            if let f = Fact(line: String(p)) { r.apply(f, adding: true) }
        }
        return r
    }
}
