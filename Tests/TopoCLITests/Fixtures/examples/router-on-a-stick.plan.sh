#!/bin/sh
# Built by `topo plan --format ip` from examples/router-on-a-stick.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add r1
ip netns add sw
ip netns add h10
ip netns add h20
ip -n r1 -batch - <<'TOPO_EOF'
link add name eth0 type veth peer name trunk netns sw
link add link eth0 name eth0.10 type vlan id 10
link add link eth0 name eth0.20 type vlan id 20
link set dev lo up
link set dev eth0 up
link set dev eth0.10 up
link set dev eth0.20 up
address add 10.0.10.1/24 dev eth0.10
address add 10.0.20.1/24 dev eth0.20
TOPO_EOF
ip -n sw -batch - <<'TOPO_EOF'
link add name p10 type veth peer name eth0 netns h10
link add name br10 type bridge
link add name p20 type veth peer name eth0 netns h20
link add name br20 type bridge
link add link trunk name trunk.10 type vlan id 10
link add link trunk name trunk.20 type vlan id 20
link set dev p10 master br10
link set dev p20 master br20
link set dev trunk.10 master br10
link set dev trunk.20 master br20
link set dev lo up
link set dev trunk up
link set dev p10 up
link set dev br10 up
link set dev p20 up
link set dev br20 up
link set dev trunk.10 up
link set dev trunk.20 up
TOPO_EOF
ip -n h10 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.10.2/24 dev eth0
route add 0.0.0.0/0 via 10.0.10.1
TOPO_EOF
ip -n h20 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.20.2/24 dev eth0
route add 0.0.0.0/0 via 10.0.20.1
TOPO_EOF
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r1 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec h10 ping -c 1 -W 2 10.0.20.2 >/dev/null || { echo 'topo: ping 10.0.20.2 from h10 failed (examples/router-on-a-stick.topo:29)' >&2; exit 1; }
