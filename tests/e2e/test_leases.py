"""Leases (issue 4): grant, renew, release, two-phase revocation with signed webhooks to a real
receiver on loopback (which checks every signature), expiry, retries, redirects, the
allow-list, violations found by the audit (chattr -i, a reflink from the locked file, a
replaced file), the kernel lease-break recall with a writer that really blocks, restarts in
the middle of a revocation, holder isolation, the delivery log and the event stream."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import make_daemon
from e2e_support import (
    FS_NAMES,
    MiB,
    PROBLEM_BASE,
    Cleanup,
    Daemon,
    EventStream,
    Filesystem,
    free_port,
    make_file,
    mappings_of,
    run,
    spec,
)
from webhook_receiver import Delivery, WebhookReceiver, sign

LEASE_FIELDS = {"id", "pin_id", "path", "holder", "state", "ttl_s", "grace_s", "expires_at", "granted_at", "auto_pin"}
AUDIT_MS = 200
TOKENS = {"admin": "admin-token-leases-0123456789", "h1": "holder-token-h1-0123456789", "h2": "holder-token-h2-0123456789"}


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def down_port() -> int:
    """A port nothing listens on (yet): the receiver-down test starts one there later."""
    return free_port()


@pytest.fixture(scope="module")
def leased(filesystems, workdir: Path, registry, receiver: WebhookReceiver, down_port: int):
    """A daemon that allows webhooks to the receiver (and to the port of the down test),
    audits every 200 ms, and has an admin and two holder tokens."""
    tokens = workdir / "lease-tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": TOKENS["admin"], "role": "admin"},
        {"token": TOKENS["h1"], "role": "holder", "holder": "h1"},
        {"token": TOKENS["h2"], "role": "holder", "holder": "h2"},
    ]}))
    d = make_daemon(
        workdir, registry, "leases", [(name, filesystems[name].mountpoint) for name in FS_NAMES], tokens_file=tokens,
        extra_args=["--webhook-allow", receiver.url + "/", "--webhook-allow", f"http://127.0.0.1:{down_port}/",
                    "--audit-interval-ms", str(AUDIT_MS), "--unix", str(workdir / "leases.sock")])
    d.start()
    d.token = TOKENS["admin"]
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def cleanup(leased: Daemon):
    c = Cleanup()
    try:
        yield c
    finally:
        c.run()


# -- helpers -------------------------------------------------------------------------


def locked_file(d: Daemon, fs: Filesystem, cleanup: Cleanup, stem: str, size: int = MiB, writers: str = "none") -> tuple[str, Path]:
    name, path = make_file(fs, stem, size)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((d, api))
    d.ok("POST", "/v1/files/lock-immutable", {"path": api, "writers": writers})
    return api, path


def grant(d: Daemon, cleanup: Cleanup, body: dict[str, Any], receiver: WebhookReceiver | None = None, status: int = 201) -> dict:
    r = d.post("/v1/leases", body)
    assert r.status_code == status, f"POST /v1/leases {json.dumps(body)} -> {r.status_code} {r.text[:2000]}"
    lease = r.json()
    cleanup.leases.append((d, lease["id"]))
    if lease.get("auto_pin"):
        cleanup.pins.append((d, lease["pin_id"]))
    assert r.headers["Location"] == f"/v1/leases/{lease['id']}"
    assert LEASE_FIELDS <= set(lease), lease
    assert lease["state"] == "active"
    if receiver is not None and "webhook_secret" in lease:
        receiver.secrets[lease["id"]] = lease["webhook_secret"]
    return lease


def get_lease(d: Daemon, lease_id: str, token: str | None = None) -> dict:
    return d.ok("GET", f"/v1/leases/{lease_id}", token=token or True)


def wait_state(d: Daemon, lease_id: str, states: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        lease = get_lease(d, lease_id)
        if lease["state"] in states:
            return lease
        assert time.monotonic() < deadline, f"lease {lease_id} still {lease['state']} after {timeout}s, expected {states}: {lease}"
        time.sleep(0.05)


def parse_time(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def hook(receiver: WebhookReceiver, path: str = "/hooks") -> str:
    return receiver.url + path


def check_signed(delivery: Delivery) -> None:
    """A webhook as the spec's `webhooks.leaseEvent` describes it, with a signature that verifies."""
    assert delivery.signature_ok is True, f"signature did not verify: {delivery.headers}"
    errors = spec().validate_instance({"$ref": "#/components/schemas/Event"}, delivery.event)
    assert not errors, f"webhook body does not match the Event schema: {errors}: {delivery.event}"
    assert delivery.headers["webhook-id"].startswith("msg_"), delivery.headers
    assert delivery.headers["content-type"].startswith("application/json")
    assert abs(int(delivery.headers["webhook-timestamp"]) - delivery.received_at) < 30


