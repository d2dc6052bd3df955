"""Pins (issue 3): map, fault in and mlock ranges of locked files, on real ext4, xfs, btrfs and
tmpfs. Nothing here takes the daemon's word for it: residency is checked with our own
mincore (and vmtouch) after dropping the caches, the daemon's mappings in its smaps (VmFlags
"lo" = mlocked), its io_uring registrations in /proc/<pid>/fdinfo, and the kernel's FOLL_PIN
counters in /proc/vmstat. Write pins need a lock with {"writers":"daemon"}; long-term write
pins hold on tmpfs only; budgets, range checks, preconditions, DELETE, unlock with pins,
restart and holder tokens are covered too."""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e_support import (
    FS_NAMES,
    MiB,
    PAGE_SIZE,
    PROBLEM_BASE,
    REFLINK_FS,
    Daemon,
    Filesystem,
    Cleanup,
    Writer,
    drop_caches,
    make_file,
    io_uring_buffers,
    is_immutable,
    lsattr_flags,
    mappings_of,
    pages,
    resident_pages,
    run,
    vmstat,
    vmtouch_resident,
)

PIN_FIELDS = {"id", "path", "offset", "length", "access", "state", "resident_bytes", "map_sync", "longterm",
              "auto_pin", "leases", "created_at"}
LONGTERM_FIELDS = {"requested", "held", "registered_buffers"}
WRITE_FS = ("xfs", "btrfs", "tmpfs")
CAP_SYS_RESOURCE = 24  # a write through the daemon's pre-+i descriptor works there


# -- helpers -------------------------------------------------------------------------


@pytest.fixture
def cleanup(extra_daemon):
    # Depends on extra_daemon so that this teardown runs while extra daemons still serve.
    c = Cleanup()
    try:
        yield c
    finally:
        c.run()


def lock(d: Daemon, cleanup: Cleanup, api: str, writers: str | None = None) -> dict:
    body: dict[str, Any] = {"path": api}
    if writers is not None:
        body["writers"] = writers
    cleanup.locks.append((d, api))
    report = d.ok("POST", "/v1/files/lock-immutable", body)
    assert report["writers"] == (writers or "none"), report
    return report


def locked_file(d: Daemon, fs: Filesystem, cleanup: Cleanup, stem: str, size: int = 4 * MiB,
                writers: str | None = None) -> tuple[str, Path]:
    name, path = make_file(fs, stem, size)
    cleanup.file(path)
    api = fs.api_path(name)
    lock(d, cleanup, api, writers)
    return api, path


def pin(d: Daemon, cleanup: Cleanup, api: str, access: str = "read", **fields: Any) -> dict:
    body = {"path": api, "access": access, **fields}
    r = d.post("/v1/pins", body, timeout=300)
    assert r.status_code == 201, f"POST /v1/pins {json.dumps(body)} -> {r.status_code} {r.text[:3000]}"
    p = r.json()
    cleanup.pins.append((d, p["id"]))
    assert r.headers.get("Location") == f"/v1/pins/{p['id']}", r.headers
    return p


def pin_problem(d: Daemon, status: int, code: str, body: dict) -> dict:
    return d.problem("POST", "/v1/pins", body, status=status, code=code)


def check_pin(p: dict, api: str, offset: int, length: int, access: str) -> None:
    assert PIN_FIELDS <= set(p), f"missing {PIN_FIELDS - set(p)}: {p}"
    assert p["path"] == api and p["offset"] == offset and p["length"] == length and p["access"] == access, p
    assert p["state"] == "active", p
    assert p["resident_bytes"] == length, f"resident_bytes {p['resident_bytes']} != length {length}: {p}"
    assert p["map_sync"] is False, f"no DAX here, map_sync must be false: {p}"
    assert p.get("map_sync_reason", "x"), f"an empty map_sync_reason says nothing: {p}"
    assert LONGTERM_FIELDS <= set(p["longterm"]), p
    assert p["auto_pin"] is False and p["leases"] == [], p
    assert "reason" not in p or p["reason"] in (None, ""), f"an active pin has no failure reason: {p}"


def get_pin(d: Daemon, pin_id: str) -> dict:
    return d.ok("GET", f"/v1/pins/{pin_id}")


def list_pins(d: Daemon) -> dict:
    body = d.ok("GET", "/v1/pins")
    assert set(body) >= {"items", "budget"}, body
    return body


def assert_daemon_maps_locked(d: Daemon, path: Path, offset: int, length: int, writable: bool) -> None:
    """/proc/<daemon>/smaps has a shared mapping of exactly that range, mlocked, all resident."""
    maps = mappings_of(d.pid, path)
    assert maps, f"the daemon (pid {d.pid}) has no mapping of {path}"
    covering = [m for m in maps if m.offset <= offset and m.offset + m.size >= offset + length]
    assert covering, f"no mapping of {path} covers [{offset}, {offset + length}): {maps}"
    m = covering[0]
    assert m.perms[3] == "s", f"not MAP_SHARED: {m.perms}"
    assert (m.perms[1] == "w") is writable, f"{'writable' if writable else 'read-only'} mapping expected: {m.perms}"
    assert "lo" in m.vmflags, f"mapping not mlocked (VmFlags {m.vmflags})"
    assert m.fields.get("Rss", 0) * 1024 >= pages(length) * PAGE_SIZE, f"mapping not fully resident: {m.fields}"


def assert_no_daemon_mapping(d: Daemon, path: Path) -> None:
    deadline = time.monotonic() + 5
    while mappings_of(d.pid, path):
        assert time.monotonic() < deadline, f"the daemon still maps {path}: {mappings_of(d.pid, path)}"
        time.sleep(0.1)


