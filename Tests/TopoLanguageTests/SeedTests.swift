import Testing
@testable import TopoLanguage

/// The scenarios of LANGUAGE.md §1 evaluate to exactly these declarations (ranges included).
struct SeedTests {
    func L(_ t: String, _ s: String, _ l: Int, _ c: Int) -> Located<String> { Located(s, at: R(t, l, c, s.utf8.count)) }

    @Test func twoNamespacesJoinedByVeth() {
        let t = """
        # two namespaces joined by a veth pair
        ns ns0
        ns ns1
        veth ns0:veth0 <-> ns1:veth1
        addr ns0:veth0 10.0.1.1/24
        addr ns1:veth1 10.0.1.2/24
        ping ns1 10.0.1.1            # checked after apply: fails the run if unreachable
        """
        let r = run(t)
        #expect(r.diagnostics.isEmpty)
        let expected: [Statement] = [
            Statement(.namespace(L(t, "ns0", 2, 4), placed: []), at: R(t, 2, 1, 6)),
            Statement(.namespace(L(t, "ns1", 3, 4), placed: []), at: R(t, 3, 1, 6)),
            Statement(.veth(InterfaceRef(namespace: L(t, "ns0", 4, 6), name: L(t, "veth0", 4, 10)),
                            InterfaceRef(namespace: L(t, "ns1", 4, 20), name: L(t, "veth1", 4, 24)), mtu: nil),
                      at: R(t, 4, 1, 28)),
            Statement(.address(InterfaceRef(namespace: L(t, "ns0", 5, 6), name: L(t, "veth0", 5, 10)),
                               [Located(IPPrefix(address: .v4(0x0A00_0101), length: 24), at: R(t, 5, 16, 11))]),
                      at: R(t, 5, 1, 26)),
            Statement(.address(InterfaceRef(namespace: L(t, "ns1", 6, 6), name: L(t, "veth1", 6, 10)),
                               [Located(IPPrefix(address: .v4(0x0A00_0102), length: 24), at: R(t, 6, 16, 11))]),
                      at: R(t, 6, 1, 26)),
            Statement(.ping(namespace: L(t, "ns1", 7, 6), address: Located(.v4(0x0A00_0101), at: R(t, 7, 10, 8)),
                            count: nil), at: R(t, 7, 1, 17)),
        ]
        #expect(r.statements == expected)
    }

    @Test func designCardForm() {
        let t = """
        # the same, written the way the design card writes it
        ns ns0 < veth0 >; ns ns1 < veth1 >
        veth veth0 <-> veth1
        addr veth0 10.0.1.1/24; addr veth1 10.0.1.2/24
        """
        let r = run(t)
        #expect(r.diagnostics.isEmpty)
        let expected: [Statement] = [
            Statement(.namespace(L(t, "ns0", 2, 4), placed: [InterfaceRef(name: L(t, "veth0", 2, 10))]), at: R(t, 2, 1, 16)),
            Statement(.namespace(L(t, "ns1", 2, 22), placed: [InterfaceRef(name: L(t, "veth1", 2, 28))]), at: R(t, 2, 19, 16)),
            Statement(.veth(InterfaceRef(name: L(t, "veth0", 3, 6)), InterfaceRef(name: L(t, "veth1", 3, 16)), mtu: nil),
                      at: R(t, 3, 1, 20)),
            Statement(.address(InterfaceRef(name: L(t, "veth0", 4, 6)),
                               [Located(IPPrefix(address: .v4(0x0A00_0101), length: 24), at: R(t, 4, 12, 11))]),
                      at: R(t, 4, 1, 22)),
            Statement(.address(InterfaceRef(name: L(t, "veth1", 4, 30)),
                               [Located(IPPrefix(address: .v4(0x0A00_0102), length: 24), at: R(t, 4, 36, 11))]),
                      at: R(t, 4, 25, 22)),
        ]
        #expect(r.statements == expected)
    }

    @Test func threeNamespacesOnABridge() {
        let t = """
        # three namespaces on a bridge in the host namespace
        bridge br0 < p1 p2 p3 >          # order does not matter: p1..p3 are declared below
        addr br0 10.0.0.254/24
        for i in 1..3 {
          ns h{i}
          veth h{i}:eth0 <-> p{i}
          addr h{i}:eth0 10.0.0.{i}/24
          ping h{i} 10.0.0.254
        }
        """
        let r = run(t)
        #expect(r.diagnostics.isEmpty)
        var expected: [Statement] = [
            Statement(.bridge(InterfaceRef(name: L(t, "br0", 2, 8)),
                              ports: [InterfaceRef(name: L(t, "p1", 2, 14)), InterfaceRef(name: L(t, "p2", 2, 17)),
                                      InterfaceRef(name: L(t, "p3", 2, 20))], mtu: nil), at: R(t, 2, 1, 23)),
            Statement(.address(InterfaceRef(name: L(t, "br0", 3, 6)),
                               [Located(IPPrefix(address: .v4(0x0A00_00FE), length: 24), at: R(t, 3, 10, 13))]),
                      at: R(t, 3, 1, 22)),
        ]
        for i in 1...3 {
            let h = Located("h\(i)", at: R(t, 5, 6, 4))
            expected.append(Statement(.namespace(h, placed: []), at: R(t, 5, 3, 7)))
            expected.append(Statement(.veth(InterfaceRef(namespace: Located("h\(i)", at: R(t, 6, 8, 4)), name: L(t, "eth0", 6, 13)),
                                            InterfaceRef(name: Located("p\(i)", at: R(t, 6, 22, 4))), mtu: nil),
                                      at: R(t, 6, 3, 23)))
            expected.append(Statement(.address(InterfaceRef(namespace: Located("h\(i)", at: R(t, 7, 8, 4)), name: L(t, "eth0", 7, 13)),
                                               [Located(IPPrefix(address: .v4(0x0A00_0000 + UInt32(i)), length: 24), at: R(t, 7, 18, 13))]),
                                      at: R(t, 7, 3, 28)))
            expected.append(Statement(.ping(namespace: Located("h\(i)", at: R(t, 8, 8, 4)),
                                            address: Located(.v4(0x0A00_00FE), at: R(t, 8, 13, 10)), count: nil),
                                      at: R(t, 8, 3, 20)))
        }
        #expect(r.statements == expected)
    }
}
