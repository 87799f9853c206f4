import Testing
@testable import Netlink

func bytes(fromHex hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { $0 != 0x0a && $0 != 0x20 })
    var out: [UInt8] = []
    var i = 0
    while i + 1 < digits.count {
        let pair = String(decoding: digits[i...(i + 1)], as: UTF8.self)
        out.append(UInt8(pair, radix: 16) ?? 0)
        i += 2
    }
    return out
}

struct ExpectedLink: Sendable, CustomTestStringConvertible {
    let index: Int32, name: String, kind: String?, mtu: UInt32, master: Int32?, peer: Int32?, group: UInt32, up: Bool
    var testDescription: String { name }
}

// What `ip -j -d link show` printed for the same sandbox right after the capture:
// lo 1 (mtu 65536, no linkinfo), vb 2 ("link":"va", veth, 1500), va 3 ("link":"vb", veth,
// 1400, master br0, group 3, UP), br0 4 (bridge, 1400, UP).
let expectedCapturedLinks: [ExpectedLink] = [
    ExpectedLink(index: 1, name: "lo", kind: nil, mtu: 65536, master: nil, peer: nil, group: 0, up: false),
    ExpectedLink(index: 2, name: "vb", kind: "veth", mtu: 1500, master: nil, peer: 3, group: 0, up: false),
    ExpectedLink(index: 3, name: "va", kind: "veth", mtu: 1400, master: 4, peer: 2, group: 3, up: true),
    ExpectedLink(index: 4, name: "br0", kind: "bridge", mtu: 1400, master: nil, peer: nil, group: 0, up: true),
]

@Test func capturedLinkDumpDecodesAsIpShowedIt() throws {
    let messages = try Message.decodeAll(bytes(fromHex: capturedLinkDumpHex))
    #expect(messages.count == 4)
    #expect(messages.allSatisfy { $0.header.type == MessageType.newLink && $0.header.flags.contains(.multi) })
    let links = try messages.map { LinkInfo(try LinkMessage(decoding: $0.payload[...])) }
    #expect(links.count == expectedCapturedLinks.count)
    for (l, e) in zip(links, expectedCapturedLinks) {
        #expect(l.index == e.index)
        #expect(l.name == e.name)
        #expect(l.kind == e.kind)
        #expect(l.mtu == e.mtu)
        #expect(l.masterIndex == e.master)
        #expect(l.peerIndex == e.peer, "\(e.name)")
        #expect(l.group == e.group)
        #expect(l.isUp == e.up, "\(e.name)")
        #expect(l.linkNetnsID == nil)
        // Stats, addresses, qdisc, af-spec… are kept, not dropped.
        #expect(l.unknown.count > 20)
    }
    #expect(links[0].flags & LinkConstants.flagLoopback != 0)
}

@Test func capturedLinkDumpKeepsUnknownAttributesExactly() throws {
    let messages = try Message.decodeAll(bytes(fromHex: capturedLinkDumpHex))
    let modelled: Set<UInt16> = [3, 4, 5, 10, 16, 18, 20, 27, 28, 37]
    for m in messages {
        let raw = try RawAttribute.decode(m.payload[InterfaceInfoHeader.size...])
        let info = LinkInfo(try LinkMessage(decoding: m.payload[...]))
        #expect(info.unknown == raw.filter { !modelled.contains($0.type) })
    }
    // `lo` has no IFLA_LINKINFO: decode then encode gives the kernel's bytes exactly.
    // (The kernel NUL-terminates IFLA_INFO_KIND, "veth\0"; we encode kinds as iproute2
    // does, without the NUL, so links with a kind re-encode 1–4 bytes shorter.)
    let lo = messages[0]
    #expect(try LinkMessage(decoding: lo.payload[...]).encoded() == lo.payload)
    #expect(Message(header: lo.header, payload: lo.payload).encoded() == Array(bytes(fromHex: capturedLinkDumpHex)[0..<Int(lo.header.length)]))
}

@Test func linkMessageRoundTrip() throws {
    let peer = LinkMessage(attributes: [.netNamespaceFD(9), .name("p")])
    let m = LinkMessage(header: InterfaceInfoHeader(index: 7, flags: 0x1003, change: 1), attributes: [
        .name("x1"), .mtu(9000), .link(12), .master(3), .operState(6), .group(42), .linkNetnsID(-1), .alias("uplink"),
        .linkInfo([.kind("veth"), .vethPeer(peer)]),
        .unknown(type: 0x7777, bytes: [1, 2, 3]),
        .linkInfo([.kind("bridge"), .data([5, 0, 9, 0, 1, 0, 0, 0]), .slaveKind("bridge"), .unknown(type: 99, bytes: [])]),
    ])
    #expect(try LinkMessage(decoding: m.encoded()[...]) == m)
}

