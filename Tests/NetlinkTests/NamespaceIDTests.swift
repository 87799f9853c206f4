import Foundation
import Glibc
import Testing
@testable import Netlink

// `ip netns list` asks, for each name, the id the current namespace gives it. Captured with
// `strace -f -e trace=sendmsg -xx ip -n a netns list` in a sandbox (iproute2 6.1): it sends no
// NLM_F_ACK (so the comparison uses `extra: []`), the fd was 6, the sequence 0x6b0bc051.
@Test func getNSIDMatchesIproute2ByteForByte() throws {
    let r = try NamespaceIDRequest.get(namespaceFD: 6)
    #expect(r.encoded(sequence: 0x6b0b_c051, extra: []) == [
        28, 0, 0, 0,            // nlmsg_len 28
        0x5a, 0, 0x01, 0,       // RTM_GETNSID, NLM_F_REQUEST
        0x51, 0xc0, 0x0b, 0x6b, // seq
        0, 0, 0, 0,             // pid
        0, 0, 0, 0,             // rtgenmsg: family AF_UNSPEC + 3 pad
        8, 0, 3, 0,             // NETNSA_FD len 8
        6, 0, 0, 0,             //   fd 6
    ])
    // As topo sends it: the same with NLM_F_ACK.
    #expect(r.encoded(sequence: 1)[6] == 0x05)
}

@Test func getNSIDRejectsANegativeFD() {
    #expect(throws: NetlinkError.self) { try NamespaceIDRequest.get(namespaceFD: -1) }
}

@Test("RTM_NEWNSID payloads", arguments: [
    ([0, 0, 0, 0, 8, 0, 1, 0, 3, 0, 0, 0], Int32?.some(3)),
    ([0, 0, 0, 0, 8, 0, 1, 0, 0xff, 0xff, 0xff, 0xff], nil),   // NETNSA_NSID_NOT_ASSIGNED
    ([0, 0, 0, 0], nil),                                       // no NETNSA_NSID at all
    ([0, 0, 0, 0, 8, 0, 2, 0, 7, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0], Int32?.some(0)),
] as [([UInt8], Int32?)])
func newNSIDDecodes(_ payload: [UInt8], _ expected: Int32?) throws {
    #expect(try NamespaceIDRequest.decodeID(payload) == expected)
}

@Test("malformed RTM_NEWNSID payloads throw, never trap", arguments: [
    [UInt8](), [0, 0], [0, 0, 0, 0, 8, 0, 1, 0, 3], [0, 0, 0, 0, 5, 0, 1, 0, 3, 0, 0, 0],
])
func newNSIDRejectsMalformed(_ payload: [UInt8]) {
    #expect(throws: NetlinkError.self) { try NamespaceIDRequest.decodeID(payload) }
}

@Suite(.enabled(if: kernelTestsEnabled, "needs root (runs in an unshare'd net+mount sandbox); set CI=true to force"))
struct NamespaceIDKernelTests {
    /// The id a namespace reports in a veth's IFLA_LINK_NETNSID is the one RTM_GETNSID
    /// returns there for the peer's namespace, and iproute2 agrees (`ip -n n1 netns list-id`).
    @Test func linkNetnsIDIsTheIDGETNSIDReturns() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        for n in ["n1", "n2", "n3"] { try named.create(n) }
        let n1 = try named.open("n1"), n2 = try named.open("n2"), n3 = try named.open("n3")
        let worker = try sandbox.thread.run { try NamespaceThread() }
        // Give n1 an id for n3 first, so n2's id in n1 is not 0.
        let s0 = try sandbox.socket()
        try s0.execute(try LinkRequest.addVeth(name: "x", peer: "y", namespaceFD: n1.fd, peerNamespaceFD: n3.fd))
        try s0.execute(try LinkRequest.addVeth(name: "a", peer: "b", namespaceFD: n1.fd, peerNamespaceFD: n2.fd))
        let s1 = try worker.openSocket(inNamespace: n1.fd)
        let a = try #require(try s1.link(.name("a")))
        let x = try #require(try s1.link(.name("x")))
        let idN2 = try #require(a.linkNetnsID)
        let idN3 = try #require(x.linkNetnsID)
        #expect(idN2 != idN3)
        #expect(try s1.namespaceID(of: n2.fd) == idN2)
        #expect(try s1.namespaceID(of: n3.fd) == idN3)
        // n2 names n1 in its own id space; the sandbox's own namespace has no id in n1.
        let s2 = try worker.openSocket(inNamespace: n2.fd)
        let b = try #require(try s2.link(.name("b")))
        #expect(try s2.namespaceID(of: n1.fd) == b.linkNetnsID)
        let home = try NamespaceFD(path: sandbox.thread.namespacePath("net"))
        #expect(try s1.namespaceID(of: home.fd) == nil)
        let listed = try sandbox.observe(["ip", "-n", "n1", "-j", "netns", "list-id"]).output
        #expect(listed.contains("\"nsid\":\(idN2)") && listed.contains("\"nsid\":\(idN3)"))
    }
}
