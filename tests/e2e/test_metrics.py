"""GET /metrics on a real daemon: after prepare, lock, pin, grants, a revocation announced to
the suite's webhook receiver (first answered 500, so it is retried), releases and failed
requests, the exposition passes `promtool check metrics`, parses with the Python
`prometheus-client` parser, and its values match what the API reports (pins and budget from
GET /v1/pins, leases by state from GET /v1/leases, files from GET /v1/files, prepared bytes
from the operation, webhook outcomes and retries from the delivery logs, and the HTTP request
counters moved by exactly the requests made). With --metrics-require-token it is an admin
endpoint (401 without a token)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from typing import Any

import pytest
from conftest import unavailable
from e2e_support import Cleanup, Daemon, MiB, make_file
from polling import wait_for
from webhook_receiver import WebhookReceiver

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LEASE_STATES = ("active", "revoking", "released", "revoked", "expired")


def scrape(d: Daemon, token: str | None | bool = None) -> tuple[str, dict[tuple[str, tuple], float]]:
    """The exposition text, and every sample by (name, sorted labels)."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        unavailable("the prometheus-client parser is not installed (make deps-pip)")
    r = d.get("/metrics", token=token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == CONTENT_TYPE
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return r.text, samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (Debian's prometheus package: make deps-apt)")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}\n---\n{text[:3000]}"


def requests_counted(samples: dict, route: str, method: str, status: int) -> float:
    return value(samples, "pinlease_http_requests_total", route=route, method=method, status=str(status))


@pytest.fixture
def metered(filesystems, extra_daemon, receiver: WebhookReceiver):
    d = extra_daemon("metrics", [("ext4", filesystems["ext4"].mountpoint)],
                     extra_args=["--webhook-allow", receiver.url + "/", "--audit-interval-ms", "100"])
    cleanup = Cleanup()
    try:
        yield d, cleanup
    finally:
        cleanup.run()


def test_metrics_pass_promtool_and_match_the_api(filesystems, metered, receiver: WebhookReceiver):
    d, cleanup = metered
    fs = filesystems["ext4"]
    text, before = scrape(d)
    promtool_check(text)
    build = d.get("/v1/version").json()
    assert value(before, "pinlease_build_info", version=build["version"], commit=build["commit"]) == 1

    # prepare (async: the operation reports the bytes written), lock, pin
    name = fs.unique("metrics-prepared")
    cleanup.file(fs.path(name))
    r = d.post("/v1/files/prepare", {"path": fs.api_path(name), "size": 3 * MiB, "create": True, "async": True})
    assert r.status_code == 202, r.text
    op = d.wait_operation(r.json()["id"])
    assert op["state"] == "succeeded", op
    written = op["progress"]["done_bytes"]
    assert written > 0, op
    locked_name, path = make_file(fs, "metrics-locked", 2 * MiB)
    cleanup.file(path)
    api = fs.api_path(locked_name)
    cleanup.locks.append((d, api))
    d.ok("POST", "/v1/files/lock-immutable", {"path": api})
    pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
    cleanup.pins.append((d, pin["id"]))

    # leases: one revoked (announced to the receiver, whose first answer is 500) then released,
    # one released at once, one left active
    def grant(holder: str, webhook: bool) -> dict:
        body: dict[str, Any] = {"pin_id": pin["id"], "holder": holder, "ttl_s": 120, "grace_s": 60}
        if webhook:
            body["webhook_url"] = receiver.url + "/hooks"
        lease = d.ok("POST", "/v1/leases", body, status=201)
        cleanup.leases.append((d, lease["id"]))
        if webhook:
            receiver.secrets[lease["id"]] = lease["webhook_secret"]
        return lease

    revoked = grant("metrics-h1", webhook=True)
    receiver.script(revoked["id"], first=[500])
    released = grant("metrics-h2", webhook=False)
    grant("metrics-h3", webhook=False)  # stays active
    r = d.post(f"/v1/leases/{revoked['id']}/revoke", {"reason": "metrics test"})
    assert r.status_code == 202, r.text
    receiver.wait(revoked["id"], "lease.revoking", count=2)  # the 500, then the retry answered 204
    d.ok("POST", f"/v1/leases/{revoked['id']}/release")
    d.ok("POST", f"/v1/leases/{released['id']}/release")
    d.ok("POST", f"/v1/leases/{released['id']}/release")  # again: the lease is returned as it is
    # failed requests: an unknown pin (404 on its route), no token (401), no such route (404)
    d.problem("GET", "/v1/pins/pin_doesnotexist", status=404, code="pin-not-found")
    d.problem("GET", "/v1/leases", status=401, token=None)
    d.problem("GET", "/v1/no-such-route", status=404)

    # every webhook message finished, as the delivery logs show
    def logs() -> list[dict]:
        return d.ok("GET", f"/v1/leases/{revoked['id']}/deliveries")["items"]

    wait_for("the lease's webhooks to be delivered",
             lambda: Counter(a["outcome"] for a in logs())["delivered"] >= 2)

    def settled() -> tuple[str, dict] | None:
        text, samples = scrape(d)
        if sum(v for (n, _), v in samples.items() if n == "pinlease_webhook_queue_depth") > 0:
            return None
        # a message leaves the queue just before its outcome is reported, and the log is written in batches
        delivered = Counter(a["outcome"] for a in logs())["delivered"]
        moved = value(samples, "pinlease_webhook_deliveries_total", outcome="delivered") - value(
            before, "pinlease_webhook_deliveries_total", outcome="delivered")
        if moved < delivered:
            return None
        if requests_counted(samples, "unmatched", "GET", 404) - requests_counted(before, "unmatched", "GET", 404) < 1:
            return None  # the last request is counted once its response was sent
        return text, samples

    text, after = wait_for("the webhook queue to drain", settled)
    promtool_check(text)

    # pins and budget: as GET /v1/pins reports them
    pins = d.ok("GET", "/v1/pins")
    assert value(after, "pinlease_pins") == pins["budget"]["pins"] == len(pins["items"]) == 1
    assert value(after, "pinlease_pinned_bytes") == pins["budget"]["pinned_bytes"] == 2 * MiB
    assert value(after, "pinlease_pin_budget_bytes") == pins["budget"]["budget_bytes"]
    assert value(after, "pinlease_pin_budget_pins") == pins["budget"]["max_pins"]
    # leases by state: as GET /v1/leases counts them
    by_state = Counter(lease["state"] for lease in d.ok("GET", "/v1/leases")["items"])
    assert by_state == {"active": 1, "released": 2}, by_state
    for state in LEASE_STATES:
        assert value(after, "pinlease_leases", state=state) == by_state.get(state, 0), state
    # lease transitions: three grants, one revocation, two releases (the repeated release is none)
    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("pinlease_lease_transitions_total", kind="granted") == 3
    assert moved("pinlease_lease_transitions_total", kind="revoking") == 1
    assert moved("pinlease_lease_transitions_total", kind="released") == 2
    assert moved("pinlease_lease_transitions_total", kind="revoked") == 0
    # locked files: as GET /v1/files shows them
    files = Counter(f["state"] for f in d.ok("GET", "/v1/files")["items"])
    for state in ("locked", "degraded", "violated"):
        assert value(after, "pinlease_locked_files", state=state) == files.get(state, 0), state
    assert files == {"locked": 1}
    # prepare: the bytes the operation wrote, and one prepare timed ok
    assert moved("pinlease_prepare_written_bytes_total") == written
    assert moved("pinlease_operation_duration_seconds_count", operation="prepare", result="ok") == 1
    assert moved("pinlease_operation_duration_seconds_count", operation="lock", result="ok") == 1
    assert moved("pinlease_operation_duration_seconds_count", operation="pin", result="ok") == 1
    # webhooks: outcomes and retries as the delivery log records them
    attempts = logs()
    outcomes = Counter(a["outcome"] for a in attempts)
    assert outcomes["retrying"] == 1 and outcomes["delivered"] >= 2, attempts
    assert moved("pinlease_webhook_deliveries_total", outcome="delivered") == outcomes["delivered"]
    assert moved("pinlease_webhook_retries_total") == outcomes["retrying"]
    timed = sum(moved("pinlease_webhook_attempt_duration_seconds_count", result=r)
                for r in ("delivered", "retrying", "failed"))
    assert timed == len(attempts)
    # state commits: every transition was group-committed
    assert moved("pinlease_state_commits_total", result="ok") >= 1
    assert moved("pinlease_state_commit_batch_size_sum") >= 6  # three grants, a revoke, two releases
    assert value(after, "pinlease_audit_pass_duration_seconds_count") >= 1
    # HTTP requests: by route template (never the raw path), method and status
    def requests_moved(route: str, method: str, status: int) -> float:
        return requests_counted(after, route, method, status) - requests_counted(before, route, method, status)

    assert requests_moved("/v1/leases", "POST", 201) == 3
    assert requests_moved("/v1/leases/{id}/release", "POST", 200) == 3
    assert requests_moved("/v1/leases/{id}/revoke", "POST", 202) == 1
    assert requests_moved("/v1/pins", "POST", 201) == 1
    assert requests_moved("/v1/pins/{id}", "GET", 404) == 1
    assert requests_moved("/v1/leases", "GET", 401) == 1
    assert requests_moved("unmatched", "GET", 404) == 1
    assert requests_moved("/v1/files/prepare", "POST", 202) == 1
    assert not [labels for (n, labels) in after if n == "pinlease_http_requests_total"
                and any(k == "route" and ("pin_" in v or "lease_" in v) for k, v in labels)], "raw ids in a route label"
    assert value(after, "pinlease_http_request_duration_seconds_count", route="/v1/leases", method="POST") >= 3


def test_metrics_can_require_an_admin_token(filesystems, extra_daemon):
    d = extra_daemon("metrics-token", [("ext4", filesystems["ext4"].mountpoint)],
                     extra_args=["--metrics-require-token"])
    r = d.get("/metrics", token=None)
    assert r.status_code == 401, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    def counted() -> tuple[str, dict] | None:  # the 401 is counted once its response was sent
        text, samples = scrape(d, token=True)
        return (text, samples) if requests_counted(samples, "/metrics", "GET", 401) >= 1 else None

    text, samples = wait_for("the 401 to be counted", counted)
    assert requests_counted(samples, "/metrics", "GET", 401) == 1
    promtool_check(text)