def release_through_api(d: Daemon, lease_id: str, token: str, after: float = 0.0):
    """A webhook reaction: the holder deregisters (after `after` s) and releases its lease."""
    def react(delivery: Delivery) -> None:
        if delivery.type in ("lease.revoking", "lease.expired"):
            def later() -> None:
                time.sleep(after)
                requests.post(f"{d.url}/v1/leases/{lease_id}/release", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            threading.Thread(target=later, daemon=True).start()
    return react


# -- grant, renew, release ------------------------------------------------------------


def test_grant_on_pin_renew_release(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["xfs"], cleanup, "lease-basic")
    pin = leased.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
    cleanup.pins.append((leased, pin["id"]))
    granting = time.monotonic()
    lease = grant(leased, cleanup, {"pin_id": pin["id"], "holder": "h1", "ttl_s": 30, "grace_s": 5, "webhook_url": hook(receiver)}, receiver)
    assert lease["pin_id"] == pin["id"] and lease["holder"] == "h1" and lease["ttl_s"] == 30 and lease["grace_s"] == 5
    assert lease["auto_pin"] is False
    secret = lease["webhook_secret"]
    assert secret.startswith("whsec_") and len(__import__("base64").b64decode(secret[6:])) == 32
    shown = get_lease(leased, lease["id"])
    assert "webhook_secret" not in shown, "the secret is shown once, at grant"
    assert shown["webhook_url"] == hook(receiver)
    # At most the time since the grant was asked for has gone (however slow the machine is).
    gone_ms = (time.monotonic() - granting) * 1000
    assert 30_000 - gone_ms - 50 <= shown["remaining_ttl_ms"] <= 30_000, (shown["remaining_ttl_ms"], gone_ms)
    assert leased.ok("GET", f"/v1/pins/{pin['id']}")["leases"] == [lease["id"]]

    # The pin cannot go while the lease uses it, nor can the file be unlocked.
    leased.problem("DELETE", f"/v1/pins/{pin['id']}", status=409, code="pin-in-use")
    leased.problem("POST", "/v1/files/unlock", {"path": api}, status=409, code="pins-exist")

    time.sleep(1.1)
    renewed = leased.ok("POST", f"/v1/leases/{lease['id']}/renew", {"ttl_s": 40}, token=TOKENS["h1"])
    assert renewed["ttl_s"] == 40
    assert parse_time(renewed["expires_at"]) > parse_time(lease["expires_at"]) + 10
    assert parse_time(renewed["renewed_at"]) >= parse_time(lease["granted_at"]) + 1
    leased.problem("POST", f"/v1/leases/{lease['id']}/renew", {"ttl_s": 999_999}, status=422, code="invalid-ttl")

    released = leased.ok("POST", f"/v1/leases/{lease['id']}/release", token=TOKENS["h1"])
    assert released["state"] == "released" and "ended_at" in released
    again = leased.ok("POST", f"/v1/leases/{lease['id']}/release", token=TOKENS["h1"])
    assert again["state"] == "released", "release of an ended lease answers its state"
    leased.problem("POST", f"/v1/leases/{lease['id']}/renew", status=409, code="lease-not-active")
    d = receiver.wait(lease["id"], "lease.released")[0]
    check_signed(d)
    assert d.event["data"]["lease_id"] == lease["id"] and d.event["data"]["pin_id"] == pin["id"]
    # The secret is in the state database (owner-only files), never in the log.
    for db in leased.state_dir.glob("pinlease.db*"):
        assert os.stat(db).st_mode & 0o777 == 0o600, f"{db} is {oct(os.stat(db).st_mode & 0o777)}"
    assert secret not in leased.log_path.read_text(errors="replace")
    # An explicit pin stays after its last lease; now it can be deleted.
    assert leased.ok("GET", f"/v1/pins/{pin['id']}")["leases"] == []
    assert leased.delete(f"/v1/pins/{pin['id']}").status_code == 204


def test_grant_with_path_pins_for_the_lease_and_unpins_at_the_end(filesystems, leased: Daemon, cleanup: Cleanup):
    api, path = locked_file(leased, filesystems["ext4"], cleanup, "lease-auto", 2 * MiB)
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h2", "ttl_s": 20})
    assert lease["auto_pin"] is True and "webhook_secret" not in lease
    pin = leased.ok("GET", f"/v1/pins/{lease['pin_id']}")
    assert pin["auto_pin"] is True and pin["resident_bytes"] == 2 * MiB and pin["leases"] == [lease["id"]]
    assert mappings_of(leased.pid, path), "the daemon maps the file for the lease"
    leased.ok("POST", f"/v1/leases/{lease['id']}/release", token=TOKENS["h2"])
    deadline = time.monotonic() + 10
    while leased.get(f"/v1/pins/{lease['pin_id']}").status_code != 404:
        assert time.monotonic() < deadline, "the auto pin outlived its last lease"
        time.sleep(0.05)
    while mappings_of(leased.pid, path):
        assert time.monotonic() < deadline, "the daemon still maps the file"
        time.sleep(0.05)


@pytest.mark.parametrize("body,status,code", [
    ({"holder": "h1"}, 422, "invalid-body"),
    ({"pin_id": "pin_nope", "holder": "h1"}, 404, "pin-not-found"),
    ({"pin_id": "pin_nope", "path": "x.bin", "holder": "h1"}, 422, "invalid-body"),
    ({"pin_id": "pin_nope", "holder": ""}, 422, "invalid-holder"),
    ({"pin_id": "pin_nope", "holder": "a b"}, 422, "invalid-holder"),
    ({"pin_id": "pin_nope", "holder": "h1", "ttl_s": 0}, 422, "invalid-ttl"),
    ({"pin_id": "pin_nope", "holder": "h1", "ttl_s": 86_401}, 422, "invalid-ttl"),
    ({"pin_id": "pin_nope", "holder": "h1", "grace_s": -1}, 422, "invalid-grace"),
    ({"pin_id": "pin_nope", "holder": "h1", "webhook_url": "ftp://127.0.0.1/x"}, 422, "invalid-webhook-url"),
    ({"pin_id": "pin_nope", "holder": "h1", "webhook_url": "http://example.com/hook"}, 422, "webhook-not-allowed"),
    ({"pin_id": "pin_nope", "holder": "h1", "ttl_s": "60"}, 422, "invalid-body"),
    ({"pin_id": "pin_nope", "holder": "h1", "colour": "red"}, 422, "invalid-body"),
])
def test_bad_grants(body, status, code, leased: Daemon):
    leased.problem("POST", "/v1/leases", body, status=status, code=code)


def test_disallowed_targets_are_refused_at_grant(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["xfs"], cleanup, "lease-allow")
    pin = leased.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
    cleanup.pins.append((leased, pin["id"]))
    for url in (f"http://localhost:{receiver.port}/hooks",  # loopback, but this prefix is not listed
                f"http://127.0.0.1:{receiver.port}0/hooks",  # another port that merely starts with the same digits
                f"http://127.0.0.1:{receiver.port}.evil.example/hooks",
                f"http://user:pw@127.0.0.1:{receiver.port}/hooks"):
        p = leased.problem("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h1", "webhook_url": url}, status=422)
        assert p["type"] in (PROBLEM_BASE + "webhook-not-allowed", PROBLEM_BASE + "invalid-webhook-url"), p
    # Nothing was granted by the refused attempts.
    assert leased.ok("GET", f"/v1/pins/{pin['id']}")["leases"] == []


