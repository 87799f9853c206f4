#!/usr/bin/env bash
# Runs a bash test script inside user-mode Linux (UML): a second kernel, an ordinary process
# on this machine, that has the modules this machine's kernel lacks (sch_netem, 8021q, dummy,
# vrf, ipvlan, …). The host's root file system is UML's root, read-only, so the host's
# iproute2, ping and the built topo run unchanged inside; /run and /tmp are tmpfs inside UML.
#
# usage: Tests/uml/run.sh [options] SCRIPT|-
#   -m MOD[,MOD…]  load these modules before the script (repeatable)
#   -t SECONDS     time limit of the script inside UML (default 60; status 124 when exceeded)
#   -T SECONDS     host time limit for the whole boot (default: -t plus 60); UML is killed then
#   -M SIZE        UML memory (default 512M; host memory is only used as UML touches it)
#   -o DIR         write status, output, console, timing (and lane-error) into DIR, which
#                  becomes the one host directory UML can write; default a temp dir, removed
#   -e NAME=VALUE  export NAME to the script (repeatable)
#   -C DIR         the script's working directory (default: the current one; read-only inside)
#   -n             no module autoloading: only the -m modules (and built-ins) exist inside
#   -q             do not copy the script's output to stdout
#
# Exit status: the script's own (124 = it exceeded -t); 125 = the lane itself failed (no UML,
# boot failure, a module that did not load, UML killed by the host limit). Lane messages go to
# stderr, prefixed `uml-lane:`. Whatever happens, nothing is left behind: no UML process (as
# root UML is PID 1 of its own PID namespace, else the leader of its own process group, so
# killing it ends all its host processes), no temp dir, and no host mount (none is made).
#
# Environment: UML_LANE_KERNEL (default /usr/bin/linux.uml), UML_LANE_MODULES (default
# /usr/lib/uml/modules, holding one tree per kernel release), TMPDIR (where the temp dir goes).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel=${UML_LANE_KERNEL:-/usr/bin/linux.uml}
modules=${UML_LANE_MODULES:-/usr/lib/uml/modules}
mem=512M limit=60 hostlimit="" outdir="" cwd=$PWD quiet="" noauto=""
load=() envs=()

die() { echo "uml-lane: $*" >&2; exit 125; }
usage() { sed -n '6,17s/^# \{0,1\}//p' "$0" >&2; exit 125; }

while getopts "m:t:T:M:o:e:C:nqh" opt; do
    case $opt in
        m) IFS=, read -r -a more <<< "$OPTARG"; load+=("${more[@]}") ;;
        t) limit=$OPTARG ;;
        T) hostlimit=$OPTARG ;;
        M) mem=$OPTARG ;;
        o) outdir=$OPTARG ;;
        e) [[ $OPTARG == [A-Za-z_]*=* ]] || die "-e wants NAME=VALUE, not '$OPTARG'"; envs+=("$OPTARG") ;;
        C) cwd=$OPTARG ;;
        n) noauto=1 ;;
        q) quiet=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
script=$1
[[ $limit =~ ^[0-9]+$ ]] || die "-t wants whole seconds, not '$limit'"
hostlimit=${hostlimit:-$((limit + 60))}
[[ $hostlimit =~ ^[0-9]+$ ]] || die "-T wants whole seconds, not '$hostlimit'"
for m in "${load[@]}"; do [[ $m =~ ^[A-Za-z0-9_-]+$ ]] || die "not a module name: '$m'"; done

