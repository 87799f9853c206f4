/// tbf's TCA_OPTIONS: `tc qdisc add dev DEV root handle 1: tbf rate 10mbit burst 10kb limit 30000`.
///
/// A nest of TCA_TBF_PARMS (`struct tc_tbf_qopt`, 36 bytes: rate and peakrate ratespecs,
/// limit in bytes, buffer and mtu in psched ticks) and optional RTAB/PTAB, RATE64/PRATE64,
/// BURST/PBURST. This client sends what tc sends minus the rate table: the kernel needs no
/// RTAB when the link layer is Ethernet (it only reads one for linklayer 0), and with BURST
/// it ignores PARMS.buffer (net/sched/sch_tbf.c tbf_change).
///
/// A dump carries PARMS only (plus RATE64/PRATE64 at ≥ 2^32 bytes/s), the ratespec with
/// cell_log and cell_align 0, and no BURST: the bucket comes back as `buffer` ticks, the time
/// the burst takes at the rate. `burstRange` turns it back into bytes.
public struct TBF: Hashable, Sendable {
    public enum Attribute {
        public static let parms: UInt16 = 1       // TCA_TBF_PARMS
        public static let rateTable: UInt16 = 2   // TCA_TBF_RTAB
        public static let peakTable: UInt16 = 3   // TCA_TBF_PTAB
        public static let rate64: UInt16 = 4      // TCA_TBF_RATE64
        public static let peakRate64: UInt16 = 5  // TCA_TBF_PRATE64
        public static let burst: UInt16 = 6       // TCA_TBF_BURST
        public static let peakBurst: UInt16 = 7   // TCA_TBF_PBURST
        public static let pad: UInt16 = 8         // TCA_TBF_PAD
    }
    public static let kind = "tbf"
    static let parmsSize = 36

    // struct tc_tbf_qopt
    public var rate: RateSpec
    public var peakRate: RateSpec
    /// Bytes the queue (a bfifo child) holds; 0 drops everything.
    public var limit: UInt32
    /// The bucket as time, in ticks (ignored by the kernel when BURST is sent).
    public var buffer: UInt32
    /// The peak bucket as time, in ticks.
    public var mtu: UInt32

    /// TCA_TBF_RATE64: bytes/s when ≥ 2^32 (then `rate.rate` is 0xFFFFFFFF).
    public var rate64: UInt64?
    public var peakRate64: UInt64?
    /// TCA_TBF_BURST: the bucket in bytes.
    public var burst: UInt32?
    public var peakBurst: UInt32?
    /// TCA_TBF_RTAB/PTAB (1024 bytes each) as sent; nil when absent.
    public var rateTable: [UInt8]?
    public var peakTable: [UInt8]?
    public var unknown: [RawAttribute]

    public init(rate: RateSpec, peakRate: RateSpec = .none, limit: UInt32, buffer: UInt32 = 0, mtu: UInt32 = 0,
                rate64: UInt64? = nil, peakRate64: UInt64? = nil, burst: UInt32? = nil, peakBurst: UInt32? = nil,
                rateTable: [UInt8]? = nil, peakTable: [UInt8]? = nil, unknown: [RawAttribute] = []) {
        self.rate = rate
        self.peakRate = peakRate
        self.limit = limit
        self.buffer = buffer
        self.mtu = mtu
        self.rate64 = rate64
        self.peakRate64 = peakRate64
        self.burst = burst
        self.peakBurst = peakBurst
        self.rateTable = rateTable
        self.peakTable = peakTable
        self.unknown = unknown
    }

    /// `tbf rate R burst B limit L` without rate tables: PARMS {rate: linklayer ethernet,
    /// cell_log 0, cell_align −1, the rate (0xFFFFFFFF and RATE64 at ≥ 2^32 bytes/s); no peak;
    /// limit; buffer 0} and BURST.
    public init(rateBytesPerSecond r: UInt64, burst: UInt32, limit: UInt32) {
        self.init(rate: RateSpec(rate: r >= 1 << 32 ? .max : UInt32(r)), limit: limit,
                  rate64: r >= 1 << 32 ? r : nil, burst: burst)
    }

