// Compiled with _GNU_SOURCE (Package.swift cSettings).
#ifndef _GNU_SOURCE
#error "CLinux must be compiled with _GNU_SOURCE"
#endif

#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <liburing.h>

// MARK: fallbacks for older headers (values from include/uapi/linux/*.h)

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#endif
#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE 0x40
#endif
#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES 0x80
#endif
#ifndef SEEK_DATA
#define SEEK_DATA 3
#define SEEK_HOLE 4
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifndef FS_DAX_FL
#define FS_DAX_FL 0x02000000
#endif
#ifndef FS_XFLAG_REALTIME
#define FS_XFLAG_REALTIME 0x00000001
#endif
#ifndef FIEMAP_EXTENT_SHARED
#define FIEMAP_EXTENT_SHARED 0x00002000
#endif

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

// MARK: constants

const unsigned long CLINUX_FS_IOC_GETFLAGS = FS_IOC_GETFLAGS;
const unsigned long CLINUX_FS_IOC_SETFLAGS = FS_IOC_SETFLAGS;
const unsigned long CLINUX_FS_IOC_FSGETXATTR = FS_IOC_FSGETXATTR;
const unsigned long CLINUX_FS_IOC_FIEMAP = FS_IOC_FIEMAP;

const uint32_t CLINUX_FIEMAP_FLAG_SYNC = FIEMAP_FLAG_SYNC;
const uint32_t CLINUX_FIEMAP_EXTENT_LAST = FIEMAP_EXTENT_LAST;
const uint32_t CLINUX_FIEMAP_EXTENT_UNKNOWN = FIEMAP_EXTENT_UNKNOWN;
const uint32_t CLINUX_FIEMAP_EXTENT_DELALLOC = FIEMAP_EXTENT_DELALLOC;
const uint32_t CLINUX_FIEMAP_EXTENT_ENCODED = FIEMAP_EXTENT_ENCODED;
const uint32_t CLINUX_FIEMAP_EXTENT_DATA_ENCRYPTED = FIEMAP_EXTENT_DATA_ENCRYPTED;
const uint32_t CLINUX_FIEMAP_EXTENT_NOT_ALIGNED = FIEMAP_EXTENT_NOT_ALIGNED;
const uint32_t CLINUX_FIEMAP_EXTENT_DATA_INLINE = FIEMAP_EXTENT_DATA_INLINE;
const uint32_t CLINUX_FIEMAP_EXTENT_DATA_TAIL = FIEMAP_EXTENT_DATA_TAIL;
const uint32_t CLINUX_FIEMAP_EXTENT_UNWRITTEN = FIEMAP_EXTENT_UNWRITTEN;
const uint32_t CLINUX_FIEMAP_EXTENT_MERGED = FIEMAP_EXTENT_MERGED;
const uint32_t CLINUX_FIEMAP_EXTENT_SHARED = FIEMAP_EXTENT_SHARED;

const uint32_t CLINUX_FS_IMMUTABLE_FL = FS_IMMUTABLE_FL;
const uint32_t CLINUX_FS_APPEND_FL = FS_APPEND_FL;
const uint32_t CLINUX_FS_NOCOW_FL = FS_NOCOW_FL;
const uint32_t CLINUX_FS_DAX_FL = FS_DAX_FL;
const uint32_t CLINUX_FS_XFLAG_REALTIME = FS_XFLAG_REALTIME;

const uint64_t CLINUX_RESOLVE_NO_XDEV = RESOLVE_NO_XDEV;
const uint64_t CLINUX_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
const uint64_t CLINUX_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
const uint64_t CLINUX_RESOLVE_BENEATH = RESOLVE_BENEATH;
const int CLINUX_O_DIRECT = O_DIRECT;
const int CLINUX_O_PATH = O_PATH;

const int CLINUX_F_SETLEASE = F_SETLEASE;
const int CLINUX_F_GETLEASE = F_GETLEASE;
const int CLINUX_F_SETSIG = F_SETSIG;

const int CLINUX_FALLOC_FL_KEEP_SIZE = FALLOC_FL_KEEP_SIZE;
const int CLINUX_FALLOC_FL_PUNCH_HOLE = FALLOC_FL_PUNCH_HOLE;
const int CLINUX_FALLOC_FL_UNSHARE_RANGE = FALLOC_FL_UNSHARE_RANGE;
const int CLINUX_FALLOC_FL_WRITE_ZEROES = FALLOC_FL_WRITE_ZEROES;

const int CLINUX_SEEK_DATA = SEEK_DATA;
const int CLINUX_SEEK_HOLE = SEEK_HOLE;

const unsigned int CLINUX_STATX_BASIC_STATS = STATX_BASIC_STATS;
const unsigned int CLINUX_STATX_MNT_ID = STATX_MNT_ID;
const uint64_t CLINUX_STATX_ATTR_IMMUTABLE = STATX_ATTR_IMMUTABLE;
const uint64_t CLINUX_STATX_ATTR_APPEND = STATX_ATTR_APPEND;
const uint64_t CLINUX_STATX_ATTR_DAX = STATX_ATTR_DAX;
const int CLINUX_AT_EMPTY_PATH = AT_EMPTY_PATH;
const int CLINUX_AT_NO_AUTOMOUNT = AT_NO_AUTOMOUNT;

const unsigned long CLINUX_ST_RDONLY = ST_RDONLY;

const int CLINUX_MAP_SHARED_VALIDATE = MAP_SHARED_VALIDATE;
const int CLINUX_MAP_SYNC = MAP_SYNC;
const int CLINUX_O_TMPFILE = O_TMPFILE;