[ -x "$kernel" ] || die "no user-mode Linux kernel at $kernel (apt-get install user-mode-linux kmod)"
release=$("$kernel" --version 2>/dev/null) || die "$kernel --version failed"
[ -d "$modules/$release" ] || die "no modules for UML $release under $modules (apt-get install user-mode-linux)"
command -v unshare > /dev/null && command -v setpriv > /dev/null || die "unshare and setpriv (util-linux) are missing"
cwd=$(cd "$cwd" 2>/dev/null && pwd) || die "no such directory: $cwd"
# /tmp is a tmpfs inside UML: a working directory under it is mounted there again (hostfs,
# read-only), so its path goes into a mount option.
case $cwd/ in /tmp/*) plain_cwd=1 ;; *) plain_cwd="" ;; esac

# Paths that go on UML's command line or into a hostfs mount option: no blanks, no commas.
plain() { [[ $1 != *[[:space:],\"]* ]] || die "$2 '$1' must not contain blanks, commas or quotes"; }

lane=$(mktemp -d "${TMPDIR:-/tmp}/uml-lane.XXXXXX") || die "cannot make a temp dir"
launcher_pid="" timer_pid="" pidns=""
# Kills UML and waits until every one of its host processes is gone. As root UML is PID 1 of
# its own PID namespace: killing it makes the kernel kill and reap the namespace's other
# processes before `unshare` (its parent, which we wait for) sees it end, so nothing is left
# behind, not even a zombie. (Killing `unshare` alone would also work, --kill-child, but would
# leave UML to be reaped by the machine's init a moment later.) Otherwise its process group.
stop_uml() {
    [ -n "$launcher_pid" ] || return 0
    if [ -n "$pidns" ]; then
        local child
        child=$(cat "/proc/$launcher_pid/task/$launcher_pid/children" 2> /dev/null)
        # shellcheck disable=SC2086
        [ -n "$child" ] && kill -KILL $child 2> /dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$launcher_pid" 2> /dev/null || break; sleep 0.2; done
        kill -KILL "$launcher_pid" 2> /dev/null
        wait "$launcher_pid" 2> /dev/null
    else
        kill -KILL -- "-$launcher_pid" "$launcher_pid" 2> /dev/null
        wait "$launcher_pid" 2> /dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$launcher_pid" 2> /dev/null || break; sleep 0.2; done
    fi
    launcher_pid=""
}
cleanup() {
    stop_uml
    [ -n "$timer_pid" ] && kill -KILL "$timer_pid" 2> /dev/null && wait "$timer_pid" 2> /dev/null
    rm -rf "$lane"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
plain "$lane" "the temp dir"
[ -z "$plain_cwd" ] || plain "$cwd" "the working directory"

if [ -z "$outdir" ]; then outdir=$lane/out; fi
mkdir -p "$outdir" || die "cannot make $outdir"
outdir=$(cd "$outdir" && pwd)
plain "$outdir" "the output directory"
rm -f "$outdir"/{status,output,console,timing,lane-error}

cp "$here/init.sh" "$lane/init" && chmod 0755 "$lane/init" || die "cannot copy init.sh"
if [ "$script" = - ]; then cat > "$lane/test.sh"; else cp "$script" "$lane/test.sh"; fi || die "cannot read $script"
mkdir "$lane/uml"

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    echo "LANE_OUT=$(q "$outdir")"
    echo "LANE_MODULES=$(q "$modules")"
    echo "LANE_LOAD=$(q "${load[*]}")"
    echo "LANE_TIMEOUT=$(q "$limit")"
    echo "LANE_CWD=$(q "$cwd")"
    echo "LANE_NO_AUTOLOAD=$(q "$noauto")"
    for e in "${envs[@]}"; do echo "export ${e%%=*}=$(q "${e#*=}")"; done
} > "$lane/lane.conf"

# Root gives UML a PID namespace of its own. Others cannot (a user namespace would do, but
# inside it the host's root-owned files look owned by nobody, so setuid-root tools like mount
# stop working in UML): there UML's process group is killed instead (UML calls setsid, so its
# group holds exactly its processes).
if [ "$(id -u)" = 0 ] && unshare --pid --fork --kill-child true 2> /dev/null; then
    launcher=(setpriv --pdeathsig KILL unshare --pid --fork --kill-child --)
    pidns=1
else
    launcher=(setpriv --pdeathsig KILL)
    pidns=""
fi

start=$(date +%s.%N)
# UML keeps its memory in a file under TMPDIR, else /dev/shm: let it pick the tmpfs.
env -u TMPDIR -u TMP -u TEMP "${launcher[@]}" "$kernel" "mem=$mem" quiet \
    rootfstype=hostfs rootflags=/ ro "init=$lane/init" con=null con0=fd:0,fd:1 \
    "uml_dir=$lane/uml" umid=lane panic=-1 noreboot \
    < /dev/null > "$outdir/console" 2>&1 &
launcher_pid=$!
sleep "$hostlimit" &
timer_pid=$!
wait -n "$launcher_pid" "$timer_pid"
if kill -0 "$launcher_pid" 2> /dev/null; then
    stop_uml
    echo "uml-lane: UML killed after the host limit of $hostlimit s (last console lines follow)" >&2
    tail -n 20 "$outdir/console" >&2
    exit 125
fi
wait "$launcher_pid" 2> /dev/null; launcher_pid=""
kill -KILL "$timer_pid" 2> /dev/null; wait "$timer_pid" 2> /dev/null; timer_pid=""
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "wall %.2f\n", e - s }' >> "$outdir/timing"

if [ -z "$quiet" ] && [ -f "$outdir/output" ]; then cat "$outdir/output"; fi
if [ -f "$outdir/lane-error" ]; then
    echo "uml-lane: $(cat "$outdir/lane-error")" >&2
    exit 125
fi
if [ ! -f "$outdir/status" ]; then
    echo "uml-lane: UML ended without a status (last console lines follow)" >&2
    tail -n 20 "$outdir/console" >&2
    exit 125
fi
exit "$(cat "$outdir/status")"
