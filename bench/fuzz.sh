#!/usr/bin/env bash
# Fuzz the front end and the renderers with libFuzzer for SECONDS seconds.
#
#   bench/fuzz.sh SECONDS [LIBFUZZER_OPTION…]     e.g. bench/fuzz.sh 60, bench/fuzz.sh 0 -runs=1000000
#
# Builds fuzz/FrontEndFuzz.swift together with Sources/TopoLanguage/*.swift into one binary with
# `swiftc -sanitize=fuzzer` (outside SwiftPM: `swift build` and `swift test` are not affected),
# seeds it with examples/, the test fixtures and fuzz/seeds/, uses the dictionary
# fuzz/topo.dict, and runs it. Exits 0 when nothing was found, 1 on a finding (a crash, a trap,
# a stack overflow, a timeout of one input, too much memory, a broken invariant), after printing
# the reproducer and how to run it. Everything it writes is under .build/fuzz/ (the corpus it
# grows there is kept between runs; delete it for a fresh start).
#
# Environment: FUZZ_SANITIZE=address adds AddressSanitizer (slower); SWIFTC picks the compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: bench/fuzz.sh SECONDS [LIBFUZZER_OPTION…]}
shift
out=.build/fuzz
bin=$out/frontend-fuzz
mkdir -p "$out/corpus" "$out/crashes"

# Build when the binary is missing or older than any source it is made of.
sources=(Sources/TopoLanguage/*.swift fuzz/FrontEndFuzz.swift)
stale=1
if [ -x "$bin" ]; then
  stale=0
  for f in "${sources[@]}" "$0"; do
    if [ "$f" -nt "$bin" ]; then stale=1; break; fi
  done
fi
if [ "$stale" = 1 ]; then
  sanitize=fuzzer
  if [ -n "${FUZZ_SANITIZE:-}" ]; then sanitize="fuzzer,$FUZZ_SANITIZE"; fi
  echo "fuzz: building $bin (-sanitize=$sanitize)" >&2
  "${SWIFTC:-swiftc}" -sanitize="$sanitize" -parse-as-library -O -g -swift-version 5 \
    -module-name FrontEndFuzz "${sources[@]}" -o "$bin"
fi

# The seeds: every example, every test fixture script, the hand-written seeds.
rm -rf "$out/seeds"
mkdir -p "$out/seeds"
for f in examples/*.topo Tests/TopoCLITests/Fixtures/*/*.topo fuzz/seeds/*; do
  [ -f "$f" ] && cp "$f" "$out/seeds/$(echo "$f" | tr '/' '_')"
done

stamp=$out/.start
touch "$stamp"
log=$out/log
if [ "$seconds" = 0 ]; then echo "fuzz: running with no time limit (log: $log)" >&2
else echo "fuzz: running for ${seconds}s (log: $log)" >&2; fi
status=0
# Swift's own backtracer would take the crash signals that libFuzzer needs to see.
SWIFT_BACKTRACE=enable=no "$bin" \
  -max_total_time="$seconds" -dict=fuzz/topo.dict -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -artifact_prefix="$out/crashes/" -print_final_stats=1 "$@" \
  "$out/corpus" "$out/seeds" >"$log" 2>&1 || status=$?

# The last progress line: executions, coverage (cov: edges, ft: features), speed.
grep -E '^#[0-9]+' "$log" | tail -1 >&2 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" >&2 || true

found=$(find "$out/crashes" -type f -newer "$stamp" | head -5)
if [ "$status" -ne 0 ] || [ -n "$found" ]; then
  echo "fuzz: FAILED (libFuzzer exit $status)" >&2
  grep -E 'ERROR|SUMMARY|Fatal error|deadly signal|timeout|out-of-memory' "$log" | head -10 >&2 || true
  sed -n '/^==[0-9]*==ERROR/,/^SUMMARY/p' "$log" | head -60 >&2 || true
  for f in $found; do
    echo "fuzz: reproducer $f ($(wc -c <"$f") bytes):" >&2
    od -An -c "$f" | head -20 >&2
    echo "fuzz: base64: $(base64 -w0 "$f" | head -c 2000)" >&2
    echo "fuzz: reproduce with: $bin $f   (or: .build/debug/topo check $f)" >&2
  done
  echo "fuzz: add it as a row of Tests/TopoCLITests/BadInputCLITests.swift once fixed" >&2
  exit 1
fi
echo "fuzz: ok, no findings" >&2
