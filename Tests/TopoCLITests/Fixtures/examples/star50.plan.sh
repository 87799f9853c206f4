#!/bin/sh
# Built by `topo plan --format ip` from examples/star50.topo: the same topology with iproute2 alone.
# Run as root. Stops at the first failure.
set -e
ip netns add hub
ip netns add h1
ip netns add h2
ip netns add h3
ip netns add h4
ip netns add h5
ip netns add h6
ip netns add h7
ip netns add h8
ip netns add h9
ip netns add h10
ip netns add h11
ip netns add h12
ip netns add h13
ip netns add h14
ip netns add h15
ip netns add h16
ip netns add h17
ip netns add h18
ip netns add h19
ip netns add h20
ip netns add h21
ip netns add h22
ip netns add h23
ip netns add h24
ip netns add h25
ip netns add h26
ip netns add h27
ip netns add h28
ip netns add h29
ip netns add h30
ip netns add h31
ip netns add h32
ip netns add h33
ip netns add h34
ip netns add h35
ip netns add h36
ip netns add h37
ip netns add h38
ip netns add h39
ip netns add h40
ip netns add h41
ip netns add h42
ip netns add h43
ip netns add h44
ip netns add h45
ip netns add h46
ip netns add h47
ip netns add h48
ip netns add h49
ip netns add h50
ip -n hub -batch - <<'TOPO_EOF'
link add name p1 type veth peer name eth0 netns h1
link add name br0 type bridge
link add name p2 type veth peer name eth0 netns h2
link add name p3 type veth peer name eth0 netns h3
link add name p4 type veth peer name eth0 netns h4
link add name p5 type veth peer name eth0 netns h5
link add name p6 type veth peer name eth0 netns h6
link add name p7 type veth peer name eth0 netns h7
link add name p8 type veth peer name eth0 netns h8
link add name p9 type veth peer name eth0 netns h9
link add name p10 type veth peer name eth0 netns h10
link add name p11 type veth peer name eth0 netns h11
link add name p12 type veth peer name eth0 netns h12
link add name p13 type veth peer name eth0 netns h13
link add name p14 type veth peer name eth0 netns h14
link add name p15 type veth peer name eth0 netns h15
link add name p16 type veth peer name eth0 netns h16
link add name p17 type veth peer name eth0 netns h17
link add name p18 type veth peer name eth0 netns h18
link add name p19 type veth peer name eth0 netns h19
link add name p20 type veth peer name eth0 netns h20
link add name p21 type veth peer name eth0 netns h21
link add name p22 type veth peer name eth0 netns h22
link add name p23 type veth peer name eth0 netns h23
link add name p24 type veth peer name eth0 netns h24
link add name p25 type veth peer name eth0 netns h25
link add name p26 type veth peer name eth0 netns h26
link add name p27 type veth peer name eth0 netns h27
link add name p28 type veth peer name eth0 netns h28
link add name p29 type veth peer name eth0 netns h29
link add name p30 type veth peer name eth0 netns h30
link add name p31 type veth peer name eth0 netns h31
link add name p32 type veth peer name eth0 netns h32
link add name p33 type veth peer name eth0 netns h33
link add name p34 type veth peer name eth0 netns h34
link add name p35 type veth peer name eth0 netns h35
link add name p36 type veth peer name eth0 netns h36
link add name p37 type veth peer name eth0 netns h37
link add name p38 type veth peer name eth0 netns h38
link add name p39 type veth peer name eth0 netns h39
link add name p40 type veth peer name eth0 netns h40
link add name p41 type veth peer name eth0 netns h41
link add name p42 type veth peer name eth0 netns h42
link add name p43 type veth peer name eth0 netns h43
link add name p44 type veth peer name eth0 netns h44
link add name p45 type veth peer name eth0 netns h45
link add name p46 type veth peer name eth0 netns h46
link add name p47 type veth peer name eth0 netns h47
link add name p48 type veth peer name eth0 netns h48
link add name p49 type veth peer name eth0 netns h49
link add name p50 type veth peer name eth0 netns h50
link set dev p1 master br0
link set dev p2 master br0
link set dev p3 master br0
link set dev p4 master br0
link set dev p5 master br0
link set dev p6 master br0
link set dev p7 master br0
link set dev p8 master br0
link set dev p9 master br0
link set dev p10 master br0
link set dev p11 master br0
link set dev p12 master br0
link set dev p13 master br0
link set dev p14 master br0
link set dev p15 master br0
link set dev p16 master br0
link set dev p17 master br0
link set dev p18 master br0
link set dev p19 master br0
link set dev p20 master br0
link set dev p21 master br0
link set dev p22 master br0
link set dev p23 master br0
link set dev p24 master br0
link set dev p25 master br0
link set dev p26 master br0
link set dev p27 master br0
link set dev p28 master br0
link set dev p29 master br0
link set dev p30 master br0
link set dev p31 master br0
link set dev p32 master br0
link set dev p33 master br0
link set dev p34 master br0
link set dev p35 master br0
link set dev p36 master br0
link set dev p37 master br0
link set dev p38 master br0
link set dev p39 master br0
link set dev p40 master br0
link set dev p41 master br0
link set dev p42 master br0
link set dev p43 master br0
link set dev p44 master br0
link set dev p45 master br0
link set dev p46 master br0
link set dev p47 master br0
link set dev p48 master br0
link set dev p49 master br0
link set dev p50 master br0
link set dev lo up
link set dev p1 up
link set dev br0 up
link set dev p2 up
link set dev p3 up
link set dev p4 up
link set dev p5 up
link set dev p6 up
link set dev p7 up
link set dev p8 up
link set dev p9 up
link set dev p10 up
link set dev p11 up
link set dev p12 up
link set dev p13 up
link set dev p14 up
link set dev p15 up
link set dev p16 up
link set dev p17 up
link set dev p18 up
link set dev p19 up
link set dev p20 up
link set dev p21 up
link set dev p22 up
link set dev p23 up
link set dev p24 up
link set dev p25 up
link set dev p26 up
link set dev p27 up
link set dev p28 up
link set dev p29 up
link set dev p30 up
link set dev p31 up
link set dev p32 up
link set dev p33 up
link set dev p34 up
link set dev p35 up
link set dev p36 up
link set dev p37 up
link set dev p38 up
link set dev p39 up
link set dev p40 up
link set dev p41 up
link set dev p42 up
link set dev p43 up
link set dev p44 up
link set dev p45 up
link set dev p46 up
link set dev p47 up
link set dev p48 up
link set dev p49 up
link set dev p50 up
address add 10.50.0.1/16 dev br0
TOPO_EOF
ip -n h1 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.101/16 dev eth0
TOPO_EOF
ip -n h2 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.102/16 dev eth0
TOPO_EOF
ip -n h3 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.103/16 dev eth0
TOPO_EOF
ip -n h4 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.104/16 dev eth0
TOPO_EOF
ip -n h5 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.105/16 dev eth0
TOPO_EOF
ip -n h6 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.106/16 dev eth0
TOPO_EOF
ip -n h7 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.107/16 dev eth0
TOPO_EOF
ip -n h8 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.108/16 dev eth0
TOPO_EOF
ip -n h9 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.109/16 dev eth0
TOPO_EOF
ip -n h10 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.110/16 dev eth0
TOPO_EOF
ip -n h11 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.111/16 dev eth0
TOPO_EOF
ip -n h12 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.112/16 dev eth0
TOPO_EOF
ip -n h13 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.113/16 dev eth0
TOPO_EOF
ip -n h14 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.114/16 dev eth0
TOPO_EOF
ip -n h15 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.115/16 dev eth0
TOPO_EOF
ip -n h16 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.116/16 dev eth0
TOPO_EOF
ip -n h17 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.117/16 dev eth0
TOPO_EOF
ip -n h18 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.118/16 dev eth0
TOPO_EOF
ip -n h19 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.119/16 dev eth0
TOPO_EOF
ip -n h20 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.120/16 dev eth0
TOPO_EOF
ip -n h21 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.121/16 dev eth0
TOPO_EOF
ip -n h22 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.122/16 dev eth0
TOPO_EOF
ip -n h23 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.123/16 dev eth0
TOPO_EOF
ip -n h24 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.124/16 dev eth0
TOPO_EOF
ip -n h25 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.125/16 dev eth0
TOPO_EOF
ip -n h26 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.126/16 dev eth0
TOPO_EOF
ip -n h27 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.127/16 dev eth0
TOPO_EOF
ip -n h28 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.128/16 dev eth0
TOPO_EOF
ip -n h29 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.129/16 dev eth0
TOPO_EOF
ip -n h30 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.130/16 dev eth0
TOPO_EOF
ip -n h31 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.131/16 dev eth0
TOPO_EOF
ip -n h32 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.132/16 dev eth0
TOPO_EOF
ip -n h33 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.133/16 dev eth0
TOPO_EOF
ip -n h34 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.134/16 dev eth0
TOPO_EOF
ip -n h35 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.135/16 dev eth0
TOPO_EOF
ip -n h36 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.136/16 dev eth0
TOPO_EOF
ip -n h37 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.137/16 dev eth0
TOPO_EOF
ip -n h38 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.138/16 dev eth0
TOPO_EOF
ip -n h39 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.139/16 dev eth0
TOPO_EOF
ip -n h40 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.140/16 dev eth0
TOPO_EOF
ip -n h41 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.141/16 dev eth0
TOPO_EOF
ip -n h42 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.142/16 dev eth0
TOPO_EOF
ip -n h43 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.143/16 dev eth0
TOPO_EOF
ip -n h44 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.144/16 dev eth0
TOPO_EOF
ip -n h45 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.145/16 dev eth0
TOPO_EOF
ip -n h46 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.146/16 dev eth0
TOPO_EOF
ip -n h47 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.147/16 dev eth0
TOPO_EOF
ip -n h48 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.148/16 dev eth0
TOPO_EOF
ip -n h49 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.149/16 dev eth0
TOPO_EOF
ip -n h50 -batch - <<'TOPO_EOF'
link set dev lo up
link set dev eth0 up
address add 10.50.0.150/16 dev eth0
TOPO_EOF
ip netns exec h1 ping -c 1 -W 2 10.50.0.1 >/dev/null || { echo 'topo: ping 10.50.0.1 from h1 failed (examples/star50.topo:15)' >&2; exit 1; }
ip netns exec h50 ping -c 1 -W 2 10.50.0.101 >/dev/null || { echo 'topo: ping 10.50.0.101 from h50 failed (examples/star50.topo:16)' >&2; exit 1; }
