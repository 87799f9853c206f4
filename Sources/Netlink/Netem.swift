/// netem's TCA_OPTIONS: `tc qdisc add dev DEV root netem delay 100ms 10ms 25% loss 0.5% …`.
///
/// TCA_OPTIONS is not a nest: it starts with `struct tc_netem_qopt` (24 bytes) and the
/// attributes follow at NLA_ALIGN(24). Times: qopt's latency/jitter are psched ticks (64 ns);
/// TCA_NETEM_LATENCY64/JITTER64 are nanoseconds and override them (kernel ≥ 4.15). This type
/// mirrors the wire: tc ≤ 6.8 sends ticks only, tc ≥ 6.9 sends LATENCY64/JITTER64 with zero
/// ticks; `Netem(delay:…)` builds the ≥ 6.9 form. Percentages are u32 fractions of
/// 0xFFFFFFFF (`Netem.probability(percent:)`).
///
/// Changing an existing netem (replace with the same kind and handle, or change) overwrites the
/// qopt fields but **keeps** CORR, REORDER, CORRUPT, RATE, ECN and SLOT when they are omitted
/// (linux net/sched/sch_netem.c netem_change); `completedForReplace()` fills them with zeros
/// so a replace leaves nothing of the old configuration behind.
public struct Netem: Hashable, Sendable {
    public enum Attribute {
        public static let correlation: UInt16 = 1     // TCA_NETEM_CORR
        public static let delayDistribution: UInt16 = 2 // TCA_NETEM_DELAY_DIST
        public static let reorder: UInt16 = 3         // TCA_NETEM_REORDER
        public static let corrupt: UInt16 = 4         // TCA_NETEM_CORRUPT
        public static let lossModel: UInt16 = 5       // TCA_NETEM_LOSS (nest)
        public static let rate: UInt16 = 6            // TCA_NETEM_RATE
        public static let ecn: UInt16 = 7             // TCA_NETEM_ECN
        public static let rate64: UInt16 = 8          // TCA_NETEM_RATE64
        public static let pad: UInt16 = 9             // TCA_NETEM_PAD
        public static let latency64: UInt16 = 10      // TCA_NETEM_LATENCY64
        public static let jitter64: UInt16 = 11       // TCA_NETEM_JITTER64
        public static let slot: UInt16 = 12           // TCA_NETEM_SLOT
        public static let slotDistribution: UInt16 = 13 // TCA_NETEM_SLOT_DIST
        public static let prngSeed: UInt16 = 14       // TCA_NETEM_PRNG_SEED
    }
    public static let kind = "netem"
    /// tc's default queue length in packets.
    public static let defaultLimit: UInt32 = 1000
    static let qoptSize = 24

    // struct tc_netem_qopt
    /// Delay in ticks (0 when LATENCY64 is sent).
    public var latencyTicks: UInt32
    /// Queue length in packets (0 drops everything).
    public var limit: UInt32
    /// Random loss probability.
    public var loss: UInt32
    /// Reorder gap: reordering happens only when ≠ 0 (tc sends 1 with `reorder`).
    public var gap: UInt32
    public var duplicate: UInt32
    /// Jitter in ticks (0 when JITTER64 is sent).
    public var jitterTicks: UInt32

    /// TCA_NETEM_LATENCY64, nanoseconds.
    public var latency: Int64?
    /// TCA_NETEM_JITTER64, nanoseconds.
    public var jitter: Int64?
    /// TCA_NETEM_CORR.
    public var correlation: Correlation?
    /// TCA_NETEM_REORDER.
    public var reorder: Probability?
    /// TCA_NETEM_ECN (mark instead of drop).
    public var ecn: UInt32?
    /// TCA_NETEM_CORRUPT.
    public var corrupt: Probability?
    /// TCA_NETEM_SLOT.
    public var slot: Slot?
    /// TCA_NETEM_LOSS: a Gilbert model instead of random loss.
    public var lossModel: LossModel?
    /// TCA_NETEM_RATE64 (bytes/s ≥ 2^32; then `rate.rate` is 0xFFFFFFFF).
    public var rate64: UInt64?
    /// TCA_NETEM_RATE.
    public var rate: Rate?
    /// TCA_NETEM_PRNG_SEED (dumps always carry one: random unless set).
    public var prngSeed: UInt64?
    /// TCA_NETEM_DELAY_DIST: the s16 table as sent (`distribution normal`).
    public var delayDistribution: [UInt8]?
    /// TCA_NETEM_SLOT_DIST.
    public var slotDistribution: [UInt8]?
    /// Attributes this type does not model, as sent.
    public var unknown: [RawAttribute]