// MARK: syscall wrappers

int clinux_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int clinux_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *out) {
    return statx(dirfd, path, flags, mask, out);
}

int clinux_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

int clinux_get_xflags(int fd, uint32_t *xflags) {
    struct fsxattr attr;
    memset(&attr, 0, sizeof attr);
    if (ioctl(fd, FS_IOC_FSGETXATTR, &attr) != 0) {
        return -1;
    }
    *xflags = attr.fsx_xflags;
    return 0;
}

int clinux_get_memlock_limit(uint64_t *soft, uint64_t *hard) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
        return -1;
    }
    *soft = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)limit.rlim_cur;
    *hard = limit.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)limit.rlim_max;
    return 0;
}

int clinux_set_memlock_limit(uint64_t soft, uint64_t hard) {
    struct rlimit limit;
    limit.rlim_cur = soft == UINT64_MAX ? RLIM_INFINITY : (rlim_t)soft;
    limit.rlim_max = hard == UINT64_MAX ? RLIM_INFINITY : (rlim_t)hard;
    return setrlimit(RLIMIT_MEMLOCK, &limit);
}

// MARK: Unix sockets

int clinux_accept_cloexec(int sock) {
    return accept4(sock, NULL, NULL, SOCK_CLOEXEC);
}

ssize_t clinux_send_with_fd(int sock, const void *buf, size_t len, int fd) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    union {
        struct cmsghdr header;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t clinux_receive_with_fd(int sock, void *buf, size_t len, int *fd_out) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // Room for one descriptor (alignment may leave room for a second, closed below); the
    // kernel discards any that do not fit.
    union {
        struct cmsghdr header;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    if (fd_out != NULL) {
        *fd_out = -1;
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
    }
    ssize_t received = recvmsg(sock, &msg, fd_out != NULL ? MSG_CMSG_CLOEXEC : 0);
    if (received < 0 || fd_out == NULL) {
        return received;
    }
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t index = 0; index < count; index++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cmsg) + index * sizeof(int), sizeof fd);
            if (*fd_out < 0) {
                *fd_out = fd;
            } else {
                close(fd);
            }
        }
    }
    return received;
}

int clinux_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
        return -1;
    }
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

// MARK: io_uring

void *clinux_uring_create(int *error) {
    struct io_uring *ring = calloc(1, sizeof *ring);
    if (ring == NULL) {
        *error = ENOMEM;
        return NULL;
    }
    int result = io_uring_queue_init(1, ring, 0);
    if (result < 0) {
        free(ring);
        *error = -result;
        return NULL;
    }
    return ring;
}

int clinux_uring_fd(void *ring) {
    return ((struct io_uring *)ring)->ring_fd;
}

int clinux_uring_register_buffers(void *ring, const struct iovec *iovecs, unsigned count) {
    return io_uring_register_buffers((struct io_uring *)ring, iovecs, count);
}

int clinux_uring_unregister_buffers(void *ring) {
    return io_uring_unregister_buffers((struct io_uring *)ring);
}

void clinux_uring_destroy(void *ring) {
    io_uring_queue_exit((struct io_uring *)ring);
    free(ring);
}

// MARK: lease-break signal

int clinux_lease_break_signal(void) {
    return SIGRTMIN + 4;
}

static volatile sig_atomic_t lease_pipe_write_fd = -1;
static int lease_pipe_read_fd = -1;
static pthread_mutex_t lease_install_lock = PTHREAD_MUTEX_INITIALIZER;

// Async-signal-safe: only write(2), errno preserved.
static void lease_break_handler(int signo, siginfo_t *info, void *context) {
    (void)signo;
    (void)context;
    int saved_errno = errno;
    int write_fd = lease_pipe_write_fd;
    // si_code > 0 means the kernel generated it (POLL_MSG for a lease break);
    // kill()/sigqueue() deliveries carry no meaningful si_fd and are ignored.
    if (write_fd >= 0 && info != NULL && info->si_code > 0) {
        int fd = info->si_fd;
        ssize_t written;
        do {
            written = write(write_fd, &fd, sizeof fd);
        } while (written < 0 && errno == EINTR);
    }
    errno = saved_errno;
}

int clinux_install_lease_break_handler(int signo, int *read_fd_out) {
    pthread_mutex_lock(&lease_install_lock);
    if (lease_pipe_read_fd >= 0) {
        *read_fd_out = lease_pipe_read_fd;
        pthread_mutex_unlock(&lease_install_lock);
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        int saved_errno = errno;
        pthread_mutex_unlock(&lease_install_lock);
        errno = saved_errno;
        return -1;
    }
    lease_pipe_write_fd = fds[1];

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = lease_break_handler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(signo, &action, NULL) != 0) {
        int saved_errno = errno;
        lease_pipe_write_fd = -1;
        close(fds[0]);
        close(fds[1]);
        pthread_mutex_unlock(&lease_install_lock);
        errno = saved_errno;
        return -2;
    }
    lease_pipe_read_fd = fds[0];
    *read_fd_out = fds[0];
    pthread_mutex_unlock(&lease_install_lock);
    return 0;
}

void clinux_name_this_thread(const char *name) {
    char truncated[16] = {0};
    strncpy(truncated, name, sizeof truncated - 1);
    pthread_setname_np(pthread_self(), truncated);
}

// MARK: errno text

const char *clinux_errno_name(int errnum) {
    return strerrorname_np(errnum);
}

const char *clinux_errno_description(int errnum) {
    return strerrordesc_np(errnum);
}

// MARK: the allocator

int clinux_malloc_trim(size_t pad) {
    return malloc_trim(pad);
}

int clinux_malloc_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}
