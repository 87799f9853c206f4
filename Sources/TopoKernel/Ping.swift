import CNetShim
import Glibc
import TopoLanguage

// ICMP echo from inside a namespace: one raw socket per call, run on a thread that is
// already inside the namespace (the namespace thread, or one of `pingMany`'s threads).

/// Seconds on the monotonic clock.
func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// An ICMP echo request: type 8 (v4) or 128 (v6), identifier, sequence, a short payload. The
/// v4 checksum is filled in; for ICMPv6 raw sockets the kernel computes it (it covers the
/// IPv6 pseudo-header, which only the kernel knows fully).
func icmpEchoRequest(v6: Bool, identifier: UInt16, sequence: UInt16) -> [UInt8] {
    var pkt: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                        UInt8(sequence >> 8), UInt8(sequence & 0xff)]
    pkt += Array("topo-ping".utf8)
    if !v6 {
        let c = internetChecksum(pkt)
        pkt[2] = UInt8(c >> 8)
        pkt[3] = UInt8(c & 0xff)
    }
    return pkt
}

/// The RFC 1071 checksum (ones' complement of the ones' complement sum of 16-bit words).
func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i < bytes.count {
        sum += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
        i += 2
    }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

/// If `packet` (as a raw socket returns it: with the IPv4 header for v4, without one for v6) is
/// an echo reply carrying `identifier`, its sequence number.
func echoReplySequence(_ packet: ArraySlice<UInt8>, v6: Bool, identifier: UInt16) -> UInt16? {
    let p = Array(packet)
    var off = 0
    if !v6 {
        guard let first = p.first, first >> 4 == 4 else { return nil }
        off = Int(first & 0x0f) * 4
    }
    guard p.count >= off + 8, p[off] == (v6 ? 129 : 0), p[off + 1] == 0 else { return nil }
    guard UInt16(p[off + 4]) << 8 | UInt16(p[off + 5]) == identifier else { return nil }
    return UInt16(p[off + 6]) << 8 | UInt16(p[off + 7])
}

/// ICMP echo over a raw socket, run on a thread already inside the namespace.
///
/// A fresh veth's carrier comes up asynchronously (linkwatch, up to about a second) and
/// packets sent before are dropped; the first ARP/ND resolution may then wait for its next
/// retry. So one request goes out every `interval` (new sequence number each) until `count`
/// distinct ones are answered or `timeout` (plus `interval` per further answer wanted) passes.
/// Only echo replies reach the socket (ICMP_FILTER / ICMP6_FILTER); replies are matched by
/// identifier and by the sequence numbers sent.
func icmpEcho(_ address: IPAddress, count: Int, timeout: Double, interval: Double = 0.2) throws -> PingResult {
    try icmpEchoMany([address], count: count, timeout: timeout, interval: interval)[0]
}

/// `icmpEcho` to several addresses of one family at once, over one raw socket: every
/// `interval`, one request to each target still short of `count` answers, until all have
/// them or the time is up. So pinging N unreachable targets takes one timeout, not N.
/// Each request has its own sequence number, which names its target.
func icmpEchoMany(_ targets: [IPAddress], count: Int, timeout: Double, interval: Double = 0.2) throws -> [PingResult] {
    guard let first = targets.first else { return [] }
    let v6 = first.family == .ipv6
    guard targets.allSatisfy({ $0.family == first.family }) else {
        throw KernelError.failure("icmpEchoMany: targets of both families")
    }
    let s = Glibc.socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                         v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP))
    guard s >= 0 else { throw KernelError.errno(errno) }
    defer { close(s) }
    if v6 {
        // ICMP6_FILTER (1) at level IPPROTO_ICMPV6: a set bit blocks that type. Pass 129 only.
        var filter = [UInt32](repeating: .max, count: 8)
        filter[129 >> 5] &= ~(UInt32(1) << UInt32(129 & 31))
        _ = setsockopt(s, Int32(IPPROTO_ICMPV6), 1, &filter, socklen_t(32))
    } else {
        // ICMP_FILTER (1) at level SOL_RAW (255): a set bit blocks that type. Pass 0 only.
        var mask: UInt32 = ~UInt32(1)
        _ = setsockopt(s, 255, 1, &mask, socklen_t(4))
    }
    let saLen = socklen_t(v6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    let addrs: [sockaddr_storage] = targets.map { address in
        var sa = sockaddr_storage()
        let b = address.bytes
        withUnsafeMutableBytes(of: &sa) { raw in
            if v6 {
                raw.storeBytes(of: sa_family_t(AF_INET6), toByteOffset: 0, as: sa_family_t.self)
                for i in 0..<16 { raw[8 + i] = b[i] }    // sin6_addr follows family, port, flowinfo
            } else {
                raw.storeBytes(of: sa_family_t(AF_INET), toByteOffset: 0, as: sa_family_t.self)
                for i in 0..<4 { raw[4 + i] = b[i] }     // sin_addr follows family, port
            }
        }
        return sa
    }
    let ident = UInt16(truncatingIfNeeded: getpid() ^ Int32(topo_gettid()))
    let wanted = max(1, count)
    let start = monotonicNow()
    let deadline = start + max(interval, timeout) + interval * Double(wanted - 1)
    var target: [UInt16: Int] = [:]            // sequence number -> target index
    var answered = [Set<UInt16>](repeating: [], count: targets.count)
    var sent = [Int](repeating: 0, count: targets.count)
    var pending = targets.count
    var nextSeq: UInt16 = 1
    var nextSend = start
    var buf = [UInt8](repeating: 0, count: 2048)
    while pending > 0 {
        var now = monotonicNow()
        if now >= deadline { break }
        if now >= nextSend {
            for k in targets.indices where answered[k].count < wanted {
                let pkt = icmpEchoRequest(v6: v6, identifier: ident, sequence: nextSeq)
                var sa = addrs[k]
                let n = withUnsafePointer(to: &sa) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(s, pkt, pkt.count, 0, $0, saLen) }
                }
                if n == pkt.count {
                    sent[k] += 1
                    target[nextSeq] = k
                }   // else (e.g. ENETUNREACH, ENOBUFS): unanswered; try again next interval
                nextSeq &+= 1
                if nextSeq == 0 { nextSeq = 1 }
            }
            nextSend = now + interval
            now = monotonicNow()
        }
        let wait = min(nextSend, deadline) - now
        var pfd = pollfd(fd: s, events: Int16(POLLIN), revents: 0)
        let r = poll(&pfd, 1, Int32(max(1, (wait * 1000).rounded(.up))))
        if r < 0 && errno != EINTR { throw KernelError.errno(errno) }
        if r <= 0 { continue }
        while true {
            let got = recv(s, &buf, buf.count, Int32(MSG_DONTWAIT))
            if got <= 0 { break }
            if let sq = echoReplySequence(buf[0..<got], v6: v6, identifier: ident), let k = target[sq],
               answered[k].count < wanted {
                answered[k].insert(sq)
                if answered[k].count == wanted { pending -= 1 }
            }
        }
    }
    return targets.indices.map { PingResult(sent: sent[$0], received: answered[$0].count) }
}
