"""Repeated and out-of-order lease calls under concurrency (issue 8, item 1): thousands of
no-op releases and revokes of leases that already ended or are already revoking, racing
grants whose commits are in flight. Every call must be answered (each has a client timeout),
and afterwards the daemon must still serve, expire leases on time and stop on SIGTERM.

Before the fix, a no-op transition waited on the ticket of a commit it did not start, and a
second waiter of a ticket was never woken: such calls hung for good, and with them the
timer thread and shutdown."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import make_daemon
from e2e_support import FS_NAMES, Cleanup, Daemon, make_file
from webhook_receiver import WebhookReceiver

ADMIN = "admin-token-stress-0123456789"
HOLDER = "holder-token-stress-h1-0123456789"
CLIENT_TIMEOUT = 30  # seconds: far above any answer on a loaded machine, far below "forever"
THREADS = 24


@pytest.fixture(scope="module")
def stressed(filesystems, workdir: Path, registry, receiver: WebhookReceiver):
    tokens = workdir / "stress-tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": ADMIN, "role": "admin"},
        {"token": HOLDER, "role": "holder", "holder": "h1"},
    ]}))
    d = make_daemon(workdir, registry, "stress", [(name, filesystems[name].mountpoint) for name in FS_NAMES],
                    tokens_file=tokens, extra_args=["--webhook-allow", receiver.url + "/"])
    d.start()
    d.token = ADMIN
    try:
        yield d
    finally:
        code = d.stop()
        assert code == 0, f"pinleased did not stop cleanly on SIGTERM (exit {code}):\n{d.log_tail()}"


def call(session: requests.Session, d: Daemon, method: str, path: str, token: str, body: dict | None = None) -> requests.Response:
    """One API call that must be answered within CLIENT_TIMEOUT (a timeout fails the test)."""
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return session.request(method, d.url + path, data=None if body is None else json.dumps(body), headers=headers,
                           timeout=CLIENT_TIMEOUT)


def test_thousands_of_noop_releases_and_revokes_racing_grants_all_answer(
        filesystems, stressed: Daemon, receiver: WebhookReceiver):
    d = stressed
    cleanup = Cleanup()
    try:
        name, path = make_file(filesystems["tmpfs"], "stress")
        cleanup.file(path)
        api = filesystems["tmpfs"].api_path(name)
        cleanup.locks.append((d, api))
        d.ok("POST", "/v1/files/lock-immutable", {"path": api})
        pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
        cleanup.pins.append((d, pin["id"]))

        # A lease that already ended, and one that is already revoking with a webhook (its
        # receiver answers, but the lease is released only at the end).
        ended = d.ok("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h1", "ttl_s": 600}, status=201)
        d.ok("POST", f"/v1/leases/{ended['id']}/release", token=HOLDER)
        revoking = d.ok("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h1", "ttl_s": 600,
                                                "grace_s": 3600, "webhook_url": receiver.url + "/stress"}, status=201)
        cleanup.leases.append((d, revoking["id"]))
        receiver.secrets[revoking["id"]] = revoking["webhook_secret"]
        assert d.ok("POST", f"/v1/leases/{revoking['id']}/revoke", {"grace_s": 3600}, status=202)["state"] == "revoking"

        failures: list[str] = []
        counts = {"noop": 0, "grant": 0}
        lock = threading.Lock()

        def worker(n: int) -> None:
            session = requests.Session()
            try:
                for i in range(60):
                    kind = (n + i) % 4
                    if kind == 0:
                        r = call(session, d, "POST", f"/v1/leases/{ended['id']}/release", HOLDER)
                        ok = r.status_code == 200 and r.json()["state"] == "released"
                    elif kind == 1:
                        r = call(session, d, "POST", f"/v1/leases/{revoking['id']}/revoke", ADMIN, {})
                        ok = r.status_code in (200, 202) and r.json()["state"] == "revoking"
                    elif kind == 2:
                        r = call(session, d, "POST", f"/v1/leases/{ended['id']}/revoke", ADMIN, {})
                        ok = r.status_code in (200, 202, 409)
                    else:
                        g = call(session, d, "POST", "/v1/leases", ADMIN,
                                 {"pin_id": pin["id"], "holder": "h1", "ttl_s": 600, "webhook_url": receiver.url + "/stress"})
                        ok = g.status_code == 201
                        if ok:
                            r = call(session, d, "POST", f"/v1/leases/{g.json()['id']}/release", HOLDER)
                            ok = r.status_code == 200 and r.json()["state"] == "released"
                        else:
                            r = g
                        with lock:
                            counts["grant"] += 1
                    if kind != 3:
                        with lock:
                            counts["noop"] += 1
                    if not ok:
                        with lock:
                            failures.append(f"{r.request.method} {r.request.path_url} -> {r.status_code} {r.text[:300]}")
            except requests.RequestException as e:  # a timeout is a hang
                with lock:
                    failures.append(f"worker {n}: {type(e).__name__}: {e}")
            finally:
                session.close()

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(worker, range(THREADS)))
        assert not failures, f"{len(failures)} call(s) failed or hung, first: {failures[:5]}"
        assert counts["noop"] >= 1000 and counts["grant"] >= 300, counts

        # The daemon still serves, and its lease timers still run: a 2 s lease expires.
        assert requests.get(d.url + "/healthz", timeout=CLIENT_TIMEOUT).status_code == 200
        short = d.ok("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h1", "ttl_s": 2, "grace_s": 1}, status=201)
        deadline = time.monotonic() + 60
        while d.ok("GET", f"/v1/leases/{short['id']}")["state"] != "expired":
            assert time.monotonic() < deadline, "a 2 s lease did not expire: the lease timers stopped"
            time.sleep(0.1)
    finally:
        cleanup.run()
