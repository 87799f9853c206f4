#!/usr/bin/python3
"""The pyroute2 peer: builds (or removes) a bench/gen.py model in one Python process that
enters each namespace with setns(2), as a pyroute2 user scripting a lab would.

  pyroute2_build.py build MODEL.json     namespaces, veth pairs, bridges, ports, up, addresses,
                                         routes, sysctls
  pyroute2_build.py destroy MODEL.json   removes every namespace of the model

Choices that keep it fair (fast):
- Namespaces are made in this process with pyroute2.netns._create (unshare + bind mount,
  what the public netns.create() runs in a forked child per namespace), and entered by an
  fd opened once (netns.setns by name lists /run/netns on every call).
- One IPRoute socket per namespace and pass, opened after entering it; each veth pair is one
  request made in the first end's namespace with the peer placed by IFLA_NET_NS_FD; the
  ifindexes of a namespace are learnt from one link dump, not one lookup per name.
- pyroute2 waits for each request's answer before sending the next (its normal API).
Needs /usr/bin/python3 (python3-pyroute2 is installed for it).
"""
import json
import os
import resource
import sys

from pyroute2 import IPRoute
from pyroute2 import netns as pnetns


def main():
    mode, path = sys.argv[1], sys.argv[2]
    m = json.load(open(path))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if mode == "destroy":
        for ns in m["namespaces"]:
            pnetns.remove(ns)
        return
    if mode != "build":
        sys.exit("usage: pyroute2_build.py build|destroy MODEL.json")
    if m["tc"]:
        sys.exit("pyroute2_build.py: shaping is measured for topo only")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fds = {}
    for ns in m["namespaces"]:
        pnetns._create(ns)          # unshares this process's network namespace and names it
        fds[ns] = os.open("/run/netns/" + ns, os.O_RDONLY)
        pnetns.setns(home)

    by_ns = {ns: dict(veths=[], bridges=[], ports=[], addrs=[], routes=[], sysctls=[]) for ns in m["namespaces"]}
    for a, x, b, y in m["veths"]:
        by_ns[a]["veths"].append((x, b, y))
    for ns, br, ports in m["bridges"]:
        by_ns[ns]["bridges"].append(br)
        by_ns[ns]["ports"] += [(p, br) for p in ports]
    for ns, i, a in m["addrs"]:
        by_ns[ns]["addrs"].append((i, a))
    for ns, d, v in m["routes"]:
        by_ns[ns]["routes"].append((d, v))
    for ns in m["forward"]:
        by_ns[ns]["sysctls"] += [("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1")]
    for ns, k, v in m["sysctls"]:
        by_ns[ns]["sysctls"].append((k, v))

    # pass 1: links (veth pairs from their first end's namespace, bridges)
    for ns, w in by_ns.items():
        if not w["veths"] and not w["bridges"]:
            continue
        pnetns.setns(fds[ns])
        with IPRoute() as ipr:
            for x, b, y in w["veths"]:
                ipr.link("add", ifname=x, kind="veth", peer={"ifname": y, "net_ns_fd": fds[b]})
            for br in w["bridges"]:
                ipr.link("add", ifname=br, kind="bridge")
        pnetns.setns(home)

    # pass 2: per namespace, ports, up, addresses, routes, sysctls
    for ns, w in by_ns.items():
        pnetns.setns(fds[ns])
        with IPRoute() as ipr:
            index = {l.get_attr("IFLA_IFNAME"): l["index"] for l in ipr.get_links()}
            for p, br in w["ports"]:
                ipr.link("set", index=index[p], master=index[br])
            for name, i in index.items():
                ipr.link("set", index=i, state="up")
            for i, a in w["addrs"]:
                addr, plen = a.split("/")
                ipr.addr("add", index=index[i], address=addr, prefixlen=int(plen))
            for d, v in w["routes"]:
                ipr.route("add", dst="0.0.0.0/0" if d == "default" else d, gateway=v)
        for k, v in w["sysctls"]:
            with open("/proc/sys/" + k.replace(".", "/"), "w") as f:
                f.write(v)
        pnetns.setns(home)


if __name__ == "__main__":
    main()
