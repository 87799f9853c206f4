/// A number with a unit (LANGUAGE.md §11): a duration, a percentage, a rate or a size.
///
/// Every quantity is an exact integer in a fixed unit, so equal quantities compare equal
/// however they were written (`1.5ms` == `1500us`, `1mbps` == `8mbit`):
///
/// | dimension | units | stored as |
/// |---|---|---|
/// | duration | `us` `ms` `s` | nanoseconds (always whole microseconds) |
/// | percentage | `%` | millionths of a percent (`0.5%` = 500 000) |
/// | rate | `bit` `kbit` `mbit` `gbit` `tbit` (1000-based bits/s); `bps` `kbps` `mbps` `gbps` (bytes/s) | bits per second |
/// | size | `b` `kb` `mb` (1024-based bytes) | bytes |
///
/// Values are signed so that `-10ms` can be written and then refused with a position.
public enum Quantity: Hashable, Sendable, CustomStringConvertible {
    case duration(nanoseconds: Int64)
    case percentage(millionths: Int64)
    case rate(bitsPerSecond: Int64)
    case size(bytes: Int64)

    /// What a quantity measures.
    public enum Dimension: String, Hashable, Sendable, CaseIterable {
        case duration, percentage, rate, size

        /// How a value of this dimension is written in a message: "a duration like `10ms`".
        public var example: String {
            switch self {
            case .duration: return "a duration like `10ms`"
            case .percentage: return "a percentage like `0.5%`"
            case .rate: return "a rate like `10mbit`"
            case .size: return "a size like `32kb`"
            }
        }
    }

    public var dimension: Dimension {
        switch self {
        case .duration: return .duration
        case .percentage: return .percentage
        case .rate: return .rate
        case .size: return .size
        }
    }

    /// The value in the dimension's fixed unit (ns, millionths of a percent, bits/s, bytes).
    public var value: Int64 {
        switch self {
        case .duration(let v), .percentage(let v), .rate(let v), .size(let v): return v
        }
    }

    public init(_ dimension: Dimension, _ value: Int64) {
        switch dimension {
        case .duration: self = .duration(nanoseconds: value)
        case .percentage: self = .percentage(millionths: value)
        case .rate: self = .rate(bitsPerSecond: value)
        case .size: self = .size(bytes: value)
        }
    }

    /// The same quantity with another value.
    public func with(_ value: Int64) -> Quantity { Quantity(dimension, value) }

    /// The canonical text: `10ms`, `1.5ms`, `0.5%`, `10mbit`, `32kb`, `-10ms`.
    /// It reads back as the same quantity.
    public var description: String {
        let v = value
        let sign = v < 0 ? "-" : ""
        let m = v == .min ? UInt64(Int64.max) + 1 : UInt64(abs(v))
        switch self {
        case .duration: return sign + Shaping.durationText(Int64(clamping: m))
        case .percentage: return sign + Percentage(millionths: Int64(clamping: m)).description
        case .rate: return sign + Shaping.rateText(m)
        case .size: return sign + Shaping.sizeText(m)
        }
    }

    // MARK: units

    /// Every unit, with its dimension and its factor to the dimension's fixed unit.
    public static let units: [(name: String, dimension: Dimension, factor: Int64)] = [
        ("us", .duration, 1000), ("ms", .duration, 1_000_000), ("s", .duration, 1_000_000_000),
        ("%", .percentage, 1_000_000),
        ("bit", .rate, 1), ("kbit", .rate, 1000), ("mbit", .rate, 1_000_000), ("gbit", .rate, 1_000_000_000),
        ("tbit", .rate, 1_000_000_000_000),
        ("bps", .rate, 8), ("kbps", .rate, 8000), ("mbps", .rate, 8_000_000), ("gbps", .rate, 8_000_000_000),
        ("b", .size, 1), ("kb", .size, 1024), ("mb", .size, 1024 * 1024),
    ]

    /// The unit names, for messages and did-you-mean.
    public static var unitNames: [String] { units.map(\.name) }

    /// The units of one dimension, in a message: "`us`, `ms`, `s`".
    public static func unitList(_ d: Dimension) -> String {
        units.filter { $0.dimension == d }.map { "`\($0.name)`" }.joined(separator: ", ")
    }

    // MARK: parsing

    /// Why a text is not a quantity.
    public enum ParseError: Error, Hashable, Sendable {
        /// The unit is not one of `units`: the unit, where it starts in the text (byte offset),
        /// and the nearest unit, if one is close.
        case unknownUnit(String, offset: Int, suggestion: String?)
        /// More precision than the dimension keeps (a fraction of a microsecond, a byte, a
        /// bit per second, or a millionth of a percent).
        case notWhole(Dimension)
        /// Does not fit in 64 bits.
        case overflow
    }

    /// True when `text` has the shape of a quantity literal: digits, optionally `.` and
    /// digits, then a unit made of letters or `%` (`10ms`, `1.5ms`, `0.5%`, `10zz`).
    /// A leading `-` is allowed (for interpolated text such as `{-5}ms`).
    public static func looksLikeQuantity(_ text: String) -> Bool {
        split(text) != nil
    }

