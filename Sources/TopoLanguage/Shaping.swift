/// Traffic control on what one interface sends (LANGUAGE.md §11): `tc IF OPTION…`, or the
/// same options after `veth A <-> B` (then both ends get them). All fields in fixed units, so
/// equal shapings compare equal however they were written (`1.5ms` == `1500us`).
///
/// The kernel layout (docs/language.md "Shaping links"): a lone `tbf` at the root for a rate
/// alone (with `burst` and `limit`); a lone `netem` at the root for
/// delay/jitter/loss/duplicate/reorder/corrupt (and `limit` without a rate); `netem` at the
/// root with a `tbf` child (parent 1:1) when both are asked for.
public struct Shaping: Hashable, Sendable {
    /// One-way delay in nanoseconds.
    public var delay: Int64?
    /// Jitter in nanoseconds (needs `delay`).
    public var jitter: Int64?
    public var loss: Percentage?
    public var duplicate: Percentage?
    /// Needs `delay`.
    public var reorder: Percentage?
    public var corrupt: Percentage?
    /// Rate in bits per second (`10mbit` = 10 000 000; `1mbps` = 8 000 000).
    public var rate: UInt64?
    /// Token bucket size in bytes (needs `rate`).
    public var burst: UInt64?
    /// Queue length in packets.
    public var limit: UInt32?

    public init(delay: Int64? = nil, jitter: Int64? = nil, loss: Percentage? = nil, duplicate: Percentage? = nil,
                reorder: Percentage? = nil, corrupt: Percentage? = nil, rate: UInt64? = nil, burst: UInt64? = nil,
                limit: UInt32? = nil) {
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.duplicate = duplicate
        self.reorder = reorder
        self.corrupt = corrupt
        self.rate = rate
        self.burst = burst
        self.limit = limit
    }

    /// True when nothing is set.
    public var isEmpty: Bool { self == Shaping() }

    /// True when a netem qdisc is needed: anything but rate, burst and limit, or a `limit`
    /// without a rate (with a rate alone, `limit` sizes the lone tbf's queue: `tbfLimitBytes`).
    public var needsNetem: Bool {
        delay != nil || jitter != nil || loss != nil || duplicate != nil || reorder != nil || corrupt != nil
            || (limit != nil && rate == nil)
    }

    /// True when a tbf qdisc is needed.
    public var needsTBF: Bool { rate != nil }

    // The kernel layout's derived values, shared by the executor, the `ip` export and `show` so
    // all three build (and recognise) the same qdiscs.

    /// The qdisc handles: the root is `1:`; a tbf below a netem is `10:` at parent `1:1`.
    public static let rootHandle: UInt32 = 0x0001_0000
    public static let childHandle: UInt32 = 0x0010_0000
    public static let childParent: UInt32 = 0x0001_0001

    /// netem's queue in packets when `limit` is not given (tc's default).
    public static let defaultNetemLimit: UInt32 = 1000

    /// The rate in bytes per second, as the kernel takes it.
    public var rateBytesPerSecond: UInt64? { rate.map { ($0 + 7) / 8 } }

    /// The token bucket in bytes: `burst`, else the larger of 16 KiB and 4 ms at the rate
    /// (at least a few full-size frames, so TCP is not starved at low rates).
    public var effectiveBurst: UInt64? {
        guard let bps = rateBytesPerSecond else { return nil }
        return burst ?? Swift.max(16 * 1024, bps / 250)
    }

    /// tbf's queue in bytes: with a lone tbf and `limit N`, N full-size (1514-byte) frames;
    /// otherwise the burst plus 50 ms at the rate (what `tc … tbf latency 50ms` gives).
    public var tbfLimitBytes: UInt64? {
        guard let bps = rateBytesPerSecond, let b = effectiveBurst else { return nil }
        if !needsNetem, let l = limit { return UInt64(l) * 1514 }
        return b + bps / 20
    }

    /// The options of a `tc` statement that gives this shaping, in the fixed order.
    public var options: [ShapingOption] {
        var o: [ShapingOption] = []
        func add(_ k: ShapingKey, _ v: Int64?) { if let v { o.append(ShapingOption(k, Located(v, at: .none), keyRange: .none)) } }
        add(.delay, delay)
        add(.jitter, jitter)
        add(.loss, loss?.millionths)
        add(.duplicate, duplicate?.millionths)
        add(.reorder, reorder?.millionths)
        add(.corrupt, corrupt?.millionths)
        add(.rate, rate.map { Int64(clamping: $0) })
        add(.burst, burst.map { Int64(clamping: $0) })
        add(.limit, limit.map { Int64($0) })
        return o
    }

