/// Traffic-control messages (`tc qdisc …`): the `tcmsg` header, qdisc attributes, handles,
/// requests and dump decoding. The kind-specific TCA_OPTIONS live beside this file, one file
/// per kind (`Netem.swift`, `TBF.swift`); anything else is kept as raw bytes.
public enum TrafficControlConstants {
    public static let newQdisc: UInt16 = 36      // RTM_NEWQDISC
    public static let deleteQdisc: UInt16 = 37   // RTM_DELQDISC
    public static let getQdisc: UInt16 = 38      // RTM_GETQDISC
    public static let newClass: UInt16 = 40      // RTM_NEWTCLASS
    public static let deleteClass: UInt16 = 41   // RTM_DELTCLASS
    public static let getClass: UInt16 = 42      // RTM_GETTCLASS

    public static let kind: UInt16 = 1           // TCA_KIND
    public static let options: UInt16 = 2        // TCA_OPTIONS
    public static let stats: UInt16 = 3          // TCA_STATS (legacy struct tc_stats)
    public static let xstats: UInt16 = 4         // TCA_XSTATS
    public static let rate: UInt16 = 5           // TCA_RATE
    public static let stats2: UInt16 = 7         // TCA_STATS2
    public static let stab: UInt16 = 8           // TCA_STAB
    public static let pad: UInt16 = 9            // TCA_PAD
    public static let dumpInvisible: UInt16 = 10 // TCA_DUMP_INVISIBLE (flag)
    public static let hardwareOffload: UInt16 = 12 // TCA_HW_OFFLOAD (u8)

    /// One psched tick in nanoseconds (the kernel's PSCHED_SHIFT 6; `/proc/net/psched`'s second
    /// field, 0x40). tbf's `buffer`/`mtu` and netem's qopt latency/jitter are in ticks.
    public static let nanosecondsPerTick: Int64 = 64
}

/// A qdisc or class handle: major (16 bits) and minor (16 bits). `tc` writes them in hex:
/// `1:` is 0x0001_0000, `1:10` is 0x0001_0010, `10:` is 0x0010_0000.
public struct TCHandle: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(major: UInt16, minor: UInt16 = 0) { rawValue = UInt32(major) << 16 | UInt32(minor) }

    public var major: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 16) }
    public var minor: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// TC_H_ROOT: `tc … root` in tcm_parent.
    public static let root = TCHandle(rawValue: 0xFFFF_FFFF)
    /// TC_H_INGRESS (also clsact's parent).
    public static let ingress = TCHandle(rawValue: 0xFFFF_FFF1)
    /// TC_H_UNSPEC: no handle given (the kernel picks one on create).
    public static let unspecified = TCHandle(rawValue: 0)

    /// `1:`, `1:10`, `root`, `ingress`, as `tc` prints them.
    public var description: String {
        if self == .root { return "root" }
        if self == .ingress { return "ingress" }
        let maj = String(major, radix: 16)
        return minor == 0 ? "\(maj):" : "\(maj):\(String(minor, radix: 16))"
    }
}

/// The 20-byte `struct tcmsg`.
public struct TrafficControlHeader: Hashable, Sendable {
    public static let size = 20
    /// tcm_family: AF_UNSPEC.
    public var family: UInt8
    /// The device, resolved in the socket's own namespace (tc has no netns attribute).
    public var index: Int32
    public var handle: TCHandle
    public var parent: TCHandle
    /// 0 in requests; in dumps the qdisc's reference count, or a class's leaf qdisc handle.
    public var info: UInt32

    public init(family: UInt8 = AddressFamily.unspecified, index: Int32, handle: TCHandle = .unspecified,
                parent: TCHandle = .root, info: UInt32 = 0) {
        self.family = family
        self.index = index
        self.handle = handle
        self.parent = parent
        self.info = info
    }

    func encode(into w: inout ByteWriter) {
        w.u8(family); w.u8(0); w.u16(0)
        w.i32(index); w.u32(handle.rawValue); w.u32(parent.rawValue); w.u32(info)
    }
    static func decode(_ r: inout ByteReader) throws -> TrafficControlHeader {
        let family = try r.u8("tcm_family")
        _ = try r.u8("tcm__pad1")
        _ = try r.u16("tcm__pad2")
        return TrafficControlHeader(family: family, index: try r.i32("tcm_ifindex"),
                                    handle: TCHandle(rawValue: try r.u32("tcm_handle")),
                                    parent: TCHandle(rawValue: try r.u32("tcm_parent")), info: try r.u32("tcm_info"))
    }
}

