import Testing
import TopoLanguage
@testable import TopoKernel

@Suite struct IcmpTests {
    @Test func checksumOfAKnownEchoRequest() {
        // type 8, code 0, checksum 0, id 0x1234, seq 1: words 0x0800 + 0x1234 + 0x0001 = 0x1a35.
        #expect(internetChecksum([8, 0, 0, 0, 0x12, 0x34, 0, 1]) == 0xe5ca)
        // An odd length pads with a zero byte: 0x0102 + 0x0300 = 0x0402.
        #expect(internetChecksum([1, 2, 3]) == 0xfbfd)
        // Carries fold back in: 0xffff + 0x0001 = 0x1_0000 -> 0x0001.
        #expect(internetChecksum([0xff, 0xff, 0, 1]) == 0xfffe)
    }

    @Test func v4RequestCarriesAValidChecksumAndItsIdentifiers() {
        let p = icmpEchoRequest(v6: false, identifier: 0xbeef, sequence: 0x0102)
        #expect(Array(p[0..<2]) == [8, 0])
        #expect(Array(p[4..<8]) == [0xbe, 0xef, 0x01, 0x02])
        #expect(internetChecksum(p) == 0)   // a correct checksum sums to zero
    }

    @Test func v6RequestLeavesTheChecksumToTheKernel() {
        let p = icmpEchoRequest(v6: true, identifier: 7, sequence: 9)
        #expect(Array(p[0..<8]) == [128, 0, 0, 0, 0, 7, 0, 9])
    }

    /// A v4 reply as a raw socket returns it: 20-byte IP header, then ICMP.
    static func v4Reply(type: UInt8, id: UInt16, seq: UInt16, ihl: UInt8 = 5) -> [UInt8] {
        var ipHeader = [UInt8](repeating: 0, count: Int(ihl) * 4)
        ipHeader[0] = 0x40 | ihl
        return ipHeader + [type, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff), 1, 2]
    }

    @Test("echo reply matching", arguments: [
        (v4Reply(type: 0, id: 0x1234, seq: 3), false, UInt16?.some(3)),
        (v4Reply(type: 0, id: 0x1234, seq: 0x0100, ihl: 6), false, UInt16?.some(0x0100)),  // IP options
        (v4Reply(type: 8, id: 0x1234, seq: 3), false, nil),        // our own request looped back
        (v4Reply(type: 0, id: 0x4321, seq: 3), false, nil),        // someone else's ping
        (Array(v4Reply(type: 0, id: 0x1234, seq: 3).prefix(24)), false, nil),  // truncated
        ([0x60] + [UInt8](repeating: 0, count: 30), false, nil),   // not IPv4
        ([129, 0, 0, 0, 0x12, 0x34, 0, 5], true, UInt16?.some(5)),
        ([128, 0, 0, 0, 0x12, 0x34, 0, 5], true, nil),
        ([129, 0, 0, 0, 0x12, 0x35, 0, 5], true, nil),
        ([129, 0, 0], true, nil),
        ([], true, nil),
    ] as [([UInt8], Bool, UInt16?)])
    func replies(_ packet: [UInt8], _ v6: Bool, _ expected: UInt16?) {
        #expect(echoReplySequence(packet[...], v6: v6, identifier: 0x1234) == expected)
    }
}

@Suite struct RouteDeviceTests {
    static let st = LiveNamespace(
        links: [LiveLink(name: "eth0", index: 2, kind: "veth"), LiveLink(name: "eth1", index: 3, kind: "veth"),
                LiveLink(name: "eth2", index: 4, kind: "veth")],
        addresses: [LinkAddress(link: "eth0", prefix: pfx("10.0.1.1/24")),
                    LinkAddress(link: "eth0", prefix: pfx("fd00:1::1/64")),
                    LinkAddress(link: "eth1", prefix: pfx("10.0.2.1/24")),
                    LinkAddress(link: "eth2", prefix: pfx("10.0.2.9/24"))])

    @Test("is `dev` needed to rebuild the route?", arguments: [
        (RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.1.254"), device: "eth0"), false),
        (RouteSpec(destination: pfx("fd00:9::/64"), gateway: ip("fd00:1::2"), device: "eth0"), false),
        // The gateway is on a network of another device than the one the route uses.
        (RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.1.254"), device: "eth1"), true),
        // Two devices hold that network: the kernel could pick either.
        (RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.2.254"), device: "eth1"), true),
        // Not on any connected network (onlink), link-local, or no gateway at all.
        (RouteSpec(destination: .any(.ipv4), gateway: ip("192.0.2.1"), device: "eth0"), true),
        (RouteSpec(destination: .any(.ipv6), gateway: ip("fe80::1"), device: "eth0"), true),
        (RouteSpec(destination: pfx("10.9.0.0/16"), device: "eth0"), true),
        (RouteSpec(destination: pfx("10.9.0.0/16"), gateway: ip("10.0.1.254")), false),
    ] as [(RouteSpec, Bool)])
    func needsDevice(_ r: RouteSpec, _ expected: Bool) {
        #expect(routeNeedsDevice(r, Self.st) == expected)
    }

    @Test func showListsAddressesAddedToLoButNotItsOwn() {
        var all: [String: LiveNamespace] = [:]
        all["r"] = LiveNamespace(links: [LiveLink(name: "lo", index: 1, kind: nil, mtu: 65536, up: true)],
                                 addresses: [LinkAddress(link: "lo", prefix: pfx("127.0.0.1/8")),
                                             LinkAddress(link: "lo", prefix: pfx("::1/128")),
                                             LinkAddress(link: "lo", prefix: pfx("10.255.0.2/32")),
                                             LinkAddress(link: "lo", prefix: pfx("fd00:ff::2/128"))])
        let d = LiveTopology(namespaces: ["r"], raw: all).declarations()
        let lo = InterfaceRef(namespace: Located("r", at: .none), name: Located("lo", at: .none))
        #expect(d == [.namespace(Located("r", at: .none), placed: []),
                      .address(lo, [Located(pfx("10.255.0.2/32"), at: .none), Located(pfx("fd00:ff::2/128"), at: .none)])])
    }
}
