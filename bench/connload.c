/*
 * connload: many HTTP/1.1 keep-alive connections to pinleased, with per-connection progress
 * (wrk reports totals only, so it cannot show a starved connection). Used by
 * bench/connections.sh (issue 12, "Connections and load").
 *
 * Build:  cc -O2 -Wall -pthread -o connload bench/connload.c
 * Run:    connload load HOST PORT CONNECTIONS SECONDS TOKEN PIN_ID
 *           CONNECTIONS connections, each alternating POST /v1/leases (grant on PIN_ID) and
 *           POST /v1/leases/ID/release of the lease it was granted, for SECONDS seconds
 *           counted from the moment every connection is established.
 *         connload idle HOST PORT CONNECTIONS SECONDS TOKEN PIN_ID
 *           opens CONNECTIONS connections, sends one GET /healthz on each (so each was really
 *           served), then holds them idle for SECONDS seconds, counting those the server closes.
 *         In both modes two probe threads run meanwhile (counted from when every connection is
 *         up, or answered): GET /healthz every 20 ms on one
 *         kept-alive connection, and (load) GET /healthz on a new connection every 20 ms, or
 *         (idle) a grant + release round trip on one kept-alive connection every 20 ms.
 * Output: "key value" lines on stdout (latencies in ms); progress on stderr. Exit 0 when the
 *         run completed (failures are counted in the output, not fatal).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 16384
#define PROBE_INTERVAL_NS 20000000LL

static struct sockaddr_in server;
static char token[512], pin_id[128];
static atomic_int stop_probes, recording;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/* A growable array of latencies in nanoseconds. */
struct samples {
    int64_t *v;
    size_t n, cap;
};

static void add_sample(struct samples *s, int64_t ns) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) die("realloc");
    }
    s->v[s->n++] = ns;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Prints "<name>_count", "_p50", "_p99", "_max" (ms). */
static void report(const char *name, struct samples *s) {
    printf("%s_count %zu\n", name, s->n);
    if (s->n == 0) {
        printf("%s_p50 nan\n%s_p99 nan\n%s_max nan\n", name, name, name);
        return;
    }
    qsort(s->v, s->n, sizeof *s->v, cmp64);
    size_t p99 = (s->n * 99 + 99) / 100;
    if (p99 > 0) p99--;
    printf("%s_p50 %.3f\n%s_p99 %.3f\n%s_max %.3f\n", name, s->v[(s->n - 1) / 2] / 1e6, name, s->v[p99] / 1e6,
           name, s->v[s->n - 1] / 1e6);
}

static int open_socket(int nonblocking) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Formats a request into buf; returns its length. kind 0: grant, 1: release of lease, 2: healthz. */
static int format_request(char *buf, size_t size, int kind, const char *lease) {
    if (kind == 2) return snprintf(buf, size, "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n");
    char body[256];
    const char *path = "/v1/leases";
    char release_path[160];
    int body_len = 0;
    if (kind == 0) {
        body_len = snprintf(body, sizeof body, "{\"pin_id\":\"%s\",\"holder\":\"bench\",\"ttl_s\":300}", pin_id);
    } else {
        snprintf(release_path, sizeof release_path, "/v1/leases/%s/release", lease);
        path = release_path;
        body[0] = 0;
    }
    return snprintf(buf, size,
                    "POST %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                    path, token, body_len, body);
}

/* Looks for one complete response in buf[0..len). Returns its total length (0: incomplete,
 * -1: malformed) and sets *status; *close_after when the server said Connection: close. */
static int parse_response(const char *buf, int len, int *status, int *close_after) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len >= BUFSZ - 1 ? -1 : 0;
    int head = (int)(end - buf) + 4;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(buf + 9);
    *close_after = 0;
    long content_length = 0;
    for (const char *line = memchr(buf, '\n', head); line && line < end; line = memchr(line + 1, '\n', end - line)) {
        const char *l = line + 1;
        if (strncasecmp(l, "Content-Length:", 15) == 0) content_length = strtol(l + 15, NULL, 10);
        if (strncasecmp(l, "Connection:", 11) == 0 && strncasecmp(l + 11, " close", 6) == 0) *close_after = 1;
    }
    if (head + content_length > len) return head + content_length >= BUFSZ ? -1 : 0;
    return head + (int)content_length;
}

