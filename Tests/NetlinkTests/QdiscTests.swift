import Testing
@testable import Netlink

// Byte-exact tc encoders. Each case's `expected` is written out field by field (hex, with a
// comment per field) and is first checked to be *exactly* the capture it claims to be
// (`notesCaptures`, TC-LINKS-NOTES.md appendix A: seq 0, ifindex 3 = v0, ACK set), then compared
// with what the encoder sends. netem follows tc 7.1 (delay/jitter in LATENCY64/JITTER64, ns,
// zero ticks), the form tc ≥ 6.9 sends and both test kernels (6.18, UML 6.1) read; the
// tick-based 6.1 form is covered through the wire-level fields. tbf follows the "minimal"
// capture: tc 6.1's PARMS without RTAB, which the kernel accepted.

/// Hex with `//` comments and blanks, to bytes.
func annotatedHex(_ text: String) -> [UInt8] {
    bytes(fromHex: text.split(separator: "\n").map { line in
        line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line)
    }.joined(separator: " "))
}

private let ms: Int64 = 1_000_000
private func pct(_ p: Double) -> UInt32 { Netem.probability(percent: p) }

struct QdiscCase: CustomTestStringConvertible, Sendable {
    let capture: String
    let request: @Sendable () throws -> Request
    let expected: String
    var testDescription: String { capture }
}

