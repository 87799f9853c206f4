import Foundation
import Testing
@testable import TopoLanguage

/// Runs `topo plan --format ip` output for the seed scenarios inside a sandbox and reads
/// the result back with `ip -j`. Root only (skipped otherwise); always runs under CI=true.
@Suite(.enabled(if: Sandbox.enabled, "kernel sandbox tests need root (they always run when CI=true)"))
struct RenderKernelTests {
    @Test func bridgeScenarioScriptBuildsTheTopology() throws {
        let script = renderPlan(plan(Scenarios.bridge, file: "bridge.topo"), as: .ip, source: nil)
        let out = try Sandbox.run(script + "echo @@ping13\nip netns exec h1 ping -c 1 -W 2 10.0.0.3 >/dev/null && echo ok\n"
                                  + Sandbox.probe(["host", "h1", "h2", "h3"]))
        #expect(out.status == 0, "stderr: \(out.stderr)")
        let s = out.sections
        let names = Set(Sandbox.objects(s["netns"]).compactMap { $0["name"] as? String })
        #expect(names == ["h1", "h2", "h3"])
        let hostLinks = Sandbox.objects(s["link host"])
        #expect(Sandbox.kind(Sandbox.link(hostLinks, "br0")) == "bridge")
        #expect(Sandbox.isUp(Sandbox.link(hostLinks, "br0")))
        for i in 1...3 {
            let port = Sandbox.link(hostLinks, "p\(i)")
            #expect(Sandbox.kind(port) == "veth")
            #expect(port?["master"] as? String == "br0")
            #expect(Sandbox.isUp(port))
            let links = Sandbox.objects(s["link h\(i)"])
            #expect(Sandbox.isUp(Sandbox.link(links, "lo")))
            #expect(Sandbox.isUp(Sandbox.link(links, "eth0")))
            #expect(Sandbox.kind(Sandbox.link(links, "eth0")) == "veth")
            #expect(Sandbox.addresses(Sandbox.objects(s["addr h\(i)"]), "eth0").contains("10.0.0.\(i)/24"))
        }
        #expect(Sandbox.addresses(Sandbox.objects(s["addr host"]), "br0").contains("10.0.0.254/24"))
        #expect(s["ping13"] == "ok\n")
    }

    @Test func vethPairScenarioScriptBuildsTheTopology() throws {
        let script = renderPlan(plan(Scenarios.vethPair + "\naddr ns0:veth0 fd00::1/64\naddr ns1:veth1 fd00::2/64\nping ns0 fd00::2",
                                     file: "pair.topo"), as: .ip, source: nil)
        let out = try Sandbox.run(script + Sandbox.probe(["ns0", "ns1"]))
        #expect(out.status == 0, "stderr: \(out.stderr)")
        let s = out.sections
        #expect(Set(Sandbox.objects(s["netns"]).compactMap { $0["name"] as? String }) == ["ns0", "ns1"])
        let l0 = Sandbox.objects(s["link ns0"]), l1 = Sandbox.objects(s["link ns1"])
        #expect(Sandbox.isUp(Sandbox.link(l0, "lo")) && Sandbox.isUp(Sandbox.link(l1, "lo")))
        #expect(Sandbox.isUp(Sandbox.link(l0, "veth0")) && Sandbox.isUp(Sandbox.link(l1, "veth1")))
        #expect(Sandbox.kind(Sandbox.link(l0, "veth0")) == "veth")
        #expect(Sandbox.addresses(Sandbox.objects(s["addr ns0"]), "veth0").contains("10.0.1.1/24"))
        #expect(Sandbox.addresses(Sandbox.objects(s["addr ns1"]), "veth1").contains("10.0.1.2/24"))
        #expect(Sandbox.addresses(Sandbox.objects(s["addr ns1"]), "veth1").contains("fd00::2/64"))
    }

    @Test func awkwardNamesSurviveShellAndBatchQuoting() throws {
        // A namespace name with a space and a quote, an interface with `#` (which `ip -batch` cuts at).
        let r = SourceRange.none
        func ref(_ ns: String?, _ n: String) -> InterfaceRef {
            InterfaceRef(namespace: ns.map { Located($0, at: r) }, name: Located(n, at: r))
        }
        let stmts = [
            Statement(.namespace(Located("it's a lab", at: r), placed: []), at: r),
            Statement(.veth(ref("it's a lab", "x#1"), ref(nil, "y\"2"), mtu: Located(1400, at: r)), at: r),
            Statement(.address(ref("it's a lab", "x#1"), [Located(IPPrefix("10.9.0.1/24")!, at: r)]), at: r),
            Statement(.address(ref(nil, "y\"2"), [Located(IPPrefix("10.9.0.2/24")!, at: r)]), at: r),
            Statement(.exec(namespace: Located("it's a lab", at: r), command: Located("echo '$HOME' \"x\" > /dev/null", at: r)), at: r),
            Statement(.ping(namespace: Located("it's a lab", at: r), address: Located(IPAddress("10.9.0.2")!, at: r), count: nil), at: r),
        ]
        let result = check(stmts)
        #expect(!result.diagnostics.hasErrors, "\(result.diagnostics)")
        let script = renderPlan(makePlan(result.topology, file: "odd.topo"), as: .ip, source: nil)
        let out = try Sandbox.run(script + "echo @@links\nip -n \"it's a lab\" -br link\n")
        #expect(out.status == 0, "stderr: \(out.stderr)\n\(script)")
        #expect(out.sections["links"]?.contains("x#1") ?? false)
    }
}