# -- revocation -------------------------------------------------------------------------


def test_revoke_with_release_inside_grace(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["btrfs"], cleanup, "lease-revoke-ok")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 20,
                                    "webhook_url": hook(receiver)}, receiver)
    receiver.script(lease["id"], on_delivery=release_through_api(leased, lease["id"], TOKENS["h1"], after=0.5))
    r = leased.post(f"/v1/leases/{lease['id']}/revoke", {"reason": "maintenance"})
    assert r.status_code == 202, r.text
    revoking = r.json()
    assert revoking["state"] == "revoking" and revoking["reason"] == "maintenance"
    deadline = parse_time(revoking["deadline"])
    assert 18 < deadline - time.time() <= 20.5
    d = receiver.wait(lease["id"], "lease.revoking")[0]
    check_signed(d)
    data = d.event["data"]
    assert data["lease_id"] == lease["id"] and data["reason"] == "maintenance" and parse_time(data["deadline"]) == pytest.approx(deadline, abs=0.01)
    assert data["path"] == api and data["pin_id"] == lease["pin_id"]
    released = wait_state(leased, lease["id"], {"released", "revoked"}, timeout=15)
    assert released["state"] == "released", "the holder released inside the grace period"
    again = leased.post(f"/v1/leases/{lease['id']}/revoke")
    assert again.status_code == 200 and again.json()["state"] == "released", "revoking an ended lease is idempotent"
    assert not receiver.of(lease["id"], "lease.revoked")


def test_revoke_without_answer_is_forced_at_the_deadline(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, path = locked_file(leased, filesystems["xfs"], cleanup, "lease-revoke-force")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h2", "ttl_s": 60, "grace_s": 30,
                                    "webhook_url": hook(receiver)}, receiver)
    started = time.time()
    revoking = leased.ok("POST", f"/v1/leases/{lease['id']}/revoke", {"grace_s": 2}, status=202)
    # Revoking again with a longer grace changes nothing; with a shorter one the deadline moves in.
    same = leased.post(f"/v1/leases/{lease['id']}/revoke", {"grace_s": 10})
    assert same.status_code == 200 and same.json()["deadline"] == revoking["deadline"]
    receiver.wait(lease["id"], "lease.revoking")
    revoked = wait_state(leased, lease["id"], {"revoked", "released"}, timeout=20)
    assert revoked["state"] == "revoked"
    assert time.time() - started >= 1.9, "forced before the deadline"
    d = receiver.wait(lease["id"], "lease.revoked")[0]
    check_signed(d)
    assert d.received_at >= parse_time(revoking["deadline"]) - 0.05
    # The pin made for the lease is torn down with it.
    deadline = time.monotonic() + 10
    while mappings_of(leased.pid, path):
        assert time.monotonic() < deadline, "the daemon still maps the file of a revoked lease"
        time.sleep(0.05)
    assert leased.get(f"/v1/pins/{lease['pin_id']}").status_code == 404


def test_expiry_without_renewal(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["tmpfs"], cleanup, "lease-expiry")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 1, "grace_s": 1,
                                    "webhook_url": hook(receiver)}, receiver)
    d = receiver.wait(lease["id"], "lease.expired", timeout=10)[0]
    check_signed(d)
    assert d.event["data"]["reason"] == "expired"
    assert d.received_at >= parse_time(lease["expires_at"]) - 0.05
    ended = wait_state(leased, lease["id"], {"expired", "released"}, timeout=10)
    assert ended["state"] == "expired" and ended["reason"] == "expired"
    receiver.wait(lease["id"], "lease.revoked")
    listed = leased.ok("GET", "/v1/leases?state=expired")["items"]
    assert lease["id"] in [x["id"] for x in listed]


