#if canImport(Glibc)
import Glibc
#endif
import Netlink
import TopoLanguage

// Shaping in the kernel: topo's qdisc layout (Shaping.swift, docs/language.md "Shaping
// links"), written with RTM_NEWQDISC/RTM_DELQDISC and read back from one qdisc dump.
//
//   rate alone            tbf 1: at the root
//   netem options alone   netem 1: at the root
//   both                  netem 1: at the root, tbf 10: at its class 1:1
//
// setQdisc replaces per TC-LINKS-NOTES §6: the same kind and handle at the root is changed in
// place (netem with every sub-attribute the kernel would otherwise keep, zeroed when unused);
// another kind, handle or layout is deleted and added anew. The same shaping twice sends
// nothing. A dump gives back exactly `Shaping.normalized` of what was applied.

extension Shaping {
    /// The shaping as the kernel keeps it, so that what `readState` reads back compares equal
    /// to what was applied: values the kernel cannot tell from the defaults become nil (a netem
    /// `limit 1000`, `burst` equal to the default, 0% percentages, zero jitter, a zero delay without jitter or reorder), the rate is
    /// rounded up to whole bytes per second, and percentages to the kernel's 1/2³² steps. The
    /// qdisc layout never changes: a netem with nothing left keeps `limit 1000`.
    ///
    /// Compare desired and live shaping as `desired.normalized == live.shaping`.
    public var normalized: Shaping {
        var n = self
        func pct(_ p: Percentage?) -> Percentage? {
            guard let p else { return nil }
            let k = Percentage(kernelValue: p.kernelValue)
            return k.millionths == 0 ? nil : k
        }
        if let r = n.rate { n.rate = r > UInt64.max - 7 ? r : (r + 7) / 8 * 8 }
        if n.rate == nil { n.burst = nil }
        if n.needsNetem {
            n.loss = pct(n.loss)
            n.duplicate = pct(n.duplicate)
            n.corrupt = pct(n.corrupt)
            n.reorder = pct(n.reorder)
            if n.jitter == 0 { n.jitter = nil }
            if n.delay == 0 && n.jitter == nil && n.reorder == nil { n.delay = nil }
            let netemSet = n.delay != nil || n.jitter != nil || n.loss != nil || n.duplicate != nil || n.reorder != nil
                || n.corrupt != nil
            if netemSet {
                if n.limit == Shaping.defaultNetemLimit { n.limit = nil }
            } else {
                // Nothing left for netem: keep a netem that does nothing (its queue), unless a
                // `limit` beside a rate means the tbf's queue (then the netem is dropped).
                let kept = n.limit
                n.limit = kept ?? Shaping.defaultNetemLimit
                if !n.needsNetem { n.limit = nil }
            }
        }
        if let bps = n.rateBytesPerSecond, n.burst == Swift.max(16 * 1024, bps / 250) { n.burst = nil }
        if !n.needsNetem, n.limit != nil {
            // A lone tbf's `limit` (where Shaping gives it one) equal to the default queue.
            var plain = n
            plain.limit = nil
            if !plain.needsNetem, plain.tbfLimitBytes == n.tbfLimitBytes { n.limit = nil }
        }
        return n
    }
}

/// topo's qdisc layout, to and from the kernel's terms.
enum TopoQdiscs {
    static let root = TCHandle(rawValue: Shaping.rootHandle)
    static let child = TCHandle(rawValue: Shaping.childHandle)
    static let childParent = TCHandle(rawValue: Shaping.childParent)
    /// The netem of `s` (already normalized), complete for a replace in place.
    static func netem(_ s: Shaping) -> Netem {
        Netem(delay: s.delay, jitter: s.jitter, loss: s.loss?.kernelValue, duplicate: s.duplicate?.kernelValue,
              reorder: s.reorder?.kernelValue, corrupt: s.corrupt?.kernelValue,
              limit: s.limit ?? Shaping.defaultNetemLimit).completedForReplace()
    }

    /// The tbf of `s` (already normalized): rate, burst and queue as `Shaping` derives them.
    static func tbf(_ s: Shaping) throws -> TBF {
        guard let bps = s.rateBytesPerSecond, bps > 0, let b = s.effectiveBurst, let l = s.tbfLimitBytes else {
            throw KernelError.errno(EINVAL, extack: "a rate of 0 shapes nothing")
        }
        guard b <= UInt64(UInt32.max) else { throw KernelError.errno(EINVAL, extack: "burst \(b) bytes is too large") }
        return TBF(rateBytesPerSecond: bps, burst: UInt32(b), limit: UInt32(clamping: l))
    }

