"""ENOSPC (issue 8): the state directory on a tiny tmpfs filled up, and a data filesystem
filling up during prepare. Either way: a clear 507, nothing half-done left behind (no flag
without a record, no record without its flag, no created file left, no size kept), the daemon
keeps serving reads, and it recovers by itself once space is back.

The state database writes to its write-ahead log, which reuses its space after a checkpoint,
so a filled filesystem does not always make the very next write fail: the tests repeat changes
until one is refused (bounded), and check everything after each refusal."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from e2e_support import MiB, Cleanup, make_file, make_loop_filesystem, make_tmpfs, run

STATE_FULL = "state-full"


def fill(directory: Path) -> Path:
    """Writes a file in `directory` until its filesystem is full; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 64 << 10, 4 << 10, 512):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    return filler


def immutable(path: Path) -> bool:
    out = run(["lsattr", "-d", str(path)]).stdout
    return "i" in out.split()[0].replace("-", "")


def unmount(registry, mountpoint: Path) -> None:
    subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=60)
    if not os.path.ismount(mountpoint) and mountpoint in registry.mounts:
        registry.mounts.remove(mountpoint)


@pytest.fixture
def full_state(filesystems, workdir: Path, registry, extra_daemon):
    """A daemon whose state directory is on a 4 MiB tmpfs, serving the session's ext4."""
    fs = filesystems["ext4"]
    mount = make_tmpfs(registry, workdir / f"state-tmpfs-{os.urandom(4).hex()}", "4m", name="state-tmpfs")
    d = extra_daemon(f"enospc-{os.urandom(4).hex()}", [(fs.name, fs.mountpoint)], start=False)
    d.state_dir = mount.mountpoint / "state"
    d.start()
    cleanup = Cleanup()
    try:
        yield d, fs, mount.mountpoint, cleanup
    finally:
        filler = mount.mountpoint / "filler"
        filler.unlink(missing_ok=True)
        cleanup.run()
        d.stop()
        unmount(registry, mount.mountpoint)


def listed_locked(d, api_path: str) -> bool:
    return any(f["path"] == api_path and f["state"] == "locked" for f in d.files())


def assert_serving_reads(d) -> None:
    assert d.proc.poll() is None, f"the daemon exited ({d.proc.returncode}) with its state directory full:\n{d.log_tail()}"
    for path in ("/healthz", "/v1/files", "/v1/pins", "/v1/leases"):
        r = d.get(path)
        assert r.status_code == 200, f"GET {path} -> {r.status_code} with the state directory full: {r.text[:300]}"


def until_refused(d, attempt, limit: int = 3000):
    """Repeats `attempt()` (which returns the answer) until one is 507; returns that answer."""
    for _ in range(limit):
        r = attempt()
        if r.status_code == 507:
            return r
    raise AssertionError(f"no change was refused in {limit} attempts with the state directory full")


