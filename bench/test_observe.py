#!/usr/bin/python3
"""Self-test of the benchmark's judge (needs root; runs itself in an `unshare --net --mount`
sandbox): a small multistar built with iproute2 alone (the `--format ip` export) verifies
clean, and after breaking it by hand in eight ways the judge reports each one.

Usage: test_observe.py [--topo PATH]   (bench/run.sh runs it before measuring)
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

BREAK = [  # (shell command, a piece of the problem the judge must report)
    ("ip -n h2 addr del 10.0.16.3/20 dev eth0", "h2: address 10.0.16.3/20 missing"),
    ("ip -n core route del 10.0.16.0/20", "core: route 10.0.16.0/20 via 172.16.0.6 missing"),
    ("ip -n a1 link set p4 nomaster", "a1:p4 master None, not br0"),
    ("ip -n h5 link set eth0 down", "h5:eth0 is down"),
    ("ip netns exec a1 sysctl -qw net.ipv4.ip_forward=0", "a1: net.ipv4.ip_forward = 0, not 1"),
    ("ip -n h1 route add 10.9.0.0/16 via 10.0.16.1", "h1: extra route 10.9.0.0/16 via 10.0.16.1"),
    ("ip -n h3 link add x0 type bridge", "h3: extra link x0"),
    ("ip netns add stray", "1 namespaces too many (stray)"),
]


def main():
    topo = sys.argv[sys.argv.index("--topo") + 1] if "--topo" in sys.argv else \
        os.path.join(HERE, "..", ".build", "release", "topo")
    if "--inner" not in sys.argv:
        if os.getuid() != 0:
            sys.exit("test_observe.py: needs root")
        sys.exit(subprocess.run(["unshare", "--net", "--mount", sys.executable, __file__, "--inner", "--topo", topo]).returncode)
    import bench
    bench.sandbox_setup()
    m = gen.model("multistar", 5)
    path = "/run/observe-test.topo"
    open(path, "w").write(gen.script(m))
    export = subprocess.run([topo, "plan", "--format", "ip", path], capture_output=True, text=True, check=True).stdout
    subprocess.run(["sh", "-c", export], check=True, stdout=subprocess.DEVNULL)
    bad = 0
    clean = bench.verify_named(m.to_json(), 2000)
    if not clean["ok"]:
        print(f"FAIL  a correct build is judged wrong: {clean['problems']}")
        bad += 1
    else:
        print("ok    a correct build verifies (state and ping)")
    for cmd, _ in BREAK:
        subprocess.run(["sh", "-c", cmd], check=True)
    v = bench.verify_named(m.to_json(), 2000)
    for cmd, want in BREAK:
        if want in v["problems"] or any(want in p for p in v["problems"]):
            print(f"ok    noticed: {cmd}")
        else:
            print(f"FAIL  not noticed: {cmd} (expected “{want}”)")
            bad += 1
    if v["ping"]:
        print("FAIL  the ping from h5 (eth0 down) got an answer")
        bad += 1
    bench.clear_namespaces()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
