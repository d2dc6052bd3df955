// CLinux: the small C layer that LinuxFS needs to reach Linux APIs the Swift
// importer cannot see (macros built from _IOR/_IOW, _GNU_SOURCE-only
// constants and functions, raw syscalls without a glibc wrapper, and a
// signal handler that must be async-signal-safe).
//
// The header itself only uses plain C types so that it imports the same way
// with or without _GNU_SOURCE; every value is computed in shim.c, which is
// compiled with _GNU_SOURCE.

#ifndef CLINUX_H
#define CLINUX_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/statfs.h>   // struct statfs, fstatfs (not part of the Glibc module)
#include <linux/fiemap.h>   // struct fiemap, struct fiemap_extent
#include <linux/stat.h>     // struct statx (the same definition glibc uses)
#include <sys/uio.h>        // struct iovec

// MARK: ioctl requests

extern const unsigned long CLINUX_FS_IOC_GETFLAGS;
extern const unsigned long CLINUX_FS_IOC_SETFLAGS;
extern const unsigned long CLINUX_FS_IOC_FSGETXATTR;
extern const unsigned long CLINUX_FS_IOC_FIEMAP;

// MARK: FIEMAP flags

extern const uint32_t CLINUX_FIEMAP_FLAG_SYNC;
extern const uint32_t CLINUX_FIEMAP_EXTENT_LAST;
extern const uint32_t CLINUX_FIEMAP_EXTENT_UNKNOWN;
extern const uint32_t CLINUX_FIEMAP_EXTENT_DELALLOC;
extern const uint32_t CLINUX_FIEMAP_EXTENT_ENCODED;
extern const uint32_t CLINUX_FIEMAP_EXTENT_DATA_ENCRYPTED;
extern const uint32_t CLINUX_FIEMAP_EXTENT_NOT_ALIGNED;
extern const uint32_t CLINUX_FIEMAP_EXTENT_DATA_INLINE;
extern const uint32_t CLINUX_FIEMAP_EXTENT_DATA_TAIL;
extern const uint32_t CLINUX_FIEMAP_EXTENT_UNWRITTEN;
extern const uint32_t CLINUX_FIEMAP_EXTENT_MERGED;
extern const uint32_t CLINUX_FIEMAP_EXTENT_SHARED;

// MARK: inode flags (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS) and xflags

extern const uint32_t CLINUX_FS_IMMUTABLE_FL;
extern const uint32_t CLINUX_FS_APPEND_FL;
extern const uint32_t CLINUX_FS_NOCOW_FL;
extern const uint32_t CLINUX_FS_DAX_FL;
extern const uint32_t CLINUX_FS_XFLAG_REALTIME;

// MARK: openat2 resolve flags and open flags hidden behind _GNU_SOURCE

extern const uint64_t CLINUX_RESOLVE_NO_XDEV;
extern const uint64_t CLINUX_RESOLVE_NO_MAGICLINKS;
extern const uint64_t CLINUX_RESOLVE_NO_SYMLINKS;
extern const uint64_t CLINUX_RESOLVE_BENEATH;
extern const int CLINUX_O_DIRECT;
extern const int CLINUX_O_PATH;

// MARK: fcntl leases

extern const int CLINUX_F_SETLEASE;
extern const int CLINUX_F_GETLEASE;
extern const int CLINUX_F_SETSIG;

// MARK: fallocate modes

extern const int CLINUX_FALLOC_FL_KEEP_SIZE;
extern const int CLINUX_FALLOC_FL_PUNCH_HOLE;
extern const int CLINUX_FALLOC_FL_UNSHARE_RANGE;
extern const int CLINUX_FALLOC_FL_WRITE_ZEROES;

// MARK: lseek whence

extern const int CLINUX_SEEK_DATA;
extern const int CLINUX_SEEK_HOLE;

// MARK: statx

extern const unsigned int CLINUX_STATX_BASIC_STATS;
extern const unsigned int CLINUX_STATX_MNT_ID;
extern const uint64_t CLINUX_STATX_ATTR_IMMUTABLE;
extern const uint64_t CLINUX_STATX_ATTR_APPEND;
extern const uint64_t CLINUX_STATX_ATTR_DAX;
extern const int CLINUX_AT_EMPTY_PATH;
extern const int CLINUX_AT_NO_AUTOMOUNT;

// MARK: statfs

extern const unsigned long CLINUX_ST_RDONLY;

// MARK: mmap and O_TMPFILE

extern const int CLINUX_MAP_SHARED_VALIDATE;
extern const int CLINUX_MAP_SYNC;
extern const int CLINUX_O_TMPFILE;