def test_state_directory_full_refuses_changes_cleanly_and_recovers(full_state):
    d, fs, state_mount, cleanup = full_state
    pinned_name, pinned_path = make_file(fs, "enospc-pinned", 1 * MiB)
    cycled_name, cycled_path = make_file(fs, "enospc-cycled", 1 * MiB)
    for p in (pinned_path, cycled_path):
        cleanup.file(p)
    pinned_api, cycled_api = fs.api_path(pinned_name), fs.api_path(cycled_name)
    d.lock(pinned_api)
    cleanup.locks.append((d, pinned_api))
    pin = d.ok("POST", "/v1/pins", {"path": pinned_api, "access": "read"}, status=201)
    cleanup.pins.append((d, pin["id"]))
    cleanup.locks.append((d, cycled_api))

    pin_ids = {pin["id"]}
    refused: dict[str, int] = {}
    for round_ in range(16):
        filler = fill(state_mount)
        # Leave room for 0 to 3 more pages of the log, so that the refusal falls on each write
        # of a lock (locking, locked) and of an unlock (unlocking, record deleted) in turn.
        os.truncate(filler, max(0, filler.stat().st_size - (round_ % 4) * 4096))
        state = {"locked": listed_locked(d, cycled_api)}

        def cycle():
            op = "unlock" if state["locked"] else "lock-immutable"
            r = d.post(f"/v1/files/{op}", {"path": cycled_api})
            if r.status_code == 200:
                state["locked"] = not state["locked"]
            elif r.status_code != 507:
                raise AssertionError(f"{op} -> {r.status_code} (expected 200 or 507): {r.text[:500]}")
            return r

        r = until_refused(d, cycle)
        problem = r.json()
        assert problem["type"] == f"https://pinlease.dev/problems/{STATE_FULL}", problem
        refused[r.request.path_url] = refused.get(r.request.path_url, 0) + 1
        # Nothing half-done: the flag is set exactly when the daemon lists the file as locked.
        assert immutable(cycled_path) == listed_locked(d, cycled_api), (
            f"round {round_}: lsattr +i is {immutable(cycled_path)}, GET /v1/files lists it locked: "
            f"{listed_locked(d, cycled_api)}\n{d.log_tail(15)}")
        assert immutable(pinned_path) and listed_locked(d, pinned_api)
        assert_serving_reads(d)

        # An asynchronous prepare that cannot be recorded leaves no created file behind.
        created = fs.path(fs.unique("enospc-created"))
        cleanup.file(created)
        r = d.post("/v1/files/prepare", {"path": fs.api_path(created.name), "size": "1MiB", "create": True, "async": True})
        if r.status_code == 507:
            assert r.json()["type"].endswith(f"/{STATE_FULL}"), r.text
            assert not created.exists(), f"a prepare refused with 507 left {created} behind"
        else:
            assert r.status_code == 202, r.text
            op = d.wait_operation(r.json()["id"], timeout=120)
            assert op["state"] == "succeeded", op
        # A pin that cannot be recorded is not made.
        r = d.post("/v1/pins", {"path": pinned_api, "access": "read"})
        if r.status_code == 201:
            cleanup.pins.append((d, r.json()["id"]))
            pin_ids.add(r.json()["id"])
        else:
            assert r.status_code == 507 and r.json()["type"].endswith(f"/{STATE_FULL}"), r.text
        assert {p["id"] for p in d.ok("GET", "/v1/pins")["items"] if p["path"] == pinned_api} == pin_ids
        assert_serving_reads(d)

        # Space back: the daemon takes changes again by itself.
        filler.unlink()
        deadline = time.monotonic() + 60
        while cycle().status_code != 200:
            assert time.monotonic() < deadline, "no change was accepted within 60 s of freeing space"
        assert immutable(cycled_path) == listed_locked(d, cycled_api)
    print(f"refusals: {refused}")

    # What is durable matches what was answered, after a restart.
    locked_before = listed_locked(d, cycled_api)
    d.restart()
    assert listed_locked(d, cycled_api) == locked_before == immutable(cycled_path)
    assert listed_locked(d, pinned_api) and immutable(pinned_path)
    pins = [p for p in d.ok("GET", "/v1/pins")["items"] if p["path"] == pinned_api]
    assert all(p["state"] == "active" for p in pins) and pin["id"] in {p["id"] for p in pins}


def test_grant_with_state_directory_full_answers_507_and_the_daemon_stays(full_state):
    d, fs, state_mount, cleanup = full_state
    name, path = make_file(fs, "enospc-lease", 1 * MiB)
    cleanup.file(path)
    d.lock(fs.api_path(name))
    cleanup.locks.append((d, fs.api_path(name)))
    pin = d.ok("POST", "/v1/pins", {"path": fs.api_path(name), "access": "read"}, status=201)
    cleanup.pins.append((d, pin["id"]))
    fill(state_mount)
    granted: list[str] = []

    def grant():
        r = d.post("/v1/leases", {"pin_id": pin["id"], "holder": "enospc", "ttl_s": 600}, validate=False, timeout=30)
        if r.status_code == 201:
            granted.append(r.json()["id"])
            cleanup.leases.append((d, r.json()["id"]))
        return r

    try:
        r = until_refused(d, grant)
    except Exception:
        assert d.proc.poll() is None, f"the daemon exited with {d.proc.returncode} on a grant with its state directory full"
        raise
    assert r.json()["type"].endswith(f"/{STATE_FULL}"), r.text
    assert_serving_reads(d)
    # Exactly the acknowledged leases: the refused grant was put back, not kept in memory.
    assert {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}")["items"]} == set(granted)
    # A restart on the still-full disk starts (no crash loop) and shows the same leases.
    d.restart()
    assert {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}")["items"]} == set(granted)
    (state_mount / "filler").unlink()
    assert grant().status_code == 201
    d.restart()
    assert {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}")["items"]} == set(granted)