    /// `struct tc_netem_corr`: correlations of delay, loss and duplication (u32 fractions).
    public struct Correlation: Hashable, Sendable {
        public var delay: UInt32, loss: UInt32, duplicate: UInt32
        public init(delay: UInt32 = 0, loss: UInt32 = 0, duplicate: UInt32 = 0) {
            self.delay = delay
            self.loss = loss
            self.duplicate = duplicate
        }
    }
    /// `struct tc_netem_reorder` / `tc_netem_corrupt`: probability and correlation.
    public struct Probability: Hashable, Sendable {
        public var probability: UInt32, correlation: UInt32
        public init(probability: UInt32, correlation: UInt32 = 0) {
            self.probability = probability
            self.correlation = correlation
        }
    }
    /// `struct tc_netem_rate`.
    public struct Rate: Hashable, Sendable {
        public var rate: UInt32, packetOverhead: Int32, cellSize: UInt32, cellOverhead: Int32
        public init(rate: UInt32, packetOverhead: Int32 = 0, cellSize: UInt32 = 0, cellOverhead: Int32 = 0) {
            self.rate = rate
            self.packetOverhead = packetOverhead
            self.cellSize = cellSize
            self.cellOverhead = cellOverhead
        }
    }
    /// `struct tc_netem_slot` (40 bytes, nanoseconds; 0 packets/bytes = unlimited).
    public struct Slot: Hashable, Sendable {
        public var minDelay: Int64, maxDelay: Int64, maxPackets: Int32, maxBytes: Int32, distDelay: Int64, distJitter: Int64
        public init(minDelay: Int64 = 0, maxDelay: Int64 = 0, maxPackets: Int32 = 0, maxBytes: Int32 = 0,
                    distDelay: Int64 = 0, distJitter: Int64 = 0) {
            self.minDelay = minDelay
            self.maxDelay = maxDelay
            self.maxPackets = maxPackets
            self.maxBytes = maxBytes
            self.distDelay = distDelay
            self.distJitter = distJitter
        }
    }
    /// The contents of TCA_NETEM_LOSS.
    public enum LossModel: Hashable, Sendable {
        /// NETEM_LOSS_GI 1: 4-state Markov {p13, p31, p32, p14, p23}.
        case gilbertIntuitive(p13: UInt32, p31: UInt32, p32: UInt32, p14: UInt32, p23: UInt32)
        /// NETEM_LOSS_GE 2: Gilbert–Elliott {p, r, h, k1} (`loss gemodel`; h is 1 − the "1-h" tc takes).
        case gilbertElliott(p: UInt32, r: UInt32, h: UInt32, k1: UInt32)
        /// Anything else inside the nest, as sent.
        case raw([RawAttribute])
    }

