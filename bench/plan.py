#!/usr/bin/env python3
"""check+plan speed: a generated script with 100 000 interfaces, written out line by line
(no loops, so the lexer and parser see every line), through `topo plan`.
Prints lines/s, wall ms, CPU ms and peak RSS (median of --runs runs)."""
import argparse, os, statistics, subprocess, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--topo", default=".build/release/topo")
ap.add_argument("--interfaces", type=int, default=100_000)
ap.add_argument("--runs", type=int, default=5)
args = ap.parse_args()

pairs = args.interfaces // 2
lines = ["# generated: %d veth pairs in 100 namespaces" % pairs]
lines += ["ns n%d" % k for k in range(100)]
# The evaluator's object limit is 100 000 statements: 100 namespaces + 50 000 veth pairs
# (the 100 000 interfaces) + addresses on all but the last 200 pairs stay just under it.
for i in range(pairs):
    k = i % 100
    lines.append("veth n%d:a%d <-> n%d:b%d" % (k, i, (k + 1) % 100, i))
    if i < pairs - 200:
        v = (10 << 24) + i * 4 + 1  # one /30 per pair
        lines.append("addr n%d:a%d %d.%d.%d.%d/30" % (k, i, v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255))
text = "\n".join(lines) + "\n"
path = os.path.join(tempfile.mkdtemp(prefix="topo-plan-"), "big.topo")
open(path, "w").write(text)
nlines = len(lines)

def once(fmt):
    t0 = time.perf_counter()
    p = subprocess.Popen([args.topo, "plan", "--format", fmt, path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, st, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    if os.waitstatus_to_exitcode(st) != 0:
        raise SystemExit("topo plan failed:\n" + err[:3000])
    return (time.perf_counter() - t0) * 1000, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss / 1024

print(f"script: {nlines} lines, {args.interfaces} interfaces, {len(text) / 1e6:.1f} MB; median of {args.runs} runs\n")
print("| format | wall ms | cpu ms | lines/s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for fmt in ("text", "json", "ip"):
    rs = [once(fmt) for _ in range(args.runs)]
    w = statistics.median(r[0] for r in rs); c = statistics.median(r[1] for r in rs); m = statistics.median(r[2] for r in rs)
    print(f"| {fmt} | {w:.0f} | {c:.0f} | {nlines / (w / 1000):,.0f} | {m:.1f} |")