/// A typed qdisc attribute (TCA_*); statistics and everything else are kept as `.unknown`.
public enum QdiscAttribute: Hashable, Sendable {
    /// TCA_KIND, sent NUL-terminated as tc does ("netem\0").
    case kind(String)
    /// TCA_OPTIONS, kind-specific bytes (sent without NLA_F_NESTED, as tc does: netem's is not
    /// even a nest, it starts with a struct).
    case options([UInt8])
    /// TCA_DUMP_INVISIBLE (zero length) in a dump request: also list hidden qdiscs.
    case dumpInvisible
    /// TCA_HW_OFFLOAD
    case hardwareOffload(UInt8)
    case unknown(type: UInt16, bytes: [UInt8])

    var raw: RawAttribute {
        switch self {
        case .kind(let s): return RawAttribute(type: TrafficControlConstants.kind, string: s)
        case .options(let b): return RawAttribute(type: TrafficControlConstants.options, payload: b)
        case .dumpInvisible: return RawAttribute(type: TrafficControlConstants.dumpInvisible, payload: [])
        case .hardwareOffload(let v): return RawAttribute(type: TrafficControlConstants.hardwareOffload, payload: [v])
        case .unknown(let t, let b): return RawAttribute(type: t, payload: b)
        }
    }
    static func decode(_ a: RawAttribute) -> QdiscAttribute {
        switch a.kind {
        case TrafficControlConstants.kind where a.payload.last == 0: return .kind(a.string)
        case TrafficControlConstants.options: return .options(a.payload)
        case TrafficControlConstants.dumpInvisible where a.payload.isEmpty: return .dumpInvisible
        case TrafficControlConstants.hardwareOffload where a.payload.count == 1: return .hardwareOffload(a.payload[0])
        default: return .unknown(type: a.type, bytes: a.payload)
        }
    }
}

/// An RTM_*QDISC payload: `tcmsg` and attributes.
public struct QdiscMessage: Hashable, Sendable {
    public var header: TrafficControlHeader
    public var attributes: [QdiscAttribute]

    public init(header: TrafficControlHeader, attributes: [QdiscAttribute] = []) {
        self.header = header
        self.attributes = attributes
    }
    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ByteReader(bytes)
        header = try TrafficControlHeader.decode(&r)
        attributes = try RawAttribute.decode(bytes[r.position...]).map(QdiscAttribute.decode)
    }
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        header.encode(into: &w)
        for a in attributes { a.raw.encode(into: &w) }
        return w.bytes
    }
}

/// A qdisc as a dump reports it (`tc qdisc show`).
public struct QdiscInfo: Hashable, Sendable {
    public var index: Int32
    public var handle: TCHandle
    public var parent: TCHandle
    /// tcm_info: the reference count.
    public var info: UInt32
    /// "noqueue", "tbf", "netem", …
    public var kind: String
    /// TCA_OPTIONS as the kernel sent them; decode with `Netem(options:)`, `TBF(options:)`.
    public var options: [UInt8]?
    /// Statistics and anything else, as sent.
    public var unknown: [RawAttribute]

    /// At the root of its device (tcm_parent TC_H_ROOT).
    public var isRoot: Bool { parent == .root }
    /// A qdisc the kernel attached by itself (noqueue, pfifo_fast, mq, fq_codel… of handle 0):
    /// what a device has when nobody configured one.
    public var isDefault: Bool { handle == .unspecified }

    public init(_ m: QdiscMessage) {
        index = m.header.index
        handle = m.header.handle
        parent = m.header.parent
        info = m.header.info
        kind = ""
        unknown = []
        for a in m.attributes {
            switch a {
            case .kind(let k): kind = k
            case .options(let b): options = b
            case .dumpInvisible: break
            case .hardwareOffload(let v): unknown.append(RawAttribute(type: TrafficControlConstants.hardwareOffload, payload: [v]))
            case .unknown(let t, let b): unknown.append(RawAttribute(type: t, payload: b))
            }
        }
    }
}

/// Builders for RTM_*QDISC requests. The kind's options come from its own file
/// (`Netem.optionsPayload`, `TBF.optionsPayload`) or as raw bytes.
public enum QdiscRequest {
    /// What to do with a qdisc already at `parent` (TC-LINKS-NOTES §6).
    public enum Mode: Hashable, Sendable {
        /// `tc qdisc add`: CREATE|EXCL — fails with EEXIST on an existing qdisc of the same kind.
        case add
        /// `tc qdisc replace`: CREATE|REPLACE — same kind and handle: changed in place;
        /// otherwise a new one is grafted and the old one (and its children) destroyed.
        case replace
        /// `tc qdisc change`: no flags — only an existing qdisc, changed in place.
        case change

