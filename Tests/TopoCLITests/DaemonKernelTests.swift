import Foundation
import Testing

/// Daemons and exec actions through `topo run` on the real kernel (LANGUAGE.md §13).
@Suite(.enabled(if: kernelTestsEnabled, "kernel tests need root"))
struct DaemonKernelTests {
    static let lab = """
        ns ns0; ns ns1
        veth ns0:veth0 <-> ns1:veth1
        addr ns0:veth0 10.0.1.1/24
        addr ns1:veth1 10.0.1.2/24
        daemon ns0 "while true; do echo hello | nc -l -N 7000; done"
        """

    /// A daemon answers a client in another namespace after `run`; a re-run leaves it alone;
    /// killed, the next run restarts it; dropped from the script, convergence stops it;
    /// `destroy` stops it (its pid is gone).
    @Test func daemonLifecycle() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lab = dir + "/lab.topo"
        try Self.lab.write(toFile: lab, atomically: true, encoding: .utf8)
        func pid() -> String { #"$("$TOPO" ls --format json | tr ',' '\n' | grep '"pid"' | head -1 | tr -dc 0-9)"# }
        let r = try sandbox("""
            set +e
            # Alive and not a zombie (a stopped daemon waits for init to reap it).
            alive() { s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
            echo "@@mark noexec"; "$TOPO" run '\(lab)' 2>&1 || echo "exit $?"
            echo "@@mark run"; "$TOPO" run --allow-exec '\(lab)' 2>&1 || echo "exit $?"
            p1=\(pid())
            sleep 0.5
            echo "@@mark answer"; ip netns exec ns1 nc -w 3 10.0.1.1 7000 || echo "no answer"
            echo "@@mark rerun"; "$TOPO" run --allow-exec '\(lab)' 2>&1
            p2=\(pid()); [ "$p1" = "$p2" ] && echo "@@mark same" || echo "@@mark other $p1 $p2"
            kill -9 -- -$p1 2>/dev/null || kill -9 $p1; sleep 0.3
            echo "@@mark ls"; "$TOPO" ls
            echo "@@mark restart"; "$TOPO" run --allow-exec '\(lab)' 2>&1
            p3=\(pid())
            sleep 0.5
            echo "@@mark answer2"; ip netns exec ns1 nc -w 3 10.0.1.1 7000 || echo "no answer"
            grep -v daemon '\(lab)' > '\(lab).new'; mv '\(lab).new' '\(lab)'
            echo "@@mark drop"; "$TOPO" run --allow-exec '\(lab)' 2>&1
            alive $p3 && echo "@@mark alive3" || echo "@@mark gone3"
            printf '%s\\n' 'daemon ns0 "sleep 1000"' >> '\(lab)'
            "$TOPO" run --allow-exec '\(lab)' >/dev/null 2>&1
            p4=\(pid())
            echo "@@mark destroy"; "$TOPO" destroy '\(lab)' 2>&1
            alive $p4 && echo "@@mark alive4" || echo "@@mark gone4"
            echo "@@mark logs"; ls /run/topo/daemons
            """)
        #expect(r.status == 0, "\(r.stderr)")
        let p = parts(r.stdout)
        #expect((p["noexec"] ?? "").contains("`daemon` is not allowed without --allow-exec") && (p["noexec"] ?? "").contains("exit 2"),
                "\(p["noexec"] ?? "")")
        #expect((p["run"] ?? "").contains("+ daemon in ns0"), "\(p["run"] ?? "")")
        #expect((p["answer"] ?? "").contains("hello"), "the daemon did not answer: \(p["answer"] ?? "")")
        #expect((p["rerun"] ?? "").contains("0 changes (already in place)"), "\(p["rerun"] ?? "")")
        #expect(p.keys.contains("same"), "a re-run replaced a running daemon")
        #expect((p["ls"] ?? "").contains("not running"), "\(p["ls"] ?? "")")
        #expect((p["restart"] ?? "").contains("+ daemon in ns0"), "a dead daemon was not restarted: \(p["restart"] ?? "")")
        #expect((p["answer2"] ?? "").contains("hello"), "\(p["answer2"] ?? "")")
        #expect((p["drop"] ?? "").contains("- daemon in ns0"), "\(p["drop"] ?? "")")
        #expect(p.keys.contains("gone3"), "convergence did not stop the daemon")
        #expect(p.keys.contains("gone4"), "destroy did not stop the daemon")
        #expect((p["destroy"] ?? "").contains("1 daemon"), "\(p["destroy"] ?? "")")
    }

    /// `exec` never hangs the run on what it leaves behind, and its timeout fails the run at
    /// its line in about the time given.
    @Test func execActionsAreSafe() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "ns a\nexec a \"sleep 300 &\"\n".write(toFile: dir + "/bg.topo", atomically: true, encoding: .utf8)
        try "ns a\nexec a \"sleep 30\" timeout 1s\n".write(toFile: dir + "/slow.topo", atomically: true, encoding: .utf8)
        let r = try sandbox("""
            set +e
            s=$(date +%s%N); "$TOPO" run --allow-exec '\(dir)/bg.topo' >/dev/null 2>&1; echo "@@mark bg $? $(( ($(date +%s%N) - s) / 1000000 ))"
            s=$(date +%s%N); "$TOPO" run --allow-exec '\(dir)/slow.topo' 2>"\(dir)/err"; echo "@@mark slow $? $(( ($(date +%s%N) - s) / 1000000 ))"
            echo "@@mark err"; cat "\(dir)/err"
            pkill -f 'sleep 300' || true
            """, timeout: 120)
        let p = parts(r.stdout)
        let bg = p.keys.first { $0.hasPrefix("bg ") }?.split(separator: " ") ?? []
        #expect(bg.count == 3 && bg[1] == "0" && (Int(bg[2]) ?? 99999) < 5000, "exec with a background child: \(bg)")
        let slow = p.keys.first { $0.hasPrefix("slow ") }?.split(separator: " ") ?? []
        #expect(slow.count == 3 && slow[1] == "1", "\(slow)")
        #expect((Int(slow.last ?? "") ?? 99999) < 5000, "the timeout took \(slow)")
        #expect((p["err"] ?? "").contains("slow.topo:2:1") && (p["err"] ?? "").contains("did not finish within 1s"), "\(p["err"] ?? "")")
    }
}