def test_receiver_down_then_up_gets_the_retries(filesystems, leased: Daemon, cleanup: Cleanup, down_port: int):
    api, _ = locked_file(leased, filesystems["ext4"], cleanup, "lease-down")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 30,
                                    "webhook_url": f"http://127.0.0.1:{down_port}/hooks"})
    leased.ok("POST", f"/v1/leases/{lease['id']}/revoke", status=202)
    # An attempt has failed (nothing listens) before the receiver comes up.
    deadline = time.monotonic() + 30
    while not any(a["event"] == "lease.revoking" and a["outcome"] == "retrying"
                  for a in leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"]):
        assert time.monotonic() < deadline, "no failed lease.revoking attempt within 30 s"
        time.sleep(0.05)
    late = WebhookReceiver(port=down_port)
    late.secrets[lease["id"]] = lease["webhook_secret"]
    try:
        d = late.wait(lease["id"], "lease.revoking", timeout=40)[0]
        check_signed(d)
        # The delivery log is written in batches: wait until it shows the delivered attempt.
        deadline = time.monotonic() + 30
        while not any(a["outcome"] == "delivered" for a in leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"]):
            assert time.monotonic() < deadline, "the delivered attempt is not in the delivery log within 30 s"
            time.sleep(0.1)
        log = leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"]
        revoking = [a for a in log if a["event"] == "lease.revoking"]
        assert len(revoking) >= 2, log
        assert revoking[0]["outcome"] == "retrying" and "status" not in revoking[0], revoking[0]
        assert len({a["webhook_id"] for a in revoking}) == 1, "the webhook-id is the same on every attempt"
        assert d.webhook_id == revoking[0]["webhook_id"]
    finally:
        leased.post(f"/v1/leases/{lease['id']}/release")
        late.close()


def test_redirect_is_a_failure_and_not_followed(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["xfs"], cleanup, "lease-redirect")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 2,
                                    "webhook_url": hook(receiver, "/moved")}, receiver)
    receiver.script(lease["id"], status=302, headers={"Location": receiver.url + "/elsewhere"})
    leased.ok("POST", f"/v1/leases/{lease['id']}/revoke", status=202)
    receiver.wait(lease["id"], "lease.revoking", count=2, timeout=15)
    assert all(d.path == "/moved" for d in receiver.of(lease["id"])), "the redirect was followed"
    deadline = time.monotonic() + 30  # the delivery log is written in batches
    while not (log := [a for a in leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"] if a["event"] == "lease.revoking"]):
        assert time.monotonic() < deadline, "no lease.revoking attempt in the delivery log within 30 s"
        time.sleep(0.1)
    first = log[0]
    assert first["status"] == 302 and first["outcome"] in ("retrying", "failed"), first
    wait_state(leased, lease["id"], {"revoked"}, timeout=15)


def test_gone_stops_the_retries(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["btrfs"], cleanup, "lease-gone")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 3,
                                    "webhook_url": hook(receiver)}, receiver)
    receiver.script(lease["id"], status=410)
    leased.ok("POST", f"/v1/leases/{lease['id']}/revoke", status=202)
    receiver.wait(lease["id"], "lease.revoking")
    # The attempt is logged once the daemon has judged the answer: wait for that, not for a time.
    deadline = time.monotonic() + 30
    while not (log := [a for a in leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"] if a["event"] == "lease.revoking"]):
        assert time.monotonic() < deadline, "the lease.revoking attempt was never logged"
        time.sleep(0.05)
    assert [(a["outcome"], a.get("status")) for a in log] == [("failed", 410)], "410 Gone must stop the retries: " + str(log)
    assert len(receiver.of(lease["id"], "lease.revoking")) == 1, "410 Gone must stop the retries"


# -- violations -------------------------------------------------------------------------


def violation_of(d: Daemon, api: str) -> dict | None:
    for item in d.files():
        if item["path"] == api:
            return item.get("violation")
    return None


def wait_violation(d: Daemon, api: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while (v := violation_of(d, api)) is None:
        assert time.monotonic() < deadline, f"no violation of {api} within {timeout}s"
        time.sleep(0.02)
    return v


def test_violation_by_clearing_the_flag(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, path = locked_file(leased, filesystems["ext4"], cleanup, "lease-chattr")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 10,
                                    "webhook_url": hook(receiver)}, receiver)
    receiver.script(lease["id"], on_delivery=release_through_api(leased, lease["id"], TOKENS["h1"]))
    cleared = time.time()
    run(["chattr", "-i", str(path)])
    violation = wait_violation(leased, api)
    assert violation["code"] == "immutable-flag-cleared", violation
    assert parse_time(violation["detected_at"]) - cleared <= 2 * AUDIT_MS / 1000 + 0.5, "detected within 2 audit periods"
    item = next(i for i in leased.files() if i["path"] == api)
    assert item["state"] == "violated"
    fv = receiver.wait(lease["id"], "file.violation")[0]
    check_signed(fv)
    assert fv.event["data"]["reason"] == "immutable-flag-cleared" and fv.event["data"]["path"] == api
    rv = receiver.wait(lease["id"], "lease.revoking")[0]
    assert rv.event["data"]["reason"] == "file-violation: immutable-flag-cleared"
    assert wait_state(leased, lease["id"], {"released", "revoked"})["state"] == "released"
    # No new pin or lease on a violated file.
    leased.problem("POST", "/v1/pins", {"path": api, "access": "read"}, status=409, code="file-violated")


@pytest.mark.parametrize("fsname", ["xfs", "btrfs"])
def test_violation_by_reflink_from_the_locked_file(fsname: str, filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, path = locked_file(leased, filesystems[fsname], cleanup, "lease-reflink")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h2", "ttl_s": 60, "grace_s": 1,
                                    "webhook_url": hook(receiver)}, receiver)
    run(["cp", "--reflink=always", str(path), str(path) + ".clone"])  # allowed: an immutable file may be a reflink source
    violation = wait_violation(leased, api)
    assert violation["code"] == "extents-shared", violation
    rv = receiver.wait(lease["id"], "lease.revoking")[0]
    assert rv.event["data"]["reason"] == "file-violation: extents-shared"
    assert wait_state(leased, lease["id"], {"revoked"}, timeout=10)["reason"] == "file-violation: extents-shared"


def test_violation_by_replacing_the_file(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    fs = filesystems["xfs"]
    api, path = locked_file(leased, fs, cleanup, "lease-replace")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 1,
                                    "webhook_url": hook(receiver)}, receiver)
    other, other_path = make_file(fs, "lease-replacement", MiB)
    cleanup.file(other_path)
    run(["bash", "-c", 'chattr -i "$1" && mv -f "$2" "$1"', "replace", str(path), str(other_path)])
    violation = wait_violation(leased, api)
    # Both are true; whichever the audit saw first is the reason.
    assert violation["code"] in ("inode-replaced", "immutable-flag-cleared"), violation
    assert wait_state(leased, lease["id"], {"revoked"}, timeout=10)["reason"].startswith("file-violation: ")


