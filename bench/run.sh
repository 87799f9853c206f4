#!/usr/bin/env bash
# One command for the whole benchmark: builds topo in release mode and prints the table.
# Needs root; every build happens inside a fresh `unshare --net --mount` sandbox.
# Extra arguments go to bench.py (e.g. --sizes 10,100 --runs 3 --kinds star).
set -euo pipefail
cd "$(dirname "$0")/.."
# A static Swift runtime saves ~2 ms of process start-up per topo command.
swift build -c release --product topo --static-swift-stdlib >&2
exec python3 bench/bench.py --topo .build/release/topo "$@"
