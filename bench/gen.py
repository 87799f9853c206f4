#!/usr/bin/env python3
"""Generate the benchmark topologies as topo scripts.

star N:  a hub namespace with bridge br0; N host namespaces h1..hN, each with
         veth hI:eth0 <-> hub:pI enslaved to br0; addresses in 10.128.0.0/9.
chain N: N namespaces r1..rN in a line, r{i}:e1 <-> r{i+1}:e0, one /30 per link,
         forwarding on, and two routes per inner namespace (towards the first and
         the last link) so that r1 and rN reach each other end to end.

Usage: gen.py star|chain N  →  prints the script; also prints the verification ping
as a comment line `# verify: NS ADDR` (the bench runs that ping itself, untimed).
"""
import sys


def star(n):
    return f"""# generated: star of {n} hosts
let lan = 10.128.0.0/9
ns hub
addr hub:br0 cidrhost(lan, 1)
for i in 1..{n} {{
  ns h{{i}}
  veth h{{i}}:eth0 <-> hub:p{{i}}
  bridge hub:br0 < p{{i}} >
  addr h{{i}}:eth0 cidrhost(lan, 1 + i)
}}
# verify: h{n} 10.128.0.1
"""


def chain(n):
    # link i joins r{i} and r{i+1}; subnet = cidrsubnet(10.0.0.0/8, 22, i) (a /30).
    # An IP packet lives at most 255 hops, so the verification ping crosses at most the first
    # m = min(n - 1, 200) links: r1 has a route to link m through every router on the way, and
    # every router after r2 routes link 1 back. The routes towards the last link are there too
    # (for the workload) when m < n - 1. The far end's replies need a TTL above 64, so it gets
    # `net.ipv4.ip_default_ttl = 255`.
    m = min(n - 1, 200)
    extra = "" if m == n - 1 else f"""for i in 1..{m - 1} {{
  route r{{i}} cidrsubnet(base, 22, {m}) via cidrhost(cidrsubnet(base, 22, i), 2)
}}
"""
    return f"""# generated: chain of {n} namespaces
let base = 10.0.0.0/8
let n = {n}
for i in 1..n {{
  ns r{{i}}
  forward r{{i}}
}}
for i in 1..n - 1 {{
  veth r{{i}}:e1 <-> r{{i + 1}}:e0
  addr r{{i}}:e1 cidrhost(cidrsubnet(base, 22, i), 1)
  addr r{{i + 1}}:e0 cidrhost(cidrsubnet(base, 22, i), 2)
}}
# towards the last link, and back to the first
for i in 1..n - 2 {{
  route r{{i}} cidrsubnet(base, 22, n - 1) via cidrhost(cidrsubnet(base, 22, i), 2)
}}
for i in 3..n {{
  route r{{i}} cidrsubnet(base, 22, 1) via cidrhost(cidrsubnet(base, 22, i - 1), 1)
}}
{extra}# the reply starts with the kernel's default TTL (64): let the far end answer across {m} hops
sysctl r{m + 1} net.ipv4.ip_default_ttl = 255
# verify: r1 {link_addr(m)}
"""


def link_addr(i):
    # cidrhost(cidrsubnet(10.0.0.0/8, 22, i), 2) without the prefix length
    v = (10 << 24) + (i << 2) + 2
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    sys.stdout.write({"star": star, "chain": chain}[kind](n))