def test_violation_by_mounting_over_the_path(filesystems, leased: Daemon, cleanup: Cleanup, workdir: Path):
    fs = filesystems["ext4"]
    api, path = locked_file(leased, fs, cleanup, "lease-bind")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 1})
    decoy = workdir / "decoy.bin"
    decoy.write_bytes(b"x" * 4096)
    run(["mount", "--bind", str(decoy), str(path)])
    try:
        violation = wait_violation(leased, api)
        assert violation["code"] == "inode-replaced", violation
        assert wait_state(leased, lease["id"], {"revoked"}, timeout=10)["reason"] == "file-violation: inode-replaced"
    finally:
        run(["umount", str(path)], check=False)


def test_many_revocations_do_not_wait_on_each_other(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    """A violation revokes every lease of the file at once; a receiver that holds each
    delivery until all of them are in flight (a barrier, no timing) proves the webhooks are
    sent concurrently, not one after another."""
    api, path = locked_file(leased, filesystems["xfs"], cleanup, "lease-storm")
    count = 16
    leases = []
    first = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 120, "grace_s": 60,
                                    "webhook_url": hook(receiver)}, receiver)
    leases.append(first)
    for _ in range(count - 1):
        leases.append(grant(leased, cleanup, {"pin_id": first["pin_id"], "holder": "h1", "ttl_s": 120, "grace_s": 60,
                                              "webhook_url": hook(receiver)}, receiver))
    barrier = threading.Barrier(count, timeout=30)
    broken: list[str] = []

    def together(delivery: Delivery) -> None:
        if delivery.type == "lease.revoking":
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(delivery.lease_id or "?")

    for lease in leases:
        receiver.script(lease["id"], on_delivery=together)
    run(["cp", "--reflink=always", str(path), str(path) + ".clone"])
    for lease in leases:
        receiver.wait(lease["id"], "lease.revoking", timeout=60)
    assert not broken, f"deliveries were not all in flight at once: {broken}"
    for lease in leases:
        leased.ok("POST", f"/v1/leases/{lease['id']}/release")


# -- kernel lease-break recall ------------------------------------------------------------


def test_lease_break_recall_blocks_the_writer_until_release(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, path = locked_file(leased, filesystems["xfs"], cleanup, "lease-recall")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60, "grace_s": 30,
                                    "webhook_url": hook(receiver)}, receiver)
    released_at: list[float] = []

    def react(delivery: Delivery) -> None:
        if delivery.type == "lease.revoking":
            def later() -> None:
                time.sleep(2.0)  # the holder takes its time to deregister
                released_at.append(time.time())
                requests.post(f"{leased.url}/v1/leases/{lease['id']}/release",
                              headers={"Authorization": f"Bearer {TOKENS['h1']}"}, timeout=30)
            threading.Thread(target=later, daemon=True).start()

    receiver.script(lease["id"], on_delivery=react)
    run(["chattr", "-i", str(path)])
    writer = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time\nt = time.time()\nfd = os.open(sys.argv[1], os.O_WRONLY)\nprint(time.time(), flush=True)",
         str(path)], stdout=subprocess.PIPE, text=True)
    started = time.time()
    try:
        out, _ = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, "the writer's open failed"
    opened_at = float(out.strip())
    assert released_at, "the writer got through before the holder released"
    assert opened_at >= released_at[0], f"open returned {released_at[0] - opened_at:.2f}s before the release"
    assert opened_at - started < 40, "the writer waited for the kernel's lease-break-time, not for the recall"
    assert get_lease(leased, lease["id"])["state"] == "released"
    violation = violation_of(leased, api)
    assert violation is not None and violation["code"] in ("lease-broken", "immutable-flag-cleared"), violation


# -- restarts ----------------------------------------------------------------------------


def test_restart_keeps_the_revocation_deadline_and_resumes_notifications(filesystems, workdir: Path, registry, cleanup: Cleanup):
    receiver = WebhookReceiver()
    d = make_daemon(workdir, registry, "lease-restart", [("xfs", filesystems["xfs"].mountpoint)],
                    extra_args=["--webhook-allow", receiver.url + "/"])
    d.start()
    try:
        api, _ = locked_file(d, filesystems["xfs"], cleanup, "lease-restart")
        lease = grant(d, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 120, "grace_s": 8,
                                   "webhook_url": hook(receiver)}, receiver)
        active = grant(d, cleanup, {"pin_id": lease["pin_id"], "holder": "h2", "ttl_s": 30})
        receiver.script(lease["id"], status=500)  # never acknowledged: retried until the deadline
        revoking = d.ok("POST", f"/v1/leases/{lease['id']}/revoke", status=202)
        receiver.wait(lease["id"], "lease.revoking", count=2, timeout=10)
        time.sleep(2)  # some of the active lease's TTL is used up before the restart
        read_before = time.monotonic()
        before_ttl = get_lease(d, active["id"])["remaining_ttl_ms"]
        assert d.stop() == 0, f"pinleased exited badly on SIGTERM:\n{d.log_tail()}"
        stopped = time.monotonic()
        time.sleep(3)  # downtime (the test's input): it must not be taken off the TTL
        starting = time.monotonic()
        d.start()
        after = get_lease(d, lease["id"])
        assert after["state"] == "revoking" and after["deadline"] == revoking["deadline"], "the deadline survives the restart"
        # The active lease kept the TTL it had left (not a fresh TTL, not the downtime taken off):
        # it lost at most the time the daemon ran between the two reads, which the test measures
        # (no bound on how fast the machine is).
        remaining = get_lease(d, active["id"])["remaining_ttl_ms"]
        ran_ms = ((stopped - read_before) + (time.monotonic() - starting)) * 1000
        assert remaining <= before_ttl + 200, f"a restart must not give a fresh TTL ({remaining} ms left, {before_ttl} ms before)"
        assert before_ttl - remaining <= ran_ms + 200, \
            f"remaining TTL {remaining} ms, was {before_ttl} ms; the daemon ran only {ran_ms:.0f} ms in between"
        count = len(receiver.of(lease["id"], "lease.revoking"))
        receiver.wait(lease["id"], "lease.revoking", count=count + 1, timeout=10)
        ids = {x.webhook_id for x in receiver.of(lease["id"], "lease.revoking")}
        assert len(ids) == 1, f"the resumed notification keeps its webhook-id: {ids}"
        forced = wait_state(d, lease["id"], {"revoked"}, timeout=20)
        late = parse_time(forced["ended_at"]) - parse_time(revoking["deadline"])
        assert -0.05 <= late < 10, f"forced {late:.3f}s after its deadline"
    finally:
        d.stop()
        receiver.close()


