#!/bin/sh
# Built by `topo plan --format ip` from examples/shaping.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add r1
ip netns add r2
ip netns add home
ip netns add phone
ip -n r1 -batch - <<'TOPO_EOF'
link add name wan type veth peer name wan netns r2
link add name access type veth peer name eth0 netns home
link set dev lo up
link set dev wan up
link set dev access up
address add 10.0.12.1/30 dev wan
address add 10.0.1.1/24 dev access
route add 10.0.2.0/24 via 10.0.12.2
TOPO_EOF
ip -n r2 -batch - <<'TOPO_EOF'
link add name radio type veth peer name wlan0 netns phone
link set dev lo up
link set dev wan up
link set dev radio up
address add 10.0.12.2/30 dev wan
address add 10.0.2.1/24 dev radio
route add 10.0.1.0/24 via 10.0.12.1
TOPO_EOF
ip -n home -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.0.1.2/24 dev eth0
route add 0.0.0.0/0 via 10.0.1.1
TOPO_EOF
ip -n phone -batch - <<'TOPO_EOF'
link set dev lo up
link set dev wlan0 up
address add 10.0.2.2/24 dev wlan0
route add 0.0.0.0/0 via 10.0.2.1
TOPO_EOF
tc -n r1 qdisc replace dev wan root handle 1: netem delay 40ms loss 1% limit 1000
tc -n r2 qdisc replace dev wan root handle 1: netem delay 40ms loss 1% limit 1000
tc -n r1 qdisc replace dev access root handle 1: tbf rate 10000000bit burst 16384b limit 78884
tc -n home qdisc replace dev eth0 root handle 1: tbf rate 2000000bit burst 16384b limit 28884
tc -n r2 qdisc replace dev radio root handle 1: netem delay 3ms 2ms loss 2% duplicate 0.1% reorder 1% limit 1000
tc -n r2 qdisc replace dev radio parent 1:1 handle 10: tbf rate 54000000bit burst 27000b limit 364500
tc -n phone qdisc replace dev wlan0 root handle 1: netem delay 3ms 2ms loss 2% duplicate 0.1% reorder 1% limit 1000
tc -n phone qdisc replace dev wlan0 parent 1:1 handle 10: tbf rate 54000000bit burst 27000b limit 364500
ip netns exec r1 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r1 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec r2 sysctl -qw net.ipv4.ip_forward=1
ip netns exec r2 sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec home ping -c 3 -W 2 10.0.2.2 >/dev/null || { echo 'topo: ping 10.0.2.2 from home failed (examples/shaping.topo:32)' >&2; exit 1; }
