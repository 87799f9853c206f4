import Testing
@testable import TopoLanguage

struct IPAddressTests {
    static let roundTrip: [(String, String?)] = [
        ("10.0.1.1", "10.0.1.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("256.0.0.1", nil),
        ("10.0.1", nil),
        ("10.0.01.1", nil),
        ("1.2.3.4.5", nil),
        ("1.2.3.", nil),
        (".1.2.3", nil),
        ("1..2.3", nil),
        ("1.2.3.1000", nil),
        ("1.2.3.00", nil),
        ("0.0.0.010", nil),
        ("1.2.3.+4", nil),
        ("1.2.3.٤", nil),
        ("::ffff:1.2.3.04", nil),
        ("::", "::"),
        ("::1", "::1"),
        ("fd00::1", "fd00::1"),
        ("FD00:0:0:0:0:0:0:1", "fd00::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8::", "2001:db8::"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("::ffff:1.2.3.4", "::ffff:102:304"),
        ("1::2::3", nil),
        (":::1", nil),
        ("1:2:3:4:5:6:7", nil),
        ("1:2:3:4:5:6:7:8:9", nil),
        ("12345::1", nil),
        ("1:2:3:4:5:6:7:", nil),
        ("g::1", nil),
        ("", nil),
    ]

    @Test(arguments: roundTrip)
    func addressParsePrint(_ text: String, _ printed: String?) {
        #expect(IPAddress(text)?.description == printed)
    }

    static let prefixes: [(String, String?)] = [
        ("10.0.1.1/24", "10.0.1.1/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("10.0.0.0/32", "10.0.0.0/32"),
        ("10.0.0.0/33", nil),
        ("10.0.0.0/", nil),
        ("10.0.0.0/-1", nil),
        ("10.0.0.0/+8", nil),
        ("10.0.0.0/0008", nil),
        ("10.0.0.0/8/8", nil),
        ("10.0.0.0/08", "10.0.0.0/8"),
        ("/8", nil),
        ("fd00::1/64", "fd00::1/64"),
        ("fd00::/129", nil),
        ("::/0", "::/0"),
        ("10.0.0.0", nil),
    ]

    @Test(arguments: prefixes)
    func prefixParsePrint(_ text: String, _ printed: String?) {
        #expect(IPPrefix(text)?.description == printed)
    }

    static let hosts: [(String, Int, String?)] = [
        ("10.0.0.0/24", 5, "10.0.0.5/24"),
        ("10.0.0.77/24", 5, "10.0.0.5/24"),
        ("10.0.0.0/24", 255, "10.0.0.255/24"),
        ("10.0.0.0/24", 256, nil),
        ("10.0.0.0/24", -1, "10.0.0.255/24"),
        ("10.0.0.0/24", -256, "10.0.0.0/24"),
        ("10.0.0.0/24", -257, nil),
        ("0.0.0.0/0", 4294967295, "255.255.255.255/0"),
        ("0.0.0.0/0", 4294967296, nil),
        ("10.0.0.1/32", 0, "10.0.0.1/32"),
        ("10.0.0.1/32", 1, nil),
        ("fd00::/64", 1, "fd00::1/64"),
        ("fd00::/64", Int.max, "fd00::7fff:ffff:ffff:ffff/64"),
        ("fd00::/120", 256, nil),
        ("fd00::/120", -1, "fd00::ff/120"),
    ]

    @Test(arguments: hosts)
    func host(_ p: String, _ n: Int, _ expected: String?) {
        #expect(IPPrefix(p)!.host(n)?.description == expected)
    }

    static let subnets: [(String, Int, Int, String?)] = [
        ("10.0.0.0/16", 8, 3, "10.0.3.0/24"),
        ("10.0.0.0/16", 8, 255, "10.0.255.0/24"),
        ("10.0.0.0/16", 8, 256, nil),
        ("10.0.0.0/16", 16, 1, "10.0.0.1/32"),
        ("10.0.0.0/16", 17, 0, nil),
        ("10.5.6.7/16", 0, 0, "10.5.0.0/16"),
        ("10.0.0.0/8", 4, 15, "10.240.0.0/12"),
        ("fd00::/48", 16, 5, "fd00:0:0:5::/64"),
        ("::/0", 64, 1, "0:0:0:1::/64"),
        ("::/0", 128, 1, "::1/128"),
        ("fd00::/64", 64, Int.max, "fd00::7fff:ffff:ffff:ffff/128"),
        ("10.0.0.0/16", -1, 0, nil),
        ("10.0.0.0/16", 8, -1, nil),
    ]

    @Test(arguments: subnets)
    func subnet(_ p: String, _ bits: Int, _ n: Int, _ expected: String?) {
        #expect(IPPrefix(p)!.subnet(newBits: bits, number: n)?.description == expected)
    }

    @Test func bytesRoundTrip() {
        for t in ["10.1.2.3", "fd00::1:2", "::"] {
            let a = IPAddress(t)!
            #expect(IPAddress(bytes: a.bytes) == a)
        }
    }
}