def ring_buffers_sum(d: Daemon) -> dict[int, int]:
    return {fd: sum(lengths) for fd, lengths in io_uring_buffers(d.pid).items() if lengths}


# -- read pins on every filesystem ---------------------------------------------------


def test_read_pin_resident_after_drop_caches(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    size = 16 * MiB
    api, path = locked_file(daemon, fs, cleanup, "pin-read", size)
    offset, length = 5 * MiB, 4 * MiB

    p = pin(daemon, cleanup, api, "read", offset=offset, length=length)

    check_pin(p, api, offset, length, "read")
    assert p["longterm"]["requested"] is False and p["longterm"]["held"] is False, p
    assert p["longterm"]["registered_buffers"] == 0, p
    assert_daemon_maps_locked(daemon, path, offset, length, writable=False)
    assert get_pin(daemon, p["id"]) == {**p, "resident_bytes": length}

    # Memory pressure: the mlocked range stays, and so says our own mincore.
    control_name, control = make_file(fs, "pin-control", 2 * MiB)
    cleanup.file(control)
    control.read_bytes()
    for level in (1, 3):
        drop_caches(level)
        again = get_pin(daemon, p["id"])
        assert again["state"] == "active" and again["resident_bytes"] == length, f"after drop_caches={level}: {again}"
        resident, total = resident_pages(path, offset, length)
        assert resident == total == pages(length), f"after drop_caches={level}, mincore: {resident}/{total} pages resident"
        if fs.fstype != "tmpfs":  # tmpfs pages are never dropped, pinned or not
            control_resident, _ = resident_pages(control)
            assert control_resident < pages(2 * MiB), "drop_caches evicted nothing: the check above proves nothing"
    # Only the pinned range is held: pages well before it were dropped (not on tmpfs). Large
    # folios (up to 2 MiB, naturally aligned) that straddle the range's start stay with it.
    if fs.fstype != "tmpfs":
        head = offset // (2 * MiB) * (2 * MiB)
        before, _ = resident_pages(path, 0, head)
        assert before < pages(head), f"pages outside the pinned range stayed resident too ({before}/{pages(head)})"
    resident, total = vmtouch_resident(path)
    assert resident >= pages(length), (resident, total)

    items = {i["path"]: i for i in daemon.files()}
    assert p["id"] in items[api].get("pins", []), items[api]
    assert p["id"] in [i["id"] for i in list_pins(daemon)["items"]]


def test_read_pin_whole_file_defaults(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    """No offset/length: offset 0, length to EOF."""
    size = 2 * MiB
    api, path = locked_file(daemon, fs, cleanup, "pin-whole", size)
    p = pin(daemon, cleanup, api)
    check_pin(p, api, 0, size, "read")
    assert_daemon_maps_locked(daemon, path, 0, size, writable=False)


def test_read_pin_unaligned_tail_ending_at_eof(filesystems, daemon: Daemon, cleanup: Cleanup):
    """A length that is not a page multiple is fine when it ends exactly at EOF."""
    fs = filesystems["xfs"]
    size = 2 * MiB + 1000
    api, path = locked_file(daemon, fs, cleanup, "pin-tail", size)
    p = pin(daemon, cleanup, api, offset=MiB, length=size - MiB)
    assert p["offset"] == MiB and p["length"] == size - MiB and p["state"] == "active", p
    assert p["resident_bytes"] in (size - MiB, pages(size - MiB) * PAGE_SIZE), p
    q = pin(daemon, cleanup, api, offset=MiB)  # to EOF
    assert q["length"] == size - MiB, q


def test_read_pin_under_daemon_writers_lock(filesystems, daemon: Daemon, cleanup: Cleanup):
    """Read pins work under either lock."""
    fs = filesystems["xfs"]
    api, path = locked_file(daemon, fs, cleanup, "pin-read-dw", 2 * MiB, writers="daemon")
    p = pin(daemon, cleanup, api, "read")
    check_pin(p, api, 0, 2 * MiB, "read")


# -- lock with writers:"daemon", write pins ------------------------------------------


def test_lock_writers_daemon(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    name, path = make_file(fs, "lock-dw", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    report = lock(daemon, cleanup, api, "daemon")
    assert report["immutable"] is True and report["read_lease"] is False and report["flag_set_by_daemon"] is True, report
    assert is_immutable(path)
    # The daemon holds the file open read-write (opened before +i).
    ino = os.stat(path).st_ino
    rw = []
    for entry in Path(f"/proc/{daemon.pid}/fd").iterdir():
        try:
            if os.stat(entry).st_ino == ino and os.stat(entry).st_dev == os.stat(path).st_dev:
                flags = int(Path(f"/proc/{daemon.pid}/fdinfo/{entry.name}").read_text().split("flags:")[1].split()[0], 8)
                rw.append(flags & os.O_ACCMODE)
        except (FileNotFoundError, IndexError):
            pass
    assert os.O_RDWR in rw, f"the daemon holds no read-write descriptor of {path} (access modes {rw})"
    # Same mode again: idempotent. Another mode: file-locked, unlock first.
    assert daemon.ok("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"})["writers"] == "daemon"
    problem = daemon.problem("POST", "/v1/files/lock-immutable", {"path": api, "writers": "none"}, status=409, code="file-locked")
    assert "unlock" in problem["detail"].lower(), problem
    items = {i["path"]: i for i in daemon.files()}
    assert items[api]["writers"] == "daemon" and items[api]["read_lease"] is False, items[api]
    daemon.unlock(api)
    assert not is_immutable(path)


def test_lock_none_then_daemon_is_file_locked(filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    api, path = locked_file(daemon, fs, cleanup, "lock-none-dw", MiB)
    problem = daemon.problem("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"}, status=409, code="file-locked")
    assert "unlock" in problem["detail"].lower(), problem


@pytest.mark.parametrize("mapped", [False, True], ids=["open-fd", "shared-mapping"])
def test_lock_writers_daemon_with_writer_present(mapped: bool, fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    name, path = make_file(fs, "lock-dw-writer", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((daemon, api))
    with Writer(path, mapped=mapped) as writer:
        problem = daemon.problem("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"},
                                 status=409, code="writers-present")
        assert writer.pid in problem.get("pids", []), problem
        assert daemon.pid not in problem["pids"], "the daemon's own descriptor counted as a writer"
        assert not is_immutable(path), "refused lock left the immutable flag"
        assert api not in [i["path"] for i in daemon.files()]
    assert daemon.ok("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"})["writers"] == "daemon"


def test_lock_writers_daemon_on_foreign_immutable_file(filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems["xfs"]
    name, path = make_file(fs, "lock-dw-foreign", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((daemon, api))
    run(["chattr", "+i", str(path)])
    daemon.problem("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"}, status=409, code="file-immutable")
    assert is_immutable(path)
    assert api not in [i["path"] for i in daemon.files()]


def test_write_pin_needs_daemon_writers(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    api, _ = locked_file(daemon, fs, cleanup, "pin-w-none", MiB)
    problem = pin_problem(daemon, 409, "write-needs-daemon-writers", {"path": api, "access": "write"})
    assert "writers" in problem["detail"] and "daemon" in problem["detail"], problem


def test_write_pin_refused_on_ext4(filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems["ext4"]
    api, path = locked_file(daemon, fs, cleanup, "pin-w-ext4", MiB, writers="daemon")
    problem = pin_problem(daemon, 409, "writes-refused-by-filesystem", {"path": api, "access": "write"})
    assert problem["detail"], problem
    for longterm in (True, "if-possible"):  # refused before any long-term question
        pin_problem(daemon, 409, "writes-refused-by-filesystem", {"path": api, "access": "write", "longterm": longterm})
    assert not mappings_of(daemon.pid, path), "a refused pin left a mapping behind"
    assert not [p for p in list_pins(daemon)["items"] if p["path"] == api]
    p = pin(daemon, cleanup, api, "read")  # read pins still work there
    check_pin(p, api, 0, MiB, "read")


@pytest.mark.parametrize("fsname", WRITE_FS)
def test_write_pin(fsname: str, filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems[fsname]
    size = 4 * MiB
    api, path = locked_file(daemon, fs, cleanup, "pin-w", size, writers="daemon")
    before = path.read_bytes()
    p = pin(daemon, cleanup, api, "write")
    check_pin(p, api, 0, size, "write")
    assert p["longterm"]["held"] is False, p
    assert_daemon_maps_locked(daemon, path, 0, size, writable=True)
    assert is_immutable(path)
    assert path.read_bytes() == before, "a pin changed the data"
    # Still immutable for everyone else.
    with pytest.raises(PermissionError):
        open(path, "r+b")
    r = daemon.delete(f"/v1/pins/{p['id']}")
    assert r.status_code == 204, r.text
    assert_no_daemon_mapping(daemon, path)


# -- long-term pins ------------------------------------------------------------------


def test_longterm_write_pin_on_tmpfs(filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    size = 16 * MiB
    api, path = locked_file(daemon, fs, cleanup, "pin-lt", size, writers="daemon")
    rings_before = ring_buffers_sum(daemon)
    counters_before = vmstat("nr_foll_pin_acquired", "nr_foll_pin_released")

    p = pin(daemon, cleanup, api, "write", longterm=True)

    check_pin(p, api, 0, size, "write")
    lt = p["longterm"]
    assert lt["requested"] is True and lt["held"] is True and lt["registered_buffers"] >= 1, p
    counters_after = vmstat("nr_foll_pin_acquired", "nr_foll_pin_released")
    acquired = counters_after["nr_foll_pin_acquired"] - counters_before["nr_foll_pin_acquired"]
    assert acquired >= pages(size), f"nr_foll_pin_acquired rose by {acquired}, expected >= {pages(size)} pages"
    rings_after = ring_buffers_sum(daemon)
    new_rings = {fd: total for fd, total in rings_after.items() if fd not in rings_before}
    assert new_rings, f"no new io_uring descriptor with registered buffers in /proc/{daemon.pid}/fdinfo: {io_uring_buffers(daemon.pid)}"
    assert sum(new_rings.values()) == size, f"registered buffer lengths {new_rings} != pin length {size}"
    assert sum(len(io_uring_buffers(daemon.pid)[fd]) for fd in new_rings) == lt["registered_buffers"], (new_rings, lt)
    assert_daemon_maps_locked(daemon, path, 0, size, writable=True)
    assert get_pin(daemon, p["id"])["longterm"]["held"] is True

    r = daemon.delete(f"/v1/pins/{p['id']}")
    assert r.status_code == 204, r.text

    deadline = time.monotonic() + 10
    while True:  # ring teardown may be deferred to a kernel worker
        rings_now = ring_buffers_sum(daemon)
        released = vmstat("nr_foll_pin_released")["nr_foll_pin_released"] - counters_after["nr_foll_pin_released"]
        if not (set(new_rings) & set(rings_now)) and released >= pages(size):
            break
        assert time.monotonic() < deadline, (
            f"after DELETE: rings {rings_now} (pin's were {new_rings}), nr_foll_pin_released rose by {released}")
        time.sleep(0.1)
    assert_no_daemon_mapping(daemon, path)


@pytest.mark.parametrize("fsname", ["xfs", "btrfs"])
def test_longterm_write_pin_refused_on_page_cache(fsname: str, filesystems, daemon: Daemon, cleanup: Cleanup):
    fs = filesystems[fsname]
    api, path = locked_file(daemon, fs, cleanup, "pin-lt-refused", 2 * MiB, writers="daemon")
    rings_before = ring_buffers_sum(daemon)
    budget_before = list_pins(daemon)["budget"]
    problem = pin_problem(daemon, 422, "longterm-refused", {"path": api, "access": "write", "longterm": True})
    assert "EFAULT" in problem["detail"], problem
    assert problem.get("errno") in (errno.EFAULT, "EFAULT"), problem
    assert "tmpfs" in problem["detail"], f"the detail should say what works: {problem}"
    assert list_pins(daemon)["budget"] == budget_before, "a refused pin kept budget"
    assert not mappings_of(daemon.pid, path), "a refused pin left a mapping behind"
    assert ring_buffers_sum(daemon) == rings_before, "a refused pin left a registration behind"
    assert not [p for p in list_pins(daemon)["items"] if p["path"] == api]

    p = pin(daemon, cleanup, api, "write", longterm="if-possible")
    check_pin(p, api, 0, 2 * MiB, "write")
    lt = p["longterm"]
    assert lt["requested"] == "if-possible" and lt["held"] is False and lt["registered_buffers"] == 0, p
    assert lt.get("reason") and "EFAULT" in lt["reason"], p
    assert ring_buffers_sum(daemon) == rings_before


def test_longterm_read_pin_on_none_lock(filesystems, daemon: Daemon, cleanup: Cleanup):
    """A writers:"none" lock has no writable mapping to register: longterm refused, or not held."""
    fs = filesystems["tmpfs"]
    api, _ = locked_file(daemon, fs, cleanup, "pin-lt-read", MiB)
    problem = pin_problem(daemon, 422, "longterm-refused", {"path": api, "access": "read", "longterm": True})
    assert problem["detail"], problem
    p = pin(daemon, cleanup, api, "read", longterm="if-possible")
    assert p["state"] == "active" and p["longterm"]["held"] is False and p["longterm"].get("reason"), p


@pytest.mark.parametrize("fsname", ["xfs", "btrfs"])
def test_longterm_read_pin_on_page_cache_refused(fsname: str, filesystems, daemon: Daemon, cleanup: Cleanup):
    """io_uring registration always asks for write access: refused on page cache, read or write."""
    fs = filesystems[fsname]
    api, _ = locked_file(daemon, fs, cleanup, "pin-lt-read-pc", MiB, writers="daemon")
    problem = pin_problem(daemon, 422, "longterm-refused", {"path": api, "access": "read", "longterm": True})
    assert "EFAULT" in problem["detail"], problem


def test_longterm_read_pin_on_tmpfs_daemon_writers(filesystems, daemon: Daemon, cleanup: Cleanup):
    """Under a writers:"daemon" lock on tmpfs a read pin can be long-term too."""
    fs = filesystems["tmpfs"]
    api, _ = locked_file(daemon, fs, cleanup, "pin-lt-read-dw", MiB, writers="daemon")
    p = pin(daemon, cleanup, api, "read", longterm=True)
    assert p["longterm"]["held"] is True and p["longterm"]["registered_buffers"] >= 1, p


# -- budget --------------------------------------------------------------------------


def test_budget_bytes_and_count(filesystems, extra_daemon, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    d = extra_daemon(f"pins-budget-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)],
                     extra_args=["--pin-budget-bytes", str(8 * MiB), "--pin-max-count", "2"])
    api, _ = locked_file(d, fs, cleanup, "budget", 16 * MiB)
    budget = list_pins(d)["budget"]
    assert budget == {**budget, "budget_bytes": 8 * MiB, "max_pins": 2, "pins": 0, "pinned_bytes": 0}, budget

    first = pin(d, cleanup, api, length=4 * MiB)
    problem = pin_problem(d, 507, "pin-budget-exceeded", {"path": api, "access": "read", "offset": 4 * MiB, "length": 8 * MiB})
    assert problem == {**problem, "requested_bytes": 8 * MiB, "pinned_bytes": 4 * MiB, "budget_bytes": 8 * MiB,
                       "pins": 1, "max_pins": 2}, problem
    second = pin(d, cleanup, api, offset=4 * MiB, length=4 * MiB)
    assert list_pins(d)["budget"] == {**budget, "pinned_bytes": 8 * MiB, "pins": 2}
    # Count limit (a one-page pin also exceeds the bytes now; the count is reported either way).
    problem = pin_problem(d, 507, "pin-budget-exceeded", {"path": api, "access": "read", "offset": 8 * MiB, "length": PAGE_SIZE})
    assert problem["pins"] == 2 and problem["max_pins"] == 2, problem
    assert len(list_pins(d)["items"]) == 2

    # Freeing a pin gives the budget back.
    assert d.delete(f"/v1/pins/{first['id']}").status_code == 204
    third = pin(d, cleanup, api, offset=8 * MiB, length=PAGE_SIZE)
    assert list_pins(d)["budget"]["pinned_bytes"] == 4 * MiB + PAGE_SIZE
    assert {i["id"] for i in list_pins(d)["items"]} == {second["id"], third["id"]}


def test_budget_count_limit_alone(filesystems, extra_daemon, cleanup: Cleanup):
    fs = filesystems["xfs"]
    d = extra_daemon(f"pins-count-{uuid.uuid4().hex[:6]}", [("xfs", fs.mountpoint)],
                     extra_args=["--pin-budget-bytes", "64MiB", "--pin-max-count", "2"])
    assert list_pins(d)["budget"]["budget_bytes"] == 64 * MiB
    api, _ = locked_file(d, fs, cleanup, "count", MiB)
    pin(d, cleanup, api, length=PAGE_SIZE)
    pin(d, cleanup, api, offset=PAGE_SIZE, length=PAGE_SIZE)
    problem = pin_problem(d, 507, "pin-budget-exceeded", {"path": api, "access": "read", "offset": 2 * PAGE_SIZE, "length": PAGE_SIZE})
    assert problem == {**problem, "requested_bytes": PAGE_SIZE, "pinned_bytes": 2 * PAGE_SIZE, "budget_bytes": 64 * MiB,
                       "pins": 2, "max_pins": 2}, problem


def memlock_limited_daemon(extra_daemon, fs: Filesystem, stem: str, limit: int, extra_args: list[str]) -> Daemon:
    """A daemon without CAP_IPC_LOCK and CAP_SYS_RESOURCE, under RLIMIT_MEMLOCK = limit (soft and hard)."""
    d = extra_daemon(f"{stem}-{uuid.uuid4().hex[:6]}", [(fs.name, fs.mountpoint)], start=False, extra_args=extra_args)
    command = d.command
    d.command = lambda: (["prlimit", f"--memlock={limit}:{limit}", "--",
                          "setpriv", "--bounding-set", "-ipc_lock,-sys_resource", "--inh-caps", "-ipc_lock,-sys_resource", "--"]
                         + command())
    d.start()
    return d


def test_default_budget_capped_by_rlimit_memlock(filesystems, extra_daemon, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    d = memlock_limited_daemon(extra_daemon, fs, "pins-memlock-default", MiB, [])
    budget = list_pins(d)["budget"]
    assert 0 < budget["budget_bytes"] <= MiB, f"without CAP_IPC_LOCK the default budget is capped by RLIMIT_MEMLOCK (1 MiB): {budget}"
    api, path = locked_file(d, fs, cleanup, "memlock-default", 4 * MiB)
    problem = pin_problem(d, 507, "pin-budget-exceeded", {"path": api, "access": "read"})
    assert problem["requested_bytes"] == 4 * MiB and problem["budget_bytes"] == budget["budget_bytes"], problem
    assert not mappings_of(d.pid, path)


def test_mlock_refused_by_rlimit(filesystems, extra_daemon, cleanup: Cleanup):
    """A budget set above RLIMIT_MEMLOCK: the kernel refuses the mlock, and the pin is a clean
    507 (memory-lock-failed, or the budget capped to the limit) that leaves nothing mapped."""
    fs = filesystems["xfs"]
    d = memlock_limited_daemon(extra_daemon, fs, "pins-memlock", MiB, ["--pin-budget-bytes", "64MiB"])
    api, path = locked_file(d, fs, cleanup, "memlock", 4 * MiB)
    r = d.post("/v1/pins", {"path": api, "access": "read"})
    assert r.status_code == 507, r.text
    assert r.json()["type"] in (PROBLEM_BASE + "memory-lock-failed", PROBLEM_BASE + "pin-budget-exceeded"), r.text
    assert not mappings_of(d.pid, path), "a refused pin left a mapping behind"
    assert list_pins(d)["items"] == []
    assert list_pins(d)["budget"]["pinned_bytes"] == 0
    p = pin(d, cleanup, api, length=256 * 1024)  # below the limit it works
    assert p["resident_bytes"] == 256 * 1024, p


def test_budget_from_config_file(filesystems, extra_daemon, workdir: Path, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    config = workdir / f"pins-config-{uuid.uuid4().hex[:6]}.json"
    config.write_text(json.dumps({"pin_budget_bytes": "6MiB", "pin_max_count": 3}))
    d = extra_daemon(f"pins-config-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)], extra_args=["--config", str(config)])
    budget = list_pins(d)["budget"]
    assert (budget["budget_bytes"], budget["max_pins"]) == (6 * MiB, 3), budget
    d.stop()
    # Flags override the file.
    d.extra_args = ["--config", str(config), "--pin-max-count", "5"]
    d.start()
    budget = list_pins(d)["budget"]
    assert (budget["budget_bytes"], budget["max_pins"]) == (6 * MiB, 5), budget


@pytest.mark.parametrize("args", [["--pin-budget-bytes", "0"], ["--pin-budget-bytes", "lots"], ["--pin-max-count", "0"],
                                  ["--pin-max-count", "-3"]], ids=["zero-budget", "word-budget", "zero-count", "negative-count"])
def test_bad_budget_flags_refuse_to_start(args, filesystems, extra_daemon):
    fs = filesystems["tmpfs"]
    d = extra_daemon(f"pins-badflag-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)], start=False, extra_args=args)
    with pytest.raises(RuntimeError, match="exited"):
        d.start(timeout=20)
    assert d.proc is not None and d.proc.returncode not in (0, None)
    d.proc = None


def memlock_limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max locked memory"):
            fields = line.split()
            return fields[3], fields[4]
    raise AssertionError(f"no 'Max locked memory' in /proc/{pid}/limits")


def test_rlimit_memlock_raised_at_start(filesystems, extra_daemon):
    fs = filesystems["tmpfs"]
    # Without CAP_SYS_RESOURCE: the soft limit is raised to the hard one.
    d = extra_daemon(f"pins-rlimit-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)], start=False)
    command = d.command
    d.command = lambda: (["prlimit", f"--memlock={64 * 1024}:{4 * MiB}", "--", "setpriv", "--bounding-set", "-sys_resource",
                          "--inh-caps", "-sys_resource", "--"] + command())
    d.start()
    assert memlock_limits(d.pid) == (str(4 * MiB), str(4 * MiB)), Path(f"/proc/{d.pid}/limits").read_text()
    d.stop()
    # With CAP_SYS_RESOURCE: to infinity (only where this test runner has that capability;
    # containers often drop it).
    d.command = lambda: ["prlimit", f"--memlock={64 * 1024}:{4 * MiB}", "--"] + command()
    d.start()
    cap_eff = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff:")).split()[1], 16)
    expected = ("unlimited", "unlimited") if cap_eff & (1 << CAP_SYS_RESOURCE) else (str(4 * MiB), str(4 * MiB))
    assert memlock_limits(d.pid) == expected, Path(f"/proc/{d.pid}/limits").read_text()


def test_concurrent_pins_and_deletes(filesystems, daemon: Daemon, cleanup: Cleanup):
    """Many pins at once on one file, then many deletes at once: unique ids, the budget adds up."""
    import concurrent.futures

    import requests

    fs = filesystems["tmpfs"]
    n = 16
    api, path = locked_file(daemon, fs, cleanup, "pin-concurrent", n * 256 * 1024)
    baseline = list_pins(daemon)["budget"]
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}

    def make(i: int) -> requests.Response:
        body = {"path": api, "access": "read", "offset": i * 256 * 1024, "length": 256 * 1024}
        return requests.post(daemon.url + "/v1/pins", data=json.dumps(body), headers=headers, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(make, range(n)))
    for r in responses:
        if r.status_code == 201:
            cleanup.pins.append((daemon, r.json()["id"]))
    assert [r.status_code for r in responses] == [201] * n, [r.text for r in responses if r.status_code != 201]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == n
    budget = list_pins(daemon)["budget"]
    assert budget["pins"] == baseline["pins"] + n and budget["pinned_bytes"] == baseline["pinned_bytes"] + n * 256 * 1024, budget
    assert sorted({i["path"]: i for i in daemon.files()}[api]["pins"]) == sorted(ids)
    assert len(mappings_of(daemon.pid, path)) >= 1

    def remove(pin_id: str) -> int:
        return requests.delete(f"{daemon.url}/v1/pins/{pin_id}", headers=headers, timeout=120).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(remove, ids + ids))
    assert sorted(codes) == [204] * n + [404] * n, codes
    assert list_pins(daemon)["budget"] == baseline
    assert_no_daemon_mapping(daemon, path)


# -- requests that are refused -------------------------------------------------------


@pytest.fixture
def locked_4m(filesystems, daemon: Daemon, cleanup: Cleanup) -> tuple[str, Path]:
    return locked_file(daemon, filesystems["xfs"], cleanup, "pin-range", 4 * MiB)


@pytest.mark.parametrize("fields", [
    {"offset": 100},
    {"offset": PAGE_SIZE // 2, "length": PAGE_SIZE},
    {"offset": 0, "length": 5000},
    {"offset": PAGE_SIZE, "length": MiB + 1},
], ids=["offset", "offset-with-length", "length", "length-plus-one"])
def test_unaligned_range(fields, locked_4m, daemon: Daemon):
    api, _ = locked_4m
    problem = pin_problem(daemon, 422, "unaligned-range", {"path": api, "access": "read", **fields})
    assert problem.get("page_size") == PAGE_SIZE, problem


@pytest.mark.parametrize("fields", [
    {"length": 0},
    {"offset": 4 * MiB},
    {"offset": 8 * MiB},
    {"offset": 0, "length": 4 * MiB + PAGE_SIZE},
    {"offset": 2 * MiB, "length": 4 * MiB},
], ids=["zero-length", "offset-at-eof", "offset-beyond-eof", "length-beyond-eof", "range-beyond-eof"])
def test_invalid_range(fields, locked_4m, daemon: Daemon):
    api, _ = locked_4m
    problem = pin_problem(daemon, 422, "invalid-range", {"path": api, "access": "read", **fields})
    assert problem.get("size") == 4 * MiB, problem


@pytest.mark.parametrize("body,field,code", [
    ({"access": "read"}, "path", "invalid-body"),
    ({"path": "xfs:whatever.bin"}, "access", "invalid-body"),
    ({"path": "xfs:whatever.bin", "access": "execute"}, "access", "invalid-body"),
    ({"path": "xfs:whatever.bin", "access": "read", "longterm": "maybe"}, "longterm", "invalid-body"),
    ({"path": "xfs:whatever.bin", "access": "read", "offset": -4096}, "offset", "invalid-body"),
    ({"path": "xfs:whatever.bin", "access": "read", "length": "lots"}, "length", "invalid-size"),
], ids=["no-path", "no-access", "bad-access", "bad-longterm", "negative-offset", "string-length"])
def test_malformed_pin_request(body, field, code, daemon: Daemon):
    """Refused naming the member at fault, and no pin is made."""
    problem = daemon.problem("POST", "/v1/pins", body, status=422, code=code)
    assert problem.get("field") == field, problem
    assert not [i for i in list_pins(daemon)["items"] if i["path"] == "xfs:whatever.bin"]


def test_pin_unlocked_file(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    name, path = make_file(fs, "pin-unlocked", MiB)
    cleanup.file(path)
    pin_problem(daemon, 409, "not-locked", {"path": fs.api_path(name), "access": "read"})
    assert not mappings_of(daemon.pid, path)


def test_pin_unlocked_not_ready_file(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    """A sparse file cannot be locked at all (lock-immutable refuses not-ready files), so a pin on
    it is refused before its layout is even looked at: not-locked (or not-ready)."""
    name = fs.unique("pin-sparse")
    path = cleanup.file(fs.path(name))
    with open(path, "wb") as f:
        f.truncate(4 * MiB)
    problem = daemon.problem("POST", "/v1/pins", {"path": fs.api_path(name), "access": "read"}, status=409)
    assert problem["type"] in (PROBLEM_BASE + "not-locked", PROBLEM_BASE + "not-ready"), problem


@pytest.mark.parametrize("fsname", REFLINK_FS)
def test_pin_locked_file_no_longer_ready(fsname: str, filesystems, daemon: Daemon, cleanup: Cleanup):
    """A locked file on xfs/btrfs can still be a reflink source: after `cp --reflink` its
    extents are shared and the pin is refused: the layout re-inspected at pin time is not
    ready, or (when the audit looked first) the file is violated for its shared extents."""
    fs = filesystems[fsname]
    api, path = locked_file(daemon, fs, cleanup, "pin-notready", 2 * MiB)
    earlier = pin(daemon, cleanup, api, length=MiB)
    run(["cp", "--reflink=always", str(path), str(path) + ".clone"])
    problem = daemon.problem("POST", "/v1/pins", {"path": api, "access": "read"}, status=409)
    if problem["type"].endswith("/file-violated"):
        assert problem["violation"]["code"] == "extents-shared", problem
    else:
        assert problem["type"].endswith("/not-ready"), problem
        assert problem.get("reasons"), problem
        assert "shared" in json.dumps(problem["reasons"]).lower(), problem
    assert not [p for p in list_pins(daemon)["items"] if p["path"] == api and p["id"] != earlier["id"]]


@pytest.mark.parametrize("pin_id", ["pin_0000000000000000", "nonexistent", "pin_" + "f" * 32])
def test_unknown_pin(pin_id: str, daemon: Daemon):
    daemon.problem("GET", f"/v1/pins/{pin_id}", status=404, code="pin-not-found")
    daemon.problem("DELETE", f"/v1/pins/{pin_id}", status=404, code="pin-not-found")


def test_delete_pin(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    api, path = locked_file(daemon, fs, cleanup, "pin-delete", 2 * MiB)
    p = pin(daemon, cleanup, api)
    r = daemon.delete(f"/v1/pins/{p['id']}")
    assert r.status_code == 204 and not r.content, (r.status_code, r.text)
    daemon.problem("GET", f"/v1/pins/{p['id']}", status=404, code="pin-not-found")
    daemon.problem("DELETE", f"/v1/pins/{p['id']}", status=404, code="pin-not-found")
    assert p["id"] not in [i["id"] for i in list_pins(daemon)["items"]]
    assert_no_daemon_mapping(daemon, path)
    items = {i["path"]: i for i in daemon.files()}
    assert items[api].get("pins", []) == [], items[api]
    assert is_immutable(path), "deleting a pin must not unlock the file"


def test_unlock_with_pins(fs: Filesystem, daemon: Daemon, cleanup: Cleanup):
    api, path = locked_file(daemon, fs, cleanup, "pin-unlock", 2 * MiB)
    p1 = pin(daemon, cleanup, api, length=MiB)
    p2 = pin(daemon, cleanup, api, offset=MiB)
    problem = daemon.problem("POST", "/v1/files/unlock", {"path": api}, status=409, code="pins-exist")
    assert sorted(problem.get("pin_ids", [])) == sorted([p1["id"], p2["id"]]), problem
    assert is_immutable(path)
    assert get_pin(daemon, p1["id"])["state"] == "active"
    for p in (p1, p2):
        assert daemon.delete(f"/v1/pins/{p['id']}").status_code == 204
    unlocked = daemon.unlock(api)
    assert unlocked["flag_cleared"] is True, unlocked
    assert "i" not in lsattr_flags(path)
    assert_no_daemon_mapping(daemon, path)


def test_pin_list_and_budget_shape(daemon: Daemon):
    body = list_pins(daemon)
    b = body["budget"]
    assert {"budget_bytes", "pinned_bytes", "max_pins", "pins"} <= set(b), b
    assert b["pins"] == len(body["items"]) and b["pinned_bytes"] == sum(p["length"] for p in body["items"] if p["state"] == "active"), body
    assert b["budget_bytes"] > 0 and 0 < b["max_pins"] <= 4096, b


# -- restart -------------------------------------------------------------------------


def restart_daemon(extra_daemon, filesystems, stem: str, extra_args: list[str] | None = None) -> Daemon:
    return extra_daemon(f"{stem}-{uuid.uuid4().hex[:6]}", [(n, filesystems[n].mountpoint) for n in FS_NAMES],
                        extra_args=extra_args or [])


def test_restart_recreates_pins(filesystems, extra_daemon, cleanup: Cleanup):
    d = restart_daemon(extra_daemon, filesystems, "pins-restart")
    made = []
    for fsname in FS_NAMES:
        fs = filesystems[fsname]
        api, path = locked_file(d, fs, cleanup, "pin-restart", 2 * MiB)
        made.append((api, path, pin(d, cleanup, api, offset=PAGE_SIZE, length=MiB)))
    fs = filesystems["tmpfs"]
    api_lt, path_lt = locked_file(d, fs, cleanup, "pin-restart-lt", 2 * MiB, writers="daemon")
    lt = pin(d, cleanup, api_lt, "write", longterm=True)
    assert lt["longterm"]["held"] is True
    old_pid = d.pid

    d.restart()

    assert d.pid != old_pid
    listed = {p["id"]: p for p in list_pins(d)["items"]}
    for api, path, p in made:
        assert p["id"] in listed, f"{p['id']} ({api}) gone after restart: {sorted(listed)}"
        again = get_pin(d, p["id"])
        assert again["state"] == "active" and again["resident_bytes"] == MiB, again
        assert (again["path"], again["offset"], again["length"], again["access"]) == (api, PAGE_SIZE, MiB, "read")
        assert again["created_at"] == p["created_at"], again
        assert_daemon_maps_locked(d, path, PAGE_SIZE, MiB, writable=False)
    again = get_pin(d, lt["id"])
    assert again["state"] == "active" and again["longterm"]["held"] is True and again["access"] == "write", again
    assert is_immutable(path_lt), "the writers:daemon lock lost its flag over the restart"
    assert_daemon_maps_locked(d, path_lt, 0, 2 * MiB, writable=True)
    assert {i["path"]: i for i in d.files()}[api_lt]["writers"] == "daemon"
    assert any(total == 2 * MiB for total in ring_buffers_sum(d).values()), io_uring_buffers(d.pid)
    drop_caches(1)
    for api, path, p in made:
        assert resident_pages(path, PAGE_SIZE, MiB) == (pages(MiB), pages(MiB)), api
    budget = list_pins(d)["budget"]
    assert budget["pins"] == len(made) + 1 and budget["pinned_bytes"] == len(made) * MiB + 2 * MiB, budget


@pytest.mark.parametrize("change", ["truncated", "replaced", "flag-cleared"])
def test_restart_with_file_changed_while_down(change: str, filesystems, extra_daemon, cleanup: Cleanup):
    fs = filesystems["xfs"]
    d = restart_daemon(extra_daemon, filesystems, "pins-changed")
    api, path = locked_file(d, fs, cleanup, f"pin-{change}", 2 * MiB)
    p = pin(d, cleanup, api)

    assert d.stop() == 0, d.log_tail()
    run(["chattr", "-i", str(path)])
    if change == "truncated":
        os.truncate(path, MiB)
    elif change == "replaced":
        tmp = Path(str(path) + ".new")
        tmp.write_bytes(os.urandom(2 * MiB))
        os.replace(tmp, path)
    d.start()

    again = get_pin(d, p["id"])
    assert again["state"] == "failed" and again.get("reason"), again
    assert again["resident_bytes"] == 0 or again["resident_bytes"] <= again["length"], again
    assert not mappings_of(d.pid, path), "a failed pin holds nothing"
    assert p["id"] in [i["id"] for i in list_pins(d)["items"]]
    assert list_pins(d)["budget"]["pinned_bytes"] == 0, "a failed pin holds no budget bytes"
    item = {i["path"]: i for i in d.files()}[api]
    assert item["state"] == "degraded" and item.get("reason"), item
    assert item["pins"] == [p["id"]], item
    # The lock itself is degraded now; a new pin says so. (A replaced file is another inode,
    # one the daemon never locked: not-locked says that just as well.)
    codes = ("lock-degraded", "not-locked") if change == "replaced" else ("lock-degraded",)
    problem = d.problem("POST", "/v1/pins", {"path": api, "access": "read", "length": PAGE_SIZE}, status=409)
    assert problem["type"] in [PROBLEM_BASE + c for c in codes], problem
    if change == "replaced":
        assert d.delete(f"/v1/pins/{p['id']}").status_code == 204
        d.problem("GET", f"/v1/pins/{p['id']}", status=404, code="pin-not-found")
    # Unlock works with only failed pins, and removes them.
    d.unlock(api)
    d.problem("GET", f"/v1/pins/{p['id']}", status=404, code="pin-not-found")
    assert p["id"] not in [i["id"] for i in list_pins(d)["items"]]


def test_sigterm_with_pins_exits_cleanly(filesystems, extra_daemon, cleanup: Cleanup):
    d = restart_daemon(extra_daemon, filesystems, "pins-sigterm")
    fs = filesystems["tmpfs"]
    api, path = locked_file(d, fs, cleanup, "pin-sigterm", 2 * MiB, writers="daemon")
    pin(d, cleanup, api, "write", longterm=True)
    assert d.stop() == 0, d.log_tail()
    assert is_immutable(path), "stopping the daemon must not unlock its files"


# -- tokens --------------------------------------------------------------------------

HOLDER = "holder-" + "p" * 40
ADMIN = "admin-" + "q" * 40


@pytest.fixture(scope="module")
def pins_tokens_daemon(filesystems, workdir: Path, registry):
    from conftest import make_daemon

    fs = filesystems["tmpfs"]
    tokens = workdir / "pins-tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": ADMIN, "role": "admin"},
        {"token": HOLDER, "role": "holder", "holder": "h1"},
    ]}))
    os.chmod(tokens, 0o600)
    d = make_daemon(workdir, registry, f"pins-tokens-daemon-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)], tokens_file=tokens)
    d.start()
    d.token = ADMIN
    try:
        yield d
    finally:
        d.stop()


def test_holder_token_is_403_on_pins(pins_tokens_daemon: Daemon, filesystems, cleanup: Cleanup):
    d = pins_tokens_daemon
    fs = filesystems["tmpfs"]
    api, _ = locked_file(d, fs, cleanup, "pin-holder", MiB)
    p = pin(d, cleanup, api)
    for method, path, body in [
        ("POST", "/v1/pins", {"path": api, "access": "read"}),
        ("GET", "/v1/pins", None),
        ("GET", f"/v1/pins/{p['id']}", None),
        ("DELETE", f"/v1/pins/{p['id']}", None),
        ("GET", "/v1/pins/pin_0000000000000000", None),
    ]:
        r = d.request(method, path, body, token=HOLDER)
        assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text}"
        assert r.json()["type"] == PROBLEM_BASE + "forbidden"
        r = d.request(method, path, body, token=None)
        assert r.status_code == 401, f"{method} {path} without a token: {r.status_code} {r.text}"
    assert get_pin(d, p["id"])["state"] == "active", "a refused DELETE removed the pin"
    assert len([i for i in list_pins(d)["items"] if i["path"] == api]) == 1