        var flags: MessageFlags {
            switch self {
            case .add: return [.create, .excl]
            case .replace: return [.create, .replace]
            case .change: return []
            }
        }
    }

    private static func checkIndex(_ index: Int32) throws {
        guard index > 0 else { throw NetlinkError.invalidArgument("interface index \(index) must be positive") }
    }

    /// `tc qdisc add|replace|change dev DEV (root | parent P) [handle H] KIND OPTIONS`.
    /// `kind` is sent NUL-terminated, `options` as TCA_OPTIONS without NLA_F_NESTED (nil: none).
    public static func modify(_ mode: Mode, index: Int32, handle: TCHandle, parent: TCHandle = .root,
                              kind: String, options: [UInt8]?) throws -> Request {
        try checkIndex(index)
        guard !kind.isEmpty, kind.utf8.count < 16, !kind.utf8.contains(0) else {
            throw NetlinkError.invalidArgument("invalid qdisc kind '\(kind)'")
        }
        var attrs: [QdiscAttribute] = [.kind(kind)]
        if let options { attrs.append(.options(options)) }
        let m = QdiscMessage(header: TrafficControlHeader(index: index, handle: handle, parent: parent), attributes: attrs)
        return Request(type: TrafficControlConstants.newQdisc, flags: mode.flags, payload: m.encoded())
    }

    /// `tc qdisc del dev DEV root` (or `parent P`): RTM_DELQDISC, no flags, no kind. The device
    /// falls back to its default qdisc. With nothing configured the kernel answers ENOENT
    /// ("Cannot delete qdisc with handle of zero").
    public static func delete(index: Int32, parent: TCHandle = .root, handle: TCHandle = .unspecified) throws -> Request {
        try checkIndex(index)
        let m = QdiscMessage(header: TrafficControlHeader(index: index, handle: handle, parent: parent))
        return Request(type: TrafficControlConstants.deleteQdisc, flags: [], payload: m.encoded())
    }

    /// The qdisc at `parent` of one device (RTM_GETQDISC, not a dump). The kernel answers with
    /// only an ack unless NLM_F_ECHO is set, so it is: the RTM_NEWQDISC comes before the ack.
    /// Send with `query`.
    public static func get(index: Int32, parent: TCHandle = .root) throws -> Request {
        try checkIndex(index)
        let m = QdiscMessage(header: TrafficControlHeader(index: index, parent: parent))
        return Request(type: TrafficControlConstants.getQdisc, flags: [.echo], payload: m.encoded())
    }

    /// `tc qdisc show [dev DEV] [invisible]` (send with `dump`). The kernel ignores the ifindex
    /// and returns every qdisc of every device in the namespace; tc sends it anyway (0: none).
    public static func dump(index: Int32 = 0, invisible: Bool = false) -> Request {
        let m = QdiscMessage(header: TrafficControlHeader(index: index, parent: .unspecified),
                             attributes: invisible ? [.dumpInvisible] : [])
        return Request(type: TrafficControlConstants.getQdisc, flags: [], payload: m.encoded())
    }
}

extension NetlinkSocket {
    /// `tc qdisc show`: every qdisc of every device of the socket's namespace, devices in
    /// ifindex order, each device's root first.
    public func qdiscs(invisible: Bool = false) throws -> [QdiscInfo] {
        try dump(QdiscRequest.dump(invisible: invisible)).compactMap { m in
            guard m.header.type == TrafficControlConstants.newQdisc else { return nil }
            return QdiscInfo(try QdiscMessage(decoding: m.payload[...]))
        }
    }

    /// The qdisc at `parent` (default: the root) of one device, or nil when the device has only
    /// its invisible builtin (`noop`, a device that was never up).
    public func qdisc(index: Int32, parent: TCHandle = .root) throws -> QdiscInfo? {
        for m in try query(QdiscRequest.get(index: index, parent: parent))
        where m.header.type == TrafficControlConstants.newQdisc {
            return QdiscInfo(try QdiscMessage(decoding: m.payload[...]))
        }
        return nil
    }
}

/// `struct tc_ratespec` (12 bytes): how tbf/htb describe a rate.
public struct RateSpec: Hashable, Sendable {
    public var cellLog: UInt8
    /// TC_LINKLAYER_ETHERNET 1 (the kernel then needs no rate table), 0 unaware, 2 ATM.
    public var linkLayer: UInt8
    public var overhead: UInt16
    public var cellAlign: Int16
    public var mpu: UInt16
    /// Bytes per second; saturates at 0xFFFFFFFF (then a *_RATE64 attribute carries the rate).
    public var rate: UInt32

    public static let size = 12
    public static let linkLayerEthernet: UInt8 = 1

