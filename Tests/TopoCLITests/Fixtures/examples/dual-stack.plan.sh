#!/bin/sh
# Built by `topo plan --format ip` from examples/dual-stack.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add left
ip netns add right
ip -n left -batch - <<'TOPO_EOF'
link add name eth0 type veth peer name eth0 netns right
link set dev eth0 mtu 9000
link set dev lo up
link set dev eth0 up
address add 192.168.50.1/24 dev eth0
address add fd00:50::1/64 dev eth0 nodad
route add 10.255.0.2/32 via 192.168.50.2
route add fd00:ff::2/128 via fd00:50::2
TOPO_EOF
ip -n right -batch - <<'TOPO_EOF'
link set dev eth0 mtu 9000
link set dev lo up
link set dev eth0 up
address add 192.168.50.2/24 dev eth0
address add fd00:50::2/64 dev eth0 nodad
address add 10.255.0.2/32 dev lo
address add fd00:ff::2/128 dev lo nodad
TOPO_EOF
ip netns exec left ping -c 1 -W 2 192.168.50.2 >/dev/null || { echo 'topo: ping 192.168.50.2 from left failed (examples/dual-stack.topo:13)' >&2; exit 1; }
ip netns exec left ping -c 1 -W 2 fd00:50::2 >/dev/null || { echo 'topo: ping fd00:50::2 from left failed (examples/dual-stack.topo:14)' >&2; exit 1; }
ip netns exec left ping -c 1 -W 2 10.255.0.2 >/dev/null || { echo 'topo: ping 10.255.0.2 from left failed (examples/dual-stack.topo:15)' >&2; exit 1; }
ip netns exec left ping -c 1 -W 2 fd00:ff::2 >/dev/null || { echo 'topo: ping fd00:ff::2 from left failed (examples/dual-stack.topo:16)' >&2; exit 1; }