    /// `(negative, integer digits, fraction digits, unit)` when `text` has a quantity's shape.
    static func split(_ text: String) -> (Bool, ArraySlice<UInt8>, ArraySlice<UInt8>, String, Int)? {
        let b = Array(text.utf8)
        var i = 0
        let negative = i < b.count && b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let intStart = i
        while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
        let intPart = b[intStart..<i]
        if intPart.isEmpty { return nil }
        var frac: ArraySlice<UInt8> = []
        if i < b.count, b[i] == UInt8(ascii: ".") {
            let fs = i + 1
            var j = fs
            while j < b.count, b[j] >= 48, b[j] <= 57 { j += 1 }
            if j == fs { return nil }
            frac = b[fs..<j]
            i = j
        }
        let unitStart = i
        if unitStart == b.count { return nil }
        if b[unitStart...].elementsEqual([UInt8(ascii: "%")]) {
            return (negative, intPart, frac, "%", unitStart)
        }
        for c in b[unitStart...] where !((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) { return nil }
        return (negative, intPart, frac, String(decoding: b[unitStart...], as: UTF8.self), unitStart)
    }

    /// Parses a quantity literal. Nil when `text` does not have a quantity's shape at all
    /// (see `looksLikeQuantity`); an error when it has the shape but is not a valid quantity.
    public static func parse(_ text: String) -> Result<Quantity, ParseError>? {
        guard let (negative, intPart, fraction, unit, unitOffset) = split(text) else { return nil }
        var frac = fraction
        while frac.last == UInt8(ascii: "0") { frac = frac.dropLast() }  // `1.50ms` is `1.5ms`
        guard let u = units.first(where: { $0.name == unit }) else {
            let lower = unit.lowercased()
            let near = units.first(where: { $0.name == lower })?.name
                ?? suggestion(for: lower, among: unitNames)
            return .failure(.unknownUnit(unit, offset: unitOffset, suggestion: near))
        }
        // value = (int · 10^k + frac) · factor / 10^k, exactly.
        var mantissa: Int64 = 0
        for d in intPart + frac {
            let (m, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d - 48))
            if o1 || o2 { return .failure(.overflow) }
            mantissa = s
        }
        var scale: Int64 = 1
        for _ in 0..<frac.count {
            let (s, o) = scale.multipliedReportingOverflow(by: 10)
            if o { return .failure(.overflow) }
            scale = s
        }
        // Reduce the fraction first so that long decimals of a whole value still fit.
        let g = gcd(mantissa, scale)
        let num = mantissa / g, den = scale / g
        let factor = u.factor
        let fg = gcd(factor, den)
        guard den / fg == 1 else { return .failure(.notWhole(u.dimension)) }
        let (v, o) = num.multipliedReportingOverflow(by: factor / fg)
        if o { return .failure(.overflow) }
        if u.dimension == .duration && v % 1000 != 0 { return .failure(.notWhole(.duration)) }
        return .success(Quantity(u.dimension, negative ? -v : v))
    }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var a = abs(a), b = abs(b)
        while b != 0 { (a, b) = (b, a % b) }
        return a == 0 ? 1 : a
    }

    /// The message for a parse error of `text`.
    public static func message(_ e: ParseError, in text: String) -> (message: String, help: String?) {
        switch e {
        case .unknownUnit(let unit, _, let near):
            return ("unknown unit `\(unit)` in `\(text)`",
                    near.map { "did you mean `\($0)`?" }
                        ?? "units are durations \(unitList(.duration)); `%`; rates \(unitList(.rate)); sizes \(unitList(.size))")
        case .notWhole(let d):
            let what: String
            switch d {
            case .duration: what = "durations are kept to the microsecond"
            case .percentage: what = "percentages are kept to the millionth of a percent"
            case .rate: what = "rates are kept to the bit per second"
            case .size: what = "sizes are kept to the byte"
            }
            return ("`\(text)` is more precise than topo keeps", what)
        case .overflow:
            return ("`\(text)` does not fit in 64 bits", nil)
        }
    }

    /// For a rate written in bytes per second (`10mbps`): the warning that says what it means,
    /// since `tc` users often mean `10mbit`. Nil for other units.
    public static func bytesPerSecondWarning(_ text: String) -> (message: String, help: String)? {
        guard let (_, intPart, frac, unit, _) = split(text), ["bps", "kbps", "mbps", "gbps"].contains(unit),
              case .success(let q)? = parse(text) else { return nil }
        let number = String(decoding: intPart, as: UTF8.self) + (frac.isEmpty ? "" : "." + String(decoding: frac, as: UTF8.self))
        let prefix = unit.dropLast(3)
        let bytesWord: String
        switch prefix {
        case "k": bytesWord = "kilobytes"
        case "m": bytesWord = "megabytes"
        case "g": bytesWord = "gigabytes"
        default: bytesWord = "bytes"
        }
        let bits = Quantity.rate(bitsPerSecond: abs(q.value))
        return ("`\(text)` is \(number) \(bytesWord) per second (\(bitsText(bits.value)))",
                "did you mean `\(number)\(prefix)bit`? (`bps` units count bytes, as in tc)")
    }

    /// `80 Mbit/s`, `1.5 Gbit/s`, `64 bit/s`: a rate for people.
    static func bitsText(_ bits: Int64) -> String {
        let units: [(Int64, String)] = [(1_000_000_000_000, "Tbit/s"), (1_000_000_000, "Gbit/s"), (1_000_000, "Mbit/s"), (1000, "kbit/s")]
        for (f, u) in units where bits >= f {
            return Shaping.decimal((bits / f) * 1000 + (bits % f) / (f / 1000), scale: 3) + " " + u
        }
        return "\(bits) bit/s"
    }
}