def hold_log(state_dir: Path) -> sqlite3.Connection:
    """Opens a read transaction on the state database: while it is open no checkpoint can
    finish, so the write-ahead log is never reset to its start, and with the filesystem full
    every write that needs a new page of log fails."""
    con = sqlite3.connect(state_dir / "pinlease.db", isolation_level=None)
    con.execute("BEGIN")
    con.execute("SELECT count(*) FROM operations").fetchone()
    return con


def test_async_prepare_whose_end_cannot_be_recorded_does_not_read_running(full_state):
    """The state fills up while an asynchronous prepare runs: its start was recorded, its end
    cannot be. The operation must still read as finished (not `running` until a restart)."""
    d, fs, state_mount, cleanup = full_state
    cycled_name, cycled_path = make_file(fs, "enospc-op-cycled", 1 * MiB)
    cleanup.file(cycled_path)
    cycled = fs.api_path(cycled_name)
    cleanup.locks.append((d, cycled))

    def cycle():
        return d.post(f"/v1/files/{'unlock' if listed_locked(d, cycled) else 'lock-immutable'}", {"path": cycled})

    for _ in range(5):
        name = fs.unique("enospc-op")
        cleanup.file(fs.path(name))
        reader = hold_log(d.state_dir)
        filler = None
        try:
            r = d.post("/v1/files/prepare", {"path": fs.api_path(name), "size": "512MiB", "create": True, "async": True})
            assert r.status_code == 202, r.text
            op_id = r.json()["id"]
            filler = fill(state_mount)
            until_refused(d, cycle)  # what was left of the log is used up
            if d.ok("GET", f"/v1/operations/{op_id}")["state"] != "running":
                d.wait_operation(op_id, timeout=120)
                continue  # it finished before the state directory was full: again
            final = d.wait_operation(op_id, timeout=120)
            assert final["state"] == "succeeded", final
            assert f"cannot record the end of operation {op_id}" in d.log_path.read_text(), "the end was recorded after all"
            assert_serving_reads(d)
            return
        finally:
            reader.close()
            if filler is not None:
                filler.unlink()
            fs.path(name).unlink(missing_ok=True)
    pytest.fail("every prepare of 512 MiB finished before a 4 MiB tmpfs was filled")


@pytest.fixture(scope="module")
def small_data(filesystems, workdir: Path, registry):
    """A daemon serving a 320 MiB xfs and a 96 MiB ext4 of their own."""
    from conftest import make_daemon

    base = workdir / "enospc-data"
    base.mkdir()
    fss = {
        "xfs": make_loop_filesystem(registry, base, "xfs", 320 * MiB, name="enospc-xfs"),
        "ext4": make_loop_filesystem(registry, base, "ext4", 96 * MiB, name="enospc-ext4"),
    }
    d = make_daemon(workdir, registry, "enospc-data-daemon", [(fs.name, fs.mountpoint) for fs in fss.values()])
    d.start()
    empty = {name: free_bytes(fs.mountpoint) for name, fs in fss.items()}
    try:
        yield d, fss, empty
    finally:
        d.stop()
        for fs in fss.values():
            unmount(registry, fs.mountpoint)


def free_bytes(path: Path) -> int:
    os.sync()
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def wait_free(path: Path, wanted: int, what: str = "the removed files' blocks to be freed", timeout: float = 60) -> None:
    """Waits until `path`'s filesystem has `wanted` bytes free: xfs frees the blocks of an
    unlinked file in the background."""
    deadline = time.monotonic() + timeout
    while (free := free_bytes(path)) < wanted:
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}: {free} bytes free, expected {wanted}"
        time.sleep(0.1)


