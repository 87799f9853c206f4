#!/usr/bin/env bash
# One command for the whole benchmark: builds topo in release mode and prints markdown tables.
# Needs root; every run happens inside a fresh `unshare --net --mount` sandbox.
#   bash bench/run.sh            the full run (chain and multistar up to 10 000, the peers,
#                                the issue-8 star, the issue-11 shaped star, the REPL)
#   bash bench/run.sh --quick    a smoke run (sizes 100 and 500)
# Other arguments go to bench.py (e.g. --sizes 1000 --kinds chain --sections scale --json out.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# A static Swift runtime saves ~2 ms of process start-up per topo command.
swift build -c release --product topo --static-swift-stdlib >&2
# Debian's python3 has python3-pyroute2 and Mininet (a pyenv python3 first on PATH may not).
PY=/usr/bin/python3
# The models the peers are built from must be what topo plans from the same scripts.
"$PY" bench/test_gen.py --topo .build/release/topo >&2
# The judge must see a correct build as correct and notice a broken one.
"$PY" bench/test_observe.py --topo .build/release/topo >&2
exec "$PY" bench/bench.py --topo .build/release/topo "$@"