let qdiscCases: [QdiscCase] = [
    QdiscCase(capture: "7.1 netem delay 10ms",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified, Netem(delay: 10 * ms)) }, expected: """
        58000000 2400 0506 00000000 00000000  // nlmsghdr: len 88, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE, seq 0, pid 0
        00 00 0000 03000000 00000000 ffffffff 00000000  // tcmsg: family 0, pads, ifindex 3, handle 0 (kernel picks), parent root, info 0
        0a00 0100 6e6574656d00 0000           // TCA_KIND len 10 "netem\\0" + 2 pad
        2800 0200                             // TCA_OPTIONS len 40, no NLA_F_NESTED
        00000000                              //   qopt.latency 0 ticks (LATENCY64 follows)
        e8030000                              //   qopt.limit 1000 packets (tc's default)
        00000000 00000000 00000000            //   qopt.loss 0, gap 0, duplicate 0
        00000000                              //   qopt.jitter 0 ticks
        0c00 0a00 8096980000000000            //   TCA_NETEM_LATENCY64 10 000 000 ns
        """),
    QdiscCase(capture: "7.1 netem delay 10ms 2ms loss 1%",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified,
                                                Netem(delay: 10 * ms, jitter: 2 * ms, loss: pct(1))) }, expected: """
        64000000 2400 0506 00000000 00000000  // len 100, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        3400 0200                             // TCA_OPTIONS len 52
        00000000 e8030000                     //   qopt.latency 0, limit 1000
        295c8f02                              //   qopt.loss 1% = 42949673
        00000000 00000000 00000000            //   gap 0, duplicate 0, jitter 0
        0c00 0a00 8096980000000000            //   LATENCY64 10 ms
        0c00 0b00 80841e0000000000            //   JITTER64 2 000 000 ns
        """),
    QdiscCase(capture: "7.1 (same)",  // delay 100ms 10ms 25% loss 0.5% 10% duplicate 1% corrupt 0.1% reorder 25% 50% limit 5000
              request: {
                  var n = Netem(delay: 100 * ms, jitter: 10 * ms, loss: pct(0.5), duplicate: pct(1), reorder: pct(25),
                                corrupt: pct(0.1), limit: 5000)
                  n.correlation = .init(delay: pct(25), loss: pct(10), duplicate: 0)
                  n.reorder = .init(probability: pct(25), correlation: pct(50))
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        8c000000 2400 0506 00000000 00000000  // len 140, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        5c00 0200                             // TCA_OPTIONS len 92
        00000000                              //   qopt.latency 0
        88130000                              //   qopt.limit 5000
        14ae4701                              //   qopt.loss 0.5% = 21474836
        01000000                              //   qopt.gap 1 (tc's default with reorder)
        295c8f02                              //   qopt.duplicate 1%
        00000000                              //   qopt.jitter 0
        0c00 0a00 00e1f50500000000            //   LATENCY64 100 000 000 ns
        0c00 0b00 8096980000000000            //   JITTER64 10 000 000 ns
        1000 0100 00000040 9a999919 00000000  //   CORR: delay 25%, loss 10%, duplicate 0
        0c00 0300 00000040 00000080           //   REORDER: 25%, correlation 50%
        0c00 0400 37894100 00000000           //   CORRUPT: 0.1% = 4294967, correlation 0
        """),
    QdiscCase(capture: "7.1 netem delay 10ms rate 10mbit",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified,
                                                Netem(delay: 10 * ms, rateBytesPerSecond: 1_250_000)) }, expected: """
        6c000000 2400 0506 00000000 00000000  // len 108, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        3c00 0200                             // TCA_OPTIONS len 60
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, loss/gap/dup/jitter 0
        0c00 0a00 8096980000000000            //   LATENCY64 10 ms
        1400 0600 d0121300 00000000 00000000 00000000  // RATE: 1 250 000 B/s, packet_overhead 0, cell_size 0, cell_overhead 0
        """),
    QdiscCase(capture: "any netem rate 10gbit",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified,
                                                Netem(rateBytesPerSecond: 1_250_000_000)) }, expected: """
        60000000 2400 0506 00000000 00000000  // len 96, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        3000 0200                             // TCA_OPTIONS len 48
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, rest 0
        1400 0600 807c814a 00000000 00000000 00000000  // RATE 1 250 000 000 B/s (fits 32 bits: no RATE64)
        """),
    QdiscCase(capture: "7.1 netem delay 5s",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified, Netem(delay: 5000 * ms)) }, expected: """
        58000000 2400 0506 00000000 00000000  // len 88, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        2800 0200                             // TCA_OPTIONS len 40
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, rest 0
        0c00 0a00 00f2052a01000000            //   LATENCY64 5 000 000 000 ns (beyond u32 ticks? no: ns in s64)
        """),
    QdiscCase(capture: "any netem loss 100%",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified, Netem(loss: pct(100))) }, expected: """
        4c000000 2400 0506 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200                             // TCA_OPTIONS len 28: qopt only
        00000000 e8030000                     //   latency 0, limit 1000
        ffffffff                              //   loss 100% = 0xFFFFFFFF
        00000000 00000000 00000000            //   gap, duplicate, jitter 0
        """),
    QdiscCase(capture: "any netem duplicate 1% 50%",  // tc drops the duplicate correlation: no CORR
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified, Netem(duplicate: pct(1))) }, expected: """
        4c000000 2400 0506 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200                             // TCA_OPTIONS len 28: qopt only
        00000000 e8030000 00000000 00000000   //   latency 0, limit 1000, loss 0, gap 0
        295c8f02                              //   duplicate 1%
        00000000                              //   jitter 0
        """),
    QdiscCase(capture: "7.1 netem delay 100 (=100 ns)",
              request: { try QdiscRequest.netem(.add, index: 3, handle: .unspecified, Netem(delay: 100)) }, expected: """
        58000000 2400 0506 00000000 00000000  // len 88, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        2800 0200                             // TCA_OPTIONS len 40
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, rest 0
        0c00 0a00 6400000000000000            //   LATENCY64 100 ns
        """),
    QdiscCase(capture: "any netem slot 1ms 2ms",
              request: {
                  var n = Netem()
                  n.slot = .init(minDelay: 1 * ms, maxDelay: 2 * ms)
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        78000000 2400 0506 00000000 00000000  // len 120, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        4800 0200                             // TCA_OPTIONS len 72
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, rest 0
        2c00 0c00                             //   TCA_NETEM_SLOT len 44
        40420f0000000000                      //     min_delay 1 000 000 ns
        80841e0000000000                      //     max_delay 2 000 000 ns
        00000000 00000000                     //     max_packets 0, max_bytes 0 (unlimited)
        0000000000000000 0000000000000000     //     dist_delay 0, dist_jitter 0
        """),
    QdiscCase(capture: "any netem loss gemodel 1% 10% 70% 0.1%",
              request: {
                  var n = Netem()
                  n.lossModel = .gilbertElliott(p: pct(1), r: pct(10), h: pct(100 - 70), k1: pct(0.1))
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        64000000 2400 0506 00000000 00000000  // len 100, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        3400 0200                             // TCA_OPTIONS len 52
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, rest 0
        1800 0580                             //   TCA_NETEM_LOSS len 24, NLA_F_NESTED (as tc)
        1400 0200                             //     NETEM_LOSS_GE len 20
        295c8f02 9a999919                     //       p 1%, r 10%
        cdcccc4c                              //       h = 30% (tc takes "1-h" 70%)
        37894100                              //       k1 0.1%
        """),
    QdiscCase(capture: "7.1 netem seed 42 loss 1% ecn",
              request: {
                  var n = Netem(loss: pct(1))
                  n.ecn = 1
                  n.prngSeed = 42
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        60000000 2400 0506 00000000 00000000  // len 96, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        3000 0200                             // TCA_OPTIONS len 48
        00000000 e8030000 295c8f02            //   qopt: latency 0, limit 1000, loss 1%
        00000000 00000000 00000000            //   gap, duplicate, jitter 0
        0800 0700 01000000                    //   TCA_NETEM_ECN 1
        0c00 0e00 2a00000000000000            //   TCA_NETEM_PRNG_SEED 42
        """),
    QdiscCase(capture: "6.1 netem delay 10ms reorder 25% gap 5",  // tc 6.1: ticks in qopt, no LATENCY64
              request: {
                  let n = Netem(latencyTicks: 156_250, gap: 5, reorder: .init(probability: pct(25)))
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        58000000 2400 0506 00000000 00000000  // len 88, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        2800 0200                             // TCA_OPTIONS len 40
        5a620200                              //   qopt.latency 156 250 ticks = 10 ms
        e8030000 00000000                     //   limit 1000, loss 0
        05000000                              //   gap 5
        00000000 00000000                     //   duplicate 0, jitter 0
        0c00 0300 00000040 00000000           //   REORDER 25%, correlation 0
        """),
    QdiscCase(capture: "6.1 netem delay 10ms 2ms loss 1%",
              request: {
                  let n = Netem(latencyTicks: 156_250, loss: pct(1), jitterTicks: 31_250)
                  return try QdiscRequest.netem(.add, index: 3, handle: .unspecified, n)
              }, expected: """
        4c000000 2400 0506 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200                             // TCA_OPTIONS len 28: qopt only
        5a620200 e8030000 295c8f02            //   latency 156 250 ticks, limit 1000, loss 1%
        00000000 00000000                     //   gap 0, duplicate 0
        127a0000                              //   jitter 31 250 ticks = 2 ms
        """),
    QdiscCase(capture: "6.1 replace root netem delay 10ms (flags 0x505)",
              request: { try QdiscRequest.netem(.replace, index: 3, handle: .unspecified, Netem(latencyTicks: 156_250)) },
              expected: """
        4c000000 2400 0505 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK|REPLACE|CREATE
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200 5a620200 e8030000 00000000 00000000 00000000 00000000  // OPTIONS: qopt latency 10 ms in ticks, limit 1000
        """),
    QdiscCase(capture: "6.1 change  root netem delay 10ms (flags 0x005)",
              request: { try QdiscRequest.netem(.change, index: 3, handle: .unspecified, Netem(latencyTicks: 156_250)) },
              expected: """
        4c000000 2400 0500 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK only
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200 5a620200 e8030000 00000000 00000000 00000000 00000000  // OPTIONS: qopt latency 10 ms in ticks, limit 1000
        """),
    QdiscCase(capture: "6.1 add root handle 1: netem delay 10ms",
              request: { try QdiscRequest.netem(.add, index: 3, handle: TCHandle(major: 1), Netem(latencyTicks: 156_250)) },
              expected: """
        4c000000 2400 0506 00000000 00000000  // len 76, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000100 ffffffff 00000000  // ifindex 3, handle 1: (0x00010000), parent root
        0a00 0100 6e6574656d00 0000           // TCA_KIND "netem\\0"
        1c00 0200 5a620200 e8030000 00000000 00000000 00000000 00000000  // OPTIONS: qopt latency 10 ms in ticks, limit 1000
        """),
    QdiscCase(capture: "minimal tbf (no RTAB), accepted",  // tbf rate 10mbit burst 10kb limit 30000, handle 1:
              request: { try QdiscRequest.tbf(.add, index: 3, handle: TCHandle(major: 1),
                                              TBF(rateBytesPerSecond: 1_250_000, burst: 10240, limit: 30000)) }, expected: """
        60000000 2400 0506 00000000 00000000  // len 96, RTM_NEWQDISC, REQUEST|ACK|EXCL|CREATE
        00 00 0000 03000000 00000100 ffffffff 00000000  // ifindex 3, handle 1:, parent root
        0800 0100 74626600                    // TCA_KIND "tbf\\0"
        3400 0200                             // TCA_OPTIONS len 52 (a nest, no NLA_F_NESTED)
        2800 0100                             //   TCA_TBF_PARMS len 40
        00 01 0000 ffff 0000 d0121300         //     rate: cell_log 0, linklayer 1 (ethernet), overhead 0, cell_align -1, mpu 0, 1 250 000 B/s
        00 00 0000 0000 0000 00000000         //     peakrate: none
        30750000                              //     limit 30 000 bytes
        00000000                              //     buffer 0 ticks (BURST given)
        00000000                              //     mtu 0
        0800 0600 00280000                    //   TCA_TBF_BURST 10 240 bytes
        """),
    QdiscCase(capture: "6.1 qdisc del dev v0 root",
              request: { try QdiscRequest.delete(index: 3) }, expected: """
        24000000 2500 0500 00000000 00000000  // len 36, RTM_DELQDISC, REQUEST|ACK
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root; no attributes
        """),
    QdiscCase(capture: "get root qdisc with ECHO (0x00d)",
              request: { try QdiscRequest.get(index: 3) }, expected: """
        24000000 2600 0d00 00000000 00000000  // len 36, RTM_GETQDISC, REQUEST|ACK|ECHO
        00 00 0000 03000000 00000000 ffffffff 00000000  // ifindex 3, handle 0, parent root
        """),
]

@Test(arguments: qdiscCases)
func qdiscRequestIsByteExact(_ c: QdiscCase) throws {
    let expected = annotatedHex(c.expected)
    let capture = try #require(notesCaptures[c.capture], "no capture labelled \(c.capture)")
    #expect(expected == bytes(fromHex: capture), "the annotated bytes are not the capture")
    #expect(try c.request().encoded(sequence: 0) == expected)
}

@Test func qdiscDumpRequestsAreByteExact() {
    // tc sends the dump with NLM_F_DUMP and no ACK; `dump` adds DUMP itself.
    let plain = annotatedHex("""
        24000000 2600 0103 00000000 00000000  // len 36, RTM_GETQDISC, REQUEST|DUMP
        00 00 0000 03000000 00000000 00000000 00000000  // ifindex 3 (ignored by the kernel), handle 0, parent 0
        """)
    #expect(plain == bytes(fromHex: notesCaptures["qdisc dump request (tc show dev v0)"]!))
    #expect(QdiscRequest.dump(index: 3).encoded(sequence: 0, extra: .dump) == plain)
    let invisible = annotatedHex("""
        28000000 2600 0103 00000000 00000000  // len 40, RTM_GETQDISC, REQUEST|DUMP
        00 00 0000 03000000 00000000 00000000 00000000  // ifindex 3, handle 0, parent 0
        0400 0a00                             // TCA_DUMP_INVISIBLE (flag, no payload)
        """)
    #expect(invisible == bytes(fromHex: notesCaptures["… with `invisible`"]!))
    #expect(QdiscRequest.dump(index: 3, invisible: true).encoded(sequence: 0, extra: .dump) == invisible)
}

@Test func childTBFHeaderAndRate64() throws {
    // A tbf hanging off netem 1:'s class: parent 1:1, handle 10: (TC-LINKS §3/§5 layout).
    let child = try QdiscRequest.tbf(.replace, index: 3, handle: TCHandle(major: 0x10), parent: TCHandle(major: 1, minor: 1),
                                     TBF(rateBytesPerSecond: 125_000, burst: 16384, limit: 22634))
    #expect(Array(child.payload[0..<20]) == annotatedHex("""
        00 00 0000 03000000                   // family, pads, ifindex 3
        00001000                              // handle 10: = 0x00100000
        01000100                              // parent 1:1 = 0x00010001
        00000000                              // info
        """))
    // 100gbit (12.5e9 B/s ≥ 2^32): PARMS rate saturates, RATE64 follows BURST (tc 7.1's order).
    let big = TBF(rateBytesPerSecond: 12_500_000_000, burst: 1 << 20, limit: 10 << 20).optionsPayload()
    #expect(big == annotatedHex("""
        2800 0100                             // TCA_TBF_PARMS len 40
        00 01 0000 ffff 0000 ffffffff         //   rate: linklayer 1, cell_align -1, rate 0xFFFFFFFF (see RATE64)
        00 00 0000 0000 0000 00000000         //   peakrate none
        0000a000 00000000 00000000            //   limit 10 MiB, buffer 0, mtu 0
        0800 0600 00001000                    // TCA_TBF_BURST 1 MiB
        0c00 0400 00dd0ee902000000            // TCA_TBF_RATE64 12 500 000 000 (the 7.1 capture's bytes)
        """))
    #expect(try TBF(options: big) == TBF(rateBytesPerSecond: 12_500_000_000, burst: 1 << 20, limit: 10 << 20))
}

@Test func handlesPrintAsTc() {
    #expect(TCHandle(major: 1).description == "1:")
    #expect(TCHandle(major: 1, minor: 0x10).description == "1:10")
    #expect(TCHandle(major: 0x10).rawValue == 0x0010_0000)
    #expect(TCHandle.root.description == "root")
    #expect(TCHandle(rawValue: 0xFFFF_0000).description == "ffff:")
}

@Test func netemPercentagesAsTc() {
    // TC-LINKS §2: rint(p/100 × 0xFFFFFFFF).
    #expect(pct(1) == 42_949_673)
    #expect(pct(0.5) == 21_474_836)
    #expect(pct(0.1) == 4_294_967)
    #expect(pct(10) == 429_496_730)
    #expect(pct(25) == 0x4000_0000)
    #expect(pct(50) == 0x8000_0000)
    #expect(pct(100) == 0xFFFF_FFFF)
    #expect(pct(0) == 0)
}

@Test func netemReplaceSendsEverySubAttributeTheKernelWouldKeep() throws {
    // `delay 10ms` replacing a netem that corrupted, reordered, rate-limited, marked ECN or slotted:
    // each of those is sent as zero so none survives (TC-LINKS §3, sch_netem.c netem_change).
    let n = Netem(delay: 10 * ms).completedForReplace()
    let options = n.optionsPayload()
    #expect(options == annotatedHex("""
        00000000 e8030000 00000000 00000000 00000000 00000000  // qopt: latency 0, limit 1000, loss 0, gap 0, dup 0, jitter 0
        0c00 0a00 8096980000000000            // LATENCY64 10 ms
        1000 0100 00000000 00000000 00000000  // CORR: no correlations
        0c00 0300 00000000 00000000           // REORDER 0 (and gap 0: no reordering)
        0800 0700 00000000                    // ECN off
        0c00 0400 00000000 00000000           // CORRUPT 0
        2c00 0c00 0000000000000000 0000000000000000 00000000 00000000 0000000000000000 0000000000000000  // SLOT all zero: no slotting
        1400 0600 00000000 00000000 00000000 00000000  // RATE 0: no rate
        """))
    #expect(try Netem(options: options) == n)
    // Already complete: unchanged.
    #expect(n.completedForReplace() == n)
}

@Test func capturedQdiscDumpDecodes() throws {
    // TC-LINKS-NOTES appendix: one namespace's dump (lo noqueue; v1 = 2: htb 1: with tbf 10: at
    // 1:10; v0 = 3: tbf 1: rate 10mbit burst 10kb limit 30000), then DONE.
    let hex = ["lo noqueue", "v1 htb 1:", "v1 tbf 10: @1:10", "v0 tbf 1:", "DONE"].map { notesCaptures[$0]! }.joined()
    let messages = try Message.decodeAll(bytes(fromHex: hex))
    #expect(messages.count == 5)
    #expect(messages.last?.header.type == MessageType.done)
    let q = try messages.dropLast().map { QdiscInfo(try QdiscMessage(decoding: $0.payload[...])) }
    #expect(q.map(\.kind) == ["noqueue", "htb", "tbf", "tbf"])
    #expect(q.map(\.index) == [1, 2, 2, 3])
    #expect(q.map(\.handle) == [.unspecified, TCHandle(major: 1), TCHandle(major: 0x10), TCHandle(major: 1)])
    #expect(q.map(\.parent) == [.root, .root, TCHandle(major: 1, minor: 0x10), .root])
    #expect(q.map(\.isDefault) == [true, false, false, false])
    #expect(q[0].info == 2 && q[3].info == 3)  // refcounts
    // Stats (STATS2, STATS) and HW_OFFLOAD are kept, in order.
    #expect(q[3].unknown.map(\.type) == [12, 7, 3])
    #expect(q[0].netem == nil && q[0].tbf == nil)

    let v0 = try #require(q[3].tbf)
    #expect(v0.rate == RateSpec(cellLog: 0, linkLayer: 1, overhead: 0, cellAlign: 0, mpu: 0, rate: 1_250_000))
    #expect(v0.rateBytesPerSecond == 1_250_000 && v0.limit == 30000 && v0.buffer == 128_000 && v0.burst == nil)
    #expect(v0.peakRate == .none && v0.rate64 == nil && v0.unknown.isEmpty)
    // No BURST in a dump: the buffer (128 000 ticks = 8.192 ms at 1.25 MB/s) is exactly 10 240 bytes.
    #expect(v0.burstRange == 10240...10240)

    let child = try #require(q[2].tbf)
    #expect(child.rateBytesPerSecond == 125_000 && child.limit == 30000 && child.buffer == 1_280_000)
    #expect(child.burstRange == 10240...10240)
    // Re-encoding the decoded PARMS gives the kernel's bytes back.
    #expect(child.optionsPayload() == q[2].options)
}

@Test func burstFromTicksFollowsTheKernelsArithmetic() {
    // 10 mbit: mult/shift give exactly 800 ns per byte; one tick (64 ns) is 0.08 bytes.
    let r10 = KernelRate(bytesPerSecond: 1_250_000)
    #expect(r10.nanoseconds(forBytes: 10240) == 8_192_000)
    #expect(r10.ticks(forBytes: 10240) == 128_000)
    #expect(r10.byteRange(forTicks: 128_000) == 10240...10240)
    // 100 gbit (TC-LINKS §4): 1 MiB → 1310 ticks; every burst of those ticks is ~800 bytes wide,
    // and 1 MiB is among them.
    let r100g = KernelRate(bytesPerSecond: 12_500_000_000)
    #expect(r100g.ticks(forBytes: 1 << 20) == 1310)
    let range = r100g.byteRange(forTicks: 1310)!
    #expect(range.contains(1 << 20) && range.count >= 790 && range.count <= 810)
    // Rate 0 (tbf accepts it): the kernel keeps mult 1, shift 0, i.e. 1 ns per byte.
    #expect(KernelRate(bytesPerSecond: 0).byteRange(forTicks: 5) == 320...383)
}

@Test func netemDecodesItsOwnEncodingAndKeepsUnknown() throws {
    var n = Netem(delay: 40 * ms, jitter: 1 * ms, loss: pct(2), duplicate: pct(0.5), reorder: pct(10), corrupt: pct(0.1),
                  rateBytesPerSecond: 6_250_000_000, limit: 2000)
    n.lossModel = .gilbertIntuitive(p13: 1, p31: 2, p32: 3, p14: 4, p23: 5)
    n.prngSeed = 7
    n.delayDistribution = [1, 0, 2, 0]
    n.unknown = [RawAttribute(type: 99, payload: [1, 2, 3, 4])]
    let decoded = try Netem(options: n.optionsPayload())
    #expect(decoded == n)
    #expect(decoded.rateBytesPerSecond == 6_250_000_000 && decoded.rate?.rate == .max)
    #expect(decoded.delayNanoseconds == 40 * ms && decoded.jitterNanoseconds == 1 * ms)
    #expect(decoded.effectiveReorder == pct(10))
    // Ticks only (tc 6.1): the kernel's ns are ticks × 64.
    #expect(Netem(latencyTicks: 156_250).delayNanoseconds == 10 * ms)
    // A gap without REORDER reorders every gap-th packet (probability 100%).
    #expect(Netem(gap: 5).effectiveReorder == .max)
    // Short qopt: an error, not a trap.
    #expect(throws: NetlinkError.self) { _ = try Netem(options: [1, 2, 3]) }
    #expect(throws: NetlinkError.self) { _ = try TBF(options: [4, 0, 9, 0]) }
}

@Test func capturedNetemDumpDecodes() throws {
    // UML 6.1's dump (umlNetemDump): lo noqueue; v0 netem 1: with everything; v1 netem 1: with a
    // rate and tbf 10: below it at 1:1.
    let q = try Message.decodeAll(bytes(fromHex: umlNetemDump)).filter { $0.header.type == TrafficControlConstants.newQdisc }
        .map { QdiscInfo(try QdiscMessage(decoding: $0.payload[...])) }
    #expect(q.map(\.kind) == ["noqueue", "netem", "netem", "tbf"])
    let full = try #require(q[1].netem)
    // The dump always carries LATENCY64/JITTER64 (ns) beside the ticks, CORR, REORDER, CORRUPT
    // and RATE (and, from 6.3 on, a PRNG seed: not in 6.1's).
    #expect(full.latency == 100 * ms && full.jitter == 10 * ms && full.latencyTicks == 1_562_500 && full.jitterTicks == 156_250)
    #expect(full.limit == 5000 && full.loss == pct(0.5) && full.duplicate == pct(1) && full.gap == 1)
    #expect(full.correlation == .init(delay: pct(25), loss: pct(10), duplicate: 0))
    #expect(full.reorder == .init(probability: pct(25), correlation: pct(50)))
    #expect(full.corrupt == .init(probability: pct(0.1), correlation: 0))
    #expect(full.rate == .init(rate: 0) && full.rate64 == nil && full.ecn == nil && full.slot == nil && full.lossModel == nil)
    #expect(full.prngSeed == nil && full.unknown.isEmpty)
    let rated = try #require(q[2].netem)
    #expect(rated.delayNanoseconds == 20 * ms && rated.rateBytesPerSecond == 1_250_000 && rated.limit == 1000)
    #expect(rated.effectiveReorder == 0 && rated.correlation == .init())
    #expect(q[3].parent == TCHandle(major: 1, minor: 1) && q[3].handle == TCHandle(major: 0x10))
    let t = try #require(q[3].tbf)
    #expect(t.rateBytesPerSecond == 1_250_000 && t.limit == 78884 && t.burstRange == 16384...16384)
}