/* Extracts "id":"lease_..." from a grant's body into out. */
static int lease_id(const char *buf, int len, char *out, size_t size) {
    const char *p = memmem(buf, len, "\"id\":\"lease_", 12);
    if (!p) return -1;
    p += 6;
    const char *q = memchr(p, '"', buf + len - p);
    if (!q || (size_t)(q - p) >= size) return -1;
    memcpy(out, p, q - p);
    out[q - p] = 0;
    return 0;
}

/* ---- blocking probes ------------------------------------------------------------------ */

struct probe {
    int kind; /* 0: healthz, kept alive; 1: healthz, new connection each time; 2: grant+release, kept alive */
    struct samples lat;
    long failures;
    int fd;
    char buf[BUFSZ];
};

static int probe_connect(struct probe *p) {
    if (p->fd >= 0) return 0;
    p->fd = open_socket(0);
    if (p->fd < 0) return -1;
    struct timeval tv = {5, 0};
    setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(p->fd, (struct sockaddr *)&server, sizeof server) < 0) {
        close(p->fd);
        p->fd = -1;
        return -1;
    }
    return 0;
}

/* One request (format_request's kind; 3: healthz, then close) and its response on the probe's
 * connection; returns the status or -1. */
static int probe_exchange(struct probe *p, int kind, const char *lease, char *lease_out) {
    char req[1024];
    int n = format_request(req, sizeof req, kind == 3 ? 2 : kind, lease);
    if (probe_connect(p) < 0) return -1;
    if (send(p->fd, req, n, MSG_NOSIGNAL) != n) goto fail;
    int len = 0, status = 0, close_after = 0, total;
    while ((total = parse_response(p->buf, len, &status, &close_after)) == 0) {
        ssize_t got = recv(p->fd, p->buf + len, BUFSZ - 1 - len, 0);
        if (got <= 0) goto fail;
        len += (int)got;
    }
    if (total < 0) goto fail;
    if (lease_out && lease_id(p->buf, total, lease_out, 128) < 0) lease_out[0] = 0;
    if (close_after || kind == 3) {
        close(p->fd);
        p->fd = -1;
    }
    return status;
fail:
    close(p->fd);
    p->fd = -1;
    return -1;
}

static void *probe_main(void *arg) {
    struct probe *p = arg;
    int64_t next = now_ns();
    while (!atomic_load(&stop_probes)) {
        int64_t start = now_ns();
        int ok;
        if (p->kind == 2) {
            char lease[128];
            ok = probe_exchange(p, 0, NULL, lease) == 201 && lease[0] && probe_exchange(p, 1, lease, NULL) == 200;
        } else {
            ok = probe_exchange(p, p->kind == 1 ? 3 : 2, NULL, NULL) == 200;
        }
        if (!atomic_load(&recording)) {
            /* The idle connections are still being opened: not part of the figures. */
        } else if (ok) {
            add_sample(&p->lat, now_ns() - start);
        } else {
            p->failures++;
        }
        next += PROBE_INTERVAL_NS;
        int64_t wait = next - now_ns();
        if (wait < 0) next = now_ns(); /* a slow answer does not make the probe burst afterwards */
        else {
            struct timespec t = {wait / 1000000000LL, wait % 1000000000LL};
            nanosleep(&t, NULL);
        }
    }
    return NULL;
}

/* ---- the connections under load ------------------------------------------------------- */

struct conn {
    int fd;
    int connected;
    int closed;
    int kind; /* request in flight: 0 grant, 1 release, 2 healthz */
    char lease[128];
    int len;
    int64_t sent_at, last_done;
    int64_t max_gap;
    long done;
    int *per_second;
    char buf[BUFSZ];
};

static struct conn *conns;
static int nconns, seconds;
static int64_t t0;
static struct samples load_lat;
static long load_non2xx, load_errors, load_done_total;