    /// The options as they are written in a script, in a fixed order:
    /// `delay 10ms jitter 1ms loss 0.5% rate 10mbit burst 32kb limit 1000`.
    public var description: String {
        var parts: [String] = []
        if let d = delay { parts.append("delay " + Shaping.durationText(d)) }
        if let j = jitter { parts.append("jitter " + Shaping.durationText(j)) }
        if let p = loss { parts.append("loss \(p)") }
        if let p = duplicate { parts.append("duplicate \(p)") }
        if let p = reorder { parts.append("reorder \(p)") }
        if let p = corrupt { parts.append("corrupt \(p)") }
        if let r = rate { parts.append("rate " + Shaping.rateText(r)) }
        if let b = burst { parts.append("burst " + Shaping.sizeText(b)) }
        if let l = limit { parts.append("limit \(l)") }
        return parts.joined(separator: " ")
    }

    /// `10ms`, `1.5ms`, `250us`, `2s`: the largest unit that keeps the value exact to the
    /// microsecond (topo's resolution), with at most three decimals.
    public static func durationText(_ ns: Int64) -> String {
        let us = ns / 1000
        if us != 0 && us % 1_000_000 == 0 { return "\(us / 1_000_000)s" }
        if us >= 1_000_000 && us % 1000 == 0 { return decimal(us / 1000, scale: 3) + "s" }
        if us != 0 && us % 1000 == 0 { return "\(us / 1000)ms" }
        if us >= 1000 { return decimal(us, scale: 3) + "ms" }
        return "\(us)us"
    }

    /// `10mbit`, `1500kbit`, `1gbit`, `64bit`: the largest of `bit kbit mbit gbit tbit` that
    /// divides the rate exactly.
    public static func rateText(_ bitsPerSecond: UInt64) -> String {
        let units: [(UInt64, String)] = [(1_000_000_000_000, "tbit"), (1_000_000_000, "gbit"), (1_000_000, "mbit"), (1000, "kbit")]
        for (f, u) in units where bitsPerSecond >= f && bitsPerSecond % f == 0 { return "\(bitsPerSecond / f)\(u)" }
        return "\(bitsPerSecond)bit"
    }

    /// `32kb`, `1mb`, `1500b` (1024-based).
    public static func sizeText(_ bytes: UInt64) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)mb" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)kb" }
        return "\(bytes)b"
    }

    /// `value / 10^scale` with trailing zeros dropped: `decimal(1500, scale: 3)` is `1.5`.
    static func decimal(_ value: Int64, scale: Int) -> String {
        var p: Int64 = 1
        for _ in 0..<scale { p *= 10 }
        let whole = value / p
        var frac = value % p
        if frac == 0 { return "\(whole)" }
        var digits = scale
        while frac % 10 == 0 { frac /= 10; digits -= 1 }
        let f = String(frac)
        return "\(whole)." + String(repeating: "0", count: digits - f.count) + f
    }
}

/// The options of `tc IF …` (and after `veth A <-> B`), in the order `Shaping.description`
/// prints them.
public enum ShapingKey: String, Hashable, Sendable, CaseIterable {
    case delay, jitter, loss, duplicate, reorder, corrupt, rate, burst, limit

    /// The dimension of the option's value; nil for `limit` (a number of packets).
    public var dimension: Quantity.Dimension? {
        switch self {
        case .delay, .jitter: return .duration
        case .loss, .duplicate, .reorder, .corrupt: return .percentage
        case .rate: return .rate
        case .burst: return .size
        case .limit: return nil
        }
    }
}

/// A percentage 0…100 in millionths of a percent (`0.5%` is 500 000), exact and hashable.
public struct Percentage: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var millionths: Int64
    public init(millionths: Int64) { self.millionths = millionths }

    public static let hundred = Percentage(millionths: 100_000_000)

    /// The kernel's scale (netem): `rint(p / 100 × 0xFFFFFFFF)`; 0 never, 0xFFFFFFFF always.
    public var kernelValue: UInt32 {
        let v = (Double(millionths) / 1e8 * 4294967295.0).rounded()
        return v >= 4294967295.0 ? .max : v <= 0 ? 0 : UInt32(v)
    }

    /// From the kernel's scale, to the nearest millionth of a percent.
    public init(kernelValue: UInt32) {
        millionths = Int64((Double(kernelValue) / 4294967295.0 * 1e8).rounded())
    }

    /// `0.5%`, `1%`, `12.25%`.
    public var description: String { Shaping.decimal(millionths, scale: 6) + "%" }

    public static func < (a: Percentage, b: Percentage) -> Bool { a.millionths < b.millionths }
}
