#!/usr/bin/env python3
"""Client side of bench/state_scale.sh: concurrent locks and pins, sequential latency loops,
status polls and full listings against one pinleased on 127.0.0.1. Each subcommand prints one
line of tab-separated figures (or JSON) for the shell script to collect."""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


class Client:
    """One keep-alive connection to the daemon (http.client: far less client CPU per request
    than requests, so a latency loop measures the daemon more than the client)."""

    def __init__(self, api, token):
        url = urllib.parse.urlsplit(api)
        self.host, self.port = url.hostname, url.port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
                answer = self.conn.getresponse()
                data = answer.read()
                if answer.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return answer.status, data
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, want=(200,)):
        status, data = self.call(method, path, body)
        if status not in want:
            sys.exit(f"{method} {path} answered {status}: {data[:300]!r}")
        return json.loads(data)


def parallel(api, token, jobs, workers=6):
    """Runs each job(client) on a pool of keep-alive clients; returns their results in order."""
    results = [None] * len(jobs)
    lock = threading.Lock()
    queue = list(enumerate(jobs))

    def work():
        client = Client(api, token)
        while True:
            with lock:
                if not queue:
                    return
                index, job = queue.pop()
            results[index] = job(client)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def lock(api, token, first, last):
    """Locks files f00000.bin... (indexes first..last-1) immutable."""
    paths = [f"f{i:05d}.bin" for i in range(int(first), int(last))]
    started = time.monotonic()
    parallel(api, token, [lambda c, p=p: c.json("POST", "/v1/files/lock-immutable", {"path": p}) for p in paths])
    print(f"{len(paths)}\t{time.monotonic() - started:.2f}")


def pins(api, token, files, per_file, out):
    """Pins per_file one-page ranges of each of the first `files` files; writes the ids to out."""
    jobs = [
        lambda c, i=i, j=j: c.json(
            "POST", "/v1/pins", {"path": f"f{i:05d}.bin", "offset": j * 4096, "length": 4096, "access": "read"},
            want=(201,))["id"]
        for i in range(int(files)) for j in range(int(per_file))
    ]
    ids = parallel(api, token, jobs)
    with open(out, "w") as f:
        f.write("\n".join(ids) + "\n")
    print(len(ids))


def latency(api, token, path, count):
    """Sequential GETs on one keep-alive connection: p50, p99, mean (ms), items, bytes."""
    client = Client(api, token)
    client.call("GET", path)  # warm-up (and the connection)
    times = []
    size, items = 0, -1
    for _ in range(int(count)):
        started = time.perf_counter()
        status, data = client.call("GET", path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            sys.exit(f"GET {path} answered {status}")
        size = len(data)
    body = json.loads(data)
    if isinstance(body.get("items"), list):
        items = len(body["items"])
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{statistics.median(times):.3f}\t{p99:.3f}\t{statistics.fmean(times):.3f}\t{items}\t{size}")


def status(api, token):
    print(json.dumps(Client(api, token).json("GET", "/v1/status")))


def audit(api):
    """Sum and count of pinlease_audit_pass_duration_seconds from /metrics."""
    _, data = Client(api, "").call("GET", "/metrics")
    total = count = 0.0
    for line in data.decode().splitlines():
        if line.startswith("pinlease_audit_pass_duration_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("pinlease_audit_pass_duration_seconds_count"):
            count = float(line.split()[-1])
    print(f"{total}\t{count:.0f}")


def rss_anon_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return -1


def recover(api, token, started, expected, timeout, pid):
    """After a restart begun at `started` (epoch seconds): seconds until /readyz answers 200, until
    /v1/status counts `expected` active leases, and until a full listing (limit 10000) has them all;
    the count listed; the listing's own time; and the daemon's RssAnon (KiB) before the listing."""
    started, expected, deadline = float(started), int(expected), time.time() + float(timeout)
    client = Client(api, token)
    while True:
        try:
            if client.call("GET", "/readyz")[0] == 200:
                break
        except OSError:
            client.conn = None
        if time.time() > deadline:
            sys.exit("not ready in time")
        time.sleep(0.01)
    ready = time.time() - started
    while client.json("GET", "/v1/status")["leases"]["active"] < expected:
        if time.time() > deadline:
            sys.exit("leases not back in time")
        time.sleep(0.01)
    counted = time.time() - started
    anon = rss_anon_kib(pid)
    listed, cursor, list_started = 0, None, time.time()
    while True:
        page = client.json("GET", "/v1/leases?state=active&limit=10000" + (f"&cursor={cursor}" if cursor else ""))
        listed += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    done = time.time()
    print(f"{ready:.3f}\t{counted:.3f}\t{done - started:.3f}\t{listed}\t{done - list_started:.3f}\t{anon}")


def wait_ended(api, token, active_left, started, timeout):
    """Polls /v1/status until at most `active_left` leases are active and none revoking; prints the
    seconds since `started` (epoch) and the counts then."""
    client = Client(api, token)
    started, deadline = float(started), time.time() + float(timeout)
    while True:
        leases = client.json("GET", "/v1/status")["leases"]
        if leases["active"] <= int(active_left) and leases["revoking"] == 0:
            break
        if time.time() > deadline:
            sys.exit(f"leases not ended in time: {leases}")
        time.sleep(0.02)
    print(f"{time.time() - started:.3f}\t{json.dumps(leases)}")


if __name__ == "__main__":
    commands = {"lock": lock, "pins": pins, "latency": latency, "status": status, "audit": audit,
                "recover": recover, "wait-ended": wait_ended}
    commands[sys.argv[1]](*sys.argv[2:])
