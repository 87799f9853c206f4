#!/usr/bin/env python3
"""Build and tear down generated topologies three ways and print a table.

  (a) topo:   `topo run FILE` / `topo destroy FILE`
  (b) export: topo's own `topo plan --format ip FILE` run by sh (iproute2 -batch blocks)
              / one `ip -batch` of `netns delete` lines
  (c) shell:  a plain sh script of one `ip` command per operation
              / one `ip netns delete` command per namespace

Every build runs in a fresh `unshare --net --mount` sandbox (private tmpfs on /run), is
verified by a ping end to end (untimed; one answer within 15 s, as a large bridge is busy
with its ports' IPv6 start-up traffic for a while after a build), and is timed with wait4() rusage: wall ms, user
and system CPU ms, peak RSS of the builder. Medians of --runs runs.

Usage (as root): bench.py [--topo PATH] [--sizes 10,100,500,1000] [--runs 5] [--kinds star,chain]
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(argv, stdin=None):
    """Run argv; return (exit status, wall ms, user ms, sys ms, max RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(f"command failed ({code}): {' '.join(argv)}\n{err[-2000:]}\n")
    return code, wall, ru.ru_utime * 1000, ru.ru_stime * 1000, ru.ru_maxrss


def inner(args):
    """Runs inside the sandbox: one build, verify, teardown. Prints a JSON line."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    build, teardown = args.build, args.teardown
    code, wall, user, sys_, rss = measure(shlex.split(build))
    ok = code == 0
    verified = False
    if ok:
        ns, addr = args.verify.split()
        verified = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-w", "15", "-t", "255", addr],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    t_code, t_wall, t_user, t_sys, t_rss = measure(shlex.split(teardown))
    left = len(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else 0
    settle = settle_ms()
    print(json.dumps(dict(ok=ok and t_code == 0 and left == 0, verified=verified,
                          apply_ms=wall, apply_user_ms=user, apply_sys_ms=sys_, apply_rss_kib=rss,
                          teardown_ms=t_wall, teardown_user_ms=t_user, teardown_sys_ms=t_sys,
                          settle_ms=settle, left_namespaces=left)))


def settle_ms(limit_s=120):
    """The kernel releases deleted namespaces asynchronously (35-47 ms each). There is no
    direct read-out of when it is done, so probe: wait until creating a throwaway network
    namespace is fast again (three probes under 8 ms in a row). Returns the ms waited."""
    t0 = time.perf_counter()
    fast = 0
    while fast < 3 and time.perf_counter() - t0 < limit_s:
        p0 = time.perf_counter()
        subprocess.run(["unshare", "--net", "true"])
        fast = fast + 1 if (time.perf_counter() - p0) * 1000 < 8 else 0
        time.sleep(0.02)
    return (time.perf_counter() - t0) * 1000


def per_op_shell(export_text):
    """Turn the -batch export into one `ip` command per line."""
    out, block_ns = ["#!/bin/sh", "set -e"], None
    in_block = False
    for line in export_text.splitlines():
        m = re.match(r"^ip (?:-n (\S+) )?-batch - <<'?(\w+)'?$", line)
        if m:
            block_ns, in_block, end = m.group(1), True, m.group(2)
            continue
        if in_block:
            if line.strip() == end:
                in_block = False
                continue
            if line.strip():
                out.append(("ip -n %s " % block_ns if block_ns else "ip ") + line.strip())
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def namespaces_of(export_text):
    return re.findall(r"^ip netns add (\S+)$", export_text, re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topo", default=os.path.join(HERE, "..", ".build", "release", "topo"))
    ap.add_argument("--sizes", default="10,100,500,1000")
    ap.add_argument("--kinds", default="star,chain")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--methods", default="topo,export,shell")
    ap.add_argument("--inner", action="store_true")
    ap.add_argument("--build")
    ap.add_argument("--teardown")
    ap.add_argument("--verify")
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    if os.getuid() != 0:
        sys.exit("bench: needs root (it builds topologies inside unshare sandboxes)")
    topo = os.path.abspath(args.topo)
    sys.path.insert(0, HERE)
    import gen
    work = tempfile.mkdtemp(prefix="topo-bench-")
    rows = []
    for kind in args.kinds.split(","):
        for n in map(int, args.sizes.split(",")):
            script = getattr(gen, kind)(n)
            verify = re.search(r"^# verify: (.*)$", script, re.M).group(1)
            path = os.path.join(work, f"{kind}{n}.topo")
            open(path, "w").write(script)
            export = subprocess.run([topo, "plan", "--format", "ip", path], check=True,
                                    capture_output=True, text=True).stdout
            exp_path = os.path.join(work, f"{kind}{n}.sh")
            open(exp_path, "w").write(export)
            shell_path = os.path.join(work, f"{kind}{n}-per-op.sh")
            open(shell_path, "w").write(per_op_shell(export))
            nss = namespaces_of(export)
            batch_del = os.path.join(work, f"{kind}{n}-del.batch")
            open(batch_del, "w").write("".join(f"netns delete {x}\n" for x in nss))
            loop_del = os.path.join(work, f"{kind}{n}-del.sh")
            open(loop_del, "w").write("".join(f"ip netns delete {x}\n" for x in nss))
            methods = {
                "topo": (f"{topo} run {path}", f"{topo} destroy {path}"),
                "export": (f"sh {exp_path}", f"ip -batch {batch_del}"),
                "shell": (f"sh {shell_path}", f"sh {loop_del}"),
            }
            for m in args.methods.split(","):
                build, teardown = methods[m]
                results = []
                for _ in range(args.runs):
                    cmd = ["unshare", "--net", "--mount", sys.executable, os.path.abspath(__file__),
                           "--inner", "--build", build, "--teardown", teardown, "--verify", verify]
                    out = subprocess.run(cmd, capture_output=True, text=True)
                    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
                    r = json.loads(line) if line.startswith("{") else {}
                    if not r.get("ok") or not r.get("verified"):
                        sys.stderr.write(f"{kind} {n} {m}: run not ok: {out.stdout[-500:]} {out.stderr[-1500:]}\n")
                    if r:
                        results.append(r)
                if not results:
                    continue
                med = {k: statistics.median(r[k] for r in results)
                       for k in results[0] if isinstance(results[0][k], (int, float)) and not isinstance(results[0][k], bool)}
                med["ok"] = all(r["ok"] and r["verified"] for r in results)
                rows.append((kind, n, m, med))
                print(f"  {kind:5} {n:5} {m:6} apply {med['apply_ms']:9.1f} ms  teardown {med['teardown_ms']:8.1f} ms"
                      f"  {'ok' if med['ok'] else 'FAILED'}", file=sys.stderr, flush=True)
    print_table(rows, args.runs)


def print_table(rows, runs):
    by = {(k, n, m): r for k, n, m, r in rows}
    print(f"median of {runs} runs; times in ms; RSS in MiB; ratios are topo / baseline\n")
    print("| topology | N | method | apply | user | sys | peak RSS | teardown | settle | apply ratio | teardown ratio | ms/ns (apply) | verified |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for k, n, m, r in rows:
        t = by.get((k, n, "topo"))
        ar = f"{t['apply_ms'] / r['apply_ms']:.2f}" if t and m != "topo" else ""
        tr = f"{t['teardown_ms'] / r['teardown_ms']:.2f}" if t and m != "topo" and r['teardown_ms'] > 0 else ""
        nns = n + (1 if k == "star" else 0)
        print(f"| {k} | {n} | {m} | {r['apply_ms']:.1f} | {r['apply_user_ms']:.1f} | {r['apply_sys_ms']:.1f} "
              f"| {r['apply_rss_kib'] / 1024:.1f} | {r['teardown_ms']:.1f} | {r['settle_ms']:.0f} | {ar} | {tr} | {r['apply_ms'] / nns:.2f} "
              f"| {'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
