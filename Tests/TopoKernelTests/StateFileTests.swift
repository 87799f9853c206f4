import Glibc
import Testing
import TopoLanguage
@testable import TopoKernel

@Suite struct StateFileTests {
    let sample = OwnershipRecord(
        script: "/home/me/lab one.topo", scriptHash: "0123456789abcdef", appliedAt: 1_764_650_000,
        namespaces: ["ns0", "odd name", "per%cent", "-", "", "ti~lde"],
        linkGroups: ["host": [0x1234_5678, 42], "pre": [9]],
        links: [LinkID("host", "p1"), LinkID("pre", "x-0")],
        addresses: [.init(link: LinkID("pre", "dum0"), prefix: pfx("fd00::1/64"))],
        routes: [.init(namespace: "pre", route: RouteSpec(destination: pfx("10.9.0.0/16"), device: "dum0", table: 10)),
                 .init(namespace: "host", route: RouteSpec(destination: .any(.ipv4), gateway: ip("10.0.0.1"), metric: 7))],
        sysctls: [.init("pre", "net.ipv4.ip_forward"): "0", .init("h1", "net.ipv4.conf.all.rp_filter"): ""],
        originals: [LinkID("pre", "dum0"): .init(mtu: 1500, up: false, master: .some(nil)),
                    LinkID("pre", "dum1"): .init(master: .some("br9"))],
        shaped: [LinkID("pre", "dum0")],
        daemons: [.init(namespace: "ns0", command: "nc -l 7 # \"x\"", pid: 4242, startTime: 987654)])

    @Test func recordRoundTrips() throws {
        let text = StateFormat.render(sample)
        #expect(try StateFormat.parse(text).record == sample)
        #expect(text.hasPrefix("topo-state 2 ~"))
    }

