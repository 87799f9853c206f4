#!/bin/sh
# Built by `topo plan --format ip` from examples/lab.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add east
ip netns add east-h1
ip netns add east-h2
ip netns add east-h3
ip netns add west
ip netns add west-h1
ip netns add west-h2
ip -n east -batch - <<'TOPO_EOF'
link add name h1 type veth peer name eth0 netns east-h1
link add name br0 type bridge
link add name h2 type veth peer name eth0 netns east-h2
link add name h3 type veth peer name eth0 netns east-h3
link add name transit type veth peer name transit netns west
link set dev h1 master br0
link set dev h2 master br0
link set dev h3 master br0
link set dev lo up
link set dev h1 up
link set dev br0 up
link set dev h2 up
link set dev h3 up
link set dev transit up
address add 10.1.0.1/24 dev br0
address add 172.16.0.1/30 dev transit
route add 10.2.0.0/24 via 172.16.0.2
TOPO_EOF
ip -n east-h1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.1.0.11/24 dev eth0
route add 0.0.0.0/0 via 10.1.0.1
TOPO_EOF
ip -n east-h2 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.1.0.12/24 dev eth0
route add 0.0.0.0/0 via 10.1.0.1
TOPO_EOF
ip -n east-h3 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.1.0.13/24 dev eth0
route add 0.0.0.0/0 via 10.1.0.1
TOPO_EOF
ip -n west -batch - <<'TOPO_EOF'
link add name h1 type veth peer name eth0 netns west-h1
link add name br0 type bridge
link add name h2 type veth peer name eth0 netns west-h2
link set dev h1 master br0
link set dev h2 master br0
link set dev lo up
link set dev h1 up
link set dev br0 up
link set dev h2 up
link set dev transit up
address add 10.2.0.1/24 dev br0
address add 172.16.0.2/30 dev transit
route add 10.1.0.0/24 via 172.16.0.1
TOPO_EOF
ip -n west-h1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.2.0.11/24 dev eth0
route add 0.0.0.0/0 via 10.2.0.1
TOPO_EOF
ip -n west-h2 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.2.0.12/24 dev eth0
route add 0.0.0.0/0 via 10.2.0.1
TOPO_EOF
ip netns exec east sysctl -qw net.ipv4.ip_forward=1
ip netns exec east sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec west sysctl -qw net.ipv4.ip_forward=1
ip netns exec west sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec east-h1 ping -c 1 -W 2 10.2.0.12 >/dev/null || { echo 'topo: ping 10.2.0.12 from east-h1 failed (examples/lab.topo:30)' >&2; exit 1; }
ip netns exec west-h2 ping -c 1 -W 2 10.1.0.13 >/dev/null || { echo 'topo: ping 10.1.0.13 from west-h2 failed (examples/lab.topo:31)' >&2; exit 1; }