    public init(cellLog: UInt8 = 0, linkLayer: UInt8 = RateSpec.linkLayerEthernet, overhead: UInt16 = 0,
                cellAlign: Int16 = -1, mpu: UInt16 = 0, rate: UInt32) {
        self.cellLog = cellLog
        self.linkLayer = linkLayer
        self.overhead = overhead
        self.cellAlign = cellAlign
        self.mpu = mpu
        self.rate = rate
    }
    /// All zero: "no rate" (tbf's peakrate when none).
    public static let none = RateSpec(linkLayer: 0, cellAlign: 0, rate: 0)

    func encode(into w: inout ByteWriter) {
        w.u8(cellLog); w.u8(linkLayer); w.u16(overhead); w.u16(UInt16(bitPattern: cellAlign)); w.u16(mpu); w.u32(rate)
    }
    static func decode(_ r: inout ByteReader) throws -> RateSpec {
        RateSpec(cellLog: try r.u8("cell_log"), linkLayer: try r.u8("linklayer"), overhead: try r.u16("overhead"),
                 cellAlign: Int16(bitPattern: try r.u16("cell_align")), mpu: try r.u16("mpu"), rate: try r.u32("rate"))
    }
}

/// The kernel's rate arithmetic (`struct psched_ratecfg`, net/sched/sch_generic.c
/// psched_ratecfg_precompute and include/net/sch_generic.h psched_l2t_ns), reproduced exactly
/// so a dump's time values can be turned back into the byte counts that produced them.
public struct KernelRate: Hashable, Sendable {
    public let bytesPerSecond: UInt64
    public let overhead: UInt32
    public let mpu: UInt32
    public let linkLayer: UInt8
    let mult: UInt32
    let shift: UInt32

    public init(bytesPerSecond: UInt64, overhead: UInt16 = 0, mpu: UInt16 = 0, linkLayer: UInt8 = RateSpec.linkLayerEthernet) {
        self.bytesPerSecond = bytesPerSecond
        self.overhead = UInt32(overhead)
        self.mpu = UInt32(mpu)
        self.linkLayer = linkLayer & 0x0F  // TC_LINKLAYER_MASK
        // mult/shift: the largest mult (bit 31 set) with mult >> shift ≈ 1e9 / rate.
        var mult: UInt32 = 1, shift: UInt32 = 0
        if bytesPerSecond > 0 {
            var factor: UInt64 = 1_000_000_000
            while true {
                mult = UInt32(truncatingIfNeeded: factor / bytesPerSecond)
                if mult & (1 << 31) != 0 || factor & (1 << 63) != 0 { break }
                factor <<= 1
                shift += 1
            }
        }
        self.mult = mult
        self.shift = shift
    }
    public init(_ spec: RateSpec, rate64: UInt64? = nil) {
        self.init(bytesPerSecond: max(UInt64(spec.rate), rate64 ?? 0), overhead: spec.overhead, mpu: spec.mpu,
                  linkLayer: spec.linkLayer)
    }

    /// psched_l2t_ns: nanoseconds to send `length` bytes.
    public func nanoseconds(forBytes length: UInt32) -> UInt64 {
        var len = UInt64(length) + UInt64(overhead)
        if len < UInt64(mpu) { len = UInt64(mpu) }
        if linkLayer == 2 { len = (len + 47) / 48 * 53 }  // TC_LINKLAYER_ATM: 53-byte cells of 48
        return (len &* UInt64(mult)) >> UInt64(shift)
    }

    /// PSCHED_NS2TICKS(psched_l2t_ns(length)): what a dump reports for a bucket of `length` bytes.
    public func ticks(forBytes length: UInt32) -> UInt64 {
        nanoseconds(forBytes: length) >> 6
    }

    /// Every byte count whose time at this rate is `ticks` (nil when none is): the kernel keeps
    /// only the time, so a dump cannot tell these apart. Lossless below 15.6 MB/s (one tick is
    /// less than a byte there); at 100 Gbit/s one tick is 800 bytes.
    public func byteRange(forTicks ticks: UInt64) -> ClosedRange<UInt32>? {
        // The first length whose ticks reach `ticks`, and the first that passes it.
        func firstReaching(_ t: UInt64) -> UInt64 {
            var lo: UInt64 = 0, hi: UInt64 = UInt64(UInt32.max) + 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if self.ticks(forBytes: UInt32(mid)) >= t { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        let first = firstReaching(ticks)
        let past = firstReaching(ticks + 1)
        guard first < past, first <= UInt64(UInt32.max) else { return nil }
        return UInt32(first)...UInt32(past - 1)
    }
}
