"""Drives bench/revoke.sh against a running pinleased (API and TOKEN in the environment):

  latency N PIN_ID HOOK_URL OUT.tsv   grant a lease with a webhook, note the time, revoke it,
                                      N times in a row; writes lease id and the revoke call's
                                      start time (ns) per line
  grant N PIN_ID HOOK_URL OUT.txt     grant N leases with a webhook (8 connections at once);
                                      writes their ids
  revoke GRACE_S IDS.txt              revoke every lease listed (8 connections at once), each
                                      with grace GRACE_S"""

import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse

API = urlparse(os.environ["API"])
HEADERS = {"Authorization": f"Bearer {os.environ['TOKEN']}", "Content-Type": "application/json"}


def connection() -> http.client.HTTPConnection:
    return http.client.HTTPConnection(API.hostname, API.port, timeout=60)


def call(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None, expect: set[int]) -> dict:
    conn.request(method, path, json.dumps(body) if body is not None else None, HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status not in expect:
        sys.exit(f"{method} {path} -> {response.status}: {data[:500]!r}")
    return json.loads(data)


def grant_body(pin_id: str, hook: str) -> dict:
    return {"pin_id": pin_id, "holder": "bench", "ttl_s": 600, "grace_s": 300, "webhook_url": hook}


def latency(count: int, pin_id: str, hook: str, out: str) -> None:
    conn = connection()
    with open(out, "w") as f:
        for _ in range(count):
            lease = call(conn, "POST", "/v1/leases", grant_body(pin_id, hook), {201})
            time.sleep(0.002)  # the grant's own work is over
            started = time.time_ns()
            call(conn, "POST", f"/v1/leases/{lease['id']}/revoke", {}, {202})
            f.write(f"{lease['id']}\t{started}\n")


def grant(count: int, pin_id: str, hook: str, out: str) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        conn = connection()
        for _ in range(n):
            lease = call(conn, "POST", "/v1/leases", grant_body(pin_id, hook), {201})
            with lock:
                ids.append(lease["id"])

    threads = [threading.Thread(target=worker, args=(count // 8 + (1 if i < count % 8 else 0),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        f.write("\n".join(ids) + "\n")


def revoke(grace: int, ids_file: str) -> None:
    ids = [line.strip() for line in open(ids_file) if line.strip()]

    def worker(part: list[str]) -> None:
        conn = connection()
        for lease_id in part:
            call(conn, "POST", f"/v1/leases/{lease_id}/revoke", {"grace_s": grace}, {200, 202})

    threads = [threading.Thread(target=worker, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    if sys.argv[1] == "revoke":
        revoke(int(sys.argv[2]), sys.argv[3])
    else:
        mode, n, pin, hook, out = sys.argv[1:]
        {"latency": latency, "grant": grant}[mode](int(n), pin, hook, out)