static void conn_send(struct conn *c) {
    char req[1024];
    int n = format_request(req, sizeof req, c->kind, c->lease);
    c->sent_at = now_ns();
    ssize_t w = send(c->fd, req, n, MSG_NOSIGNAL);
    if (w != n) { /* small requests on an idle socket: a short write means trouble */
        load_errors++;
        c->closed = 1;
    }
}

static int conn_open(struct conn *c, int epfd) {
    c->fd = open_socket(1);
    if (c->fd < 0) return -1;
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    return 0;
}

/* Handles readiness of c; mode 0: load, 1: idle. Returns 1 when a request completed. */
static int conn_event(struct conn *c, uint32_t events, int epfd, int mode, int measuring, int64_t end) {
    if (!c->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (events & (EPOLLERR | EPOLLHUP))) {
            c->closed = 1;
            load_errors++;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            return 0;
        }
        c->connected = 1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->kind = mode == 1 ? 2 : 0;
        conn_send(c);
        return 0;
    }
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return 0;
    int completed = 0;
    for (;;) {
        ssize_t got = recv(c->fd, c->buf + c->len, BUFSZ - 1 - c->len, 0);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got <= 0) {
            c->closed = 1;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            return completed;
        }
        c->len += (int)got;
        int status, close_after;
        int total = parse_response(c->buf, c->len, &status, &close_after);
        if (total < 0) {
            load_errors++;
            c->closed = 1;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            return completed;
        }
        if (total == 0) continue;
        int64_t t = now_ns();
        completed = 1;
        if (measuring && t >= t0 && t < end) {
            add_sample(&load_lat, t - c->sent_at);
            c->per_second[(t - t0) / 1000000000LL]++;
            if (c->last_done && t - c->last_done > c->max_gap) c->max_gap = t - c->last_done;
            c->last_done = t;
            load_done_total++;
        }
        c->done++;
        int next = 0;
        if (c->kind == 0 && status == 201 && lease_id(c->buf, total, c->lease, sizeof c->lease) == 0) next = 1;
        if (status < 200 || status > 299) load_non2xx++;
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
        if (close_after) {
            load_errors++;
            c->closed = 1;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            return completed;
        }
        if (mode == 0 && (end == 0 || t < end)) {  /* end is 0 while connections are still opening */
            c->kind = next;
            conn_send(c);
        }
    }
    return completed;
}

static void start_probes(pthread_t *threads, struct probe *probes, int kinds[2]) {
    for (int i = 0; i < 2; i++) {
        memset(&probes[i], 0, sizeof probes[i]);
        probes[i].kind = kinds[i];
        probes[i].fd = -1;
        if (pthread_create(&threads[i], NULL, probe_main, &probes[i])) die("pthread_create");
    }
}

