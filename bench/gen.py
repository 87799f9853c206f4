#!/usr/bin/env python3
"""The benchmark topologies: one model per topology, and every builder made from it.

A *model* is plain data (namespaces, veth pairs, bridges and their ports, addresses,
routes, forwarding, sysctls, shaping, the verification ping). `script(model)` writes it as
a topo script (one statement per object, no loops, so nothing depends on the evaluator),
`expected(model)` is the state the kernel must hold afterwards (bench/observe.py compares
`ip -j` against it), the pyroute2 builder (bench/pyroute2_build.py) walks the same model,
and `mininet_layout(model)` translates it for Mininet (bench/mininet_build.py).

Kinds (N = number of hosts, or of routers for the chain):

star N       a hub namespace with bridge br0 (10.128.0.1/9); hosts h1..hN, each
             `veth hI:eth0 <-> hub:pI`, pI enslaved to br0, hI:eth0 = 10.128.0.(1+I)/9.
             A Linux bridge takes at most 1 024 ports, so N <= 1 000 here.
multistar N  a campus: hosts spread over access namespaces a1..aK (K = ceil(N / 1000)), each
             with a bridge br0 of at most 1 000 host ports and the gateway address of its
             /20 LAN (10.0.0.0/8 cut into /20s, LAN g is the g-th); every access namespace
             joins the core namespace by `veth aG:up <-> core:aG` (a /30 from 172.16.0.0/12),
             forwarding on in the access namespaces and the core, default routes
             host -> access -> core, and one route per LAN in the core: every host reaches
             every other. Namespaces: N + K + 1.
chain N      N routers r1..rN in a line, `rI:e1 <-> r(I+1):e0`, one /30 per link (the I-th
             /30 of 10.0.0.0/8), forwarding on, routes towards the last link and back
             towards the first, and the far end of the verification ping answering with
             TTL 255 (an IP packet lives at most 255 hops, so the ping crosses at most 200).
pairs N      N pairs aI, bI joined by `veth aI:e0 <-> bI:e0` (the REPL benchmark's shape).

Options:
--replace-every M   the edited version used by the converge benchmark: every host whose
                    index I has I % M == M // 2 is replaced by a new host nI (port qI, a new
                    address in the same LAN); for the chain, the last routers (as many as
                    that rule would replace) are renamed sI. M = 200 is the 1% edit (0.5%
                    removed, 0.5% added); M = 100 on a 1000-host star is issue 8's 10 + 10.
--rate R            `tc HOST:eth0 rate R` on every host link (star, multistar).

Usage: gen.py KIND N [--replace-every M] [--rate R] [--model]
prints the topo script (or, with --model, the model as JSON). The script's last line is
`# verify: NS ADDR`, the ping the benchmark runs itself (untimed).
"""
import argparse
import ipaddress
import json
import math
import sys

GROUP = 1000  # hosts per access bridge in the multistar (a Linux bridge takes at most 1 024 ports)


class Model:
    def __init__(self, kind, n, label):
        self.kind, self.n, self.label = kind, n, label
        self.namespaces = []
        self.veths = []       # [ns_a, if_a, ns_b, if_b]
        self.bridges = {}     # (ns, bridge) -> [port, ...]
        self.addrs = []       # [ns, if, "a.b.c.d/len"]
        self.routes = []      # [ns, "default" | "a.b.c.d/len", via]
        self.forward = []     # [ns]
        self.sysctls = []     # [ns, key, value]
        self.tc = []          # [ns, if, rate]
        self.verify = None    # [ns, addr]
        self.hosts = []       # the namespaces that are "hosts" (star, multistar) or routers (chain)
        self.added = []       # namespaces the edited version added (for the verification sample)

    def to_json(self):
        return dict(kind=self.kind, n=self.n, label=self.label, namespaces=self.namespaces,
                    veths=self.veths, bridges=[[ns, br, ports] for (ns, br), ports in self.bridges.items()],
                    addrs=self.addrs, routes=self.routes, forward=self.forward, sysctls=self.sysctls,
                    tc=self.tc, verify=self.verify, hosts=self.hosts, added=self.added)


def host_of(prefix, i):
    """cidrhost: the i-th address of a prefix, keeping its length."""
    net = ipaddress.ip_network(prefix)
    return f"{net.network_address + i}/{net.prefixlen}"


