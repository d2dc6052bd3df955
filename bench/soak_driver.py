#!/usr/bin/env python3
"""Helpers of bench/soak.sh (not run on their own).

  soak_driver.py sample PID API TOKEN STATE_DIR DURATION INTERVAL OUT.tsv
      every INTERVAL s for DURATION s: the daemon's VmRSS, RssAnon, threads (/proc/PID/status),
      CPU time (/proc/PID/stat), the state DB and WAL sizes, the lease counts and last event
      sequence (GET /v1/status), and the rows in the events and leases tables (read-only).
  soak_driver.py side API TOKEN PIN_PATH DURATION
      the side load beside wrk: every second a pin and an unpin of PIN_PATH, a page of ended
      leases (GET /v1/leases?state=released&limit=500) and a read of the newest 2,000 events
      (GET /v1/events?since=last-2000, the stream closed after 0.5 s).
  soak_driver.py report OUT.tsv ROW_EVERY OUT.md TITLE
      the markdown curve table and the verdict on RssAnon over the last 4 minutes.
"""
import http.client
import json
import os
import select
import socket
import sqlite3
import sys
import time
import urllib.parse


def status(api, token):
    url = urllib.parse.urlparse(api)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/v1/status", headers={"Authorization": f"Bearer {token}"})
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    kib = lambda k: int(fields.get(k, "0 kB").split()[0])
    return kib("VmRSS"), kib("RssAnon"), int(fields["Threads"])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def rows(db):
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        leases = conn.execute("SELECT count(*) FROM leases").fetchone()[0]
        conn.close()
        return events, leases
    except sqlite3.Error:
        return -1, -1


def sample(pid, api, token, state_dir, duration, interval, out):
    start = time.monotonic()
    db = os.path.join(state_dir, "pinlease.db")
    with open(out, "w") as f:
        f.write("t\tvmrss_kib\trssanon_kib\tthreads\tcpu_s\tdb_bytes\twal_bytes\tactive\trevoking\tended\t"
                "last_event\tevent_rows\tlease_rows\n")
        n = 0
        while True:
            due = start + n * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            t = time.monotonic() - start
            vmrss, anon, threads = proc_status(pid)
            cpu = cpu_seconds(pid)
            s = status(api, token)
            leases = s["leases"]
            ended = leases.get("released", 0) + leases.get("revoked", 0) + leases.get("expired", 0)
            event_rows, lease_rows = rows(db)
            f.write(f"{t:.1f}\t{vmrss}\t{anon}\t{threads}\t{cpu:.2f}\t{size(db)}\t{size(db + '-wal')}\t"
                    f"{leases.get('active', 0)}\t{leases.get('revoking', 0)}\t{ended}\t"
                    f"{s['events']['last_sequence']}\t{event_rows}\t{lease_rows}\n")
            f.flush()
            n += 1
            if n * interval > duration + 1e-6:
                break


def read_events(url, headers, since, seconds):
    """Reads the event stream from `since` for `seconds` (wall clock: heartbeats keep a socket
    timeout from firing), then closes it. 1 when it answered 200."""
    sock = socket.create_connection((url.hostname, url.port), timeout=seconds)
    target = f"/v1/events?since={since}"
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k != "Content-Type")
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.hostname}\r\n{head}\r\n".encode())
    deadline = time.monotonic() + seconds
    first = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            data = sock.recv(65536)
            if not data:
                break
            if len(first) < 16:
                first += data[:16]
    finally:
        sock.close()
    return 1 if first.startswith(b"HTTP/1.1 200") else 0


def side(api, token, pin_path, duration):
    url = urllib.parse.urlparse(api)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    end = time.monotonic() + duration
    pins = listings = streams = failures = 0
    while time.monotonic() < end:
        tick = time.monotonic()
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            conn.request("POST", "/v1/pins", json.dumps({"path": pin_path, "access": "read"}), headers)
            answer = conn.getresponse()
            body = json.loads(answer.read())
            if answer.status == 201:
                conn.request("DELETE", f"/v1/pins/{body['id']}", headers=headers)
                answer = conn.getresponse()
                answer.read()
                pins += 1
            failures += answer.status >= 300
            conn.request("GET", "/v1/leases?state=released&limit=500", headers=headers)
            answer = conn.getresponse()
            answer.read()
            listings += answer.status == 200
            failures += answer.status != 200
            conn.request("GET", "/v1/events/latest", headers=headers)
            last = json.loads(conn.getresponse().read())["last_sequence"]
            conn.close()
            read = read_events(url, headers, max(0, last - 2000), seconds=0.5)
            streams += read
            failures += 1 - read
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            failures += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    print(f"side load: {pins} pin+unpin, {listings} listings, {streams} event reads, {failures} failures")
    if failures:
        sys.exit(1)