    /// The requests that turn `current` into topo's layout for `want` (normalized).
    static func requests(_ want: Shaping, index i: Int32, current: [QdiscInfo]) throws -> [Request] {
        let rootKind = want.needsNetem ? Netem.kind : TBF.kind
        func rootRequest(_ mode: QdiscRequest.Mode) throws -> Request {
            want.needsNetem ? try QdiscRequest.netem(mode, index: i, handle: root, netem(want))
                : try QdiscRequest.tbf(mode, index: i, handle: root, try tbf(want))
        }
        func childRequest(_ mode: QdiscRequest.Mode) throws -> [Request] {
            guard want.needsNetem && want.needsTBF else { return [] }
            return [try QdiscRequest.tbf(mode, index: i, handle: child, parent: childParent, try tbf(want))]
        }
        let top = current.first { $0.isRoot }
        if top == nil || top!.isDefault {
            return [try rootRequest(.add)] + (try childRequest(.add))
        }
        let below = visibleChildren(current)
        if top!.kind == rootKind && top!.handle == root {
            if !want.needsNetem || !want.needsTBF {
                // A lone qdisc: in place if nothing hangs below it.
                if below.isEmpty { return [try rootRequest(.replace)] }
            } else if below.isEmpty {
                return [try rootRequest(.replace)] + (try childRequest(.add))
            } else if below.count == 1, below[0].kind == TBF.kind, below[0].handle == child {
                return [try rootRequest(.replace)] + (try childRequest(.replace))
            }
        }
        // Another kind, handle or tree: delete the root (its children go with it), add anew.
        return [try QdiscRequest.delete(index: i)] + [try rootRequest(.add)] + (try childRequest(.add))
    }

    /// The qdiscs at class 1:1 someone put there: not the invisible ones a qdisc keeps for itself
    /// (tbf's bfifo, or noop), which have handle 0 and show only in a get, not in a dump.
    static func visibleChildren(_ qdiscs: [QdiscInfo]) -> [QdiscInfo] {
        qdiscs.filter { $0.parent == childParent && $0.handle != .unspecified }
    }

    /// The shaping a device's qdiscs (all of its entries in a dump) express, when they are in
    /// topo's layout with only what topo writes; nil otherwise (no qdisc, the default, someone
    /// else's tree).
    static func shaping(_ qdiscs: [QdiscInfo]) -> Shaping? {
        guard let r = qdiscs.first(where: { $0.isRoot }), r.handle == root, let s = decode(r, qdiscs) else { return nil }
        // Only a shaping whose layout is the one found (topo encodes nothing else).
        let netem = r.kind == Netem.kind, tbf = r.kind == TBF.kind || !visibleChildren(qdiscs).isEmpty
        return s.needsNetem == netem && s.needsTBF == tbf ? s : nil
    }

    private static func decode(_ r: QdiscInfo, _ qdiscs: [QdiscInfo]) -> Shaping? {
        let below = visibleChildren(qdiscs)
        switch r.kind {
        case Netem.kind:
            guard let n = r.netem, var s = shaping(netem: n) else { return nil }
            if below.isEmpty { return s }
            guard below.count == 1, below[0].handle == child, let t = below[0].tbf,
                  let (rate, burst, limit) = shaping(tbf: t) else { return nil }
            guard limit == (s.withRate(rate, burst).tbfLimitBytes ?? 0) else { return nil }
            s.rate = rate
            s.burst = burst
            return s
        case TBF.kind:
            guard below.isEmpty, let t = r.tbf, let (rate, burst, limit) = shaping(tbf: t) else { return nil }
            let s = Shaping(rate: rate, burst: burst)
            if limit == s.tbfLimitBytes { return s }
            // A queue of N full-size frames, where Shaping gives a lone tbf a `limit` (a rate with
            // a limit, when that is not netem's).
            guard limit % 1514 == 0, limit / 1514 <= UInt64(UInt32.max) else { return nil }
            var l = s
            l.limit = UInt32(limit / 1514)
            return !l.needsNetem && l.tbfLimitBytes == limit ? l : nil
        default:
            return nil
        }
    }