def subnet(prefix, bits, i):
    """cidrsubnet: the i-th subnet with `bits` more prefix bits."""
    net = ipaddress.ip_network(prefix)
    size = 1 << (net.max_prefixlen - net.prefixlen - bits)
    return f"{net.network_address + i * size}/{net.prefixlen + bits}"


def bare(cidr):
    return cidr.split("/")[0]


def replaced(i, every):
    return every is not None and i % every == every // 2


def star(n, replace_every=None, rate=None):
    if n > 1000:
        raise SystemExit("gen.py: a star has one bridge, and a Linux bridge takes at most 1 024 ports: use multistar")
    m = Model("star", n, f"star of {n} hosts")
    lan = "10.128.0.0/9"
    m.namespaces.append("hub")
    m.bridges[("hub", "br0")] = []
    m.addrs.append(["hub", "br0", host_of(lan, 1)])
    for i in range(1, n + 1):
        new = replaced(i, replace_every)
        h, port, a = (f"n{i}", f"q{i}", host_of(lan, 1 + n + i)) if new else (f"h{i}", f"p{i}", host_of(lan, 1 + i))
        m.namespaces.append(h)
        m.hosts.append(h)
        if new:
            m.added.append(h)
        m.veths.append([h, "eth0", "hub", port])
        m.bridges[("hub", "br0")].append(port)
        m.addrs.append([h, "eth0", a])
        if rate:
            m.tc.append([h, "eth0", rate])
    m.verify = [(m.added or m.hosts)[-1], bare(host_of(lan, 1))]
    return m


def multistar(n, replace_every=None, rate=None):
    k = max(1, math.ceil(n / GROUP))
    m = Model("multistar", n, f"multistar of {n} hosts on {k} access bridge{'s' if k > 1 else ''}")
    lan_base, up_base = "10.0.0.0/8", "172.16.0.0/12"
    lan = lambda g: subnet(lan_base, 12, g)       # a /20 per access LAN (4 094 hosts)
    uplink = lambda g: subnet(up_base, 18, g)     # a /30 per access uplink
    m.namespaces.append("core")
    m.forward.append("core")
    for g in range(1, k + 1):
        a = f"a{g}"
        m.namespaces.append(a)
        m.forward.append(a)
        m.veths.append([a, "up", "core", a])
        m.addrs.append(["core", a, host_of(uplink(g), 1)])
        m.addrs.append([a, "up", host_of(uplink(g), 2)])
        m.routes.append([a, "default", bare(host_of(uplink(g), 1))])
        m.routes.append(["core", lan(g), bare(host_of(uplink(g), 2))])
        m.bridges[(a, "br0")] = []
        m.addrs.append([a, "br0", host_of(lan(g), 1)])
    first, group_of = {}, {}
    for i in range(1, n + 1):
        g, j = (i - 1) // GROUP + 1, (i - 1) % GROUP + 1
        a = f"a{g}"
        new = replaced(i, replace_every)
        h, port, addr = (f"n{i}", f"q{i}", host_of(lan(g), 1 + 2 * GROUP + j)) if new else \
            (f"h{i}", f"p{i}", host_of(lan(g), 1 + j))
        m.namespaces.append(h)
        m.hosts.append(h)
        if new:
            m.added.append(h)
        first.setdefault(g, (h, addr))
        group_of[h] = g
        m.veths.append([h, "eth0", a, port])
        m.bridges[(a, "br0")].append(port)
        m.addrs.append([h, "eth0", addr])
        m.routes.append([h, "default", bare(host_of(lan(g), 1))])
        if rate:
            m.tc.append([h, "eth0", rate])
    # One ping across the core: from the last host of the last LAN (a new one in the edited
    # version) to the first host of the first LAN; with a single LAN, to the core itself.
    src = (m.added or m.hosts)[-1]
    if group_of[src] != 1:
        m.verify = [src, bare(first[1][1])]
    else:
        m.verify = [src, bare(host_of(uplink(1), 1))]
    return m


