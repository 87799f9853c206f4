#!/bin/sh
# Built by `topo plan --format ip` from examples/bridge.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add h1
ip netns add h2
ip netns add h3
ip -batch - <<'TOPO_EOF'
link add name br0 type bridge
link add name p1 type veth peer name eth0 netns h1
link add name p2 type veth peer name eth0 netns h2
link add name p3 type veth peer name eth0 netns h3
link set dev p1 master br0
link set dev p2 master br0
link set dev p3 master br0
link set dev br0 up
link set dev p1 up
link set dev p2 up
link set dev p3 up
address add 10.0.0.254/24 dev br0
TOPO_EOF
ip -n h1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.0.1/24 dev eth0
TOPO_EOF
ip -n h2 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.0.2/24 dev eth0
TOPO_EOF
ip -n h3 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.0.3/24 dev eth0
TOPO_EOF
ip netns exec h1 ping -c 1 -W 2 10.0.0.254 >/dev/null || { echo 'topo: ping 10.0.0.254 from h1 failed (examples/bridge.topo:8)' >&2; exit 1; }
ip netns exec h2 ping -c 1 -W 2 10.0.0.254 >/dev/null || { echo 'topo: ping 10.0.0.254 from h2 failed (examples/bridge.topo:8)' >&2; exit 1; }
ip netns exec h3 ping -c 1 -W 2 10.0.0.254 >/dev/null || { echo 'topo: ping 10.0.0.254 from h3 failed (examples/bridge.topo:8)' >&2; exit 1; }
ip netns exec h1 ping -c 1 -W 2 10.0.0.3 >/dev/null || { echo 'topo: ping 10.0.0.3 from h1 failed (examples/bridge.topo:10)' >&2; exit 1; }
