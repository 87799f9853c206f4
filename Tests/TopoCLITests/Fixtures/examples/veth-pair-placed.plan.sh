#!/bin/sh
# Built by `topo plan --format ip` from examples/veth-pair-placed.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add ns0
ip netns add ns1
ip -n ns0 -batch - <<'TOPO_EOF'
link add name veth0 type veth peer name veth1 netns ns1
link set dev lo up
link set dev veth0 up
address add 10.0.1.1/24 dev veth0
TOPO_EOF
ip -n ns1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev veth1 up
address add 10.0.1.2/24 dev veth1
TOPO_EOF
ip netns exec ns0 ping -c 1 -W 2 10.0.1.2 >/dev/null || { echo 'topo: ping 10.0.1.2 from ns0 failed (examples/veth-pair-placed.topo:6)' >&2; exit 1; }