    public init(latencyTicks: UInt32 = 0, limit: UInt32 = Netem.defaultLimit, loss: UInt32 = 0, gap: UInt32 = 0,
                duplicate: UInt32 = 0, jitterTicks: UInt32 = 0, latency: Int64? = nil, jitter: Int64? = nil,
                correlation: Correlation? = nil, reorder: Probability? = nil, ecn: UInt32? = nil,
                corrupt: Probability? = nil, slot: Slot? = nil, lossModel: LossModel? = nil, rate64: UInt64? = nil,
                rate: Rate? = nil, prngSeed: UInt64? = nil, delayDistribution: [UInt8]? = nil,
                slotDistribution: [UInt8]? = nil, unknown: [RawAttribute] = []) {
        self.latencyTicks = latencyTicks
        self.limit = limit
        self.loss = loss
        self.gap = gap
        self.duplicate = duplicate
        self.jitterTicks = jitterTicks
        self.latency = latency
        self.jitter = jitter
        self.correlation = correlation
        self.reorder = reorder
        self.ecn = ecn
        self.corrupt = corrupt
        self.slot = slot
        self.lossModel = lossModel
        self.rate64 = rate64
        self.rate = rate
        self.prngSeed = prngSeed
        self.delayDistribution = delayDistribution
        self.slotDistribution = slotDistribution
        self.unknown = unknown
    }

    /// The netem tc ≥ 6.9 sends for `netem [delay D [J]] [loss P] [duplicate P] [reorder P]
    /// [corrupt P] [rate R] [limit N]`: delay and jitter as LATENCY64/JITTER64 (ns), `gap 1`
    /// with reorder (tc's default), the rate in RATE (+ RATE64 at ≥ 2^32 bytes/s).
    public init(delay: Int64? = nil, jitter: Int64? = nil, loss: UInt32? = nil, duplicate: UInt32? = nil,
                reorder: UInt32? = nil, corrupt: UInt32? = nil, rateBytesPerSecond: UInt64? = nil,
                limit: UInt32 = Netem.defaultLimit) {
        self.init(limit: limit, loss: loss ?? 0, gap: reorder == nil ? 0 : 1, duplicate: duplicate ?? 0,
                  latency: delay, jitter: jitter, reorder: reorder.map { Probability(probability: $0) },
                  corrupt: corrupt.map { Probability(probability: $0) })
        if let r = rateBytesPerSecond { setRate(bytesPerSecond: r) }
    }

    /// `rint(percent / 100 × 0xFFFFFFFF)`, as tc's set_percent (0 never, 100 always).
    public static func probability(percent: Double) -> UInt32 {
        let v = (percent / 100 * 4294967295.0).rounded()
        return v >= 4294967295.0 ? .max : v <= 0 ? 0 : UInt32(v)
    }

    /// RATE (and RATE64 when it does not fit 32 bits), as tc sends `rate R`.
    public mutating func setRate(bytesPerSecond r: UInt64) {
        if r >= 1 << 32 {
            rate = Rate(rate: .max)
            rate64 = r
        } else {
            rate = Rate(rate: UInt32(r))
            rate64 = nil
        }
    }

    /// The delay in nanoseconds as the kernel takes it: LATENCY64 if present, else the ticks.
    public var delayNanoseconds: Int64 { latency ?? Int64(latencyTicks) * TrafficControlConstants.nanosecondsPerTick }
    /// The jitter in nanoseconds: JITTER64 if present, else the ticks.
    public var jitterNanoseconds: Int64 { jitter ?? Int64(jitterTicks) * TrafficControlConstants.nanosecondsPerTick }
    /// The rate in bytes per second (the larger of RATE and RATE64, as the kernel takes them); 0 none.
    public var rateBytesPerSecond: UInt64 { max(UInt64(rate?.rate ?? 0), rate64 ?? 0) }
    /// The reorder probability in effect: none without a gap; 100% with a gap and no REORDER.
    public var effectiveReorder: UInt32 {
        guard gap != 0 else { return 0 }
        return reorder?.probability ?? .max
    }

    /// A copy that sends every sub-attribute the kernel would otherwise keep from an existing
    /// netem on change/replace, zero (= off) where this one has none: CORR, REORDER, CORRUPT,
    /// RATE, ECN, SLOT. (The loss model falls back to random by itself when no LOSS is sent; a
    /// delay distribution table cannot be removed by a change — delete and add for that.)
    public func completedForReplace() -> Netem {
        var n = self
        if n.correlation == nil { n.correlation = Correlation() }
        if n.reorder == nil { n.reorder = Probability(probability: 0) }
        if n.corrupt == nil { n.corrupt = Probability(probability: 0) }
        if n.rate == nil { n.rate = Rate(rate: 0) }
        if n.ecn == nil { n.ecn = 0 }
        if n.slot == nil { n.slot = Slot() }
        return n
    }