static void stop_and_report_probes(pthread_t *threads, struct probe *probes, const char *names[2]) {
    atomic_store(&stop_probes, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        report(names[i], &probes[i].lat);
        printf("%s_failures %ld\n", names[i], probes[i].failures);
    }
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s load|idle HOST PORT CONNECTIONS SECONDS TOKEN PIN_ID\n", argv[0]);
        return 2;
    }
    int mode = strcmp(argv[1], "idle") == 0;
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &server.sin_addr) != 1) die("inet_pton");
    nconns = atoi(argv[4]);
    seconds = atoi(argv[5]);
    snprintf(token, sizeof token, "%s", argv[6]);
    snprintf(pin_id, sizeof pin_id, "%s", argv[7]);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* the script watches for "open_seconds" while this runs */

    conns = calloc(nconns, sizeof *conns);
    if (!conns) die("calloc");
    for (int i = 0; i < nconns; i++) {
        conns[i].per_second = calloc(seconds + 1, sizeof(int));
        conns[i].fd = -1;
    }
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");

    pthread_t threads[2];
    struct probe probes[2];
    int kinds[2] = {0, mode == 1 ? 2 : 1};
    const char *names[2] = {"healthz_keepalive", mode == 1 ? "grant_roundtrip" : "healthz_newconn"};
    if (mode == 1) start_probes(threads, probes, kinds); /* first, so the idle ones cannot crowd them out */

    /* Open every connection; in load mode each starts its round trips as soon as it is up. */
    int64_t open_start = now_ns();
    int open_failures = 0;
    for (int i = 0; i < nconns; i++)
        if (conn_open(&conns[i], epfd) < 0) {
            open_failures++;
            conns[i].closed = 1;
        }
    struct epoll_event *events = calloc(1024, sizeof *events);
    int64_t open_deadline = open_start + 30000000000LL;
    int up = 0, answered = 0;
    /* Until every connection is established (load) or has its /healthz answer (idle). */
    while (now_ns() < open_deadline) {
        up = answered = 0;
        for (int i = 0; i < nconns; i++) {
            up += conns[i].connected && !conns[i].closed;
            answered += conns[i].done > 0 && !conns[i].closed;
        }
        int live = 0;
        for (int i = 0; i < nconns; i++) live += !conns[i].closed;
        if ((mode == 0 ? up : answered) >= live) break;
        int n = epoll_wait(epfd, events, 1024, 100);
        for (int k = 0; k < n; k++)
            conn_event(events[k].data.ptr, events[k].events, epfd, mode, 0, 0);
    }
    double open_s = (now_ns() - open_start) / 1e9;
    printf("connections %d\nopen_failures %d\nestablished %d\nanswered_first %d\nopen_seconds %.3f\n", nconns,
           open_failures, up, answered, open_s);
    fprintf(stderr, "connload: %d/%d connections up (%d answered) in %.1f s\n", up, nconns, answered, open_s);

    if (mode == 0) start_probes(threads, probes, kinds);
    atomic_store(&recording, 1);
    t0 = now_ns();
    int64_t end = t0 + (int64_t)seconds * 1000000000LL;
    long closed_during = 0;
    while (now_ns() < end) {
        int timeout = (int)((end - now_ns()) / 1000000) + 1;
        int n = epoll_wait(epfd, events, 1024, timeout > 100 ? 100 : timeout);
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            int was_closed = c->closed;
            conn_event(c, events[k].events, epfd, mode, mode == 0, end);
            if (!was_closed && c->closed) closed_during++;
        }
    }
    int64_t elapsed = now_ns() - t0;
    stop_and_report_probes(threads, probes, names);
    printf("closed_during %ld\nerrors %ld\n", closed_during, load_errors);
    if (mode == 0) {
        /* A connection is starved when a whole second of the run passed without a completion. */
        int starved = 0, never = 0;
        long min_rate = -1;
        int64_t worst_gap = 0;
        long *per_conn = calloc(nconns, sizeof(long));
        for (int i = 0; i < nconns; i++) {
            int zero = 0;
            long sum = 0;
            for (int s = 0; s < seconds; s++) {
                if (conns[i].per_second[s] == 0) zero = 1;
                sum += conns[i].per_second[s];
            }
            per_conn[i] = sum;
            starved += zero;
            never += sum == 0;
            if (min_rate < 0 || sum < min_rate) min_rate = sum;
            if (conns[i].max_gap > worst_gap) worst_gap = conns[i].max_gap;
        }
        qsort(per_conn, nconns, sizeof(long), (int (*)(const void *, const void *))cmp64);
        printf("seconds %.3f\nrequests %ld\nrequests_per_s %.1f\nnon2xx %ld\n", elapsed / 1e9, load_done_total,
               load_done_total / (elapsed / 1e9), load_non2xx);
        printf("starved_connections %d\nnever_served %d\n", starved, never);
        printf("per_conn_min_rps %.2f\nper_conn_median_rps %.2f\nper_conn_max_rps %.2f\n", min_rate / (double)seconds,
               per_conn[nconns / 2] / (double)seconds, per_conn[nconns - 1] / (double)seconds);
        printf("max_gap_ms %.1f\n", worst_gap / 1e6);
        report("request", &load_lat);
        for (int s = 0; s < seconds; s++) {
            long total = 0;
            int zero = 0;
            for (int i = 0; i < nconns; i++) {
                total += conns[i].per_second[s];
                zero += conns[i].per_second[s] == 0;
            }
            printf("second %d %ld %d\n", s, total, zero);
        }
    }
    return 0;
}