# -- holders ------------------------------------------------------------------------------


def test_holder_tokens_see_and_act_on_their_own_leases_only(filesystems, leased: Daemon, cleanup: Cleanup):
    api, _ = locked_file(leased, filesystems["btrfs"], cleanup, "lease-holders")
    mine = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60})
    theirs = grant(leased, cleanup, {"pin_id": mine["pin_id"], "holder": "h2", "ttl_s": 60})
    h1, h2 = TOKENS["h1"], TOKENS["h2"]
    listed = leased.ok("GET", "/v1/leases", token=h1)["items"]
    assert mine["id"] in {x["id"] for x in listed} and all(x["holder"] == "h1" for x in listed)
    assert leased.ok("GET", "/v1/leases?holder=h2", token=h1)["items"] == []
    leased.problem("GET", f"/v1/leases/{theirs['id']}", token=h1, status=404, code="lease-not-found")
    leased.problem("POST", f"/v1/leases/{theirs['id']}/renew", token=h1, status=404, code="lease-not-found")
    leased.problem("POST", f"/v1/leases/{theirs['id']}/release", token=h1, status=404, code="lease-not-found")
    leased.problem("GET", f"/v1/leases/{theirs['id']}/deliveries", token=h1, status=404, code="lease-not-found")
    leased.problem("POST", f"/v1/leases/{mine['id']}/revoke", token=h1, status=403, code="forbidden")
    leased.problem("POST", "/v1/leases", {"pin_id": mine["pin_id"], "holder": "h1"}, token=h1, status=403, code="forbidden")
    leased.problem("GET", "/v1/pins", token=h1, status=403, code="forbidden")
    leased.ok("POST", f"/v1/leases/{theirs['id']}/renew", token=h2)
    leased.ok("POST", f"/v1/leases/{theirs['id']}/release", token=h2)
    assert get_lease(leased, mine["id"], token=h1)["state"] == "active", "another holder's release left mine alone"
    both = {x["id"] for x in leased.ok("GET", f"/v1/leases?pin_id={mine['pin_id']}")["items"]}
    assert both == {mine["id"], theirs["id"]}
    leased.problem("GET", "/v1/leases?state=sleepy", status=422, code="invalid-query")
    leased.problem("GET", "/v1/leases", token="not-a-token", status=401, code="unauthorized")


# -- events -------------------------------------------------------------------------------


def test_event_stream_resumes_with_since_and_filters_holders(filesystems, leased: Daemon, cleanup: Cleanup):
    api, _ = locked_file(leased, filesystems["tmpfs"], cleanup, "lease-events")
    live = EventStream(leased)  # both streams are open (subscribed) before the events happen
    holder_view = EventStream(leased, token=TOKENS["h2"])
    try:
        first = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60})
        second = grant(leased, cleanup, {"pin_id": first["pin_id"], "holder": "h2", "ttl_s": 60})
        leased.ok("POST", f"/v1/leases/{first['id']}/release")
        leased.ok("POST", f"/v1/leases/{second['id']}/release")
        seen = live.read(4)
        assert [(e["type"], e["data"]["lease_id"]) for e in seen] == [
            ("lease.granted", first["id"]), ("lease.granted", second["id"]),
            ("lease.released", first["id"]), ("lease.released", second["id"])]
        assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen) and len({e["seq"] for e in seen}) == 4
        mine = holder_view.read(2)
        assert [(e["type"], e["data"]["lease_id"]) for e in mine] == [("lease.granted", second["id"]), ("lease.released", second["id"])]
    finally:
        live.close()
        holder_view.close()
    # Resume after the first grant: the rest comes again, in order.
    resumed = EventStream(leased, f"?since={seen[0]['seq']}")
    try:
        assert [e["seq"] for e in resumed.read(3)] == [e["seq"] for e in seen[1:]]
    finally:
        resumed.close()


# -- descriptor hand-off ------------------------------------------------------------------


