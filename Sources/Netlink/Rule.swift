/// Policy routing rules (`ip rule show`): RTM_GETRULE dumps decoded, so that `show` can name the
/// rules someone added (topo does not model rules).
///
/// `struct fib_rule_hdr` (12 bytes): family, dst_len, src_len, tos, table (u8; 0 with
/// FRA_TABLE), res1, res2, action, flags u32. Attributes (FRA_*, linux/fib_rules.h).
public enum RuleConstants {
    public static let newRule: UInt16 = 32   // RTM_NEWRULE
    public static let deleteRule: UInt16 = 33 // RTM_DELRULE
    public static let getRule: UInt16 = 34   // RTM_GETRULE

    public static let destination: UInt16 = 1   // FRA_DST
    public static let source: UInt16 = 2        // FRA_SRC
    public static let inputInterface: UInt16 = 3 // FRA_IIFNAME
    public static let goto: UInt16 = 4          // FRA_GOTO
    public static let priority: UInt16 = 6      // FRA_PRIORITY
    public static let fwmark: UInt16 = 10       // FRA_FWMARK
    public static let flow: UInt16 = 11         // FRA_FLOW
    public static let suppressIfGroup: UInt16 = 13 // FRA_SUPPRESS_IFGROUP
    public static let suppressPrefixLength: UInt16 = 14 // FRA_SUPPRESS_PREFIXLEN
    public static let table: UInt16 = 15        // FRA_TABLE
    public static let fwmask: UInt16 = 16       // FRA_FWMASK
    public static let outputInterface: UInt16 = 17 // FRA_OIFNAME
    public static let l3mdev: UInt16 = 19       // FRA_L3MDEV (u8)
    public static let `protocol`: UInt16 = 21   // FRA_PROTOCOL (u8)

    public static let actionToTable: UInt8 = 1  // FR_ACT_TO_TBL
    public static let actionGoto: UInt8 = 2     // FR_ACT_GOTO
    public static let actionNop: UInt8 = 3      // FR_ACT_NOP
    public static let actionBlackhole: UInt8 = 6 // FR_ACT_BLACKHOLE
    public static let actionUnreachable: UInt8 = 7 // FR_ACT_UNREACHABLE
    public static let actionProhibit: UInt8 = 8 // FR_ACT_PROHIBIT

    /// FIB_RULE_INVERT (`not`).
    public static let flagInvert: UInt32 = 0x2
}

/// A rule as a dump reports it.
public struct RuleInfo: Hashable, Sendable {
    public var family: UInt8
    public var action: UInt8
    /// FRA_TABLE if present, else the header's table.
    public var table: UInt32
    /// FRA_PRIORITY (`pref`); nil when absent (then 0).
    public var priority: UInt32?
    public var source: [UInt8]?
    public var sourceLength: UInt8
    public var destination: [UInt8]?
    public var destinationLength: UInt8
    public var tos: UInt8
    public var flags: UInt32
    public var inputInterface: String?
    public var outputInterface: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    public var goto: UInt32?
    /// FRA_L3MDEV: `lookup [l3mdev-table]` (what the first VRF installs).
    public var l3mdev: Bool
    /// FRA_PROTOCOL: 2 (kernel) for the rules a namespace starts with and the l3mdev rule.
    public var `protocol`: UInt8?
    public var suppressPrefixLength: UInt32?
    public var suppressIfGroup: UInt32?
    /// Everything else, as sent.
    public var unknown: [RawAttribute]

    /// Decodes one RTM_NEWRULE payload.
    public init(decoding payload: [UInt8]) throws {
        var r = ByteReader(payload)
        family = try r.u8("family")
        destinationLength = try r.u8("dst_len")
        sourceLength = try r.u8("src_len")
        tos = try r.u8("tos")
        table = UInt32(try r.u8("table"))
        _ = try r.u8("res1")
        _ = try r.u8("res2")
        action = try r.u8("action")
        flags = try r.u32("flags")
        l3mdev = false
        unknown = []
        for a in try RawAttribute.decode(payload[12...]) {
            var ar = ByteReader(a.payload)
            let n = a.payload.count
            switch a.kind {
            case RuleConstants.destination: destination = a.payload
            case RuleConstants.source: source = a.payload
            case RuleConstants.inputInterface: inputInterface = a.string
            case RuleConstants.outputInterface: outputInterface = a.string
            case RuleConstants.table where n == 4: table = try ar.u32("FRA_TABLE")
            case RuleConstants.priority where n == 4: priority = try ar.u32("FRA_PRIORITY")
            case RuleConstants.fwmark where n == 4: fwmark = try ar.u32("FRA_FWMARK")
            case RuleConstants.fwmask where n == 4: fwmask = try ar.u32("FRA_FWMASK")
            case RuleConstants.goto where n == 4: goto = try ar.u32("FRA_GOTO")
            case RuleConstants.l3mdev where n == 1: l3mdev = a.payload[0] != 0
            case RuleConstants.protocol where n == 1: `protocol` = a.payload[0]
            case RuleConstants.suppressPrefixLength where n == 4: suppressPrefixLength = try ar.u32("FRA_SUPPRESS_PREFIXLEN")
            case RuleConstants.suppressIfGroup where n == 4: suppressIfGroup = try ar.u32("FRA_SUPPRESS_IFGROUP")
            default: unknown.append(a)
            }
        }
    }

