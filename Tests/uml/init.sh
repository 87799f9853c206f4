#!/bin/bash
# PID 1 inside user-mode Linux, started by Tests/uml/run.sh (never run it on the host).
#
# The runner copies this file into its lane directory LANE on the host, with LANE/lane.conf
# (settings) and LANE/test.sh (the test script) beside it, and boots UML with the host's root
# file system read-only and `init=LANE/init`. This wrapper:
#   1. sets PATH and mounts proc, sysfs and tmpfs on /run and /tmp (the root stays read-only;
#      a LANE_CWD under /tmp is mounted again over the tmpfs, from the host, read-only);
#   2. mounts the one writable host directory, LANE_OUT, at /run/out (hostfs);
#   3. loads the modules asked for with `modprobe -d DIR NAME`, DIR being a tree made here in
#      /run whose lib/modules/$(uname -r) links to the host's UML modules, and points the
#      kernel's own module requests at the same tree (unless LANE_NO_AUTOLOAD is set);
#   4. runs the test script under bash with a time limit, in LANE_CWD, with LANE_ENV exported;
#   5. writes /run/out/output (stdout and stderr of the script, in order), /run/out/status
#      (its exit status; 124 = killed by the time limit) and /run/out/timing, then syncs,
#      unmounts and powers off. UML's own exit status never carries the script's.
# A failure of the lane itself (a module that does not load, a missing setting) is written to
# /run/out/lane-error instead of a status, and the test script is not run.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TERM=dumb
umask 022

lane=${0%/*}

halt() {
    sync
    [ -n "$out_mounted" ] && umount /run/out 2>/dev/null
    poweroff -f
    # poweroff -f does not return; if it does, halt through sysrq so UML never waits.
    echo o > /proc/sysrq-trigger
    sleep 60
}

# Lane errors before /run/out exists go to the console, which the runner keeps.
fail() {
    echo "uml-lane: $*" >&2
    if [ -n "$out_mounted" ]; then echo "$*" > /run/out/lane-error; fi
    halt
}

mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"
mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a tmpfs on /run"
mkdir -p /run/out /run/lane /run/lock

# shellcheck source=/dev/null
. "$lane/lane.conf" || fail "cannot read $lane/lane.conf"
[ -n "$LANE_OUT" ] || fail "lane.conf sets no LANE_OUT"

mount -t hostfs -o "$LANE_OUT" none /run/out || fail "cannot mount host directory $LANE_OUT at /run/out"
out_mounted=1
echo "init $(cut -d' ' -f1 /proc/uptime)" > /run/out/timing

# The test script is read before /tmp is covered (the lane directory usually lives in /tmp).
cp "$lane/test.sh" /run/lane/test.sh || fail "cannot copy the test script"
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "cannot mount a tmpfs on /tmp"
# A working directory under /tmp (a clone made there) would be hidden by that tmpfs: the host's
# directory is mounted at the same path again, read-only like the rest of the root.
case $LANE_CWD/ in
/tmp/*)
    mkdir -p "$LANE_CWD" && mount -r -t hostfs -o "$LANE_CWD" none "$LANE_CWD" ||
        fail "cannot mount host directory $LANE_CWD at itself under the tmpfs /tmp" ;;
esac

# Modules: modprobe looks in DIR/lib/modules/$(uname -r).
release=$(uname -r)
moddir=/run/lane/modules
mkdir -p "$moddir/lib/modules"
ln -s "$LANE_MODULES/$release" "$moddir/lib/modules/$release"
# The kernel's own module requests (`ip link add … type vlan` asks for rtnl-link-vlan) go
# through the same tree, as on an ordinary machine, unless the runner was told -n.
if [ -z "$LANE_NO_AUTOLOAD" ]; then
    printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$moddir" > /run/lane/modprobe
    chmod 0755 /run/lane/modprobe
    echo /run/lane/modprobe > /proc/sys/kernel/modprobe
else
    echo /bin/false > /proc/sys/kernel/modprobe
fi
# One modprobe for all (each process costs a lot under UML); its message names a missing one.
if [ -n "$LANE_LOAD" ]; then
    # shellcheck disable=SC2086
    msg=$(modprobe -d "$moddir" -a $LANE_LOAD 2>&1) || fail "modprobe -a $LANE_LOAD failed: ${msg#modprobe: }"
fi
echo "modules $(cut -d' ' -f1 /proc/uptime)" >> /run/out/timing

ip link set lo up 2>/dev/null

cd "$LANE_CWD" || fail "cannot enter $LANE_CWD"
timeout -k 5 "$LANE_TIMEOUT" bash /run/lane/test.sh < /dev/null > /run/out/output 2>&1
status=$?
echo "done $(cut -d' ' -f1 /proc/uptime)" >> /run/out/timing
echo "$status" > /run/out/status
halt
