"""Trust under abuse (issue 8): a hard link in a root to a file outside it is never prepared,
locked or pinned (item 2); one daemon per state directory (item 6); the event stream resumes
after a restart without a silent gap, or says 410 (item 7); the write-ahead log of the state
database shrinks back once the daemon is idle (item 10)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

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
    daemon_binary,
    free_port,
    is_immutable,
    make_file,
    mappings_of,
    proc_leases,
    spec,
)
from polling import wait_for


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- item 2: hard links ----------------------------------------------------------------


@pytest.fixture(scope="module")
def subroots(filesystems) -> dict[str, Path]:
    """A subdirectory of each filesystem, used as the root: the rest of the mount is outside."""
    dirs = {}
    for name in FS_NAMES:
        d = filesystems[name].mountpoint / f"subroot-{uuid.uuid4().hex[:8]}"
        d.mkdir()
        dirs[name] = d
    yield dirs
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def confined(filesystems, subroots, workdir: Path, registry):
    d = make_daemon(workdir, registry, "hardlinks", [(name, subroots[name]) for name in FS_NAMES])
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.mark.parametrize("fsname", FS_NAMES)
def test_hard_link_to_a_file_outside_the_root_is_neither_prepared_locked_nor_pinned(fsname, filesystems, subroots, confined: Daemon):
    fs = filesystems[fsname]
    outside = fs.mountpoint / fs.unique("outside-secret")
    outside.write_bytes(os.urandom(MiB))
    with open(outside, "rb+") as f:
        os.fsync(f.fileno())
    before = digest(outside)
    link_name = fs.unique("hl")
    link = subroots[fsname] / link_name
    os.link(outside, link)
    api = f"{fsname}:{link_name}"
    cleanup = Cleanup()
    cleanup.locks.append((confined, api))
    cleanup.files += [link, outside]
    try:
        for mode in ("wipe", "fill"):
            problem = confined.problem("POST", "/v1/files/prepare", {"path": api, "mode": mode}, status=409, code="hard-linked")
            assert problem["links"] == 2, problem
        assert digest(outside) == before, "a refused prepare must not change a byte of the outside file"

        for writers in ("none", "daemon"):
            problem = confined.problem("POST", "/v1/files/lock-immutable", {"path": api, "writers": writers}, status=409, code="hard-linked")
            assert problem["links"] == 2, problem
            assert not is_immutable(outside), "a refused lock must leave no immutable flag on the outside file"

        r = confined.post("/v1/pins", {"path": api, "access": "read"})
        assert r.status_code == 409, f"a pin of the hard-linked file must be refused: {r.status_code} {r.text}"
        r = confined.post("/v1/leases", {"path": api, "access": "read", "holder": "h1", "ttl_s": 60})
        assert r.status_code == 409, f"a lease (auto-pin) of the hard-linked file must be refused: {r.status_code} {r.text}"
        assert not mappings_of(confined.pid, link) and not mappings_of(confined.pid, outside), "the daemon maps nothing of it"
        assert not is_immutable(outside)

        report = confined.inspect(api)
        assert report["ready"] is False
        assert "hard-linked" in [reason["code"] for reason in report["reasons"]], report["reasons"]
        assert digest(outside) == before
    finally:
        cleanup.run()


def test_a_file_with_one_name_in_a_subdirectory_root_still_works(filesystems, subroots, confined: Daemon):
    """The check refuses only what it must: the one name of a plain file is in the root."""
    name = f"plain-{uuid.uuid4().hex[:8]}.bin"
    path = subroots["xfs"] / name
    path.write_bytes(os.urandom(MiB))
    cleanup = Cleanup()
    cleanup.files.append(path)
    api = f"xfs:{name}"
    cleanup.locks.append((confined, api))
    try:
        confined.prepare(api, mode="fill")
        confined.lock(api)
        assert is_immutable(path)
        pin = confined.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
        cleanup.pins.append((confined, pin["id"]))
    finally:
        cleanup.run()


# -- item 6: one daemon per state directory ------------------------------------------------


def test_a_second_daemon_on_the_same_state_directory_exits_naming_the_first(filesystems, extra_daemon):
    tmpfs = filesystems["tmpfs"]
    first = extra_daemon("state-owner", [("tmpfs", tmpfs.mountpoint)])
    cleanup = Cleanup()
    name, path = make_file(tmpfs, "state-owner", MiB)
    cleanup.files.append(path)
    api = tmpfs.api_path(name)
    cleanup.locks.append((first, api))
    try:
        first.lock(api)
        def held_leases() -> list[str]:  # without the ordinal /proc/locks puts first
            return sorted(line.split(None, 1)[1] for line in proc_leases(first.pid))

        leases_before = held_leases()
        assert leases_before, "the first daemon holds the file's read lease"

        cmd = [str(daemon_binary()), "--listen", f"127.0.0.1:{free_port()}", "--state-dir", str(first.state_dir),
               "--root", f"tmpfs={tmpfs.mountpoint}"]
        second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            out, err = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            out, err = second.communicate(timeout=30)
            pytest.fail(f"the second daemon on {first.state_dir} kept running:\n{err[-2000:]}")
        assert second.returncode != 0, f"the second daemon exited with 0:\n{err}"
        lines = [line for line in (out + err).splitlines() if line.strip()]
        assert len(lines) == 1, f"one line expected, got: {lines}"
        assert str(first.pid) in lines[0], f"the message names the first daemon's pid {first.pid}: {lines[0]}"

        # The first daemon is untouched: serving, its file still locked with its lease.
        assert requests.get(first.url + "/healthz", timeout=10).status_code == 200
        assert is_immutable(path)
        assert held_leases() == leases_before
        assert api in [f["path"] for f in first.files()]
    finally:
        cleanup.run()


# -- item 7: resuming the event stream -------------------------------------------------


def status_of_events(d: Daemon, query: str = "", headers: dict[str, str] | None = None) -> requests.Response:
    """The answer to GET /v1/events without reading a stream body (it would not end)."""
    h = {"Authorization": f"Bearer {d.token}", **(headers or {})}
    r = requests.get(d.url + "/v1/events" + query, headers=h, stream=True, timeout=10)
    if r.status_code != 200:
        r.content  # noqa: B018 - a problem body is short; read it for the checks
        errors = spec().check_response("GET", "/v1/events" + query, r)
        assert not errors, errors
    r.close()
    return r


def pinned(d: Daemon, cleanup: Cleanup, api: str) -> str:
    """Locks and pins the file at `api`; returns the pin's id."""
    cleanup.locks.append((d, api))
    d.lock(api)
    pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
    cleanup.pins.append((d, pin["id"]))
    return pin["id"]


