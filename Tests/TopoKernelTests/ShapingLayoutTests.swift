import Netlink
import Testing
import TopoLanguage
@testable import TopoKernel

// topo's qdisc layout without a kernel: the requests setQdisc sends for a shaping, turned into
// the dump the kernel would give back (net/sched/sch_netem.c netem_dump, sch_tbf.c tbf_dump:
// netem reports LATENCY64/JITTER64, CORR, REORDER, CORRUPT, RATE and a PRNG seed always; tbf
// reports PARMS with the bucket as ticks, cell_align 0, no BURST), decode to exactly
// `Shaping.normalized`. The kernel tests check the same against the real kernel.

private let ms: Int64 = 1_000_000
private func p(_ v: Double) -> Percentage { Percentage(millionths: Int64((v * 1_000_000).rounded())) }

/// What a qdisc dump would show after `requests` on a device with nothing configured.
func simulatedDump(_ requests: [Request], index: Int32 = 3) throws -> [QdiscInfo] {
    var out: [QdiscInfo] = []
    for r in requests where r.type == TrafficControlConstants.newQdisc {
        let m = try QdiscMessage(decoding: r.payload[...])
        var kind = "", options: [UInt8] = []
        for a in m.attributes {
            if case .kind(let k) = a { kind = k }
            if case .options(let o) = a { options = o }
        }
        var dumped: [UInt8]
        switch kind {
        case Netem.kind:
            var n = try Netem(options: options)
            n.latency = n.delayNanoseconds
            n.jitter = n.jitterNanoseconds
            n.latencyTicks = UInt32(clamping: n.delayNanoseconds / 64)
            n.jitterTicks = UInt32(clamping: n.jitterNanoseconds / 64)
            n.correlation = n.correlation ?? .init()
            n.reorder = .init(probability: n.gap != 0 ? (n.reorder?.probability ?? .max) : 0, correlation: n.reorder?.correlation ?? 0)
            n.corrupt = n.corrupt ?? .init(probability: 0)
            n.rate = n.rate ?? .init(rate: 0)
            if n.ecn == 0 { n.ecn = nil }
            if n.slot == Netem.Slot() { n.slot = nil }
            n.prngSeed = 0x1234_5678_9abc
            dumped = n.optionsPayload()
        case TBF.kind:
            let t = try TBF(options: options)
            var d = t
            d.rate.cellAlign = 0
            d.rate.cellLog = 0
            d.buffer = UInt32(truncatingIfNeeded: KernelRate(t.rate, rate64: t.rate64).ticks(forBytes: t.burst ?? 0))
            d.burst = nil
            dumped = d.optionsPayload()
        default:
            dumped = options
        }
        out.append(QdiscInfo(QdiscMessage(header: TrafficControlHeader(index: index, handle: m.header.handle, parent: m.header.parent,
                                                                        info: 1),
                                           attributes: [.kind(kind), .options(dumped)])))
    }
    return out
}

let layoutCases: [Shaping] = [
    Shaping(rate: 10_000_000),
    Shaping(rate: 10_000_000, burst: 32 * 1024),
    Shaping(rate: 5_000_000, burst: 32 * 1024, limit: 100),         // netem's queue or the tbf's: Shaping decides
    Shaping(loss: p(0), rate: 10_000_000),                            // 0% beside a rate
    Shaping(loss: p(0), rate: 10_000_000, limit: 500),
    Shaping(rate: 1_500_000),
    Shaping(rate: 100_000_000_000, burst: 1 << 20),                  // 100 gbit: RATE64, 800 bytes per tick
    Shaping(rate: 1_000_000_000, burst: 1500),                        // 8 bytes per tick: 1500 is the round one
    Shaping(rate: 64_000),                                            // the 16 KiB default burst at 8 kB/s
    Shaping(rate: 1001),                                              // not whole bytes: rounded up to 1008
    Shaping(delay: 10 * ms),
    Shaping(delay: 40 * ms, loss: p(1)),
    Shaping(delay: 100 * ms, jitter: 10 * ms, loss: p(0.5), duplicate: p(1), reorder: p(25), corrupt: p(0.1), limit: 5000),
    Shaping(delay: 10 * ms, limit: 1000),                             // limit 1000 is netem's default
    Shaping(loss: p(30)),
    Shaping(limit: 1000),                                             // a netem that does nothing, kept
    Shaping(loss: p(0)),                                              // 0%: as nothing, the netem kept
    Shaping(delay: 0, reorder: p(0)),
    Shaping(delay: 20 * ms, rate: 10_000_000),
    Shaping(delay: 40 * ms, loss: p(2), rate: 10_000_000, burst: 32 * 1024, limit: 1000),
    Shaping(loss: p(12.25), rate: 50_000_000_000),
    Shaping(delay: 1500 * 1000, jitter: 250 * 1000, rate: 2_000_000, limit: 10),
]

@Test(arguments: layoutCases)
func shapingLayoutRoundTrips(_ s: Shaping) throws {
    let want = s.normalized
    #expect(want.normalized == want, "normalized is not idempotent")
    let requests = try TopoQdiscs.requests(want, index: 3, current: [])
    // The layout: netem 1: at the root when netem is needed, tbf 10: at 1:1 beside a rate.
    let tcm = try requests.map { try QdiscMessage(decoding: $0.payload[...]).header }
    if want.needsNetem && want.needsTBF {
        #expect(tcm.map(\.handle.rawValue) == [0x0001_0000, 0x0010_0000] && tcm.map(\.parent.rawValue) == [0xFFFF_FFFF, 0x0001_0001])
    } else {
        #expect(tcm.map(\.handle.rawValue) == [0x0001_0000] && tcm.map(\.parent.rawValue) == [0xFFFF_FFFF])
    }
    #expect(requests.allSatisfy { $0.flags == [.create, .excl] })
    let dump = try simulatedDump(requests)
    #expect(TopoQdiscs.shaping(dump) == want, "\(s) → \(want) → \(String(describing: TopoQdiscs.shaping(dump)))")
    // Applied again over what it built: nothing to send would be found equal; the requests that
    // would be sent change in place (no delete).
    let again = try TopoQdiscs.requests(want, index: 3, current: dump)
    #expect(again.allSatisfy { $0.type == TrafficControlConstants.newQdisc && $0.flags == [.create, .replace] })
}

