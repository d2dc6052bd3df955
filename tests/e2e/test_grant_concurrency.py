"""Many concurrent grants and releases through the quick-route path (issue 12): the handler
runs on libmicrohttpd's thread and the answer goes out only once the group commit made the
transition durable. Every request must be answered, and every acknowledged grant and release
must survive a SIGKILL of the daemon, also one that lands while requests are in flight."""

from __future__ import annotations

import json
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from e2e_support import Cleanup, Daemon, make_file

THREADS = 48
ROUNDS = 6
CLIENT_TIMEOUT = 60  # seconds: far above any answer on a loaded machine, far below "forever"


def call(session: requests.Session, d: Daemon, method: str, path: str, body: dict | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {d.token}", "Content-Type": "application/json"}
    return session.request(method, d.url + path, data=None if body is None else json.dumps(body), headers=headers,
                           timeout=CLIENT_TIMEOUT)


def lease_states(d: Daemon, ids: set[str]) -> dict[str, str]:
    states = {}
    for lease_id in ids:
        r = d.get(f"/v1/leases/{lease_id}", validate=False)
        states[lease_id] = r.json()["state"] if r.status_code == 200 else f"HTTP {r.status_code}"
    return states


def kill_and_restart(d: Daemon) -> None:
    assert d.proc is not None
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=30)
    d.stop()  # forgets the dead process
    d.start()


def test_concurrent_grants_all_answered_and_durable_after_sigkill(filesystems, extra_daemon, cleanup: Cleanup):
    fs = filesystems["ext4"]
    d = extra_daemon("grant-concurrency", [(fs.name, fs.mountpoint)])
    name, path = make_file(fs, "grant-concurrency", 256 * 1024)
    cleanup.file(path)
    d.lock(fs.api_path(name))
    cleanup.locks.append((d, fs.api_path(name)))
    pin = d.ok("POST", "/v1/pins", {"path": fs.api_path(name), "access": "read"}, status=201)
    cleanup.pins.append((d, pin["id"]))
    grant_body = {"pin_id": pin["id"], "holder": "concurrent", "ttl_s": 3600}

    granted: set[str] = set()
    released: set[str] = set()
    lock = threading.Lock()

    def client(_: int) -> list[str]:
        """Grants ROUNDS leases and releases every other one; returns what went wrong."""
        problems = []
        with requests.Session() as session:
            for round_ in range(ROUNDS):
                r = call(session, d, "POST", "/v1/leases", grant_body)
                if r.status_code != 201:
                    problems.append(f"grant: {r.status_code} {r.text}")
                    continue
                lease_id = r.json()["id"]
                with lock:
                    granted.add(lease_id)
                if round_ % 2:
                    r = call(session, d, "POST", f"/v1/leases/{lease_id}/release")
                    if r.status_code != 200 or r.json()["state"] != "released":
                        problems.append(f"release: {r.status_code} {r.text}")
                        continue
                    with lock:
                        released.add(lease_id)
        return problems

    with ThreadPoolExecutor(THREADS) as pool:
        problems = [p for ps in pool.map(client, range(THREADS)) for p in ps]
    assert problems == [], problems[:5]
    assert len(granted) == THREADS * ROUNDS and len(released) == THREADS * ROUNDS // 2

    kill_and_restart(d)
    states = lease_states(d, granted)
    lost = {i: s for i, s in states.items() if s != ("released" if i in released else "active")}
    assert lost == {}, f"{len(lost)} acknowledged changes lost after SIGKILL, e.g. {list(lost.items())[:5]}"

    # A SIGKILL while grants are in flight: what was acknowledged before it is there after it.
    acknowledged: set[str] = set()
    stop = threading.Event()

    def granter(_: int) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = call(session, d, "POST", "/v1/leases", grant_body)
                except requests.RequestException:
                    return  # the daemon is gone: this request was not acknowledged
                if r.status_code == 201:
                    with lock:
                        acknowledged.add(r.json()["id"])

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(granter, i) for i in range(THREADS)]
        while True:  # wait for a condition, not a clock: enough grants acknowledged
            with lock:
                if len(acknowledged) >= THREADS * 2:
                    break
            assert not any(f.done() for f in futures), "a granter stopped before the kill"
            threading.Event().wait(0.01)
        assert d.proc is not None
        d.proc.send_signal(signal.SIGKILL)
        stop.set()
        for f in futures:
            f.result()
    d.proc.wait(timeout=30)
    d.stop()
    d.start()
    with lock:
        acked = set(acknowledged)
    states = lease_states(d, acked)
    lost = {i: s for i, s in states.items() if s != "active"}
    assert lost == {}, f"{len(lost)} of {len(acked)} acknowledged grants lost after SIGKILL, e.g. {list(lost.items())[:5]}"
    for lease_id in (granted - released) | acked:
        cleanup.leases.append((d, lease_id))
