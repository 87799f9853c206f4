#!/usr/bin/env python3
"""What a sysctl write costs when there are many network namespaces (issue 10).

Every open() of /proc/sys/net/... looks its path up component by component. Under one proc
superblock, the dentries of one sysctl name (one per namespace that looked it up) sit in one
hash chain that proc_sys_compare walks, so each lookup costs O(namespaces looked up so far).
This compares, at N namespaces, writing net.ipv4.ip_forward (not per-device) or
net.ipv4.conf.lo.forwarding (per-device) in each:

  A   setns into the namespace, open /proc/sys/... (the shared /proc), write, setns back
      (what topo does today)
  P/K the same through a private procfs mounted (in a private mount namespace) in place of
      the shared one and mounted afresh every K namespaces: its dentry chains never hold
      more than K namespaces' entries. The mount costs ~0.2-0.3 ms, so K of 16-64 is best.
  C   per-device IPv4 conf over rtnetlink (RTM_NEWLINK IFLA_AF_SPEC / AF_INET /
      IFLA_INET_CONF) through the namespace's own socket, kept open: no path lookup, no
      setns. Only conf/DEV/KEY keys of IPv4 (the kernel has no netlink set for "all",
      "default" or IPv6 conf: devinet.c registers RTM_GETNETCONF only, and
      inet6_set_link_af takes only the token and addr_gen_mode).
  S   setns there and back alone.

Every method's writes are read back (through setns + the shared /proc) for a sample of the
namespaces. (An fd of a /proc/sys *directory* kept per namespace does not work: lookups below
it follow the sysctl links of the *calling* thread's namespace, so openat(dirfd, ...) from
elsewhere writes the caller's value.)

Run as root; it unshares its own network and mount namespaces first (nothing outside is
touched):  sudo python3 bench/sysctl-paths.py 2000 [K,K,...]
"""
import ctypes, os, socket, struct, sys, time

CLONE_NEWNET, CLONE_NEWNS = 0x40000000, 0x00020000
MS_REC, MS_PRIVATE, MNT_DETACH = 0x4000, 0x40000, 2
libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(fd):
    check(libc.setns(fd, CLONE_NEWNET), "setns")


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("<HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def devconf_request(seq, index, conf_id, value):
    # RTM_NEWLINK (16), REQUEST|ACK; ifinfomsg {index}; IFLA_AF_SPEC 26 { AF_INET 2 {
    # IFLA_INET_CONF 1 { conf_id: u32 } } }. IPV4_DEVCONF_FORWARDING is 1.
    body = struct.pack("<BBHiII", 0, 0, 0, index, 0, 0)
    body += attr(26, attr(2, attr(1, attr(conf_id, struct.pack("<I", value)))))
    return struct.pack("<IHHII", 16 + len(body), 16, 0x5, seq, 0) + body


def ack(s, seq):
    while True:
        d = s.recv(65536)
        _, typ, _, rseq, _ = struct.unpack_from("<IHHII", d)
        if typ == 2 and rseq == seq:
            err = struct.unpack_from("<i", d, 16)[0]
            if err:
                raise OSError(-err, os.strerror(-err))
            return


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    ks = [int(k) for k in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 16, 64, 256]
    check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make-rprivate /")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fds, socks = [], []
    t0 = time.perf_counter()
    for _ in range(n):
        check(libc.unshare(CLONE_NEWNET), "unshare")
        fds.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY))
        socks.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
        setns(home)
    print(f"{n} namespaces (each with a netlink socket) in {time.perf_counter() - t0:.2f} s")
    private = "/tmp/topo-bench-proc"
    os.makedirs(private, exist_ok=True)

    def write(root, key, value):
        f = os.open(f"{root}/sys/net/ipv4/{key}", os.O_WRONLY)
        os.write(f, value + b"\n")
        os.close(f)

    def verify(key, value):
        bad = 0
        for fd in fds[:: max(1, n // 20)]:
            setns(fd)
            with open(f"/proc/sys/net/ipv4/{key}") as f:
                bad += f.read().strip() != value.decode()
            setns(home)
        return bad

    def report(label, dt, key, value):
        print(f"{label:<52} {dt / n * 1e6:8.1f} us/namespace   (wrong read-backs: {verify(key, value)})", flush=True)

    for rnd, value in enumerate([b"1", b"0", b"1"]):
        print(f"-- round {rnd + 1} (writing {value.decode()})")
        t0 = time.perf_counter()
        for fd in fds:
            setns(fd)
            setns(home)
        print(f"{'S  setns there and back':<52} {(time.perf_counter() - t0) / n * 1e6:8.1f} us/namespace")
        for key in ["ip_forward", "conf/lo/forwarding"]:
            t0 = time.perf_counter()
            for fd in fds:
                setns(fd)
                write("/proc", key, value)
                setns(home)
            report(f"A  {key}: shared /proc", time.perf_counter() - t0, key, value)
        for k in ks:
            t0 = time.perf_counter()
            for i, fd in enumerate(fds):
                if i % k == 0:
                    if i:
                        check(libc.umount2(private.encode(), MNT_DETACH), "umount")
                    check(libc.mount(b"proc", private.encode(), b"proc", 0, None), "mount proc")
                setns(fd)
                write(private, "ip_forward", value)
                setns(home)
            check(libc.umount2(private.encode(), MNT_DETACH), "umount")
            report(f"P  ip_forward: fresh procfs every {k} namespaces", time.perf_counter() - t0, "ip_forward", value)
        t0 = time.perf_counter()
        for i, s in enumerate(socks):
            s.send(devconf_request(i + 1, 1, 1, int(value)))  # lo is ifindex 1
            ack(s, i + 1)
        report("C  conf/lo/forwarding: netlink IFLA_INET_CONF", time.perf_counter() - t0, "conf/lo/forwarding", value)
    os.rmdir(private)


if __name__ == "__main__":
    main()
