"""Paged lists (issue 8, item 12): `GET /v1/leases`, `/v1/pins`, `/v1/files` and
`/v1/leases/{id}/deliveries` answer at most `limit` items and a `next_cursor` while more
follow; every item comes exactly once, in order; invalid `limit` or `cursor` is a problem."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from conftest import make_daemon
from e2e_support import MiB, Cleanup, Daemon, make_file
from webhook_receiver import WebhookReceiver

TOKENS = {"admin": "admin-token-paging-0123456789", "h1": "holder-token-paging-h1-0123456789"}


@pytest.fixture(scope="module")
def paged(filesystems, workdir: Path, registry, receiver: WebhookReceiver):
    """A daemon of its own (so the lists hold only this module's items), on ext4."""
    tokens = workdir / "paging-tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": TOKENS["admin"], "role": "admin"},
        {"token": TOKENS["h1"], "role": "holder", "holder": "h1"},
    ]}))
    d = make_daemon(workdir, registry, "paging", [("ext4", filesystems["ext4"].mountpoint)], tokens_file=tokens,
                    extra_args=["--webhook-allow", receiver.url + "/"])
    d.start()
    d.token = TOKENS["admin"]
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def setup(filesystems, paged: Daemon):
    """Two locked files with a pin each and 25 leases on them (pins alternate, holders h1, h2, h3)."""
    cleanup = Cleanup()
    fs = filesystems["ext4"]
    try:
        apis, pins = [], []
        for stem in ("page-a", "page-b"):
            name, path = make_file(fs, stem, MiB)
            cleanup.file(path)
            api = fs.api_path(name)
            cleanup.locks.append((paged, api))
            paged.ok("POST", "/v1/files/lock-immutable", {"path": api})
            pin = paged.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
            cleanup.pins.append((paged, pin["id"]))
            apis.append(api)
            pins.append(pin["id"])
        leases = []
        for number in range(25):
            lease = paged.ok("POST", "/v1/leases", {"pin_id": pins[number % 2], "holder": f"h{number % 3 + 1}", "ttl_s": 3600},
                             status=201)
            cleanup.leases.append((paged, lease["id"]))
            leases.append(lease)
        yield {"apis": apis, "pins": pins, "leases": leases}
    finally:
        cleanup.run()


def pages(d: Daemon, path: str, limit: int, token: str | None = None) -> list[dict]:
    """Every page of `path` (which may carry a query already), following next_cursor."""
    sep = "&" if "?" in path else "?"
    answers = [d.ok("GET", f"{path}{sep}limit={limit}", token=token or True)]
    while "next_cursor" in answers[-1]:
        assert answers[-1]["next_cursor"], answers[-1]
        assert len(answers[-1]["items"]) == limit, answers[-1]
        answers.append(d.ok("GET", f"{path}{sep}limit={limit}&cursor={answers[-1]['next_cursor']}", token=token or True))
        assert len(answers) < 1000
    return answers


def ids(answers: list[dict]) -> list[str]:
    return [item["id"] for answer in answers for item in answer["items"]]


def test_leases_page_through_in_grant_order_each_once(paged: Daemon, setup):
    granted = [lease["id"] for lease in setup["leases"]]
    answers = pages(paged, "/v1/leases", 10)
    assert [len(a["items"]) for a in answers] == [10, 10, 5]
    assert "next_cursor" not in answers[-1]
    listed = ids(answers)
    assert sorted(listed) == sorted(granted) and len(set(listed)) == 25
    assert listed == sorted(listed), "pages are in grant order (lease ids begin with the grant time)"
    times = [item["granted_at"] for a in answers for item in a["items"]]
    assert times == sorted(times)
    # Exactly one page's worth: no cursor after it.
    assert "next_cursor" not in paged.ok("GET", "/v1/leases?limit=25")
    assert "next_cursor" in paged.ok("GET", "/v1/leases?limit=24")
    # Without limit: everything (the default page holds 1000).
    assert ids([paged.ok("GET", "/v1/leases")]) == listed


