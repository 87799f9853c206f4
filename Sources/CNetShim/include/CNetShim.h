#ifndef CNETSHIM_H
#define CNETSHIM_H
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

/// setns(2): move the calling thread into the namespace behind `fd`.
static inline int topo_setns(int fd, int nstype) { return setns(fd, nstype); }
/// unshare(2): give the calling thread new namespaces of the kinds in `flags`.
static inline int topo_unshare(int flags) { return unshare(flags); }
/// gettid(2): the calling thread's id.
static inline int topo_gettid(void) { return (int)syscall(SYS_gettid); }

/// statfs(2)'s f_type of `path`, or -1 (errno set) when it cannot be read.
static inline long long topo_fs_type(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) != 0) return -1;
    return (long long)fs.f_type;
}

static const int TOPO_CLONE_NEWNET = CLONE_NEWNET;
static const int TOPO_CLONE_NEWNS = CLONE_NEWNS;
static const int TOPO_CLONE_FS = CLONE_FS;

#endif