    /// One of the rules a namespace starts with (`0: from all lookup local`, `32766: … main`,
    /// `32767: … default`), or the l3mdev rule the kernel adds with the first VRF: those carry
    /// FRA_PROTOCOL kernel (2). A rule someone added (`ip rule add`) does not.
    public var isKernelDefault: Bool { `protocol` == 2 }

    /// The rule as `ip rule` prints it, without the `pref:` prefix:
    /// `from 10.0.0.0/8 iif v0 lookup 10`, `not to fd00::/8 fwmark 0x1/0xff blackhole`.
    public var description: String {
        func prefix(_ b: [UInt8]?, _ len: UInt8) -> String {
            guard let b, len > 0 else { return "all" }
            let full = b.count == 4 ? 32 : 128
            return addressText(b) + (Int(len) == full ? "" : "/\(len)")
        }
        var w: [String] = []
        if flags & RuleConstants.flagInvert != 0 { w.append("not") }
        w += ["from", prefix(source, sourceLength)]
        if destinationLength > 0 { w += ["to", prefix(destination, destinationLength)] }
        if tos != 0 { w += ["tos", "0x" + String(tos, radix: 16)] }
        if let m = fwmark {
            w += ["fwmark", "0x" + String(m, radix: 16) + (fwmask.map { $0 == .max ? "" : "/0x" + String($0, radix: 16) } ?? "")]
        }
        if let i = inputInterface { w += ["iif", i] }
        if let o = outputInterface { w += ["oif", o] }
        switch action {
        case RuleConstants.actionToTable:
            if l3mdev { w.append("lookup [l3mdev-table]") } else { w += ["lookup", RuleInfo.tableName(table)] }
        case RuleConstants.actionGoto: w += ["goto", goto.map(String.init) ?? "?"]
        case RuleConstants.actionNop: w.append("nop")
        case RuleConstants.actionBlackhole: w.append("blackhole")
        case RuleConstants.actionUnreachable: w.append("unreachable")
        case RuleConstants.actionProhibit: w.append("prohibit")
        default: w.append("action \(action)")
        }
        if let s = suppressPrefixLength, s != .max { w += ["suppress_prefixlength", String(s)] }
        if let g = suppressIfGroup, g != .max { w += ["suppress_ifgroup", String(g)] }
        return w.joined(separator: " ")
    }

    /// `local`, `main`, `default` or the number.
    public static func tableName(_ t: UInt32) -> String {
        switch t {
        case 255: return "local"
        case 254: return "main"
        case 253: return "default"
        default: return String(t)
        }
    }
}

/// `10.0.0.1`, `fd00::1` (RFC 5952 compression).
func addressText(_ b: [UInt8]) -> String {
    if b.count == 4 { return b.map(String.init).joined(separator: ".") }
    guard b.count == 16 else { return b.map { String($0, radix: 16) }.joined(separator: ":") }
    let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
    // The longest run of zero groups (length ≥ 2) becomes "::".
    var best = (start: -1, length: 0), i = 0
    while i < 8 {
        if groups[i] == 0 {
            var j = i
            while j < 8 && groups[j] == 0 { j += 1 }
            if j - i > best.length && j - i >= 2 { best = (i, j - i) }
            i = j
        } else { i += 1 }
    }
    func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
    if best.start < 0 { return hex(0..<8) }
    return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
}

public enum RuleRequest {
    /// `ip rule show` / `ip -6 rule show` (send with `dump`): a fib_rule_hdr with the family.
    public static func dump(family: UInt8) -> Request {
        var w = ByteWriter()
        w.u8(family)
        for _ in 0..<7 { w.u8(0) }
        w.u32(0)
        return Request(type: RuleConstants.getRule, flags: [], payload: w.bytes)
    }
}

extension NetlinkSocket {
    /// `ip rule show` for one family (AF_INET or AF_INET6), in priority order.
    public func rules(family: UInt8) throws -> [RuleInfo] {
        try dump(RuleRequest.dump(family: family)).compactMap { m in
            guard m.header.type == RuleConstants.newRule else { return nil }
            return try RuleInfo(decoding: m.payload)
        }
    }
}