@Test func normalizedDropsOnlyWhatTheKernelCannotTell() {
    #expect(Shaping(delay: 10 * ms, limit: 1000).normalized == Shaping(delay: 10 * ms))
    #expect(Shaping(limit: 1000).normalized == Shaping(limit: 1000))
    #expect(Shaping(loss: p(0)).normalized == Shaping(limit: 1000))
    #expect(Shaping(rate: 10_000_000, burst: 40_000).normalized == Shaping(rate: 10_000_000, burst: 40_000))
    #expect(Shaping(rate: 1_000_000_000, burst: 500_000).normalized == Shaping(rate: 1_000_000_000))  // 125e6/250
    #expect(Shaping(rate: 10_000_000, burst: 16_384).normalized == Shaping(rate: 10_000_000))
    #expect(Shaping(rate: 1001).normalized == Shaping(rate: 1008))
    #expect(Shaping(burst: 5).normalized == Shaping())  // a burst without a rate: nothing
    // A rate with a limit (netem's queue, or the lone tbf's, whichever Shaping says): kept.
    #expect(Shaping(rate: 8_000_000, limit: 44).normalized == Shaping(rate: 8_000_000, limit: 44))
}

@Test func rebuildsWhatIsNotTopoLayout() throws {
    // Someone's htb at the root: deleted, then topo's tbf added.
    let htb = QdiscInfo(QdiscMessage(header: TrafficControlHeader(index: 3, handle: TCHandle(major: 1), parent: .root),
                                     attributes: [.kind("htb"), .options([])]))
    let r = try TopoQdiscs.requests(Shaping(rate: 10_000_000), index: 3, current: [htb])
    #expect(r.map(\.type) == [TrafficControlConstants.deleteQdisc, TrafficControlConstants.newQdisc])
    #expect(TopoQdiscs.shaping([htb]) == nil)
    // netem + tbf → netem alone: the child would stay under an in-place change; rebuilt instead.
    let both = try simulatedDump(try TopoQdiscs.requests(Shaping(delay: 10 * ms, rate: 10_000_000), index: 3, current: []))
    let lone = try TopoQdiscs.requests(Shaping(delay: 10 * ms), index: 3, current: both)
    #expect(lone.map(\.type) == [TrafficControlConstants.deleteQdisc, TrafficControlConstants.newQdisc])
    // tbf → netem + tbf: a different root kind, rebuilt.
    let tbf = try simulatedDump(try TopoQdiscs.requests(Shaping(rate: 10_000_000), index: 3, current: []))
    #expect(try TopoQdiscs.requests(Shaping(delay: 1 * ms, rate: 10_000_000), index: 3, current: tbf).first?.type
            == TrafficControlConstants.deleteQdisc)
    // netem alone → netem + tbf: the root changed in place, the child added.
    let netem = try simulatedDump(try TopoQdiscs.requests(Shaping(delay: 10 * ms), index: 3, current: []))
    let grow = try TopoQdiscs.requests(Shaping(delay: 10 * ms, rate: 10_000_000), index: 3, current: netem)
    #expect(grow.map(\.flags) == [[.create, .replace], [.create, .excl]])
    // A netem with a feature topo does not write (ECN, a correlation) is not topo's.
    var foreign = try #require(netem.first?.netem)
    foreign.ecn = 1
    let f = QdiscInfo(QdiscMessage(header: TrafficControlHeader(index: 3, handle: TCHandle(major: 1), parent: .root),
                                   attributes: [.kind("netem"), .options(foreign.optionsPayload())]))
    #expect(TopoQdiscs.shaping([f]) == nil)
    // A default qdisc is nothing.
    let noqueue = QdiscInfo(QdiscMessage(header: TrafficControlHeader(index: 3, handle: .unspecified, parent: .root),
                                         attributes: [.kind("noqueue")]))
    #expect(TopoQdiscs.shaping([noqueue]) == nil)
    #expect(try TopoQdiscs.requests(Shaping(rate: 10_000_000), index: 3, current: [noqueue]).map(\.flags) == [[.create, .excl]])
}

@Test func roundestByteCount() {
    #expect(TopoQdiscs.roundest(32760...32800) == 32768)
    #expect(TopoQdiscs.roundest(1496...1503) == 1500)
    #expect(TopoQdiscs.roundest(1048000...1048800) == 1 << 20)
    #expect(TopoQdiscs.roundest(7...7) == 7)
}

@Test func missingModuleTexts() {
    #expect(NetlinkBackend.missingQdiscText("netem") == "the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM, module sch_netem)")
    #expect(NetlinkBackend.missingKindText("vlan") == "the kernel has no vlan support (CONFIG_VLAN_8021Q, module 8021q)")
    let e = NetlinkBackend.linkKindError(.kernel(errno: 95, message: "Unknown device type"), kind: "vrf")
    #expect(e.description == "Operation not supported (the kernel has no vrf support (CONFIG_NET_VRF, module vrf))")
    // Other refusals pass through.
    #expect(NetlinkBackend.linkKindError(.kernel(errno: 17, message: "x"), kind: "vrf") == .refused(errno: 17, text: "File exists", extack: "x"))
}
