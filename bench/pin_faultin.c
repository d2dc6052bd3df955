/*
 * pin_faultin: how fast can a process fault in and mlock a MAP_SHARED read-only mapping of
 * a file whose pages are not in the page cache?  One strategy per run; prints the elapsed
 * wall-clock seconds (open to fully locked) and checks with mincore that every page of the
 * range is resident afterwards.  Used to choose the call sequence of POST /v1/pins
 * (issue 3); see bench/README.md, section "Pin".
 *
 * Build:  gcc -O2 -Wall -pthread -o pin_faultin bench/pin_faultin.c
 * Run:    sync; echo 3 > /proc/sys/vm/drop_caches; ./pin_faultin STRATEGY FILE
 *         ./pin_faultin list        (the strategies)
 * Output: "<strategy> <seconds> resident=<bytes>/<bytes>" on stdout; exit 0 only when the
 *         whole range is resident (except for "onfault", which does not fault in).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

static int fd = -1;
static size_t len;
static char *map;
static size_t chunk = 8u << 20; /* readahead chunk (PIN_CHUNK_MB), see fadvise_chunks */

static void die(const char *what) {
    fprintf(stderr, "pin_faultin: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void do_map(int extra_flags) {
    map = mmap(NULL, len, PROT_READ, MAP_SHARED | extra_flags, fd, 0);
    if (map == MAP_FAILED) die("mmap");
}

static void lock_range(char *p, size_t n) {
    if (mlock(p, n) != 0) die("mlock");
}

/* posix_fadvise(WILLNEED) over [off, off+n) in pieces of `chunk` bytes.  The kernel caps one
 * WILLNEED/readahead call at max(bdi io_pages, ra_pages) pages (force_page_cache_ra), so a
 * single call over 1 GiB reads only the first few hundred KiB; a loop of calls queues all of
 * it.  Each call only submits I/O (it blocks only when the device queue is full). */
static void fadvise_chunks(size_t off, size_t n) {
    for (size_t o = off; o < off + n; o += chunk) {
        size_t c = off + n - o < chunk ? off + n - o : chunk;
        int rc = posix_fadvise(fd, (off_t)o, (off_t)c, POSIX_FADV_WILLNEED);
        if (rc != 0) { errno = rc; die("posix_fadvise"); }
    }
}

struct half { size_t off, n; int fadvise_first; int how; };
enum { HOW_MLOCK, HOW_POPULATE };

static void *half_worker(void *arg) {
    struct half *h = arg;
    if (h->fadvise_first) fadvise_chunks(h->off, h->n);
    if (h->how == HOW_MLOCK) {
        lock_range(map + h->off, h->n);
    } else if (madvise(map + h->off, h->n, MADV_POPULATE_READ) != 0) {
        die("madvise(MADV_POPULATE_READ)");
    }
    return NULL;
}

/* Split the mapping in `nthreads` page-aligned parts, one thread each. */
static void parallel(int nthreads, int fadvise_first, int how) {
    pthread_t t[16];
    struct half h[16];
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t per = (len / nthreads + page - 1) / page * page;
    for (int i = 0; i < nthreads; i++) {
        size_t off = per * i;
        h[i].off = off;
        h[i].n = off >= len ? 0 : (len - off < per ? len - off : per);
        h[i].fadvise_first = fadvise_first;
        h[i].how = how;
    }
    for (int i = 0; i < nthreads; i++)
        if (h[i].n && pthread_create(&t[i], NULL, half_worker, &h[i]) != 0) die("pthread_create");
    for (int i = 0; i < nthreads; i++)
        if (h[i].n) pthread_join(t[i], NULL);
}

static void *readahead_worker(void *arg) {
    (void)arg;
    fadvise_chunks(0, len);
    return NULL;
}

static void *pread_worker(void *arg) {
    (void)arg;
    char *buf = malloc(1 << 20);
    if (!buf) die("malloc");
    for (size_t o = 0; o < len;) {
        ssize_t r = pread(fd, buf, 1 << 20, (off_t)o);
        if (r < 0) die("pread");
        if (r == 0) break;
        o += (size_t)r;
    }
    free(buf);
    return NULL;
}

static const char *strategies[][2] = {
    {"mlock", "a) mmap(MAP_SHARED) + mlock"},
    {"populate", "b) mmap(MAP_SHARED|MAP_POPULATE) + mlock"},
    {"onfault", "c) mmap + mlock2(MLOCK_ONFAULT), nothing faulted in (reference only)"},
    {"fadvise", "d) one posix_fadvise(WILLNEED) over the whole file, then mmap + mlock"},
    {"readahead", "d) one readahead(2) over the whole file, then mmap + mlock"},
    {"fadvise-chunks", "d') posix_fadvise(WILLNEED) in PIN_CHUNK_MB pieces over the whole file, then mmap + mlock"},
    {"mlock-2t", "e) mmap, then two threads each mlock half"},
    {"fadvise-mlock-2t", "f) d + e: one fadvise over the whole file, then two threads each mlock half"},
    {"fadvise-chunks-2t", "f') two threads, each fadvise-chunks its half then mlocks it"},
    {"populate-read", "g) mmap + madvise(MADV_POPULATE_READ) + mlock"},
    {"populate-read-2t", "g') mmap, two threads MADV_POPULATE_READ half each, then mlock"},
    {"ra-thread", "h) a thread fadvise-chunks the whole file while the main thread mlocks (overlapped)"},
    {"ra-thread-populate", "h') like ra-thread, main thread MAP_POPULATE + mlock"},
    {"seq", "i) posix_fadvise(SEQUENTIAL) + madvise(MADV_SEQUENTIAL), then mlock"},
    {"fseq", "i') posix_fadvise(SEQUENTIAL) only (doubles the file's readahead window), then mmap + mlock"},
    {"pread-thread", "l) a thread preads the whole file (1 MiB reads) while the main thread mlocks (overlapped)"},
    {"hugepage", "j) madvise(MADV_HUGEPAGE) on the mapping (PMD-sized readaround), then mlock"},
    {"pread", "k) pread the whole file in 1 MiB reads, then mmap + mlock (reference)"},
};

int main(int argc, char **argv) {
    size_t nstrat = sizeof strategies / sizeof strategies[0];
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (size_t i = 0; i < nstrat; i++) printf("%-20s %s\n", strategies[i][0], strategies[i][1]);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: pin_faultin STRATEGY FILE | pin_faultin list\n");
        return 2;
    }
    const char *s = argv[1];
    int known = 0;
    for (size_t i = 0; i < nstrat; i++) known |= strcmp(s, strategies[i][0]) == 0;
    if (!known) { fprintf(stderr, "pin_faultin: unknown strategy %s (try: list)\n", s); return 2; }
    const char *mb = getenv("PIN_CHUNK_MB");
    if (mb) chunk = (size_t)strtoul(mb, NULL, 10) << 20;
    int nthreads = getenv("PIN_THREADS") ? atoi(getenv("PIN_THREADS")) : 2;
    if (nthreads < 1 || nthreads > 16) nthreads = 2;

    double t0 = now();
    fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open");
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat");
    len = (size_t)st.st_size;

    if (!strcmp(s, "mlock")) {
        do_map(0);
        lock_range(map, len);
    } else if (!strcmp(s, "populate")) {
        do_map(MAP_POPULATE);
        lock_range(map, len);
    } else if (!strcmp(s, "onfault")) {
        do_map(0);
        if (mlock2(map, len, MLOCK_ONFAULT) != 0) die("mlock2");
    } else if (!strcmp(s, "fadvise")) {
        int rc = posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_WILLNEED);
        if (rc != 0) { errno = rc; die("posix_fadvise"); }
        do_map(0);
        lock_range(map, len);
    } else if (!strcmp(s, "readahead")) {
        if (readahead(fd, 0, len) != 0) die("readahead");
        do_map(0);
        lock_range(map, len);
    } else if (!strcmp(s, "fadvise-chunks")) {
        fadvise_chunks(0, len);
        do_map(0);
        lock_range(map, len);
    } else if (!strcmp(s, "mlock-2t")) {
        do_map(0);
        parallel(nthreads, 0, HOW_MLOCK);
    } else if (!strcmp(s, "fadvise-mlock-2t")) {
        int rc = posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_WILLNEED);
        if (rc != 0) { errno = rc; die("posix_fadvise"); }
        do_map(0);
        parallel(nthreads, 0, HOW_MLOCK);
    } else if (!strcmp(s, "fadvise-chunks-2t")) {
        do_map(0);
        parallel(nthreads, 1, HOW_MLOCK);
    } else if (!strcmp(s, "populate-read")) {
        do_map(0);
        if (madvise(map, len, MADV_POPULATE_READ) != 0) die("madvise(MADV_POPULATE_READ)");
        lock_range(map, len);
    } else if (!strcmp(s, "populate-read-2t")) {
        do_map(0);
        parallel(nthreads, 0, HOW_POPULATE);
        lock_range(map, len);
    } else if (!strcmp(s, "ra-thread") || !strcmp(s, "ra-thread-populate")) {
        pthread_t t;
        if (pthread_create(&t, NULL, readahead_worker, NULL) != 0) die("pthread_create");
        do_map(!strcmp(s, "ra-thread-populate") ? MAP_POPULATE : 0);
        lock_range(map, len);
        pthread_join(t, NULL);
    } else if (!strcmp(s, "seq")) {
        int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        if (rc != 0) { errno = rc; die("posix_fadvise"); }
        do_map(0);
        if (madvise(map, len, MADV_SEQUENTIAL) != 0) die("madvise(MADV_SEQUENTIAL)");
        lock_range(map, len);
    } else if (!strcmp(s, "fseq")) {
        int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        if (rc != 0) { errno = rc; die("posix_fadvise"); }
        do_map(0);
        lock_range(map, len);
    } else if (!strcmp(s, "pread-thread")) {
        pthread_t t;
        if (pthread_create(&t, NULL, pread_worker, NULL) != 0) die("pthread_create");
        do_map(0);
        lock_range(map, len);
        pthread_join(t, NULL);
    } else if (!strcmp(s, "hugepage")) {
        do_map(0);
        if (madvise(map, len, MADV_HUGEPAGE) != 0) die("madvise(MADV_HUGEPAGE)");
        lock_range(map, len);
    } else if (!strcmp(s, "pread")) {
        char *buf = malloc(1 << 20);
        if (!buf) die("malloc");
        for (size_t o = 0; o < len;) {
            ssize_t r = pread(fd, buf, 1 << 20, (off_t)o);
            if (r < 0) die("pread");
            if (r == 0) break;
            o += (size_t)r;
        }
        free(buf);
        do_map(0);
        lock_range(map, len);
    }
    double t1 = now();

    /* Not timed: how much of the range is resident now. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + page - 1) / page;
    unsigned char *vec = malloc(pages);
    if (!vec) die("malloc");
    if (mincore(map, len, vec) != 0) die("mincore");
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
    size_t resident_bytes = resident * page > len ? len : resident * page;
    printf("%s %.4f resident=%zu/%zu\n", s, t1 - t0, resident_bytes, len);
    return (resident_bytes == len || !strcmp(s, "onfault")) ? 0 : 1;
}