    /// A netem's fields as a Shaping, when it uses nothing topo does not write.
    static func shaping(netem n: Netem) -> Shaping? {
        let zeroCorr = n.correlation.map { $0 == Netem.Correlation() } ?? true
        guard zeroCorr, (n.reorder?.correlation ?? 0) == 0, (n.corrupt?.correlation ?? 0) == 0, n.rateBytesPerSecond == 0,
              (n.ecn ?? 0) == 0, n.slot == nil || n.slot == Netem.Slot(), n.lossModel == nil, n.delayDistribution == nil,
              n.slotDistribution == nil, n.gap <= 1, n.delayNanoseconds >= 0, n.jitterNanoseconds >= 0 else { return nil }
        func pct(_ v: UInt32) -> Percentage? { v == 0 ? nil : Percentage(kernelValue: v) }
        var s = Shaping()
        s.loss = pct(n.loss)
        s.duplicate = pct(n.duplicate)
        s.corrupt = pct(n.corrupt?.probability ?? 0)
        s.reorder = pct(n.effectiveReorder)
        let d = n.delayNanoseconds, j = n.jitterNanoseconds
        s.jitter = j == 0 ? nil : j
        s.delay = (d == 0 && s.jitter == nil && s.reorder == nil) ? nil : d
        let set = s.delay != nil || s.jitter != nil || s.loss != nil || s.duplicate != nil || s.reorder != nil || s.corrupt != nil
        s.limit = (set && n.limit == Shaping.defaultNetemLimit) ? nil : n.limit
        return s
    }

    /// A tbf's rate (bits/s), burst (nil when it is the default for the rate) and queue in bytes,
    /// when it is one topo writes (Ethernet link layer, no overhead, no peak rate).
    static func shaping(tbf t: TBF) -> (rate: UInt64, burst: UInt64?, limit: UInt64)? {
        guard t.rate.overhead == 0, t.rate.mpu == 0, t.peakRate.rate == 0, t.peakRate64 == nil,
              t.rate.linkLayer == RateSpec.linkLayerEthernet else { return nil }
        let bps = t.rateBytesPerSecond
        guard bps > 0, let range = t.burstRange else { return nil }
        let defaultBurst = Swift.max(16 * 1024, bps / 250)
        let burst: UInt64?
        if range.contains(UInt32(clamping: defaultBurst)) && defaultBurst <= UInt64(UInt32.max) {
            burst = nil
        } else {
            burst = UInt64(roundest(range))
        }
        return (bps * 8, burst, UInt64(t.limit))
    }

    /// The value of `range` a person most likely wrote: the one divisible by the largest power
    /// of two or of ten (32768 over 32800, 1500 over 1496), the smallest on a tie. The kernel
    /// keeps a bucket as time, so above ~125 Mbit/s several byte counts give the same qdisc.
    static func roundest(_ range: ClosedRange<UInt32>) -> UInt32 {
        if range.count == 1 { return range.lowerBound }
        var best = range.lowerBound
        var bestUnit: UInt64 = 0
        func unit(_ v: UInt64) -> UInt64 {
            if v == 0 { return 1 << 40 }
            var p2: UInt64 = 1
            while v % (p2 * 2) == 0 { p2 *= 2 }
            var p10: UInt64 = 1
            while v % (p10 * 10) == 0 { p10 *= 10 }
            return Swift.max(p2, p10)
        }
        // Candidates: multiples of each power of two and ten inside the range (few), not every value.
        var candidates: Set<UInt64> = [UInt64(range.lowerBound)]
        for base in [UInt64(2), 10] {
            var p: UInt64 = 1
            while p <= UInt64(range.upperBound) {
                let first = (UInt64(range.lowerBound) + p - 1) / p * p
                if first <= UInt64(range.upperBound) { candidates.insert(first) }
                p *= base
            }
        }
        for c in candidates.sorted() {
            let u = unit(c)
            if u > bestUnit { best = UInt32(c); bestUnit = u }
        }
        return best
    }
}

extension Shaping {
    /// This shaping with a tbf part (for the derived values of the netem + tbf layout).
    func withRate(_ rate: UInt64, _ burst: UInt64?) -> Shaping {
        var s = self
        s.rate = rate
        s.burst = burst
        return s
    }
}

extension NetlinkBackend {
    /// The qdiscs of one device that topo's layout is about: the root and, below a root `1:`,
    /// the leaf of class 1:1 (RTM_GETQDISC with ECHO: one or two small round trips, whatever
    /// the number of devices in the namespace). [] when the device has none.
    func deviceQdiscs(_ s: NetlinkSocket, index: Int32) throws -> [QdiscInfo] {
        func get(_ parent: TCHandle) throws -> QdiscInfo? {
            do { return try s.qdisc(index: index, parent: parent) } catch NetlinkError.kernel(let e, _) where e == ENOENT {
                return nil
            }
        }
        guard let root = try get(.root) else { return [] }
        guard root.handle == TopoQdiscs.root, let leaf = try get(TopoQdiscs.childParent) else { return [root] }
        return [root, leaf]
    }

