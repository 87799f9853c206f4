#!/bin/sh
# Built by `topo plan --format ip` from examples/routed-chain.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add a
ip netns add r1
ip netns add r2
ip netns add b
ip -n a -batch - <<'TOPO_EOF'
link add name eth0 type veth peer name eth0 netns r1
link set dev lo up
link set dev eth0 up
address add 10.9.1.1/24 dev eth0
route add 0.0.0.0/0 via 10.9.1.254
TOPO_EOF
ip -n r1 -batch - <<'TOPO_EOF'
link add name eth1 type veth peer name eth0 netns r2
link set dev lo up
link set dev eth0 up
link set dev eth1 up
address add 10.9.1.254/24 dev eth0
address add 10.9.2.1/24 dev eth1
route add 10.9.3.0/24 via 10.9.2.254
TOPO_EOF
ip -n r2 -batch - <<'TOPO_EOF'
link add name eth1 type veth peer name eth0 netns b
link set dev lo up
link set dev eth0 up
link set dev eth1 up
address add 10.9.2.254/24 dev eth0
address add 10.9.3.1/24 dev eth1
route add 10.9.1.0/24 via 10.9.2.1
TOPO_EOF
ip -n b -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.9.3.254/24 dev eth0
route add 0.0.0.0/0 via 10.9.3.1
TOPO_EOF
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r1 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec r2 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r2 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec a ping -c 1 -W 2 10.9.3.254 >/dev/null || { echo 'topo: ping 10.9.3.254 from a failed (examples/routed-chain.topo:29)' >&2; exit 1; }
ip netns exec b ping -c 1 -W 2 10.9.1.1 >/dev/null || { echo 'topo: ping 10.9.1.1 from b failed (examples/routed-chain.topo:30)' >&2; exit 1; }