@Test func addressAndRouteMessagesRoundTrip() throws {
    let a = AddressMessage(header: InterfaceAddressHeader(family: 10, prefixLength: 64, flags: 0x80, scope: 0, index: 5),
                           attributes: [.address([UInt8](repeating: 0xfe, count: 16)), .flags(0x280), .label("eth0"),
                                        .unknown(type: 6, bytes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])])
    #expect(try AddressMessage(decoding: a.encoded()[...]) == a)
    let r = RouteMessage(header: RouteHeader(family: 2, destinationLength: 24, table: 254, protocol: 2, scope: 253, type: 1),
                         attributes: [.table(254), .destination([10, 0, 0, 0]), .preferredSource([10, 0, 0, 1]),
                                      .outputInterface(2), .priority(100), .gateway([10, 0, 0, 9]), .unknown(type: 20, bytes: [1])])
    #expect(try RouteMessage(decoding: r.encoded()[...]) == r)
    let info = RouteInfo(r)
    #expect(info.destination == [10, 0, 0, 0] && info.table == 254 && info.gateway == [10, 0, 0, 9])
    #expect(info.unknown == [RawAttribute(type: 20, payload: [1])])
}

@Test func addressInfoPrefersIFA_FLAGSAndLocal() throws {
    let m = AddressMessage(header: InterfaceAddressHeader(family: 2, prefixLength: 24, flags: 0x80, index: 3),
                           attributes: [.address([10, 0, 0, 2]), .local([10, 0, 0, 1]), .flags(0x40 | 0x80)])
    let info = AddressInfo(m)
    #expect(info.primary == [10, 0, 0, 1])
    #expect(info.isTentative)
}

@Test func knownAttributeOfWrongSizeIsKeptAsUnknown() throws {
    // IFLA_MTU with 2 bytes instead of 4.
    let payload: [UInt8] = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 4, 0, 0xdc, 0x05, 0, 0]
    let m = try LinkMessage(decoding: payload[...])
    #expect(m.attributes == [.unknown(type: 4, bytes: [0xdc, 0x05])])
    #expect(m.encoded() == payload)
}

@Test("malformed input throws, never traps", arguments: [
    [UInt8](),                                        // no ifinfomsg
    [0, 0, 0, 0, 1, 0, 0, 0],                          // short ifinfomsg
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0],     // attribute length 2 < 4
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 3, 0], // attribute runs past the end
])
func malformedLinkMessages(_ payload: [UInt8]) {
    #expect(throws: NetlinkError.self) { _ = try LinkMessage(decoding: payload[...]) }
}

@Test func malformedDatagramThrows() {
    // nlmsg_len 100 but only 20 bytes.
    let d: [UInt8] = [100, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(throws: NetlinkError.self) { _ = try Message.decodeAll(d) }
    let tooSmall: [UInt8] = [4, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    #expect(throws: NetlinkError.self) { _ = try Message.decodeAll(tooSmall) }
}

@Test func errorReplyCarriesExtendedAckText() throws {
    // NLMSG_ERROR, flags CAPPED|ACK_TLVS, error -17, echoed header, NLMSGERR_ATTR_MSG.
    var w = ByteWriter()
    let text = cStringBytes("ipv4: Address already assigned")
    let attr = RawAttribute(type: 1, payload: text)
    let payloadLength = 4 + 16 + nlAlign(4 + text.count)
    MessageHeader(length: UInt32(16 + payloadLength), type: 2, flags: [.capped, .ackTLVs], sequence: 9).encode(into: &w)
    w.i32(-17)
    MessageHeader(length: 40, type: 20, flags: [.request, .ack], sequence: 9).encode(into: &w)
    attr.encode(into: &w)
    let m = try #require(try Message.decodeAll(w.bytes).first)
    let e = try #require(try m.errorReply())
    #expect(e == .kernel(errno: 17, message: "ipv4: Address already assigned"))
    #expect(e.description == "File exists (ipv4: Address already assigned)")
    #expect(e.errnoText == "File exists")
}

@Test func sysctlKeysMapToProcSys() throws {
    #expect(try Sysctl.path(for: "net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward")
    #expect(try Sysctl.path(for: "net/ipv4/conf/eth0.5/forwarding") == "/proc/sys/net/ipv4/conf/eth0.5/forwarding")
    #expect(throws: NetlinkError.self) { _ = try Sysctl.path(for: "net..x") }
    #expect(throws: NetlinkError.self) { _ = try Sysctl.path(for: "net/../../etc") }
    #expect(throws: NetlinkError.self) { _ = try NamedNamespaces.validate("a/b") }
    #expect(throws: NetlinkError.self) { _ = try NamedNamespaces.validate("..") }
}