    /// `setQdisc`: make the device's qdiscs topo's layout for `shaping`.
    func applySetQdisc(link: String, shaping: Shaping, socket s: NetlinkSocket, index: [String: Int32]) -> Result<Void, KernelError> {
        let want = shaping.normalized
        if want.isEmpty { return applyDeleteQdisc(link: link, socket: s, index: index) }
        return Result {
            let i = try linkIndex(link, socket: s, index: index)
            let current = try deviceQdiscs(s, index: i)
            if TopoQdiscs.shaping(current) == want { return }   // already so: send nothing
            let requests = try TopoQdiscs.requests(want, index: i, current: current)
            for (r, q) in zip(s.executeBatch(requests), requests) {
                if case .failure(let e) = r { throw qdiscError(e, request: q, shaping: want) }
            }
        }.mapError { kernelError($0) }
    }

    /// `deleteQdisc`: delete the root qdisc; none there (or only the default) is success.
    func applyDeleteQdisc(link: String, socket s: NetlinkSocket, index: [String: Int32]) -> Result<Void, KernelError> {
        Result {
            let i = try linkIndex(link, socket: s, index: index)
            guard let root = try deviceQdiscs(s, index: i).first(where: { $0.isRoot }), !root.isDefault else { return }
            do { try s.execute(try QdiscRequest.delete(index: i)) } catch NetlinkError.kernel(let e, _) where e == ENOENT {
                return
            }
        }.mapError { kernelError($0) }
    }

    /// The ifindex of `name` from the batch's table, or asked for.
    func linkIndex(_ name: String, socket s: NetlinkSocket, index: [String: Int32]) throws -> Int32 {
        if let i = index[name] { return i }
        guard let l = try s.link(.name(name)) else { throw KernelError.errno(ENODEV, extack: "no interface `\(name)`") }
        return l.index
    }

    /// The kernel's refusal, with the missing module named when the qdisc kind is unknown.
    func qdiscError(_ e: NetlinkError, request: Request, shaping: Shaping) -> KernelError {
        if case .kernel(let code, let m) = e, code == ENOENT, m == "Specified qdisc kind is unknown" {
            // Which kind this request asked for: TCA_KIND after the tcmsg.
            let kind = (try? QdiscMessage(decoding: request.payload[...]))?.attributes.compactMap { a -> String? in
                if case .kind(let k) = a { return k }
                return nil
            }.first ?? (shaping.needsNetem ? Netem.kind : TBF.kind)
            return .refused(errno: code, text: errnoText(code), extack: NetlinkBackend.missingQdiscText(kind))
        }
        return kernelError(e)
    }

    /// "the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem)".
    static func missingQdiscText(_ kind: String) -> String {
        let module: String
        switch kind {
        case Netem.kind: module = "CONFIG_NET_SCH_NETEM, module sch_netem"
        case TBF.kind: module = "CONFIG_NET_SCH_TBF, module sch_tbf"
        default: module = "module sch_\(kind)"
        }
        return "the kernel has no \(kind) qdisc (\(module))"
    }

    /// The root qdisc's kind (nil for none or a default one) and topo's shaping read back, per
    /// ifindex, from one qdisc dump; skipped (no round trip) when every link's IFLA_QDISC names
    /// a default qdisc (`noqueue`, `noop`).
    func liveQdiscs(_ s: NetlinkSocket, links: [LinkInfo]) throws -> [Int32: (root: String?, shaping: Shaping?)] {
        let defaults: Set<String> = ["noqueue", "noop"]
        let hinted = links.contains { l in
            guard let q = l.unknown.first(where: { $0.kind == 6 }) else { return false }  // IFLA_QDISC
            return !defaults.contains(String(decoding: q.payload.prefix { $0 != 0 }, as: UTF8.self))
        }
        guard hinted else { return [:] }
        var out: [Int32: (root: String?, shaping: Shaping?)] = [:]
        let byDevice = Dictionary(grouping: try s.qdiscs(), by: \.index)
        for (i, qs) in byDevice {
            guard let r = qs.first(where: { $0.isRoot }), !r.isDefault else { continue }
            out[i] = (r.kind, TopoQdiscs.shaping(qs))
        }
        return out
    }
}