    /// TCA_OPTIONS' payload: qopt, then the attributes in tc's order (LATENCY64, JITTER64, CORR,
    /// REORDER, ECN, CORRUPT, SLOT, LOSS, RATE64, RATE, PRNG_SEED, DELAY_DIST, SLOT_DIST), then
    /// the unknown ones.
    public func optionsPayload() -> [UInt8] {
        var w = ByteWriter()
        w.u32(latencyTicks); w.u32(limit); w.u32(loss); w.u32(gap); w.u32(duplicate); w.u32(jitterTicks)
        var attrs: [RawAttribute] = []
        if let v = latency { attrs.append(RawAttribute(type: Attribute.latency64, payload: u64Bytes(UInt64(bitPattern: v)))) }
        if let v = jitter { attrs.append(RawAttribute(type: Attribute.jitter64, payload: u64Bytes(UInt64(bitPattern: v)))) }
        if let c = correlation {
            attrs.append(RawAttribute(type: Attribute.correlation, payload: u32Bytes(c.delay) + u32Bytes(c.loss) + u32Bytes(c.duplicate)))
        }
        if let r = reorder {
            attrs.append(RawAttribute(type: Attribute.reorder, payload: u32Bytes(r.probability) + u32Bytes(r.correlation)))
        }
        if let e = ecn { attrs.append(RawAttribute(type: Attribute.ecn, u32: e)) }
        if let c = corrupt {
            attrs.append(RawAttribute(type: Attribute.corrupt, payload: u32Bytes(c.probability) + u32Bytes(c.correlation)))
        }
        if let s = slot {
            var sw = ByteWriter()
            sw.u64(UInt64(bitPattern: s.minDelay)); sw.u64(UInt64(bitPattern: s.maxDelay))
            sw.i32(s.maxPackets); sw.i32(s.maxBytes)
            sw.u64(UInt64(bitPattern: s.distDelay)); sw.u64(UInt64(bitPattern: s.distJitter))
            attrs.append(RawAttribute(type: Attribute.slot, payload: sw.bytes))
        }
        if let m = lossModel {
            let inner: [RawAttribute]
            switch m {
            case .gilbertIntuitive(let a, let b, let c, let d, let e):
                inner = [RawAttribute(type: 1, payload: [a, b, c, d, e].flatMap(u32Bytes))]
            case .gilbertElliott(let p, let r, let h, let k):
                inner = [RawAttribute(type: 2, payload: [p, r, h, k].flatMap(u32Bytes))]
            case .raw(let a):
                inner = a
            }
            attrs.append(RawAttribute(type: Attribute.lossModel | RawAttribute.nestedFlag, nested: inner))
        }
        if let v = rate64 { attrs.append(RawAttribute(type: Attribute.rate64, payload: u64Bytes(v))) }
        if let r = rate {
            var rw = ByteWriter()
            rw.u32(r.rate); rw.i32(r.packetOverhead); rw.u32(r.cellSize); rw.i32(r.cellOverhead)
            attrs.append(RawAttribute(type: Attribute.rate, payload: rw.bytes))
        }
        if let v = prngSeed { attrs.append(RawAttribute(type: Attribute.prngSeed, payload: u64Bytes(v))) }
        if let d = delayDistribution { attrs.append(RawAttribute(type: Attribute.delayDistribution, payload: d)) }
        if let d = slotDistribution { attrs.append(RawAttribute(type: Attribute.slotDistribution, payload: d)) }
        attrs += unknown
        for a in attrs { a.encode(into: &w) }
        return w.bytes
    }