def hand_off(workdir: Path, lease_id: str, token: str) -> tuple[dict, int | None]:
    """Asks the daemon's PATH.fd socket for the lease's descriptor: (reply, fd or None)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(workdir / "leases.sock.fd"))
        sock.sendall(json.dumps({"lease_id": lease_id, "token": token}).encode() + b"\n")
        message, fds, _, _ = socket.recv_fds(sock, 65536, 1)
        while not message.endswith(b"\n"):
            more = sock.recv(65536)
            if not more:
                break
            message += more
    return json.loads(message), (fds[0] if fds else None)


def test_descriptor_hand_off(filesystems, leased: Daemon, cleanup: Cleanup, workdir: Path):
    import fcntl
    # Read pin on xfs: a new read-only descriptor of the locked inode.
    api, path = locked_file(leased, filesystems["xfs"], cleanup, "lease-fd-read")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60})
    reply, fd = hand_off(workdir, lease["id"], TOKENS["h1"])
    assert fd is not None, reply
    try:
        assert reply["lease_id"] == lease["id"] and reply["access"] == "read" and reply["path"] == api, reply
        st = os.fstat(fd)
        assert (st.st_dev, st.st_ino) == (os.stat(path).st_dev, os.stat(path).st_ino)
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        assert os.pread(fd, 4096, 0) == path.read_bytes()[:4096]
    finally:
        os.close(fd)

    # Write pin on tmpfs (lock writers "daemon"): the daemon's read-write descriptor, which the
    # holder could not get itself any more.
    wapi, wpath = locked_file(leased, filesystems["tmpfs"], cleanup, "lease-fd-write", writers="daemon")
    wlease = grant(leased, cleanup, {"path": wapi, "access": "write", "holder": "h2", "ttl_s": 60})
    with pytest.raises(PermissionError):
        os.open(wpath, os.O_RDWR)
    reply, fd = hand_off(workdir, wlease["id"], TOKENS["h2"])
    assert fd is not None, reply
    try:
        assert reply["access"] == "write"
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDWR
        assert os.pwrite(fd, b"written by the holder", 0) == 21
        assert wpath.read_bytes()[:21] == b"written by the holder"
    finally:
        os.close(fd)

    # Refusals: another holder's lease, a bad token, a lease bound to another uid, an ended lease.
    reply, fd = hand_off(workdir, lease["id"], TOKENS["h2"])
    assert fd is None and reply["type"] == PROBLEM_BASE + "lease-not-found" and reply["status"] == 404, reply
    reply, fd = hand_off(workdir, lease["id"], "not-a-token")
    assert fd is None and reply["status"] == 401, reply
    bound = grant(leased, cleanup, {"pin_id": lease["pin_id"], "holder": "h1", "ttl_s": 60, "holder_uid": os.getuid() + 4242})
    reply, fd = hand_off(workdir, bound["id"], TOKENS["h1"])
    assert fd is None and reply["type"] == PROBLEM_BASE + "peer-not-allowed" and reply["status"] == 403, reply
    mine = grant(leased, cleanup, {"pin_id": lease["pin_id"], "holder": "h1", "ttl_s": 60, "holder_uid": os.getuid()})
    reply, fd = hand_off(workdir, mine["id"], TOKENS["h1"])
    assert fd is not None, reply
    os.close(fd)
    leased.ok("POST", f"/v1/leases/{lease['id']}/release")
    reply, fd = hand_off(workdir, lease["id"], TOKENS["h1"])
    assert fd is None and reply["type"] == PROBLEM_BASE + "lease-not-active" and reply["status"] == 409, reply


# -- drain ---------------------------------------------------------------------------------


def test_drain_revokes_every_lease_before_stopping(filesystems, workdir: Path, registry, cleanup: Cleanup):
    import signal as signals
    receiver = WebhookReceiver()
    d = make_daemon(workdir, registry, "lease-drain", [("xfs", filesystems["xfs"].mountpoint)],
                    extra_args=["--webhook-allow", receiver.url + "/", "--drain"])
    d.start()
    try:
        api, _ = locked_file(d, filesystems["xfs"], cleanup, "lease-drain")
        answering = grant(d, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 300, "grace_s": 20,
                                       "webhook_url": hook(receiver)}, receiver)
        silent = grant(d, cleanup, {"pin_id": answering["pin_id"], "holder": "h2", "ttl_s": 300, "grace_s": 3,
                                    "webhook_url": hook(receiver)}, receiver)
        receiver.script(answering["id"], on_delivery=release_through_api(d, answering["id"], d.token, after=0.3))
        started = time.monotonic()
        d.proc.send_signal(signals.SIGTERM)
        receiver.wait(answering["id"], "lease.revoking")
        receiver.wait(silent["id"], "lease.revoking")
        # While draining, the API still serves holders, but no new lease is granted.
        d.problem("POST", "/v1/leases", {"pin_id": answering["pin_id"], "holder": "h3", "ttl_s": 60}, status=503, code="draining")
        code = d.proc.wait(timeout=120)
        took = time.monotonic() - started
        assert code == 0, d.log_tail()
        assert took > 2.5, f"the drain took {took:.1f}s; the silent lease's grace is 3 s"
        # Recorded by the receiver before it answered: delivered before the daemon exited.
        assert [x.status for x in receiver.of(silent["id"], "lease.revoked")] == [204], d.log_tail()
        assert not receiver.of(answering["id"], "lease.revoked"), "the lease that was released must not be forced"
        assert "draining: revoking 2 lease(s)" in d.log_path.read_text()
    finally:
        d.stop()
        receiver.close()


# -- final notices, drain and redelivery (issue 8, items 8 and 9) ---------------------------


def down_for(seconds: float, event: str = "lease.revoked"):
    """A receiver script: 503 to `event` until `seconds` after the first such delivery, then 2xx
    (a holder restarting for that long)."""
    first: list[float] = []

    def status_for(delivery: Delivery) -> int | None:
        if delivery.type != event:
            return None
        if not first:
            first.append(delivery.received_at)
        return 503 if delivery.received_at < first[0] + seconds else 204
    return status_for


def test_drain_waits_for_the_final_notice_and_readyz_says_draining(filesystems, workdir: Path, registry, cleanup: Cleanup):
    import signal as signals
    receiver = WebhookReceiver()
    d = make_daemon(workdir, registry, "lease-drain-final", [("xfs", filesystems["xfs"].mountpoint)],
                    extra_args=["--webhook-allow", receiver.url + "/", "--drain", "--webhook-retry-schedule-s", "0" + ",1" * 20,
                                "--drain-delivery-timeout-s", "60"])
    d.start()
    try:
        api, _ = locked_file(d, filesystems["xfs"], cleanup, "lease-drain-final")
        silent = grant(d, cleanup, {"path": api, "access": "read", "holder": "h2", "ttl_s": 300, "grace_s": 2,
                                    "webhook_url": hook(receiver)}, receiver)
        # The holder restarts just as its lease is forced: down for 4 s, longer than the old ~5 quick tries.
        receiver.script(silent["id"], status_for=down_for(4))
        assert d.get("/readyz").status_code == 200
        d.proc.send_signal(signals.SIGTERM)
        receiver.wait(silent["id"], "lease.revoking")
        ready = d.get("/readyz", token=None)
        assert ready.status_code == 503 and "draining" in ready.text, ready.text
        assert ready.headers["Content-Type"].startswith("application/problem+json")
        code = d.proc.wait(timeout=90)
        assert code == 0, d.log_tail()
        # Recorded by the receiver before it answered: the 2xx came before the daemon exited.
        revoked = receiver.of(silent["id"], "lease.revoked")
        assert [x.status for x in revoked][-1:] == [204], f"the final notice was not delivered before the exit: {revoked}"
        assert len({x.webhook_id for x in revoked}) == 1
        assert revoked[-1].received_at - revoked[0].received_at >= 4 - 0.5
    finally:
        d.stop()
        receiver.close()


def test_final_notice_outlives_a_receiver_down_and_a_restart(filesystems, workdir: Path, registry, cleanup: Cleanup):
    port = free_port()
    d = make_daemon(workdir, registry, "lease-final-restart", [("ext4", filesystems["ext4"].mountpoint)],
                    extra_args=["--webhook-allow", f"http://127.0.0.1:{port}/", "--webhook-retry-schedule-s", "0" + ",1" * 60])
    d.start()
    late = None
    try:
        api, _ = locked_file(d, filesystems["ext4"], cleanup, "lease-final-restart")
        lease = grant(d, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 300, "grace_s": 1,
                                   "webhook_url": f"http://127.0.0.1:{port}/hooks"})
        d.ok("POST", f"/v1/leases/{lease['id']}/revoke", status=202)
        wait_state(d, lease["id"], {"revoked"})

        def final_attempts() -> list[dict]:
            return [a for a in d.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"] if a["event"] == "lease.revoked"]
        deadline = time.monotonic() + 60
        while len(final_attempts()) < 7:  # more than the old 5 tries after the deadline, all refused
            assert time.monotonic() < deadline, final_attempts()
            time.sleep(0.2)
        before = final_attempts()
        assert all(a["outcome"] == "retrying" for a in before), before
        assert len({a["webhook_id"] for a in before}) == 1
        d.restart()
        late = WebhookReceiver(port=port)
        late.secrets[lease["id"]] = lease["webhook_secret"]
        delivered = late.wait(lease["id"], "lease.revoked", timeout=60)[0]
        check_signed(delivered)
        assert delivered.webhook_id == before[0]["webhook_id"], "the resumed notice keeps its webhook-id"
        deadline = time.monotonic() + 10
        while not any(a["outcome"] == "delivered" for a in final_attempts()):
            assert time.monotonic() < deadline, final_attempts()
            time.sleep(0.1)
        numbers = [a["attempt"] for a in final_attempts()]
        assert numbers == sorted(numbers) and numbers[-1] > len(before), f"the schedule resumed, not restarted: {numbers}"
    finally:
        d.stop()
        if late is not None:
            late.close()


def test_retry_endpoint_redelivers_with_the_same_webhook_id(filesystems, leased: Daemon, cleanup: Cleanup, receiver: WebhookReceiver):
    api, _ = locked_file(leased, filesystems["tmpfs"], cleanup, "lease-redeliver")
    lease = grant(leased, cleanup, {"path": api, "access": "read", "holder": "h1", "ttl_s": 60,
                                    "webhook_url": hook(receiver)}, receiver)
    leased.ok("POST", f"/v1/leases/{lease['id']}/release")
    first = receiver.wait(lease["id"], "lease.released")[0]
    msg = first.webhook_id
    path = f"/v1/leases/{lease['id']}/deliveries/{msg}/retry"
    # Another holder sees neither the lease nor its messages; unknown messages are 404 too.
    leased.problem("POST", path, status=404, code="lease-not-found", token=TOKENS["h2"])
    leased.problem("POST", f"/v1/leases/{lease['id']}/deliveries/msg_0123/retry", status=404, code="delivery-not-found")
    leased.problem("POST", f"/v1/leases/lease_nope/deliveries/{msg}/retry", status=404, code="lease-not-found")
    state = leased.ok("POST", path, status=202, token=TOKENS["h1"])
    assert state["webhook_id"] == msg and state["state"] == "pending" and state["event"] == "lease.released", state
    again = receiver.wait(lease["id"], "lease.released", count=2)
    assert {x.webhook_id for x in again} == {msg}
    check_signed(again[1])
    deadline = time.monotonic() + 10
    while True:
        log = [a for a in leased.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"] if a["webhook_id"] == msg]
        if [a["outcome"] for a in log] == ["delivered", "delivered"]:
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.1)
    assert [a["attempt"] for a in log] == [1, 2]