def chain(n, replace_every=None, rate=None):
    if rate:
        raise SystemExit("gen.py: --rate is for the star and the multistar")
    k = 0 if replace_every is None else (n + replace_every // 2) // replace_every
    keep = n - k
    name = lambda i: f"r{i}" if i <= keep else f"s{i}"
    m = Model("chain", n, f"chain of {n} routers")
    base = "10.0.0.0/8"
    link = lambda i: subnet(base, 22, i)          # link i joins router i and i + 1
    for i in range(1, n + 1):
        m.namespaces.append(name(i))
        m.hosts.append(name(i))
        if i > keep:
            m.added.append(name(i))
        m.forward.append(name(i))
    for i in range(1, n):
        m.veths.append([name(i), "e1", name(i + 1), "e0"])
        m.addrs.append([name(i), "e1", host_of(link(i), 1)])
        m.addrs.append([name(i + 1), "e0", host_of(link(i), 2)])
    for i in range(1, n - 1):   # towards the last link
        m.routes.append([name(i), link(n - 1), bare(host_of(link(i), 2))])
    for i in range(3, n + 1):   # back to the first
        m.routes.append([name(i), link(1), bare(host_of(link(i - 1), 1))])
    if k and keep > 1:          # the edited version: the renamed routers route back to the
        for i in range(keep + 2, n + 1):   # last link kept, so the verification ping's
            m.routes.append([name(i), link(keep), bare(host_of(link(i - 1), 1))])  # reply gets home
    hops = min(n - 1, 200)
    if hops < n - 1:            # r1 reaches link `hops` through every router on the way
        for i in range(1, hops):
            m.routes.append([name(i), link(hops), bare(host_of(link(i), 2))])
    # the reply starts with the kernel's default TTL (64): let the far end answer across `hops`
    m.sysctls.append([name(hops + 1), "net.ipv4.ip_default_ttl", "255"])
    if k and n > 1:
        # the edited version: from the last router kept to the far end of the last link,
        # across every renamed router
        m.verify = [name(max(1, keep)), bare(host_of(link(n - 1), 2))]
    else:
        m.verify = [name(1), bare(host_of(link(hops), 2))]
    return m


def pairs(n, replace_every=None, rate=None):
    m = Model("pairs", n, f"{n} veth pairs")
    for i in range(1, n + 1):
        m.namespaces += [f"a{i}", f"b{i}"]
        m.hosts += [f"a{i}", f"b{i}"]
        m.veths.append([f"a{i}", "e0", f"b{i}", "e0"])
    return m


KINDS = {"star": star, "multistar": multistar, "chain": chain, "pairs": pairs}


def model(kind, n, replace_every=None, rate=None):
    return KINDS[kind](n, replace_every=replace_every, rate=rate)


def script(m):
    """The model as a topo script: one statement per object."""
    out = [f"# generated by bench/gen.py: {m.label}"]
    out += [f"ns {ns}" for ns in m.namespaces]
    out += [f"veth {a}:{x} <-> {b}:{y}" for a, x, b, y in m.veths]
    for (ns, br), ports in m.bridges.items():
        if not ports:
            out.append(f"bridge {ns}:{br}")
        out += [f"bridge {ns}:{br} < {p} >" for p in ports]
    out += [f"addr {ns}:{i} {a}" for ns, i, a in m.addrs]
    out += [f"route {ns} {d} via {v}" for ns, d, v in m.routes]
    out += [f"forward {ns}" for ns in m.forward]
    out += [f"sysctl {ns} {k} = {v}" for ns, k, v in m.sysctls]
    out += [f"tc {ns}:{i} rate {r}" for ns, i, r in m.tc]
    if m.verify:
        out.append(f"# verify: {m.verify[0]} {m.verify[1]}")
    return "\n".join(out) + "\n"


def forward_sysctls():
    # what `forward NS` means (LANGUAGE.md §4): IPv4 and IPv6 forwarding
    return [("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1")]


def expected(m):
    """The kernel state the model asks for, per namespace:
    links {name: (kind, master)}, addrs {cidr}, routes {(dest, via)}, sysctl {key: value},
    tc {ifname: rate}. Every link is expected up."""
    if isinstance(m, dict):
        m = from_json(m)
    st = {ns: dict(links={"lo": ("loopback", None)}, addrs=set(), routes=set(), sysctl={}, tc={})
          for ns in m.namespaces}
    for a, x, b, y in m.veths:
        st[a]["links"][x] = ("veth", None)
        st[b]["links"][y] = ("veth", None)
    for (ns, br), ports in m.bridges.items():
        st[ns]["links"][br] = ("bridge", None)
        for p in ports:
            st[ns]["links"][p] = ("veth", br)
    for ns, i, a in m.addrs:
        st[ns]["addrs"].add(a)
    for ns, d, v in m.routes:
        st[ns]["routes"].add((d, v))
    for ns in m.forward:
        st[ns]["sysctl"].update(forward_sysctls())
    for ns, k, v in m.sysctls:
        st[ns]["sysctl"][k] = v
    for ns, i, r in m.tc:
        st[ns]["tc"][i] = r
    return st


def from_json(d):
    m = Model(d["kind"], d["n"], d["label"])
    for k in ("namespaces", "veths", "addrs", "routes", "forward", "sysctls", "tc", "verify", "hosts", "added"):
        setattr(m, k, d[k])
    m.bridges = {(ns, br): ports for ns, br, ports in d["bridges"]}
    return m


def mininet_layout(m):
    """The model as Mininet builds it. Mininet's switches live in the root namespace, so each
    bridge becomes a LinuxBridge switch there, and the bridge's ports become switch ports
    (same names). A namespace that holds only a bridge and its ports (the star's hub) *is*
    the root namespace, and the bridge's address goes on the switch. Any other namespace
    with a bridge (a multistar access namespace) becomes a router node whose LAN leg, named
    like the bridge, is linked to the switch and carries the bridge's addresses.
    Returns dict(root, nodes, switches, links, addrs, routes, sysctls, expected) where
    `expected` is the kernel state per namespace as in expected() ("" is the root namespace)."""
    if isinstance(m, dict):
        m = from_json(m)
    ports = {(ns, p): (ns, br) for (ns, br), ps in m.bridges.items() for p in ps}
    own = {}  # namespace -> its interfaces that are not bridges or bridge ports
    for a, x, b, y in m.veths:
        for ns, i in ((a, x), (b, y)):
            if (ns, i) not in ports:
                own.setdefault(ns, []).append(i)
    bridged = {ns for ns, _ in m.bridges}
    roots = [ns for ns in bridged if not own.get(ns)]
    if len(roots) > 1:
        raise SystemExit("mininet layout: more than one namespace would be the root namespace")
    root = roots[0] if roots else None
    switches = {}  # (ns, br) -> switch name
    for idx, key in enumerate(m.bridges, start=1):
        switches[key] = f"s{idx}"
    nodes = [ns for ns in m.namespaces if ns != root]
    links = []  # [node_a, if_a, node_b, if_b]; a switch is named by its switch name
    for a, x, b, y in m.veths:
        ends = []
        for ns, i in ((a, x), (b, y)):
            ends += [switches[ports[(ns, i)]], i] if (ns, i) in ports else [ns, i]
        links.append(ends)
    for (ns, br), sw in switches.items():
        if ns != root:
            links.append([ns, br, sw, f"{ns}-{br}"[:15]])
    addrs = [[("" if ns == root else ns), (switches[(ns, i)] if ns == root and (ns, i) in switches else i), a]
             for ns, i, a in m.addrs]
    routes = [r for r in m.routes if r[0] != root]
    sysctls = [[ns, k, v] for ns in m.forward for k, v in forward_sysctls()] + [list(s) for s in m.sysctls]
    exp = {ns: dict(links={"lo": ("loopback", None)}, addrs=set(), routes=set(), sysctl={}, tc={}) for ns in nodes}
    exp[""] = dict(links={"lo": ("loopback", None)}, addrs=set(), routes=set(), sysctl={}, tc={})
    for sw in switches.values():
        exp[""]["links"][sw] = ("bridge", None)
    swset = set(switches.values())
    for a, x, b, y in links:
        for node, i in ((a, x), (b, y)):
            if node in swset:
                exp[""]["links"][i] = ("veth", node)
            else:
                exp[node]["links"][i] = ("veth", None)
    for ns, i, a in addrs:
        exp[ns]["addrs"].add(a)
    for ns, d, v in routes:
        exp[ns]["routes"].add((d, v))
    for ns, k, v in sysctls:
        if ns != root:
            exp[ns]["sysctl"][k] = v
    return dict(root=root, nodes=nodes, switches=[[sw, ns, br] for (ns, br), sw in switches.items()],
                links=links, addrs=addrs, routes=routes,
                sysctls=[s for s in sysctls if s[0] != root], expected=exp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("n", type=int)
    ap.add_argument("--replace-every", type=int)
    ap.add_argument("--rate")
    ap.add_argument("--model", action="store_true", help="print the model as JSON")
    a = ap.parse_args()
    m = model(a.kind, a.n, a.replace_every, a.rate)
    sys.stdout.write(json.dumps(m.to_json()) + "\n" if a.model else script(m))


if __name__ == "__main__":
    main()
