/// An IPv4 or IPv6 address, parsed and printed in pure Swift (no inet_pton).
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    /// 128 bits as (high, low) 64-bit halves, network order.
    case v6(UInt64, UInt64)

    public enum Family: String, Hashable, Sendable, Codable {
        case ipv4, ipv6
        public var bits: Int { self == .ipv4 ? 32 : 128 }
    }

    public var family: Family {
        if case .v4 = self { return .ipv4 }
        return .ipv6
    }

    /// The address as network-order bytes (4 or 16), as netlink carries it.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a):
            return [UInt8(a >> 24), UInt8(a >> 16 & 0xff), UInt8(a >> 8 & 0xff), UInt8(a & 0xff)]
        case .v6(let hi, let lo):
            return (0..<8).map { UInt8(hi >> (56 - 8 * UInt64($0)) & 0xff) }
                + (0..<8).map { UInt8(lo >> (56 - 8 * UInt64($0)) & 0xff) }
        }
    }

    public init?(bytes: [UInt8]) {
        if bytes.count == 4 {
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            self = .v6(bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) },
                       bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        } else {
            return nil
        }
    }

    /// Parses `10.0.0.1`, `fd00::1`, `::ffff:1.2.3.4`. Returns nil on anything else.
    public init?(_ text: some StringProtocol) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let v = IPAddress.parseV6(String(text)) else { return nil }
            self = v
        } else {
            guard let v = IPAddress.parseV4(text.utf8) else { return nil }
            self = .v4(v)
        }
    }

    static func parseV4(_ s: Substring) -> UInt32? { parseV4(s.utf8) }

    /// Four decimal octets 0-255 joined by dots, without leading zeros (`010` looks octal).
    static func parseV4<Bytes: Sequence>(_ bytes: Bytes) -> UInt32? where Bytes.Element == UInt8 {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                dots += 1
                octet = 0
                digits = 0
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if digits == 1 && octet == 0 { return nil }  // no octal-looking octets
                guard digits < 3 else { return nil }
                octet = octet * 10 + UInt32(b - UInt8(ascii: "0"))
                digits += 1
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ s: String) -> IPAddress? {
        var groups: [UInt16] = []
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        var halves: [String] = []
        let u = Array(s.utf8)
        if let gap = (0..<max(0, u.count - 1)).first(where: { u[$0] == 58 && u[$0 + 1] == 58 }) {
            halves = [String(decoding: u[..<gap], as: UTF8.self), String(decoding: u[(gap + 2)...], as: UTF8.self)]
            if halves[1].utf8.count > 0 && (halves[1].hasPrefix(":") || halves[1].contains("::")) { return nil }
        } else {
            halves = [s]
        }
        func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, f) in fields.enumerated() {
                if i == fields.count - 1, allowV4Tail, f.contains(".") {
                    guard let v4 = parseV4(f) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                    continue
                }
                guard !f.isEmpty, f.count <= 4, let n = UInt16(f, radix: 16) else { return nil }
                out.append(n)
            }
            return out
        }
        if halves.count == 2 {
            sawGap = true
            guard let h = parseGroups(halves[0], allowV4Tail: false),
                  let t = parseGroups(halves[1], allowV4Tail: true) else { return nil }
            head = h
            tail = t
            guard head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let g = parseGroups(s, allowV4Tail: true), g.count == 8 else { return nil }
            groups = g
        }
        _ = sawGap
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
        return .v6(hi, lo)
    }

    /// RFC 5952 text: lowercase, longest zero run (of 2+) compressed.
    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\(a >> 16 & 0xff).\(a >> 8 & 0xff).\(a & 0xff)"
        case .v6(let hi, let lo):
            let g: [UInt16] = (0..<4).map { UInt16(hi >> (48 - 16 * UInt64($0)) & 0xffff) }
                + (0..<4).map { UInt16(lo >> (48 - 16 * UInt64($0)) & 0xffff) }
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if g[i] == 0 {
                    var j = i
                    while j < 8 && g[j] == 0 { j += 1 }
                    if j - i > bestLen { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            if bestLen < 2 { bestStart = -1 }
            var parts: [String] = []
            var k = 0
            var out = ""
            while k < 8 {
                if k == bestStart {
                    out += (parts.isEmpty ? "" : parts.joined(separator: ":")) + "::"
                    parts = []
                    k += bestLen
                    continue
                }
                parts.append(String(g[k], radix: 16))
                k += 1
            }
            if bestStart >= 0 { return out + parts.joined(separator: ":") }
            return parts.joined(separator: ":")
        }
    }

    /// The address as a 128-bit value split in halves (v4 in the low 32 bits).
    var halves: (UInt64, UInt64) {
        switch self {
        case .v4(let a): return (0, UInt64(a))
        case .v6(let h, let l): return (h, l)
        }
    }

    static func make(_ family: Family, _ hi: UInt64, _ lo: UInt64) -> IPAddress {
        family == .ipv4 ? .v4(UInt32(truncatingIfNeeded: lo)) : .v6(hi, lo)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.family != b.family { return a.family == .ipv4 }
        return a.halves < b.halves
    }

    /// Adds `n` (may be negative) to the address; nil if it leaves the family's range.
    public func adding(_ n: Int) -> IPAddress? {
        let (hi, lo) = halves
        if n >= 0 {
            let (l, carry) = lo.addingReportingOverflow(UInt64(n))
            let (h, over) = hi.addingReportingOverflow(carry ? 1 : 0)
            if over { return nil }
            if family == .ipv4 && (h != 0 || l > UInt64(UInt32.max)) { return nil }
            return .make(family, h, l)
        } else {
            let m = UInt64(n.magnitude)
            let (l, borrow) = lo.subtractingReportingOverflow(m)
            let (h, under) = hi.subtractingReportingOverflow(borrow ? 1 : 0)
            if under { return nil }
            return .make(family, h, l)
        }
    }
}