    /// Decodes TCA_OPTIONS of a netem (a dump's, or a request's). Attributes of an unexpected
    /// size and unknown ones are kept in `unknown`; TCA_NETEM_PAD is dropped.
    public init(options payload: [UInt8]) throws {
        var r = ByteReader(payload)
        self.init(latencyTicks: try r.u32("qopt.latency"), limit: try r.u32("qopt.limit"), loss: try r.u32("qopt.loss"),
                  gap: try r.u32("qopt.gap"), duplicate: try r.u32("qopt.duplicate"), jitterTicks: try r.u32("qopt.jitter"))
        for a in try RawAttribute.decode(payload[Netem.qoptSize...]) {
            var ar = ByteReader(a.payload)
            let n = a.payload.count
            switch a.kind {
            case Attribute.latency64 where n == 8: latency = Int64(bitPattern: try ar.u64("LATENCY64"))
            case Attribute.jitter64 where n == 8: jitter = Int64(bitPattern: try ar.u64("JITTER64"))
            case Attribute.correlation where n == 12:
                correlation = Correlation(delay: try ar.u32("corr"), loss: try ar.u32("corr"), duplicate: try ar.u32("corr"))
            case Attribute.reorder where n == 8:
                reorder = Probability(probability: try ar.u32("reorder"), correlation: try ar.u32("reorder"))
            case Attribute.corrupt where n == 8:
                corrupt = Probability(probability: try ar.u32("corrupt"), correlation: try ar.u32("corrupt"))
            case Attribute.ecn where n == 4: ecn = try ar.u32("ecn")
            case Attribute.rate64 where n == 8: rate64 = try ar.u64("RATE64")
            case Attribute.rate where n == 16:
                rate = Rate(rate: try ar.u32("rate"), packetOverhead: try ar.i32("rate"), cellSize: try ar.u32("rate"),
                            cellOverhead: try ar.i32("rate"))
            case Attribute.prngSeed where n == 8: prngSeed = try ar.u64("PRNG_SEED")
            case Attribute.slot where n == 40:
                slot = Slot(minDelay: Int64(bitPattern: try ar.u64("slot")), maxDelay: Int64(bitPattern: try ar.u64("slot")),
                            maxPackets: try ar.i32("slot"), maxBytes: try ar.i32("slot"),
                            distDelay: Int64(bitPattern: try ar.u64("slot")), distJitter: Int64(bitPattern: try ar.u64("slot")))
            case Attribute.lossModel:
                let inner = try a.children()
                if inner.count == 1, inner[0].kind == 1, inner[0].payload.count == 20 {
                    var ir = ByteReader(inner[0].payload)
                    lossModel = .gilbertIntuitive(p13: try ir.u32("gi"), p31: try ir.u32("gi"), p32: try ir.u32("gi"),
                                                  p14: try ir.u32("gi"), p23: try ir.u32("gi"))
                } else if inner.count == 1, inner[0].kind == 2, inner[0].payload.count == 16 {
                    var ir = ByteReader(inner[0].payload)
                    lossModel = .gilbertElliott(p: try ir.u32("ge"), r: try ir.u32("ge"), h: try ir.u32("ge"), k1: try ir.u32("ge"))
                } else {
                    lossModel = .raw(inner)
                }
            case Attribute.delayDistribution: delayDistribution = a.payload
            case Attribute.slotDistribution: slotDistribution = a.payload
            case Attribute.pad where n == 0: continue
            default: unknown.append(a)
            }
        }
    }
}

extension QdiscRequest {
    /// `tc qdisc add|replace|change dev DEV (root | parent P) handle H netem …`.
    public static func netem(_ mode: Mode, index: Int32, handle: TCHandle, parent: TCHandle = .root,
                             _ netem: Netem) throws -> Request {
        try modify(mode, index: index, handle: handle, parent: parent, kind: Netem.kind, options: netem.optionsPayload())
    }
}

extension QdiscInfo {
    /// The options decoded as netem's, when this is a netem.
    public var netem: Netem? {
        guard kind == Netem.kind, let o = options else { return nil }
        return try? Netem(options: o)
    }
}

func u64Bytes(_ v: UInt64) -> [UInt8] { var w = ByteWriter(); w.u64(v); return w.bytes }
