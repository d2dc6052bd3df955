"""Load for bench/slow_connections.sh: SLOW connections that each send a request line and then
one header line every INTERVAL seconds (never finishing their headers; a connection the
server closes is opened again at once), while a probe measures GET /healthz, each on a new
connection, over TCP and over the Unix socket in turn. Prints one JSON object.

Usage: slow_connections_driver.py PORT UNIX_SOCKET SLOW INTERVAL_S DURATION_S DAEMON_PID"""

from __future__ import annotations

import json
import random
import selectors
import socket
import sys
import threading
import time

PORT, UNIX_PATH = int(sys.argv[1]), sys.argv[2]
SLOW, INTERVAL, DURATION, DAEMON_PID = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
PROBE_TIMEOUT = 5.0
PROBE_PAUSE = 0.02
REQUEST_LINE = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"


class Slow:
    """The trickling connections, driven by one thread."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.due: dict[socket.socket, float] = {}
        self.closed_by_server = 0
        self.open_min = SLOW
        self.stopping = threading.Event()

    def open_one(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", PORT))
        except BlockingIOError:
            pass
        self.selector.register(s, selectors.EVENT_WRITE, "connecting")
        self.due[s] = time.monotonic() + random.uniform(0, INTERVAL)

    def drop(self, s: socket.socket) -> None:
        self.selector.unregister(s)
        del self.due[s]
        s.close()

    def run(self) -> None:
        for _ in range(SLOW):
            self.open_one()
        while not self.stopping.is_set():
            for key, _ in self.selector.select(timeout=0.05):
                s = key.fileobj
                if key.data == "connecting":
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                        self.drop(s)
                        self.open_one()
                        continue
                    s.send(REQUEST_LINE)
                    self.selector.modify(s, selectors.EVENT_READ, "open")
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.closed_by_server += 1
                    self.drop(s)
                    self.open_one()
            now = time.monotonic()
            for s, due in list(self.due.items()):
                if due <= now:
                    self.due[s] = now + INTERVAL
                    try:
                        s.send(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
            self.open_min = min(self.open_min, len(self.due))
        for s in list(self.due):
            self.drop(s)


def probe(family: int, address) -> float | None:
    """Seconds for one GET /healthz on a new connection, or None on timeout or error."""
    start = time.perf_counter()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(PROBE_TIMEOUT)
            s.connect(address)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                answer += data
        if not answer.startswith(b"HTTP/1.1 200"):
            return None
    except OSError:
        return None
    return time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(samples: list[float | None]) -> dict:
    ok = [s * 1000 for s in samples if s is not None]
    return {"probes": len(samples), "failed": len(samples) - len(ok),
            "p50_ms": round(percentile(ok, 50), 2) if ok else None,
            "p99_ms": round(percentile(ok, 99), 2) if ok else None,
            "max_ms": round(max(ok), 2) if ok else None}


def rss_kib() -> int:
    with open(f"/proc/{DAEMON_PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    rss_before = rss_kib()
    slow = Slow() if SLOW > 0 else None
    thread = threading.Thread(target=slow.run, daemon=True) if slow else None
    if thread:
        thread.start()
        # Let every slow connection open and send its first lines before measuring.
        time.sleep(min(3.0, INTERVAL))
    tcp: list[float | None] = []
    unix: list[float | None] = []
    rss_peak = rss_kib()
    end = time.monotonic() + DURATION
    while time.monotonic() < end:
        tcp.append(probe(socket.AF_INET, ("127.0.0.1", PORT)))
        unix.append(probe(socket.AF_UNIX, UNIX_PATH))
        rss_peak = max(rss_peak, rss_kib())
        time.sleep(PROBE_PAUSE)
    if slow:
        slow.stopping.set()
        thread.join(timeout=30)
    print(json.dumps({
        "slow": SLOW, "interval_s": INTERVAL, "duration_s": DURATION,
        "slow_open_min": slow.open_min if slow else 0,
        "slow_closed_by_server": slow.closed_by_server if slow else 0,
        "tcp": summary(tcp), "unix": summary(unix),
        "rss_before_kib": rss_before, "rss_peak_kib": rss_peak,
    }))


main()