    /// A file cut at any byte never yields a fact that was not in it (the last, torn line is
    /// dropped), and a flipped byte in the middle is detected.
    @Test func truncationNeverInventsAFact() throws {
        let text = StateFormat.render(sample)
        let full = Set(sample.facts)
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            let part = String(decoding: bytes[..<cut], as: UTF8.self)
            guard let loaded = try? StateFormat.parse(part) else { continue }
            #expect(Set(loaded.record.facts).isSubset(of: full), "cut at \(cut)")
            // `namespace c` cut from `namespace cc`: never a namespace that is not recorded.
            #expect(loaded.record.namespaces.isSubset(of: sample.namespaces), "cut at \(cut)")
        }
    }

    @Test func corruptionInTheMiddleIsAnError() {
        var bytes = Array(StateFormat.render(sample).utf8)
        let i = bytes.count / 2
        bytes[i] = bytes[i] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        #expect(throws: StateFormat.ParseError.self) { try StateFormat.parse(String(decoding: bytes, as: UTF8.self)) }
    }

    @Test(arguments: ["", "garbage", "topo-state 2\n", "topo-state 1\nnamespace\n", "topo-state 1\ngroup host x\n",
                      "topo-state 1\naddress a b 10.0.0.1\n", "topo-state 1\nnamespace %4\n", "topo-state 1\nnamespace c"])
    func malformedTextIsRejected(text: String) {
        #expect(throws: StateFormat.ParseError.self) { try StateFormat.parse(text) }
    }

    @Test func versionOneFilesAreRead() throws {
        let text = "topo-state 1\nscript /x.topo\nnamespace a\ngroup host 7\nlink host p1\naddress pre d0 10.0.0.1/24\nroute pre 10.9.0.0/16 - d0 -\n"
        let r = try StateFormat.parse(text).record
        #expect(r.legacy && r.namespaces == ["a"] && r.linkGroups == ["host": [7]] && r.addresses.count == 1 && r.routes.count == 1)
    }

    @Test func anUnfinishedJournalIsReadAndFlagged() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir)
        try store.save(OwnershipRecord(script: "/x.topo", namespaces: ["a"]), key: "k")
        try store.append(["begin 1-2 3", "+ ns b", "+ addr b e0 10.0.0.1/24", "- ns a"], key: "k", script: "/x.topo")
        let l = try #require(try store.loadState("k"))
        #expect(l.unfinishedRun)
        #expect(l.record.namespaces == ["b"])
        #expect(l.record.addresses.count == 1)
        try store.append(["commit 1-2"], key: "k", script: "/x.topo")
        #expect(try store.loadState("k")?.unfinishedRun == false)
        // A journal can start a file that did not exist.
        try store.append(["begin 4-5 6", "+ ns z"], key: "new", script: "/y.topo")
        #expect(try store.load("new")?.namespaces == ["z"])
        #expect(try store.load("new")?.script == "/y.topo")
    }

    @Test func saveIsAtomicAndLoadReadsItBack() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir + "/sub/dir")
        #expect(try store.load("k") == nil)
        try store.save(OwnershipRecord(script: "/x.topo", namespaces: ["a", "b"]), key: "k")
        try store.save(OwnershipRecord(script: "/x.topo", namespaces: ["c"]), key: "k")
        #expect(try store.load("k") == OwnershipRecord(script: "/x.topo", namespaces: ["c"]))
        #expect(files(dir + "/sub/dir") == ["k.state"])
        try store.save(OwnershipRecord(script: "/x.topo"), key: "k")   // empty: no file
        #expect(try store.load("k") == nil)
        try store.remove("k")
        defer { rmdir(dir + "/sub/dir"); rmdir(dir + "/sub") }
    }

    @Test func malformedStateFileIsAnErrorNotACrash() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir)
        let fd = open(store.statePath("bad"), O_WRONLY | O_CREAT, 0o644)
        _ = "nonsense\nmore\n".withCString { write(fd, $0, 14) }
        close(fd)
        #expect { try store.load("bad") } throws: { ($0 as? StateFileError)?.corrupt == true }
        // Quarantine sets it aside.
        let moved = try store.quarantine("bad")
        #expect(moved.contains(".corrupt-"))
        #expect(try store.load("bad") == nil)
    }

    @Test func markersNameTheirOwner() throws {
        let dir = tempDir()
        defer { cleanup(dir + "/netns"); cleanup(dir) }
        let store = StateStore(directory: dir)
        try store.claim("ns0", key: "a")
        try store.claim("ns0", key: "a")   // again: fine
        #expect(store.markerOwner("ns0") == "a")
        #expect { try store.claim("ns0", key: "b") } throws: { "\($0)".contains("claimed by topology `a`") }
        store.unclaim("ns0", key: "b")     // not b's: stays
        #expect(store.markerOwner("ns0") == "a")
        store.unclaim("ns0", key: "a")
        #expect(store.markerOwner("ns0") == nil)
    }

    @Test func lockSerialisesRuns() throws {
        let dir = tempDir()
        defer { cleanup(dir) }
        let store = StateStore(directory: dir)
        let held = try store.lock("t")
        #expect(throws: StateFileError.self) { try store.lock("t", wait: false) }
        let other = try store.lock("u", wait: false)   // another topology is independent
        other.unlock()
        held.unlock()
        let again = try store.lock("t", wait: false)
        again.unlock()
    }

    @Test func keysAreStableDistinctAndClean() {
        let a = StateStore.key(forScriptPath: "/home/me/lab.topo")
        #expect(a == StateStore.key(forScriptPath: "/home/me/lab.topo"))
        #expect(a.hasPrefix("lab.topo-"))
        #expect(a.utf8.count == "lab.topo-".utf8.count + 16)
        #expect(a != StateStore.key(forScriptPath: "/tmp/lab.topo"))
        let odd = StateStore.key(forScriptPath: "/x/../we ird/.hidden name")
        #expect(!odd.contains(" ") && !odd.contains("/") && !odd.hasPrefix("."))
        #expect(StateStore.key(forStandardInput: "ns a\n").key != StateStore.key(forStandardInput: "ns b\n").key)
        #expect(StateStore.key(forStandardInput: "ns a\n") == StateStore.key(forStandardInput: "ns a\n"))
    }

    /// `./x.topo`, `dir/../x.topo`, a symlink and a deleted file all name one topology.
    @Test func canonicalPathsResolveSpellings() throws {
        let dir = tempDir()
        defer { unlink(dir + "/link.topo"); unlink(dir + "/x.topo"); rmdir(dir + "/sub"); rmdir(dir) }
        let fd = open(dir + "/x.topo", O_WRONLY | O_CREAT, 0o644)
        close(fd)
        mkdir(dir + "/sub", 0o755)
        symlink(dir + "/x.topo", dir + "/link.topo")
        let want = canonicalScriptPath(dir + "/x.topo")
        #expect(canonicalScriptPath(dir + "/./x.topo") == want)
        #expect(canonicalScriptPath(dir + "/sub/../x.topo") == want)
        #expect(canonicalScriptPath(dir + "/link.topo") == want)
        unlink(dir + "/x.topo")
        #expect(canonicalScriptPath(dir + "/sub/../x.topo") == want)   // gone: still the same path
    }
}

