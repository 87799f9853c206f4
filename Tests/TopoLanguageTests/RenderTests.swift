import Testing
@testable import TopoLanguage

/// A small plan covering most operation kinds.
let smallPlanSource = """
ns a
bridge a:br0 < x >
veth a:x <-> y mtu 1400
addr a:br0 10.0.0.1/24
addr y fd00::2/64
route a default via 10.0.0.9 metric 5
down y
forward a
exec a "echo 'hi' there"
ping host fd00::1 count 2
"""

@Test func textRendering() {
    let text = renderPlan(plan(smallPlanSource, file: "lab.topo"), as: .text, source: nil)
    #expect(text == """
    plan for lab.topo: 15 operations, then 2 actions after apply
     1  add namespace a                                 lab.topo:1
     2  add bridge a:br0                                lab.topo:2
     3  add veth a:x <-> host:y                         lab.topo:3
     4  set a:x master br0                              lab.topo:2
     5  set a:x mtu 1400                                lab.topo:3
     6  set host:y mtu 1400                             lab.topo:3
     7  set a:lo up                                     lab.topo:1
     8  set a:br0 up                                    lab.topo:2
     9  set a:x up                                      lab.topo:3
    10  set host:y down                                 lab.topo:7
    11  add address 10.0.0.1/24 to a:br0                lab.topo:4
    12  add address fd00::2/64 to host:y                lab.topo:5
    13  add route default via 10.0.0.9 metric 5 in a    lab.topo:6
    14  set sysctl net.ipv4.ip_forward=1 in a           lab.topo:8
    15  set sysctl net.ipv6.conf.all.forwarding=1 in a  lab.topo:8
    16  after apply: exec in a: "echo 'hi' there"       lab.topo:9
    17  after apply: ping fd00::1 from host, count 2    lab.topo:10

    """)
}

@Test func ipRendering() {
    let script = renderPlan(plan(smallPlanSource, file: "lab.topo"), as: .ip, source: nil)
    #expect(script == """
    #!/bin/sh
    # Built by `topo plan --format ip` from lab.topo: the same topology with iproute2 alone.
    # Run as root. Stops at the first failure.
    set -e
    ip netns add a
    ip -batch - <<'TOPO_EOF'
    link add name y type veth peer name x netns a
    link set dev y mtu 1400
    link set dev y down
    address add fd00::2/64 dev y nodad
    TOPO_EOF
    ip -n a -batch - <<'TOPO_EOF'
    link add name br0 type bridge
    link set dev x master br0
    link set dev x mtu 1400
    link set dev lo up
    link set dev br0 up
    link set dev x up
    address add 10.0.0.1/24 dev br0
    route add 0.0.0.0/0 via 10.0.0.9 metric 5
    TOPO_EOF
    ip netns exec a sysctl -qw net.ipv4.ip_forward=1
    ip netns exec a sysctl -qw net.ipv6.conf.all.forwarding=1
    # exec (topo run --allow-exec runs it): ip netns exec a sh -c 'echo '\\''hi'\\'' there'
    ping -c 2 -W 2 fd00::1 >/dev/null || { echo 'topo: ping fd00::1 from host failed (lab.topo:10)' >&2; exit 1; }

    """)
}

@Test func jsonRendering() {
    let src = "ns a\ndummy a:d\nroute a 10.1.0.0/16 dev d"
    let json = renderPlan(plan(src, file: "j\"son.topo"), as: .json, source: SourceFile(name: "j.topo", text: src))
    #expect(json == """
    {
      "version": 2,
      "file": "j\\"son.topo",
      "operations": [
        {"index": 1, "op": "add-namespace", "namespace": "a", "action": false, "source": {"line": 1, "column": 1, "end_line": 1, "end_column": 5, "text": "ns a"}},
        {"index": 2, "op": "add-dummy", "namespace": "a", "name": "d", "action": false, "source": {"line": 2, "column": 1, "end_line": 2, "end_column": 10, "text": "dummy a:d"}},
        {"index": 3, "op": "set-up", "namespace": "a", "name": "lo", "action": false, "source": {"line": 1, "column": 1, "end_line": 1, "end_column": 5, "text": "ns a"}},
        {"index": 4, "op": "set-up", "namespace": "a", "name": "d", "action": false, "source": {"line": 2, "column": 1, "end_line": 2, "end_column": 10, "text": "dummy a:d"}},
        {"index": 5, "op": "add-route", "namespace": "a", "destination": "10.1.0.0/16", "default": false, "family": "ipv4", "gateway": null, "device": "d", "metric": null, "table": 254, "action": false, "source": {"line": 3, "column": 1, "end_line": 3, "end_column": 26, "text": "route a 10.1.0.0/16 dev d"}}
      ]
    }

    """)
    #expect(renderPlan(Plan(file: "e", steps: []), as: .json, source: nil) == "{\n  \"version\": 2,\n  \"file\": \"e\",\n  \"operations\": []\n}\n")
}

@Test(arguments: [
    ("plain", "\"plain\""),
    ("a\"b", "\"a\\\"b\""),
    ("back\\slash", "\"back\\\\slash\""),
    ("line\nbreak\ttab\r", "\"line\\nbreak\\ttab\\r\""),
    ("\u{01}\u{1f}\u{7f}", "\"\\u0001\\u001f\\u007f\""),
    ("\u{08}\u{0C}", "\"\\b\\f\""),
    ("héllo ✓", "\"héllo ✓\""),
])
func jsonStringEscaping(_ input: String, _ expected: String) {
    #expect(PlanJSON.string(input) == expected)
}

@Test(arguments: [
    ("ns0", "ns0"),
    ("10.0.0.1/24", "10.0.0.1/24"),
    ("", "''"),
    ("a b", "'a b'"),
    ("it's", "'it'\\''s'"),
    ("$(rm -rf /)", "'$(rm -rf /)'"),
    ("`x`;&|<>*?", "'`x`;&|<>*?'"),
    ("\"q\"", "'\"q\"'"),
])
func shellQuoting(_ input: String, _ expected: String) {
    #expect(PlanShell.sh(input) == expected)
}

@Test func batchWordsThatIPCannotCarryRunOutsideTheHeredoc() {
    #expect(PlanShell.batch("eth0") == "eth0")
    #expect(PlanShell.batch("a b") == "\"a b\"")
    #expect(PlanShell.batch("a#b") == nil)
    #expect(PlanShell.batch("a'b") == nil)
    #expect(PlanShell.batch("a\\b") == nil)
    #expect(PlanShell.batch("a\"b") == nil)
    #expect(PlanShell.batch("a\u{7f}") == nil)
    #expect(PlanShell.batch("a\nb") == nil)
    #expect(PlanShell.batch("a\tb") == "\"a\tb\"")
    #expect(PlanShell.batch("") == "\"\"")
    #expect(PlanShell.batch("$x&!%é") == "$x&!%é")
    let lines = PlanShell.renderBlock("n s", [.init(words: ["link", "set", "dev", "a", "up"]),
                                              .init(words: ["link", "set", "dev", "x#1", "up"]),
                                              .init(words: ["link", "set", "dev", "b", "up"])])
    #expect(lines == [
        "ip -n 'n s' -batch - <<'TOPO_EOF'", "link set dev a up", "TOPO_EOF",
        "ip -n 'n s' link set dev 'x#1' up",
        "ip -n 'n s' -batch - <<'TOPO_EOF'", "link set dev b up", "TOPO_EOF",
    ])
}

@Test func emptyPlanText() {
    #expect(renderPlan(Plan(file: "e.topo", steps: []), as: .text, source: nil) == "plan for e.topo: nothing to do\n")
}

@Test func scriptPrinterPrintsCanonicalText() {
    let canonical = """
    ns ns0 < veth0 >
    ns h1
    veth veth0 <-> h1:eth0 mtu 1400
    bridge br0 < p1 p2 >
    bridge br1 < >
    dummy d0
    addr h1:eth0 10.0.0.1/24, fd00::1/64
    up veth0 d0
    down br1
    mtu d0 9000
    route h1 default via 10.0.0.254 dev eth0 metric 10
    route h1 10.2.0.0/16 dev eth0
    forward h1
    sysctl h1 net.ipv4.conf.all.rp_filter = 2
    ping h1 10.0.0.254 count 3
    exec h1 "ip -br addr"

    """
    #expect(ScriptPrinter.print(statements(canonical).map(\.declaration)) == canonical)
}

@Test func scriptPrinterQuotesNamesThatNeedIt() {
    let r = SourceRange.none
    func n(_ s: String) -> Located<String> { Located(s, at: r) }
    let decls: [Declaration] = [
        .namespace(n("ns"), placed: []),
        .namespace(n("my lab"), placed: [InterfaceRef(name: n("eth0.100"))]),
        .dummy(InterfaceRef(namespace: n("default"), name: n("x-")), mtu: Located(1400, at: r)),
        .exec(namespace: n("h{1}"), command: n("echo \"{x}\" \\ done\r\n")),
        .sysctl(namespace: n("a"), key: n("net.ipv4.conf.eth0/100.rp_filter"), value: n("1 2")),
    ]
    #expect(ScriptPrinter.print(decls) == """
    ns "ns"
    ns "my lab" < eth0.100 >
    dummy "default":"x-"
    mtu "default":"x-" 1400
    exec "h\\{1}" "echo \\"\\{x}\\" \\\\ done\\r\\n"
    sysctl a "net.ipv4.conf.eth0/100.rp_filter" = "1 2"

    """)
    #expect(ScriptPrinter.isPlainName("h1-eth0"))
    #expect(!ScriptPrinter.isPlainName("1abc"))
    #expect(!ScriptPrinter.isPlainName("a..b"))
}

@Test(arguments: [0, 7, 9, 10, 99, 100, 65535, -1, -10, Int.max, Int.min])
func byteWriterWritesIntegersAsStringDoes(_ n: Int) {
    var w = ByteWriter()
    w.write(n)
    #expect(w.finish() == String(n))
}

@Test(arguments: ["0.0.0.0/0", "10.0.195.77/30", "255.255.255.255/32", "fd00::1/64", "::/0"])
func byteWriterWritesPrefixesAsDescriptionDoes(_ text: String) throws {
    let p = try #require(IPPrefix(text))
    var w = ByteWriter()
    w.write(p)
    w.write(" ")
    w.write(p.address)
    #expect(w.finish() == "\(p.description) \(p.address.description)")
}