@pytest.mark.parametrize("existing", ["grown", "sparse"])
@pytest.mark.parametrize("fsname", ["xfs", "ext4"])
def test_data_filesystem_filling_up_during_prepare(fsname, existing, small_data):
    """Two prepares that each fit alone but not together, started at once: both pass the
    up-front space check or one is refused by it; either way every prepare that fails answers
    507 no-space and gives back what it took (the file it created is gone; the existing file,
    grown by the prepare or sparse at its size, has its old size, bytes and allocation), and
    the daemon keeps serving and prepares again."""
    d, fss, empty = small_data
    fs = fss[fsname]
    # Blocks of files an earlier case removed may still be on their way back (xfs frees them in
    # the background): start from the empty filesystem's free space, or both prepares could fit.
    wait_free(fs.mountpoint, empty[fsname] - MiB)
    created = fs.unique("fill-created")
    grown = fs.unique(f"fill-{existing}")
    original = os.urandom(8192)
    free_before = free_bytes(fs.mountpoint)
    each = (free_before * 6 // 10) // MiB * MiB
    with open(fs.path(grown), "wb") as f:
        f.write(original)
        if existing == "sparse":
            f.truncate(each)
    allocated_before = os.stat(fs.path(grown)).st_blocks * 512
    free_before = free_bytes(fs.mountpoint)
    try:
        outcomes: dict[str, object] = {}

        def prepare(name: str) -> None:
            body = {"path": fs.api_path(name), "size": each, "async": True, "create": name == created}
            r = d.post("/v1/files/prepare", body)
            if r.status_code == 202:
                outcomes[name] = d.wait_operation(r.json()["id"], timeout=300)
            else:
                outcomes[name] = r

        threads = [threading.Thread(target=prepare, args=(n,)) for n in (created, grown)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        failed = []
        for name, outcome in outcomes.items():
            if isinstance(outcome, dict):
                if outcome["state"] == "succeeded":
                    continue
                assert outcome["state"] == "failed" and outcome["error"]["type"].endswith("/no-space"), outcome
            else:
                assert outcome.status_code == 507 and outcome.json()["type"].endswith("/no-space"), outcome.text
            failed.append(name)
        assert len(outcomes) == 2 and failed, f"both prepares of {each} bytes fit in {free_before} free bytes: {outcomes}"
        kept = 0
        if created in failed:
            assert not fs.path(created).exists(), f"a failed create left {fs.path(created)}"
        else:
            kept += os.stat(fs.path(created)).st_blocks * 512
        if grown in failed:
            size = len(original) if existing == "grown" else each
            assert os.stat(fs.path(grown)).st_size == size, "a failed prepare changed the size of the file"
            with open(fs.path(grown), "rb") as f:
                assert f.read(len(original)) == original
            wait_free(fs.mountpoint, 0)
            allocated = os.stat(fs.path(grown)).st_blocks * 512
            assert allocated <= allocated_before + MiB, f"a failed prepare kept {allocated - allocated_before} bytes allocated in the file"
        else:
            kept += os.stat(fs.path(grown)).st_blocks * 512
        wait_free(fs.mountpoint, free_before - kept - 4 * MiB, what="the failed prepare(s) to give their blocks back")
        assert d.get("/healthz").status_code == 200 and d.get("/v1/files").status_code == 200
        # Space back: a prepare that fits succeeds.
        for name in (created, grown):
            fs.path(name).unlink(missing_ok=True)
        wait_free(fs.mountpoint, each + 4 * MiB)
        again = fs.unique("fill-again")
        assert d.prepare(fs.api_path(again), size=each, create=True)["ready"] is True
        fs.path(again).unlink()
    finally:
        for name in (created, grown):
            fs.path(name).unlink(missing_ok=True)


def test_restart_with_state_directory_full_starts_and_finishes_an_unlock(full_state):
    """An unlock whose record could not be deleted (state full), then SIGKILL, then a start
    with the state directory still full: the daemon starts (no crash loop), serves, and the file
    is neither listed nor flagged."""
    d, fs, state_mount, cleanup = full_state
    name, path = make_file(fs, "enospc-restart", 1 * MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((d, api))
    marker = f"{api} is unlocked; its record stays"
    reader = hold_log(d.state_dir)  # no checkpoint resets the log: the refusals fall where the rooms say
    for room in range(0, 24):
        filler = fill(state_mount)
        os.truncate(filler, max(0, filler.stat().st_size - (room % 6) * 4096))
        for _ in range(3000):
            op = "unlock" if listed_locked(d, api) else "lock-immutable"
            r = d.post(f"/v1/files/{op}", {"path": api})
            if r.status_code == 507 or marker in d.log_path.read_text():
                break
        if marker in d.log_path.read_text():
            break
        filler.unlink()
    else:
        reader.close()
        pytest.fail("no unlock had its record left behind by a full state directory")
    reader.close()
    assert not listed_locked(d, api) and not immutable(path)
    d.proc.kill()
    d.proc.wait(timeout=30)
    d.proc = None
    d.start()  # the state directory is still full
    assert_serving_reads(d)
    assert not listed_locked(d, api) and not immutable(path)
    filler.unlink()
    d.lock(api)
    assert immutable(path)
