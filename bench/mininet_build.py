#!/usr/bin/python3
"""The Mininet peer: builds a bench/gen.py model with Mininet's Python API (hosts, router
nodes, LinuxBridge switches, no controller), keeps it up while the benchmark verifies it,
then stops it.

  mininet_build.py MODEL.json

Protocol on stdin/stdout (one JSON line each): after the build it prints
{"built": true, "build_ms", "user_ms", "sys_ms", "rss_kib", "pids": {node: pid}} and waits
for a line on stdin; then it stops the network and prints {"stopped": true, "stop_ms"}.
The CPU figures add this process, the commands it waited for, and every node's shell with
the commands that shell ran (Mininet drives each node through a long-lived bash).

Translation (gen.mininet_layout): each bridge becomes a LinuxBridge switch in the root
namespace with the same port names; the star's hub (a namespace holding only its bridge) is
the root namespace, and its address goes on the switch; a multistar access namespace is a
router node whose LAN leg (named like the bridge) is linked to its switch. Addresses are
Mininet's `ip=` parameters, host default routes its `defaultRoute=`, other routes and the
sysctls are node commands, as Mininet's own examples/linuxrouter.py does.

Mininet's LinuxBridge shells out to `brctl`; where bridge-utils is not installed, the same
commands are made with `ip link` (one shell command per port either way). Mininet's
start-up tuning (fixLimits: machine-wide sysctls such as kernel.pty.max) is skipped; the
open-file and process limits it raises are raised for this process instead.
Run it inside a sandbox with its own PID namespace: Mininet's node shells are killed with it.
"""
import json
import os
import resource
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import Host  # noqa: E402
from mininet.nodelib import LinuxBridge  # noqa: E402


class IPBridge(LinuxBridge):
    """Mininet's LinuxBridge with `ip link` in place of `brctl` (same commands, one per port)."""
    isSetup = True

    def start(self, _controllers):
        self.cmd("ip link set", self, "down")
        self.cmd("ip link del", self)
        self.cmd("ip link add", self, "type bridge")
        for i in self.intfList():
            if i.name != "lo":
                self.cmd("ip link set", i, "master", self)
        self.cmd("ip link set", self, "up")

    def stop(self, deleteIntfs=True):
        self.cmd("ip link set", self, "down")
        self.cmd("ip link del", self)
        super(LinuxBridge, self).stop(deleteIntfs)


class Ports(LinuxBridge):
    """Mininet's own LinuxBridge, except that it enslaves every port (ours are named like the
    model's ports, not `sN-ethK`)."""

    def start(self, _controllers):
        self.cmd("ifconfig", self, "down")
        self.cmd("brctl delbr", self)
        self.cmd("brctl addbr", self)
        for i in self.intfList():
            if i.name != "lo":
                self.cmd("brctl addif", self, i)
        self.cmd("ifconfig", self, "up")


def cpu_ms(pids):
    """CPU of this process, its reaped children, and the live node shells with theirs."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, sys_ = own.ru_utime + kids.ru_utime, own.ru_stime + kids.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            user += (int(f[11]) + int(f[13])) / tick   # utime + cutime
            sys_ += (int(f[12]) + int(f[14])) / tick   # stime + cstime
        except OSError:
            pass
    return user * 1000, sys_ * 1000


def main():
    m = json.load(open(sys.argv[1]))
    lay = gen.mininet_layout(m)
    setLogLevel("error")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Mininet.inited = True   # skip fixLimits (machine-wide sysctls)
    bridge = Ports if shutil.which("brctl") else IPBridge
    t0 = time.perf_counter()
    net = Mininet(topo=None, controller=None, switch=bridge, build=False, autoSetMacs=False,
                  autoStaticArp=False, waitConnected=False)
    addr_of = {(ns, i): a for ns, i, a in lay["addrs"]}
    default = {ns: v for ns, d, v in lay["routes"] if d == "default"}
    single = {}
    for a, x, b, y in lay["links"]:
        for node, i in ((a, x), (b, y)):
            single.setdefault(node, []).append(i)
    nodes = {}
    for ns in lay["nodes"]:
        ifs = single.get(ns, [])
        # a host with one interface gets Mininet's ip= and defaultRoute=; routers get theirs per link
        ip = addr_of.get((ns, ifs[0])) if len(ifs) == 1 else None
        route = f"via {default[ns]}" if ns in default and len(ifs) == 1 else None
        nodes[ns] = net.addHost(ns, cls=Host, ip=ip, defaultRoute=route)
    for sw, _, _ in lay["switches"]:
        nodes[sw] = net.addSwitch(sw)
    for a, x, b, y in lay["links"]:
        p1 = {"ip": addr_of[(a, x)]} if (a, x) in addr_of and len(single.get(a, [])) > 1 else {}
        p2 = {"ip": addr_of[(b, y)]} if (b, y) in addr_of and len(single.get(b, [])) > 1 else {}
        net.addLink(nodes[a], nodes[b], intfName1=x, intfName2=y, params1=p1, params2=p2)
    net.build()
    net.start()
    for ns, i, a in lay["addrs"]:
        if ns == "":   # the star's hub address, on the switch in the root namespace
            nodes[i].cmd("ip addr add", a, "dev", i)
    for ns, d, v in lay["routes"]:
        if not (d == "default" and ns in default and len(single.get(ns, [])) == 1):
            nodes[ns].cmd("ip route add", d, "via", v)
    for ns, k, v in lay["sysctls"]:
        nodes[ns].cmd(f"sysctl -qw {k}={v}")
    build_ms = (time.perf_counter() - t0) * 1000
    pids = {name: node.pid for name, node in nodes.items() if name in lay["nodes"]}
    shells = [node.pid for node in nodes.values()]
    user, sys_ = cpu_ms(shells)
    print(json.dumps(dict(built=True, build_ms=build_ms, user_ms=user, sys_ms=sys_,
                          rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, pids=pids,
                          bridge=bridge.__name__)), flush=True)
    sys.stdin.readline()
    t1 = time.perf_counter()
    net.stop()
    print(json.dumps(dict(stopped=True, stop_ms=(time.perf_counter() - t1) * 1000)), flush=True)


if __name__ == "__main__":
    main()