// MARK: functions (all return -1 and set errno on failure, like the calls they wrap)

/// openat2(2) through syscall(SYS_openat2 = 437) with a `struct open_how`.
int clinux_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// statx(2) (glibc wrapper; declared only under _GNU_SOURCE).
int clinux_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *out);

/// fallocate(2) (glibc wrapper; declared only under _GNU_SOURCE).
int clinux_fallocate(int fd, int mode, int64_t offset, int64_t length);

/// ioctl(FS_IOC_FSGETXATTR): stores `fsx_xflags` of the file in `*xflags`.
int clinux_get_xflags(int fd, uint32_t *xflags);

/// The lease-break notification signal: SIGRTMIN + 4 (SIGRTMIN is a function call in glibc).
int clinux_lease_break_signal(void);

/// Installs (once per process) an SA_SIGINFO|SA_RESTART handler for `signo` that writes the
/// `si_fd` of every kernel-generated delivery, as one `int`, to a nonblocking CLOEXEC pipe.
/// Stores the pipe's read end in `*read_fd_out`. Later calls return the same read end.
/// Returns 0, or -1 (pipe2 failed) / -2 (sigaction failed) with errno set.
int clinux_install_lease_break_handler(int signo, int *read_fd_out);

/// Names the calling thread (pthread_setname_np; at most 15 bytes are kept).
void clinux_name_this_thread(const char *name);

/// The short errno name, e.g. "ENOENT" (strerrorname_np), or NULL when unknown.
const char *clinux_errno_name(int errnum);

/// The English errno description (strerrordesc_np), or NULL when unknown. Thread-safe.
const char *clinux_errno_description(int errnum);

/// getrlimit(RLIMIT_MEMLOCK); UINT64_MAX stands for RLIM_INFINITY.
int clinux_get_memlock_limit(uint64_t *soft, uint64_t *hard);

/// setrlimit(RLIMIT_MEMLOCK); UINT64_MAX stands for RLIM_INFINITY.
int clinux_set_memlock_limit(uint64_t soft, uint64_t hard);

// MARK: Unix sockets (struct msghdr, struct cmsghdr and the CMSG_* macros do not import)

/// accept4(sock, NULL, NULL, SOCK_CLOEXEC) (glibc declares accept4 only under _GNU_SOURCE).
int clinux_accept_cloexec(int sock);

/// sendmsg(2) of `len` bytes with MSG_NOSIGNAL; when `fd` >= 0 it rides along as one
/// SCM_RIGHTS descriptor. Returns the bytes sent.
ssize_t clinux_send_with_fd(int sock, const void *buf, size_t len, int fd);

/// recvmsg(2) of up to `len` bytes. With `fd_out` NULL no control buffer is passed, so the
/// kernel discards any descriptors that arrive. Otherwise (MSG_CMSG_CLOEXEC) the first
/// SCM_RIGHTS descriptor is stored in `*fd_out` (-1 when none came) and any others are
/// closed. Returns the bytes received (0 at end of stream).
ssize_t clinux_receive_with_fd(int sock, void *buf, size_t len, int *fd_out);

/// getsockopt(SO_PEERCRED): the pid, uid and gid of the peer as of connect(2) or socketpair(2).
int clinux_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid);

// MARK: io_uring (liburing), used only to register fixed buffers: a real FOLL_LONGTERM pin

/// Creates an io_uring instance with one submission entry. Returns an opaque ring, or NULL
/// with `*error` set to the positive errno.
void *clinux_uring_create(int *error);

/// The ring's file descriptor (its registrations show in /proc/self/fdinfo/<fd>).
int clinux_uring_fd(void *ring);

/// io_uring_register_buffers: pins every iovec with FOLL_WRITE|FOLL_LONGTERM. Returns 0 or a
/// negative errno.
int clinux_uring_register_buffers(void *ring, const struct iovec *iovecs, unsigned count);

/// io_uring_unregister_buffers: releases the pins. Returns 0 or a negative errno.
int clinux_uring_unregister_buffers(void *ring);

/// Closes the ring (which also releases any registered buffers) and frees it.
void clinux_uring_destroy(void *ring);

// MARK: the allocator (glibc malloc; <malloc.h> is not part of the Glibc module)

/// malloc_trim(pad): gives free memory of every arena back to the kernel. Returns 1 when any was.
int clinux_malloc_trim(size_t pad);

/// mallopt(M_MMAP_THRESHOLD, bytes): blocks of at least `bytes` get a mapping of their own, and
/// glibc no longer raises the threshold (nor the trim threshold) as large blocks are freed.
/// Returns 1 on success.
int clinux_malloc_set_mmap_threshold(int bytes);

#endif
