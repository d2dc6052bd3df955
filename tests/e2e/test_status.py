"""`GET /v1/status` (counts of files, pins and leases by state, the pin budget, the newest event)
agrees with what the lists report item by item, and `GET /v1/events/latest` with the newest event
the stream sends. A daemon of its own, so that no other test's leases change state meanwhile."""

from __future__ import annotations

from collections import Counter

import pytest

from e2e_support import Cleanup, Daemon, MiB, make_file, run
from polling import wait_file_state, wait_for, wait_lease_state



@pytest.fixture
def counted(extra_daemon, filesystems) -> Daemon:
    return extra_daemon("status-daemon", [("tmpfs", filesystems["tmpfs"].mountpoint)],
                        extra_args=["--audit-interval-ms", "100"])


def listed(d: Daemon) -> dict:
    """The counts `GET /v1/status` must give, read from the lists (every page)."""
    def items(path: str) -> tuple[list[dict], dict]:
        found: list[dict] = []
        page = d.ok("GET", path + "?limit=1")
        while True:
            found += page["items"]
            if "next_cursor" not in page:
                return found, page
            page = d.ok("GET", f"{path}?limit=1&cursor={page['next_cursor']}")

    files, _ = items("/v1/files")
    pins, last_pin_page = items("/v1/pins")
    leases, _ = items("/v1/leases")
    newest = d.problem("GET", f"/v1/events?since={2**63 - 1}", status=422, code="invalid-query")["last_sequence"]

    def by_state(found: list[dict], states: list[str]) -> dict:
        counts = Counter(item["state"] for item in found)
        assert set(counts) <= set(states), counts
        return {state: counts.get(state, 0) for state in states}

    return {
        "files": by_state(files, ["locked", "degraded", "violated"]),
        "pins": by_state(pins, ["active", "failed"]),
        "budget": last_pin_page["budget"],
        "leases": by_state(leases, ["active", "revoking", "released", "revoked", "expired"]),
        "events": {"last_sequence": newest},
    }


def test_status_counts_what_the_lists_report(counted: Daemon, filesystems, cleanup: Cleanup):
    d = counted
    empty = d.ok("GET", "/v1/status")
    assert empty == listed(d), empty
    assert empty["files"] == {"locked": 0, "degraded": 0, "violated": 0} and empty["events"]["last_sequence"] == 0

    fs = filesystems["tmpfs"]
    apis = []
    for stem in ("status-a", "status-b", "status-c"):
        name, path = make_file(fs, stem, 2 * MiB)
        cleanup.file(path)
        api = fs.api_path(name)
        cleanup.locks.append((d, api))
        d.ok("POST", "/v1/files/lock-immutable", {"path": api})
        apis.append((api, path))
    pins = []
    for api, _ in apis[:2]:
        for offset in (0, MiB):
            pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read", "offset": offset, "length": MiB}, status=201)
            cleanup.pins.append((d, pin["id"]))
            pins.append(pin["id"])
    active = d.ok("POST", "/v1/leases", {"holder": "st-1", "pin_id": pins[0], "ttl_s": 600}, status=201)
    released = d.ok("POST", "/v1/leases", {"holder": "st-2", "pin_id": pins[1], "ttl_s": 600}, status=201)
    revoked = d.ok("POST", "/v1/leases", {"holder": "st-3", "pin_id": pins[2], "ttl_s": 600}, status=201)
    for lease in (active, released, revoked):
        cleanup.leases.append((d, lease["id"]))
    d.ok("POST", f"/v1/leases/{released['id']}/release")
    d.ok("POST", f"/v1/leases/{revoked['id']}/revoke", {"grace_s": 0}, status=202)
    wait_lease_state(d, revoked["id"], "revoked")
    # The third file (no pin, no lease) is changed behind the daemon's back: the audit marks it violated.
    run(["chattr", "-i", str(apis[2][1])])
    wait_file_state(d, apis[2][0], "violated")

    # The audit marks the file violated a moment before it records the file.violation event, so
    # the reads are compared once that event is out: lease.granted x3, lease.released,
    # lease.revoking, lease.revoked, file.violation (each group is exact; the groups are not one
    # snapshot, and before the seventh event both could agree on six).
    def agreeing() -> dict | None:
        status = d.ok("GET", "/v1/status")
        return status if status["events"]["last_sequence"] >= 7 and status == listed(d) else None
    status = wait_for("GET /v1/status to agree with the lists, file.violation recorded", agreeing)
    assert status["files"] == {"locked": 2, "degraded": 0, "violated": 1}, status
    assert status["pins"] == {"active": 4, "failed": 0} and status["budget"]["pinned_bytes"] == 4 * MiB, status
    assert status["leases"] == {"active": 1, "revoking": 0, "released": 1, "revoked": 1, "expired": 0}, status
    assert d.ok("GET", "/v1/events/latest") == status["events"]

    d.problem("GET", "/v1/status", token=False, status=401, code="unauthorized")


def test_events_latest_is_the_newest_event_the_stream_sends(extra_daemon, filesystems, cleanup: Cleanup):
    # A daemon of its own: on the shared one another module's lease could expire between the two
    # reads below and add an event. Here nothing runs in the background (one lease of 600 s).
    fs = filesystems["tmpfs"]
    daemon = extra_daemon("latest-daemon", [("tmpfs", fs.mountpoint)])
    name, path = make_file(fs, "status-latest", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((daemon, api))
    daemon.ok("POST", "/v1/files/lock-immutable", {"path": api})
    lease = daemon.ok("POST", "/v1/leases", {"holder": "latest-h", "path": api, "access": "read", "ttl_s": 600},
                      status=201)
    cleanup.leases.append((daemon, lease["id"]))
    cleanup.pins.append((daemon, lease["pin_id"]))
    latest = daemon.ok("GET", "/v1/events/latest")["last_sequence"]
    trick = daemon.problem("GET", f"/v1/events?since={2**63 - 1}", status=422, code="invalid-query")
    assert latest == trick["last_sequence"] >= 1, (latest, trick)
    # The stream from just before it sends the grant as that very event.
    with daemon.session.get(f"{daemon.url}/v1/events?since={latest - 1}", stream=True, timeout=30,
                            headers={"Authorization": f"Bearer {daemon.token}"}) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        ids = []
        for line in lines:
            if line.startswith("id: "):
                ids.append(int(line[4:]))
                break
    assert ids == [latest], ids