def test_filters_page_through_their_own_leases(paged: Daemon, setup):
    pin_b = setup["pins"][1]
    on_b = sorted(lease["id"] for lease in setup["leases"] if lease["pin_id"] == pin_b)
    assert ids(pages(paged, f"/v1/leases?pin_id={pin_b}", 4)) == on_b
    of_h2 = sorted(lease["id"] for lease in setup["leases"] if lease["holder"] == "h2")
    assert ids(pages(paged, "/v1/leases?holder=h2", 3)) == of_h2
    both = sorted(lease["id"] for lease in setup["leases"] if lease["holder"] == "h2" and lease["pin_id"] == pin_b)
    assert ids(pages(paged, f"/v1/leases?holder=h2&pin_id={pin_b}&state=active", 2)) == both
    # A holder token pages through its own leases only.
    of_h1 = sorted(lease["id"] for lease in setup["leases"] if lease["holder"] == "h1")
    assert ids(pages(paged, "/v1/leases", 4, token=TOKENS["h1"])) == of_h1


def test_state_filter_pages_and_skips_what_changed(paged: Daemon, setup):
    leases = [lease["id"] for lease in setup["leases"]]
    released = leases[3:9]
    first = paged.ok("GET", "/v1/leases?state=active&limit=5")
    for lease_id in released:
        paged.ok("POST", f"/v1/leases/{lease_id}/release")
    try:
        # The cursor still works after leases before and after it changed state.
        rest = pages(paged, f"/v1/leases?state=active&cursor={first['next_cursor']}", 5)
        active = ids([first]) + ids(rest)
        assert active == sorted(set(leases[:5]) | (set(leases[9:]))), active
        assert ids(pages(paged, "/v1/leases?state=released", 4)) == sorted(released)
    finally:
        for lease_id in released:
            setup["leases"] = [lease for lease in setup["leases"] if lease["id"] != lease_id]


def test_pins_and_files_page(paged: Daemon, setup):
    answers = pages(paged, "/v1/pins", 1)
    assert len(answers) == 2 and "next_cursor" not in answers[-1]
    assert sorted(ids(answers)) == sorted(setup["pins"])
    assert all(a["budget"]["pins"] == 2 for a in answers)
    files = pages(paged, "/v1/files", 1)
    paths = [item["path"] for a in files for item in a["items"]]
    assert paths == sorted(setup["apis"]) and len(files) == 2


def test_deliveries_page(paged: Daemon, setup, receiver: WebhookReceiver):
    lease = paged.ok("POST", "/v1/leases", {"pin_id": setup["pins"][0], "holder": "h3", "ttl_s": 3600,
                                            "webhook_url": receiver.url + "/paging"}, status=201)
    receiver.script(lease["id"], status=500)  # every attempt fails: lease.revoking is retried
    paged.ok("POST", f"/v1/leases/{lease['id']}/revoke", {"grace_s": 30}, status=202)
    deadline = time.monotonic() + 30
    while len(paged.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"]) < 3:
        assert time.monotonic() < deadline, "three webhook attempts within 30 s"
        time.sleep(0.05)
    paged.ok("POST", f"/v1/leases/{lease['id']}/release")
    log = paged.ok("GET", f"/v1/leases/{lease['id']}/deliveries")["items"]
    answers = pages(paged, f"/v1/leases/{lease['id']}/deliveries", 1)
    paged_log = [item for a in answers for item in a["items"]]
    assert paged_log[:len(log)] == log and len(answers) >= 3
    assert all(a["lease_id"] == lease["id"] for a in answers)


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/leases", "/v1/pins", "/v1/files", "/v1/leases/{lease}/deliveries"])
@pytest.mark.parametrize("query", [
    "limit=0", "limit=10001", "limit=-1", "limit=abc", "limit=", "limit=1e3",
    "cursor=!!!", "cursor=a", f"cursor={cursor_of('other:key')}", f"cursor={cursor_of('x')}", "cursor=",
])
def test_invalid_limit_or_cursor_is_a_problem(paged: Daemon, setup, path: str, query: str):
    path = path.format(lease=setup["leases"][0]["id"])
    problem = paged.problem("GET", f"{path}?{query}", status=422, code="invalid-query")
    assert problem["parameter"] == query.split("=")[0], problem


def test_a_cursor_of_another_list_is_refused(paged: Daemon, setup):
    pins_cursor = paged.ok("GET", "/v1/pins?limit=1")["next_cursor"]
    problem = paged.problem("GET", f"/v1/leases?cursor={pins_cursor}", status=422, code="invalid-query")
    assert problem["parameter"] == "cursor"
    problem = paged.problem("GET", "/v1/pins?limt=1", status=422, code="invalid-query")
    assert problem["parameter"] == "limt"