def make_events(d: Daemon, pin_id: str, pairs: int) -> None:
    """2 × `pairs` events: a lease granted and released, `pairs` times."""
    for _ in range(pairs):
        lease = d.ok("POST", "/v1/leases", {"pin_id": pin_id, "holder": "h1", "ttl_s": 600}, status=201)
        d.ok("POST", f"/v1/leases/{lease['id']}/release")


def last_sequence(d: Daemon) -> int:
    r = status_of_events(d, "?since=999999999")
    assert r.status_code == 422, r.status_code
    return int(r.json()["last_sequence"])


KEPT = 40


def test_event_stream_resumes_after_a_restart_without_a_gap(filesystems, extra_daemon):
    tmpfs = filesystems["tmpfs"]
    d = extra_daemon("events-resume", [("tmpfs", tmpfs.mountpoint)], extra_args=["--events-kept", str(KEPT)])
    cleanup = Cleanup()
    name, path = make_file(tmpfs, "events-resume", MiB)
    cleanup.files.append(path)
    try:
        pin_id = pinned(d, cleanup, tmpfs.api_path(name))
        make_events(d, pin_id, 12)
        last = last_sequence(d)
        assert last >= 24
        start = last - 15
        d.restart()
        assert last_sequence(d) == last, "sequence numbers continue across a restart"

        resumed = EventStream(d, f"?since={start}")
        try:
            assert resumed.sequences(last - start) == list(range(start + 1, last + 1)), "every event after since, in order"
            make_events(d, pin_id, 1)
            assert resumed.sequences(2) == [last + 1, last + 2], "then the new events, without a gap"
        finally:
            resumed.close()
        by_header = EventStream(d, "?since=1", headers={"Last-Event-ID": str(start + 3)})
        try:
            assert by_header.sequences(last + 2 - (start + 3)) == list(range(start + 4, last + 3)), "Last-Event-ID wins over since"
        finally:
            by_header.close()

        # A start newer than the newest event is refused, not waited on.
        problem = status_of_events(d, f"?since={last + 1000}")
        assert problem.status_code == 422 and problem.json()["type"] == PROBLEM_BASE + "invalid-query"

        # Past retention: 410 after the oldest kept event, also after another restart.
        make_events(d, pin_id, KEPT)
        newest = last_sequence(d)
        oldest_kept = newest - KEPT + 1
        wait_for("events beyond --events-kept forgotten",
                 lambda: status_of_events(d, f"?since={oldest_kept - 2}").status_code == 410)
        d.restart()
        gone = status_of_events(d, f"?since={oldest_kept - 2}")
        assert gone.status_code == 410, gone.status_code
        body = gone.json()
        assert body["type"] == PROBLEM_BASE + "events-expired" and body["oldest_sequence"] == oldest_kept, body
        assert status_of_events(d, "", headers={"Last-Event-ID": str(oldest_kept - 2)}).status_code == 410
        edge = EventStream(d, f"?since={oldest_kept - 1}")
        try:
            assert edge.sequences(KEPT) == list(range(oldest_kept, newest + 1)), "the oldest kept event is replayed"
        finally:
            edge.close()
    finally:
        cleanup.run()


# -- item 10: the write-ahead log shrinks when idle -------------------------------------


def test_the_write_ahead_log_shrinks_back_when_the_daemon_is_idle(filesystems, extra_daemon):
    tmpfs = filesystems["tmpfs"]
    d = extra_daemon("wal-idle", [("tmpfs", tmpfs.mountpoint)])
    wal = d.state_dir / "pinlease.db-wal"
    cleanup = Cleanup()
    name, path = make_file(tmpfs, "wal-idle", MiB)
    cleanup.files.append(path)
    try:
        pin_id = pinned(d, cleanup, tmpfs.api_path(name))
        largest = 0
        deadline = time.monotonic() + 120
        while largest <= 256 * 1024:
            assert time.monotonic() < deadline, f"the writes never grew the log past {largest} bytes"
            make_events(d, pin_id, 25)
            largest = max(largest, wal.stat().st_size)
        wait_for(f"the log ({wal.stat().st_size} bytes, was {largest}) to shrink when idle",
                 lambda: wal.stat().st_size <= 64 * 1024, timeout=60, interval=0.25)
    finally:
        cleanup.run()
