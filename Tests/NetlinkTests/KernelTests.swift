import Foundation
import Glibc
import Testing
@testable import Netlink
import CNetShim

@Suite("kernel (root, in throwaway namespaces)",
       .enabled(if: kernelTestsEnabled, "needs root (runs in an unshare'd net+mount sandbox); set CI=true to force"),
       .serialized)
struct KernelTests {

    // First: its timing is only meaningful before other tests' sandboxes are being torn
    // down (the kernel's asynchronous netns cleanup slows creation ~50x meanwhile).
    @Test func hundredNamedNamespacesAndSysctlInside() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        let t0 = now()
        for i in 0..<100 { try named.create("ns\(i)") }
        let t1 = now()
        #expect(try named.list().count == 100)
        let listed = try sandbox.observe(["ip", "netns", "list"]).output
        #expect(listed.contains("ns0") && listed.contains("ns99"))
        // sysctl inside ns7, read back by `ip netns exec ns7 sysctl`.
        let ns7 = try named.open("ns7")
        let worker = try sandbox.thread.run { try NamespaceThread() }
        #expect(try worker.readSysctl(key: "net.ipv4.ip_forward", inNamespace: ns7.fd) == "0")
        try worker.writeSysctl(key: "net.ipv4.ip_forward", value: "1", inNamespace: ns7.fd)
        let seen = try sandbox.observe(["ip", "netns", "exec", "ns7", "sysctl", "-n", "net.ipv4.ip_forward"])
        #expect(seen.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try worker.readSysctl(key: "net.ipv4.ip_forward", inNamespace: ns7.fd) == "1")
        // Other namespaces and the sandbox itself are untouched.
        #expect(try sandbox.observe(["ip", "netns", "exec", "ns8", "sysctl", "-n", "net.ipv4.ip_forward"]).output.hasPrefix("0"))
        #expect(try worker.run { try Sysctl.read(key: "net.ipv4.ip_forward") } == "0")
        let t2 = now()
        for i in 0..<100 { try named.delete("ns\(i)") }
        let t3 = now()
        #expect(try named.list().isEmpty)
        print("TIMING namespaces: 100 created in \(Int((t1 - t0) * 1000)) ms (\(String(format: "%.2f", (t1 - t0) * 10)) ms each); 100 deleted in \(String(format: "%.1f", (t3 - t2) * 1000)) ms")
    }

    /// Many namespaces are deleted by helper threads at once; they must act in the sandbox's
    /// mount namespace (helpers outside it would fail with ENOENT on the machine's /run, or
    /// worse), and failures stay per name.
    @Test func manyNamespacesDeletedInParallelInsideTheSandbox() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        let names = (0..<60).map { "p\($0)" }
        for n in names { try named.create(n) }
        // The helpers see the sandbox's mount and network namespaces, not the process's.
        let want = try sandbox.thread.run { (try readLink("/proc/thread-self/ns/mnt"), try readLink("/proc/thread-self/ns/net")) }
        #expect(want.0 != (try readLink("/proc/self/ns/mnt")))
        let seen = try sandbox.thread.run {
            parallelMap(count: 32, threads: 8) { _ in
                ((try? readLink("/proc/thread-self/ns/mnt")) ?? "?", (try? readLink("/proc/thread-self/ns/net")) ?? "?")
            }
        }
        #expect(seen.allSatisfy { $0.0 == want.0 && $0.1 == want.1 })
        // One name that is not there: its own failure; the others all go.
        let results = named.delete(names + ["missing"])
        #expect(results.count == 61)
        for r in results.dropLast() { #expect((try? r.get()) != nil) }
        if case .failure(let e) = results.last!, case .system(_, let code) = e as? NetlinkError {
            #expect(code == ENOENT)
        } else {
            Issue.record("deleting a missing namespace did not fail with ENOENT: \(results.last!)")
        }
        #expect(try named.list().isEmpty)
        #expect(try sandbox.observe(["ip", "netns", "list"]).output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func vethEndsInTwoNamedNamespacesInOneRequest() throws {
        let sandbox = try Sandbox()
        let named = try sandbox.namedNamespaces()
        try named.create("n1")
        try named.create("n2")
        #expect(try named.list() == ["n1", "n2"])
        #expect(try sandbox.observe(["ip", "netns", "list"]).output.contains("n1"))
        let n1 = try named.open("n1"), n2 = try named.open("n2")
        let socket = try sandbox.socket()
        try socket.execute(try LinkRequest.addVeth(name: "a", peer: "b", namespaceFD: n1.fd, peerNamespaceFD: n2.fd))
        // Nothing in the sandbox's own namespace but lo.
        #expect(try socket.links().map(\.name) == ["lo"])
        let inN1 = try sandbox.observe(["ip", "-n", "n1", "-j", "link", "show", "a"])
        #expect(inN1.status == 0 && inN1.output.contains("\"ifname\":\"a\""))
        let inN2 = try sandbox.observe(["ip", "netns", "exec", "n2", "ip", "-j", "link", "show", "b"])
        #expect(inN2.status == 0 && inN2.output.contains("\"ifname\":\"b\""))
        // Our own socket opened inside n1 sees the veth and its peer's netnsid.
        let s1 = try sandbox.thread.run { try NamespaceThread() }.openSocket(inNamespace: n1.fd)
        let a = try #require(try s1.link(.name("a")))
        #expect(a.kind == "veth" && a.linkNetnsID != nil && a.peerIndex != nil)
        // Duplicate name and delete.
        #expect(throws: NetlinkError.self) { try named.create("n1") }
        try named.delete("n1")
        #expect(try named.list() == ["n2"])
        #expect(!(try sandbox.observe(["ip", "netns", "list"]).output.contains("n1")))
        #expect(throws: NetlinkError.self) { try named.delete("n1") }
    }

    @Test func bridgeMasterMTUUpAndDumpMatchIp() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "va", peer: "vb"))
        try s.execute(try LinkRequest.addBridge(name: "br0"))
        let br = try #require(try s.link(.name("br0")))
        try s.execute(try LinkRequest.setMaster(.name("va"), masterIndex: br.index))
        try s.execute(try LinkRequest.setMTU(.name("va"), mtu: 1400))
        try s.execute(try LinkRequest.setGroup(.name("vb"), group: 9))
        for n in ["va", "vb", "br0"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        let ours = try s.links()
        let theirs = try sandbox.ipJSON(["-d", "link", "show"])
        #expect(ours.count == theirs.count)
        for j in theirs {
            let name = j["ifname"] as? String ?? ""
            let l = try #require(ours.first { $0.name == name }, "\(name)")
            #expect(Int(l.index) == j["ifindex"] as? Int)
            #expect(l.mtu.map(Int.init) == j["mtu"] as? Int)
            #expect(l.isUp == ((j["flags"] as? [String]) ?? []).contains("UP"), "\(name)")
            #expect(l.kind == (j["linkinfo"] as? [String: Any])?["info_kind"] as? String)
            let masterName = j["master"] as? String
            #expect(l.masterIndex.flatMap { m in ours.first { $0.index == m }?.name } == masterName)
            let group = j["group"] as? String ?? "default"
            #expect((l.group == 0 ? "default" : String(l.group)) == group)
        }
        let va = try #require(ours.first { $0.name == "va" })
        #expect(va.masterIndex == br.index && va.mtu == 1400 && va.isUp)
        // nomaster, then down.
        try s.execute(try LinkRequest.setNoMaster(.name("va")))
        try s.execute(try LinkRequest.setDown(.name("va")))
        let va2 = try #require(try s.link(.name("va")))
        #expect(va2.masterIndex == nil && !va2.isUp)
        // Errors carry errno and text.
        #expect {
            try s.execute(try LinkRequest.setMTU(.name("nosuch"), mtu: 1400))
        } throws: { ($0 as? NetlinkError)?.errno == ENODEV }
    }

    @Test func addressesV4V6AndDuplicateErrorText() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "va", peer: "vb"))
        let va = try #require(try s.link(.name("va")))
        try s.execute(try LinkRequest.setUp(.index(va.index)))
        try s.execute(try LinkRequest.setUp(.name("vb")))
        try s.execute(try AddressRequest.add(index: va.index, address: ipv4("10.0.0.1"), prefixLength: 24))
        try s.execute(try AddressRequest.add(index: va.index, address: ipv6("fd00::1"), prefixLength: 64))
        let j = try sandbox.ipJSON(["addr", "show", "dev", "va"])
        let infos = (j.first?["addr_info"] as? [[String: Any]]) ?? []
        #expect(infos.contains { $0["local"] as? String == "10.0.0.1" && $0["prefixlen"] as? Int == 24 })
        let v6 = try #require(infos.first { $0["local"] as? String == "fd00::1" })
        #expect(v6["tentative"] == nil, "IPv6 address must not be tentative (nodad)")
        let ours = try s.addresses().filter { $0.index == UInt32(va.index) }
        #expect(ours.contains { $0.primary == ipv4("10.0.0.1") && $0.prefixLength == 24 })
        #expect(ours.contains { $0.primary == ipv6("fd00::1") && !$0.isTentative })
        // Duplicate: errno EEXIST with the kernel's own text, the same text `ip` prints.
        var caught: NetlinkError?
        do { try s.execute(try AddressRequest.add(index: va.index, address: ipv4("10.0.0.1"), prefixLength: 24)) }
        catch let e as NetlinkError { caught = e }
        let e = try #require(caught)
        #expect(e.errno == EEXIST)
        let ipSays = try sandbox.observe(["ip", "addr", "add", "10.0.0.1/24", "dev", "va"]).output
        let kernelText = try #require(e.kernelMessage)
        #expect(ipSays.contains(kernelText), "ip said: \(ipSays)")
        #expect(e.description == "File exists (\(kernelText))")
        // Delete.
        try s.execute(try AddressRequest.delete(index: va.index, address: ipv4("10.0.0.1"), prefixLength: 24))
        #expect(!(try s.addresses()).contains { $0.primary == ipv4("10.0.0.1") })
    }

    @Test func routesV4V6IncludingDefault() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        try s.execute(try LinkRequest.addVeth(name: "va", peer: "vb"))
        let va = try #require(try s.link(.name("va")))
        for n in ["va", "vb"] { try s.execute(try LinkRequest.setUp(.name(n))) }
        try s.execute(try AddressRequest.add(index: va.index, address: ipv4("10.0.0.1"), prefixLength: 24))
        try s.execute(try AddressRequest.add(index: va.index, address: ipv6("fd00::1"), prefixLength: 64))
        try s.execute(try RouteRequest.add(destination: ipv4("10.1.0.0"), prefixLength: 16, gateway: ipv4("10.0.0.254")))
        try s.execute(try RouteRequest.add(destination: ipv4("10.2.0.0"), prefixLength: 16, outputIndex: va.index))
        try s.execute(try RouteRequest.add(destination: ipv4("0.0.0.0"), prefixLength: 0, gateway: ipv4("10.0.0.254"), priority: 7))
        try s.execute(try RouteRequest.add(destination: ipv6("fd01::"), prefixLength: 48, gateway: ipv6("fd00::fe")))
        try s.execute(try RouteRequest.add(destination: ipv6("::"), prefixLength: 0, gateway: ipv6("fd00::fe")))
        let v4 = try sandbox.ipJSON(["route", "show"])
        #expect(v4.contains { $0["dst"] as? String == "10.1.0.0/16" && $0["gateway"] as? String == "10.0.0.254" })  // (ip hides "proto boot")
        #expect(v4.contains { $0["dst"] as? String == "10.2.0.0/16" && $0["dev"] as? String == "va" && $0["scope"] as? String == "link" })
        #expect(v4.contains { $0["dst"] as? String == "default" && $0["metric"] as? Int == 7 })
        let v6 = try sandbox.ipJSON(["-6", "route", "show"])
        #expect(v6.contains { $0["dst"] as? String == "fd01::/48" && $0["gateway"] as? String == "fd00::fe" })
        #expect(v6.contains { $0["dst"] as? String == "default" && $0["gateway"] as? String == "fd00::fe" })
        // Our dump: main table, with protocol/scope/type exposed; same count as ip shows.
        let ours4 = try s.routes(family: AddressFamily.inet)
        #expect(ours4.count == v4.count)
        #expect(ours4.contains { $0.isDefault && $0.gateway == ipv4("10.0.0.254") && $0.priority == 7 && $0.protocol == 3 })
        #expect(ours4.contains { $0.destination == ipv4("10.2.0.0") && $0.scope == RouteConstants.scopeLink && $0.outputIndex == UInt32(va.index) })
        let ours6 = try s.routes(family: AddressFamily.inet6)
        #expect(ours6.contains { $0.isDefault && $0.gateway == ipv6("fd00::fe") })
        // Delete, then it's gone; deleting again is an error.
        let del = try RouteRequest.delete(destination: ipv4("10.1.0.0"), prefixLength: 16, gateway: ipv4("10.0.0.254"))
        try s.execute(del)
        #expect(!(try s.routes(family: AddressFamily.inet)).contains { $0.destination == ipv4("10.1.0.0") })
        #expect(throws: NetlinkError.self) { try s.execute(del) }
        // Unreachable gateway.
        #expect {
            try s.execute(try RouteRequest.add(destination: ipv4("10.9.0.0"), prefixLength: 16, gateway: ipv4("192.168.7.1")))
        } throws: { ($0 as? NetlinkError)?.errno == ENETUNREACH }
    }

    @Test func batchOf500VethsAcksMatchedThenBulkDeleteByGroup() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        var requests: [Request] = []
        for i in 0..<250 { requests.append(try LinkRequest.addVeth(name: "x\(i)", peer: "y\(i)")) }
        // A deliberate failure in the middle (duplicate name) must be reported at its index.
        requests.insert(try LinkRequest.addVeth(name: "x3", peer: "z3"), at: 100)
        for i in 0..<250 { requests.append(try LinkRequest.setGroup(.name("x\(i)"), group: 5)) }
        #expect(requests.count == 501)
        let t0 = now()
        let results = s.executeBatch(requests)
        let t1 = now()
        #expect(results.count == 501)
        for (i, r) in results.enumerated() where i != 100 {
            if case .failure(let e) = r { Issue.record("request \(i) failed: \(e)") }
        }
        guard case .failure(let e) = results[100] else { Issue.record("duplicate was accepted"); return }
        #expect(e.errno == EEXIST)
        let links = try sandbox.ipJSON(["link", "show"])
        #expect(links.count == 501) // lo + 500 veth ends
        #expect(links.filter { $0["group"] as? String == "5" }.count == 250)
        let t2 = now()
        try s.execute(try LinkRequest.deleteGroup(5))
        let t3 = now()
        #expect(try sandbox.ipJSON(["link", "show"]).count == 1)
        print("TIMING batch: 250 veths + 1 failure + 250 set-group in \(Int((t1 - t0) * 1000)) ms; bulk delete of 250 veth pairs by group in \(Int((t3 - t2) * 1000)) ms; acks/send ≤ \(s.maxAcksPerSend), rcvbuf \(s.receiveBufferSize)")
    }

    @Test func fiveHundredVethsInOneBatchThenOneBulkDelete() throws {
        let sandbox = try Sandbox()
        let s = try sandbox.socket()
        let requests = try (0..<500).map { try LinkRequest.addVeth(name: "p\($0)", peer: "q\($0)", group: 77) }
        let t0 = now()
        let results = s.executeBatch(requests)
        let t1 = now()
        #expect(results.allSatisfy { if case .success = $0 { return true } else { return false } })
        let links = try sandbox.ipJSON(["link", "show"])
        #expect(links.count == 1001)
        #expect(links.filter { $0["group"] as? String == "77" }.count == 500)
        try s.execute(try LinkRequest.deleteGroup(77))
        let t2 = now()
        #expect(try s.links().map(\.name) == ["lo"])
        print("TIMING 500 veth pairs in one executeBatch: \(Int((t1 - t0) * 1000)) ms; delete all by group: \(Int((t2 - t1) * 1000)) ms")
    }

    @Test func batchLargerThanTheAckBudgetIsChunked() throws {
        let sandbox = try Sandbox()
        // A tiny receive buffer forces many sends; acks must still all be matched.
        let s = try sandbox.thread.run { try NetlinkSocket(receiveBufferSize: 16384, sendBufferSize: 16384) }
        #expect(s.maxAcksPerSend < 50)
        let requests = try (0..<200).map { try LinkRequest.addBridge(name: "b\($0)") }
        let results = s.executeBatch(requests)
        #expect(results.allSatisfy { if case .success = $0 { return true } else { return false } })
        #expect(try s.links().count == 201)
    }

}

/// readlink(2) of a path (e.g. `/proc/thread-self/ns/mnt` → `mnt:[4026531841]`).
func readLink(_ path: String) throws -> String {
    var buf = [CChar](repeating: 0, count: 256)
    let n = readlink(path, &buf, buf.count - 1)
    guard n >= 0 else { throw NetlinkError.system(call: "readlink(\(path))", errno: errno) }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
