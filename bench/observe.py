"""The benchmark's judge: reads the kernel with iproute2 (`ip -j`, `tc -j`), never with topo,
and compares it with what the model asks for (gen.expected / gen.mininet_layout).

For each namespace observed, the process enters it with setns(2) and runs one
`ip -j -d -batch -` (`addr show` gives every link with its kind, master, flags and
addresses; `route show` the main table), plus `tc -j qdisc show` when shaping is expected,
and reads the expected sysctls from /proc/sys. That costs ~7 ms per namespace, so above
`full_limit` namespaces a sample is observed (every special namespace, every namespace
an edit added, and an even spread of the rest); the set of named namespaces is always
compared whole.
"""
import ctypes
import json
import os
import subprocess
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def read_namespace(path, sysctl_keys=(), want_tc=False):
    """The state of the network namespace at `path`, as iproute2 reports it:
    dict(links={name: (kind, master, up)}, addrs={cidr}, routes={(dest, via)}, sysctl={k: v},
    tc={ifname: root qdisc kind and rate})."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd)
        out = subprocess.run(["ip", "-j", "-d", "-batch", "-"], input="addr show\nroute show\n",
                             capture_output=True, text=True).stdout
        sysctl = {}
        for k in sysctl_keys:
            try:
                sysctl[k] = open("/proc/sys/" + k.replace(".", "/")).read().strip()
            except OSError:
                sysctl[k] = None
        tc = {}
        if want_tc:
            q = subprocess.run(["tc", "-j", "qdisc", "show"], capture_output=True, text=True).stdout
            for d in json.loads(q or "[]"):
                if d.get("root"):
                    rate = (d.get("options") or {}).get("rate")
                    tc[d["dev"]] = (d["kind"], rate)
    finally:
        _setns(home)
        os.close(fd)
        os.close(home)
    docs = [json.loads(line) for line in out.splitlines() if line.strip()]
    links_doc = docs[0] if docs else []
    routes_doc = docs[1] if len(docs) > 1 else []
    links, addrs = {}, set()
    for l in links_doc:
        info = l.get("linkinfo") or {}
        kind = info.get("info_kind") or ("loopback" if l.get("link_type") == "loopback" else l.get("link_type"))
        links[l["ifname"]] = (kind, l.get("master"), "UP" in l.get("flags", []))
        for a in l.get("addr_info", []):
            if a.get("scope") == "global":
                addrs.add(f"{a['local']}/{a['prefixlen']}")
    routes = set()
    for r in routes_doc:
        if r.get("protocol") == "kernel" or "gateway" not in r:
            continue
        dst = r["dst"]
        if dst != "default" and "/" not in dst:
            dst += "/32"
        routes.add((dst, r["gateway"]))
    return dict(links=links, addrs=addrs, routes=routes, sysctl=sysctl, tc=tc)


def compare(name, want, got, problems):
    """Appends the differences between one namespace's wanted and observed state."""
    wl, gl = want["links"], got["links"]
    for ifname, (kind, master) in wl.items():
        if ifname not in gl:
            problems.append(f"{name}: no link {ifname}")
            continue
        gkind, gmaster, up = gl[ifname]
        if gkind != kind:
            problems.append(f"{name}:{ifname} is {gkind}, not {kind}")
        if gmaster != master:
            problems.append(f"{name}:{ifname} master {gmaster}, not {master}")
        if not up:
            problems.append(f"{name}:{ifname} is down")
    for ifname in sorted(set(gl) - set(wl)):
        problems.append(f"{name}: extra link {ifname}")
    for a in sorted(want["addrs"] - got["addrs"]):
        problems.append(f"{name}: address {a} missing")
    for a in sorted(got["addrs"] - want["addrs"]):
        problems.append(f"{name}: extra address {a}")
    for r in sorted(want["routes"] - got["routes"]):
        problems.append(f"{name}: route {r[0]} via {r[1]} missing")
    for r in sorted(got["routes"] - want["routes"]):
        problems.append(f"{name}: extra route {r[0]} via {r[1]}")
    for k, v in want["sysctl"].items():
        if got["sysctl"].get(k) != v:
            problems.append(f"{name}: {k} = {got['sysctl'].get(k)}, not {v}")
    for ifname, rate in want["tc"].items():
        q = got["tc"].get(ifname)
        if not q or q[0] in ("noqueue", "pfifo_fast", "fq_codel", "mq"):
            problems.append(f"{name}:{ifname} has no shaping qdisc")
        elif q[1] is not None and rate_bytes(rate) is not None and q[1] != rate_bytes(rate):
            problems.append(f"{name}:{ifname} rate {q[1]} B/s, not {rate}")


def rate_bytes(rate):
    """`10mbit` -> 1 250 000 (tc -j reports tbf/htb rates in bytes per second)."""
    units = dict(bit=1, kbit=1e3, mbit=1e6, gbit=1e9, tbit=1e12, bps=8, kbps=8e3, mbps=8e6, gbps=8e9)
    for u in sorted(units, key=len, reverse=True):
        if rate.endswith(u):
            try:
                return int(float(rate[: -len(u)]) * units[u] / 8)
            except ValueError:
                return None
    return None


def sample(names, special, limit):
    """All of `names` up to `limit`; above it the special ones and an even spread."""
    if len(names) <= limit:
        return list(names)
    chosen = [x for x in names if x in special]
    rest = [x for x in names if x not in special]
    step = max(1, len(rest) // max(1, limit - len(chosen)))
    chosen += rest[::step]
    return chosen


def verify(expected, paths, special=(), full_limit=2000, want_tc=False, named=None):
    """Compares the kernel with `expected` ({ns: state}, from gen.expected or the Mininet
    layout). `paths` maps each namespace name to a path setns can open. `named`, when given,
    is the set of names found in /run/netns: it must equal the expected set exactly.
    Returns dict(ok, observed, problems (the first 50), problem_count)."""
    problems = []
    if named is not None:
        want = set(expected)
        for x in sorted(want - named)[:5]:
            problems.append(f"namespace {x} missing")
        extra = sorted(named - want)
        if extra:
            problems.append(f"{len(extra)} namespaces too many ({', '.join(extra[:5])}{', …' if len(extra) > 5 else ''})")
        if len(want - named) > 5:
            problems.append(f"{len(want - named)} namespaces missing in all")
    names = [x for x in expected if x in paths]
    observed = sample(names, set(special), full_limit)
    for ns in observed:
        want = expected[ns]
        try:
            got = read_namespace(paths[ns], want["sysctl"].keys(), want_tc and bool(want["tc"]))
        except OSError as e:
            problems.append(f"{ns}: cannot enter ({e.strerror})")
            continue
        compare(ns or "(root)", want, got, problems)
    return dict(ok=not problems, observed=len(observed), problem_count=len(problems), problems=problems[:50])


def ping(argv_prefix, addr, wait_s=15):
    """One answer within wait_s seconds. Right after a large bridge comes up, its ports flood
    each other with IPv6 start-up traffic (DAD, MLD, router solicitations) and the veths drop
    packets for a while, ARP included; ping then gives up at the first "host unreachable",
    so it is asked again (one probe of at most 2 s at a time) until the deadline."""
    deadline = time.monotonic() + wait_s
    while True:
        if subprocess.run(argv_prefix + ["ping", "-c", "1", "-W", "2", "-t", "255", addr],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
