#!/usr/bin/env bash
# check+plan of a generated 100 000-interface script: lines per second and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product topo >&2
exec python3 bench/plan.py --topo .build/release/topo "$@"