/// An address with a prefix length: `10.0.1.1/24` (an interface address) or `10.0.0.0/16` (a network).
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init(address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    /// Parses `ADDR/LEN`; LEN must fit the family.
    public init?(_ text: some StringProtocol) {
        let utf8 = text.utf8
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")),
              let a = IPAddress(text[..<slash]) else { return nil }
        var length = 0
        var digits = 0
        for b in utf8[utf8.index(after: slash)...] {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"), digits < 3 else { return nil }
            length = length * 10 + Int(b - UInt8(ascii: "0"))
            digits += 1
        }
        guard digits > 0, length <= a.family.bits else { return nil }
        self.address = a
        self.length = length
    }

    public var family: IPAddress.Family { address.family }
    public var description: String { "\(address)/\(length)" }

    /// The default route's destination for a family (`0.0.0.0/0`, `::/0`).
    public static func any(_ family: IPAddress.Family) -> IPPrefix {
        IPPrefix(address: family == .ipv4 ? .v4(0) : .v6(0, 0), length: 0)
    }

    private var mask: (UInt64, UInt64) {
        let bits = family.bits
        let hostBits = bits - length
        // 128-bit mask of `length` leading ones within the family's width, right-aligned for v4.
        func ones(_ n: Int) -> (UInt64, UInt64) {  // low n bits set
            if n <= 0 { return (0, 0) }
            if n >= 128 { return (.max, .max) }
            if n >= 64 { return (n == 64 ? 0 : (UInt64.max >> (128 - n)), .max) }
            return (0, (UInt64(1) << UInt64(n)) - 1)
        }
        let all = ones(bits), host = ones(hostBits)
        return (all.0 & ~host.0, all.1 & ~host.1)
    }

    /// The network address (host bits cleared), keeping the length: `10.0.1.1/24` → `10.0.1.0/24`.
    public var network: IPPrefix {
        let (h, l) = address.halves
        let (mh, ml) = mask
        return IPPrefix(address: .make(family, h & mh, l & ml), length: length)
    }

    /// True when the host bits are all zero (a network, not an interface address).
    public var isNetwork: Bool { network.address == address }

    public func contains(_ a: IPAddress) -> Bool {
        guard a.family == family else { return false }
        let (h, l) = a.halves, (mh, ml) = mask
        let (nh, nl) = address.halves
        return h & mh == nh & mh && l & ml == nl & ml
    }

    /// The n-th host of the prefix, keeping its length: `cidrhost(10.0.0.0/24, 5)` = `10.0.0.5/24`.
    /// Negative n counts from the end (-1 is the last address). Nil when outside the prefix.
    public func host(_ n: Int) -> IPPrefix? {
        let hostBits = family.bits - length
        if hostBits < 63 {
            let size = 1 << hostBits
            guard n < size, n >= -size else { return nil }
        }
        let base = network.address
        let start: IPAddress?
        if n >= 0 {
            start = base.adding(n)
        } else {
            guard hostBits < 63 else { return nil }
            start = base.adding((1 << hostBits) + n)
        }
        guard let a = start, contains(a) else { return nil }
        return IPPrefix(address: a, length: length)
    }

    /// `cidrsubnet(10.0.0.0/16, 8, 3)` = `10.0.3.0/24`. Nil when it does not fit.
    public func subnet(newBits: Int, number: Int) -> IPPrefix? {
        guard newBits >= 0, number >= 0, length + newBits <= family.bits else { return nil }
        if newBits < 63 { guard number < (1 << newBits) else { return nil } }
        let shift = family.bits - length - newBits
        // number << shift as 128-bit
        var hi: UInt64 = 0, lo: UInt64 = 0
        let n = UInt64(number)
        if shift >= 128 { return nil }
        if shift >= 64 { hi = n << UInt64(shift - 64) } else if shift == 0 { lo = n } else {
            lo = n << UInt64(shift)
            hi = n >> UInt64(64 - shift)
        }
        let (bh, bl) = network.address.halves
        let a = IPAddress.make(family, bh | hi, bl | lo)
        return IPPrefix(address: a, length: length + newBits)
    }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool {
        (a.address, a.length) < (b.address, b.length)
    }
}
