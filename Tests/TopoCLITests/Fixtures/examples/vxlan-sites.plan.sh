#!/bin/sh
# Built by `topo plan --format ip` from examples/vxlan-sites.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add a
ip netns add b
ip netns add h1
ip netns add h2
ip -n a -batch - <<'TOPO_EOF'
link add name uplink type veth peer name uplink netns b
link add name h1 type veth peer name eth0 netns h1
link add name br0 type bridge
link add name vx0 type vxlan id 100 dstport 4789 remote 192.168.1.2 local 192.168.1.1 dev uplink
link set dev h1 master br0
link set dev vx0 master br0
link set dev h1 mtu 1450
link set dev lo up
link set dev uplink up
link set dev h1 up
link set dev br0 up
link set dev vx0 up
address add 192.168.1.1/24 dev uplink
TOPO_EOF
ip -n b -batch - <<'TOPO_EOF'
link add name h2 type veth peer name eth0 netns h2
link add name br0 type bridge
link add name vx0 type vxlan id 100 dstport 4789 remote 192.168.1.1 local 192.168.1.2 dev uplink
link set dev h2 master br0
link set dev vx0 master br0
link set dev h2 mtu 1450
link set dev lo up
link set dev uplink up
link set dev h2 up
link set dev br0 up
link set dev vx0 up
address add 192.168.1.2/24 dev uplink
TOPO_EOF
ip -n h1 -batch - <<'TOPO_EOF'
link set dev eth0 mtu 1450
link set dev lo up
link set dev eth0 up
address add 10.10.0.1/24 dev eth0
TOPO_EOF
ip -n h2 -batch - <<'TOPO_EOF'
link set dev eth0 mtu 1450
link set dev lo up
link set dev eth0 up
address add 10.10.0.2/24 dev eth0
TOPO_EOF
ip netns exec h1 ping -c 1 -W 2 10.10.0.2 >/dev/null || { echo 'topo: ping 10.10.0.2 from h1 failed (examples/vxlan-sites.topo:26)' >&2; exit 1; }
