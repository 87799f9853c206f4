#!/usr/bin/env python3
"""Self-test of the benchmark generator (no root needed): for each kind, the plan topo makes
of `script(model)` (`topo plan --format json`) holds exactly the model's objects, so every
builder made from the model builds the same topology; and the Mininet layout keeps every
address, route and host.

Usage: test_gen.py [--topo PATH]   (bench/run.sh runs it before measuring)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

CASES = [("star", 7, None, None), ("star", 12, 4, None), ("star", 9, None, "10mbit"),
         ("multistar", 2500, None, None), ("multistar", 2100, 200, None),
         ("chain", 5, None, None), ("chain", 300, 200, None), ("chain", 450, None, None),
         ("pairs", 4, None, None)]


def plan_objects(topo, text):
    with tempfile.NamedTemporaryFile("w", suffix=".topo", delete=False) as f:
        f.write(text)
    try:
        p = subprocess.run([topo, "plan", "--format", "json", f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
    got = dict(ns=set(), veth=set(), bridge=set(), port=set(), addr=set(), route=set(), sysctl=set(), up=set(), tc=set())
    for op in json.loads(p.stdout)["operations"]:
        k, ns = op["op"], op.get("namespace")
        if k == "add-namespace":
            got["ns"].add(ns)
        elif k == "add-veth":
            got["veth"].add((ns, op["name"], op["peer_namespace"], op["peer_name"]))
        elif k == "add-bridge":
            got["bridge"].add((ns, op["name"]))
        elif k == "set-master":
            got["port"].add((ns, op["name"], op["master"]))
        elif k == "add-address":
            got["addr"].add((ns, op["name"], op["address"]))
        elif k == "add-route":
            got["route"].add((ns, "default" if op["default"] else op["destination"], op["gateway"]))
        elif k == "set-sysctl":
            got["sysctl"].add((ns, op["key"], op["value"]))
        elif k == "set-up":
            got["up"].add((ns, op["name"]))
        elif k == "set-tc":
            got["tc"].add((ns, op["name"]))
        else:
            raise AssertionError(f"unexpected plan operation {k}")
    return got, None


def model_objects(m):
    want = dict(ns=set(m.namespaces), veth={tuple(v) for v in m.veths},
                bridge=set(m.bridges), port={(ns, p, br) for (ns, br), ps in m.bridges.items() for p in ps},
                addr={tuple(a) for a in m.addrs}, route={tuple(r) for r in m.routes},
                sysctl={(ns, k, v) for ns in m.forward for k, v in gen.forward_sysctls()} | {tuple(s) for s in m.sysctls},
                tc={(ns, i) for ns, i, _ in m.tc})
    want["up"] = {(ns, "lo") for ns in m.namespaces} | {(a, x) for a, x, _, _ in m.veths} | \
        {(b, y) for _, _, b, y in m.veths} | set(m.bridges)
    return want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topo", default=os.path.join(HERE, "..", ".build", "release", "topo"))
    args = ap.parse_args()
    bad = 0
    for kind, n, every, rate in CASES:
        m = gen.model(kind, n, every, rate)
        name = f"{kind} {n}" + (f" --replace-every {every}" if every else "") + (f" --rate {rate}" if rate else "")
        got, err = plan_objects(args.topo, gen.script(m))
        if got is None:
            if rate:  # the `tc` statement may not exist in this topo yet
                print(f"skip  {name}: topo does not take it ({err})")
                continue
            print(f"FAIL  {name}: {err}")
            bad += 1
            continue
        want = model_objects(m)
        diffs = [f"{k}: plan lacks {sorted(want[k] - got[k])[:3]}, plan adds {sorted(got[k] - want[k])[:3]}"
                 for k in want if want[k] != got[k]]
        # the expected kernel state has every model object
        st = gen.expected(m)
        if sum(len(s["addrs"]) for s in st.values()) != len(m.addrs):
            diffs.append("expected(): addresses lost")
        # the Mininet layout keeps every host, address and route
        if kind != "pairs":
            lay = gen.mininet_layout(json.loads(json.dumps(m.to_json())))
            ns_count = len(lay["nodes"]) + (1 if lay["root"] else 0)
            if ns_count != len(m.namespaces) or len(lay["addrs"]) != len(m.addrs) or \
                    len(lay["routes"]) != len([r for r in m.routes if r[0] != lay["root"]]):
                diffs.append("mininet layout lost objects")
        # the verification ping starts in a namespace of the model
        if m.verify and m.verify[0] not in st:
            diffs.append(f"verify from unknown namespace {m.verify[0]}")
        print(("ok    " if not diffs else "FAIL  ") + name + "".join("\n      " + d for d in diffs))
        bad += bool(diffs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