def report(tsv, row_every, out, title):
    lines = open(tsv).read().split("\n")
    head = lines[0].split("\t")
    samples = [dict(zip(head, map(float, l.split("\t")))) for l in lines[1:] if l.strip()]
    mib = lambda kib: kib / 1024
    with open(out, "w") as f:
        f.write(title + "\n\n")
        f.write("| t (s) | VmRSS (MiB) | RssAnon (MiB) | threads | CPU (s) | DB / WAL (MiB) | active | ended (kept) "
                "| last event | event rows | lease rows |\n")
        f.write("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        shown = [s for s in samples if round(s["t"]) % row_every == 0 or s is samples[-1]]
        for s in shown:
            f.write(f"| {s['t']:.0f} | {mib(s['vmrss_kib']):.1f} | {mib(s['rssanon_kib']):.1f} | {s['threads']:.0f} "
                    f"| {s['cpu_s']:.1f} | {s['db_bytes'] / 2**20:.1f} / {s['wal_bytes'] / 2**20:.1f} "
                    f"| {s['active']:,.0f} | {s['ended']:,.0f} | {s['last_event']:,.0f} | {s['event_rows']:,.0f} "
                    f"| {s['lease_rows']:,.0f} |\n")
        first, last = samples[0], samples[-1]
        peak = max(samples, key=lambda s: s["rssanon_kib"])
        f.write("\n")
        f.write(f"RssAnon first / last / max: {mib(first['rssanon_kib']):.1f} / {mib(last['rssanon_kib']):.1f} / "
                f"{mib(peak['rssanon_kib']):.1f} MiB (max at {peak['t']:.0f} s); threads max "
                f"{max(s['threads'] for s in samples):.0f}; DB max {max(s['db_bytes'] for s in samples) / 2**20:.1f} MiB, "
                f"WAL max {max(s['wal_bytes'] for s in samples) / 2**20:.1f} MiB.\n\n")
        # The window: the last 4 minutes, or the second half of a shorter run.
        span = last["t"] - first["t"]
        window_start = last["t"] - 240 if span >= 300 else first["t"] + span / 2
        window = [s for s in samples if s["t"] >= window_start - 1e-6]
        n = len(window)
        xs = [s["t"] for s in window]
        ys = [mib(s["rssanon_kib"]) for s in window]
        mx, my = sum(xs) / n, sum(ys) / n
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
        # The daemon gives freed memory back every 10 s, so RssAnon saws between samples: the
        # verdict compares the highest level of the window's first and last minute (a fifth of
        # the window in short runs), which a growing footprint raises and the saw does not.
        edge = 60 if span >= 300 else (xs[-1] - xs[0]) / 5
        first_peak = max(y for x, y in zip(xs, ys) if x <= xs[0] + edge + 1e-6)
        last_peak = max(y for x, y in zip(xs, ys) if x >= xs[-1] - edge - 1e-6)
        growth = last_peak - first_peak
        threshold = max(8.0, 0.05 * first_peak)
        verdict = "met" if growth < threshold else "NOT met"
        f.write(f"RssAnon over the last {xs[-1] - xs[0]:.0f} s ({n} samples, {min(ys):.1f}–{max(ys):.1f} MiB): "
                f"highest in its first {edge:.0f} s {first_peak:.1f} MiB, in its last {edge:.0f} s {last_peak:.1f} MiB: "
                f"{growth:+.1f} MiB (least-squares slope {slope * 60:+.2f} MiB/min). "
                f"Target flat: growth < max(8 MiB, 5% of {first_peak:.1f} MiB) = {threshold:.1f} MiB: **{verdict}**.\n")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "sample":
        pid, api, token, state_dir, duration, interval, out = args
        sample(int(pid), api, token, state_dir, float(duration), float(interval), out)
    elif command == "side":
        api, token, pin_path, duration = args
        side(api, token, pin_path, float(duration))
    elif command == "report":
        tsv, row_every, out, title = args
        report(tsv, int(row_every), out, title)
    else:
        sys.exit(f"unknown command {command}")
