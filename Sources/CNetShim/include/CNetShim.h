#ifndef CNETSHIM_H
#define CNETSHIM_H
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include <sys/syscall.h>

/// setns(2): move the calling thread into the namespace behind `fd`.
static inline int topo_setns(int fd, int nstype) { return setns(fd, nstype); }
/// unshare(2): give the calling thread new namespaces of the kinds in `flags`.
static inline int topo_unshare(int flags) { return unshare(flags); }
/// gettid(2): the calling thread's id.
static inline int topo_gettid(void) { return (int)syscall(SYS_gettid); }

/// statfs(2)'s f_type of `path`, or -1 (errno set) when it cannot be read. (In shim.c: the
/// header includes no more system headers than it must, as they must agree with SwiftGlibc's.)
long long topo_fs_type(const char *path);
/// POSIX_SPAWN_SETSID (a glibc extension the Swift Glibc module does not show); 0 if absent.
short topo_posix_spawn_setsid(void);
/// pidfd_open(2): a descriptor that polls readable once the process has exited; -1 with
/// errno (ENOSYS before Linux 5.3).
int topo_pidfd_open(int pid);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): close every descriptor >= `from`
/// in the child; ENOSYS where the C library lacks it. `actions` is a
/// `posix_spawn_file_actions_t *` (untyped here: the header must not include <spawn.h>, whose
/// types would then clash with SwiftGlibc's under _GNU_SOURCE).
int topo_spawn_addclosefrom(void *actions, int from);

static const int TOPO_CLONE_NEWNET = CLONE_NEWNET;
static const int TOPO_CLONE_NEWUSER = CLONE_NEWUSER;
static const int TOPO_CLONE_NEWPID = CLONE_NEWPID;
static const int TOPO_CLONE_NEWNS = CLONE_NEWNS;
static const int TOPO_CLONE_FS = CLONE_FS;

#endif
