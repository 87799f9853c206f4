#!/bin/sh
# Built by `topo plan --format ip` from examples/vrf-lab.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add r1
ip netns add red1
ip netns add red2
ip netns add blue1
ip -n r1 -batch - <<'TOPO_EOF'
link add name red0 type veth peer name eth0 netns red1
link add name red1 type veth peer name eth0 netns red2
link add name blue0 type veth peer name eth0 netns blue1
link add name red type vrf table 10
link add name blue type vrf table 20
link set dev red0 master red
link set dev red1 master red
link set dev blue0 master blue
link set dev lo up
link set dev red0 up
link set dev red1 up
link set dev blue0 up
link set dev red up
link set dev blue up
address add 10.0.0.1/24 dev red0
address add 10.0.0.1/24 dev blue0
address add 10.1.0.1/24 dev red1
route add 10.9.0.0/16 via 10.1.0.2 table 10
route add 10.8.0.0/16 via 10.0.0.2 table 20
TOPO_EOF
ip -n red1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.0.2/24 dev eth0
route add 0.0.0.0/0 via 10.0.0.1
TOPO_EOF
ip -n red2 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.1.0.2/24 dev eth0
address add 10.9.0.1/32 dev lo
route add 0.0.0.0/0 via 10.1.0.1
TOPO_EOF
ip -n blue1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.0.2/24 dev eth0
route add 0.0.0.0/0 via 10.0.0.1
TOPO_EOF
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r1 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec red1 ping -c 1 -W 2 10.9.0.1 >/dev/null || { echo 'topo: ping 10.9.0.1 from red1 failed (examples/vrf-lab.topo:32)' >&2; exit 1; }