    /// The rate in bytes per second (the larger of PARMS' and RATE64, as the kernel takes them).
    public var rateBytesPerSecond: UInt64 { max(UInt64(rate.rate), rate64 ?? 0) }

    /// The kernel's view of the bucket: BURST when present, else what `buffer` ticks hold.
    /// For a dump (no BURST): every byte count the kernel would store as these ticks; any of
    /// them gives the same qdisc. Nil when no byte count fits (e.g. rate 0).
    public var burstRange: ClosedRange<UInt32>? {
        if let b = burst { return b...b }
        return KernelRate(rate, rate64: rate64).byteRange(forTicks: UInt64(buffer))
    }

    /// TCA_OPTIONS' payload (a nest, sent without NLA_F_NESTED): PARMS, BURST, RATE64, RTAB,
    /// PRATE64, PBURST, PTAB (tc's order), then the unknown attributes.
    public func optionsPayload() -> [UInt8] {
        var pw = ByteWriter()
        rate.encode(into: &pw)
        peakRate.encode(into: &pw)
        pw.u32(limit); pw.u32(buffer); pw.u32(mtu)
        var attrs = [RawAttribute(type: Attribute.parms, payload: pw.bytes)]
        if let b = burst { attrs.append(RawAttribute(type: Attribute.burst, u32: b)) }
        if let r = rate64 { attrs.append(RawAttribute(type: Attribute.rate64, payload: u64Bytes(r))) }
        if let t = rateTable { attrs.append(RawAttribute(type: Attribute.rateTable, payload: t)) }
        if let r = peakRate64 { attrs.append(RawAttribute(type: Attribute.peakRate64, payload: u64Bytes(r))) }
        if let b = peakBurst { attrs.append(RawAttribute(type: Attribute.peakBurst, u32: b)) }
        if let t = peakTable { attrs.append(RawAttribute(type: Attribute.peakTable, payload: t)) }
        return RawAttribute.encode(attrs + unknown)
    }

    /// Decodes a tbf's TCA_OPTIONS (a dump's, or a request's). Throws without TCA_TBF_PARMS.
    public init(options payload: [UInt8]) throws {
        var parms: RawAttribute? = nil
        var other: [RawAttribute] = []
        for a in try RawAttribute.decode(payload) {
            if a.kind == Attribute.parms && a.payload.count == TBF.parmsSize { parms = a } else { other.append(a) }
        }
        guard let parms else { throw NetlinkError.malformed("tbf options without TCA_TBF_PARMS") }
        var r = ByteReader(parms.payload)
        self.init(rate: try RateSpec.decode(&r), peakRate: try RateSpec.decode(&r), limit: try r.u32("tbf.limit"),
                  buffer: try r.u32("tbf.buffer"), mtu: try r.u32("tbf.mtu"))
        for a in other {
            var ar = ByteReader(a.payload)
            switch a.kind {
            case Attribute.rate64 where a.payload.count == 8: rate64 = try ar.u64("TBF_RATE64")
            case Attribute.peakRate64 where a.payload.count == 8: peakRate64 = try ar.u64("TBF_PRATE64")
            case Attribute.burst where a.payload.count == 4: burst = try ar.u32("TBF_BURST")
            case Attribute.peakBurst where a.payload.count == 4: peakBurst = try ar.u32("TBF_PBURST")
            case Attribute.rateTable: rateTable = a.payload
            case Attribute.peakTable: peakTable = a.payload
            case Attribute.pad where a.payload.isEmpty: continue
            default: unknown.append(a)
            }
        }
    }
}

extension QdiscRequest {
    /// `tc qdisc add|replace|change dev DEV (root | parent P) handle H tbf …`.
    public static func tbf(_ mode: Mode, index: Int32, handle: TCHandle, parent: TCHandle = .root,
                           _ tbf: TBF) throws -> Request {
        try modify(mode, index: index, handle: handle, parent: parent, kind: TBF.kind, options: tbf.optionsPayload())
    }
}

extension QdiscInfo {
    /// The options decoded as tbf's, when this is a tbf.
    public var tbf: TBF? {
        guard kind == TBF.kind, let o = options else { return nil }
        return try? TBF(options: o)
    }
}
