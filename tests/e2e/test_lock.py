"""lock-immutable / unlock on every filesystem: the immutable flag and the kernel read lease
are really there (lsattr, /proc/locks), writes fail with EPERM, writers make the lock fail
with their pids and leave no flag behind, and a restart keeps the lock."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from e2e_support import (
    MiB,
    Daemon,
    Filesystem,
    Writer,
    is_immutable,
    lease_on_inode,
    run,
)


def ready_file(fs: Filesystem, daemon: Daemon, stem: str, size: int = 2 * MiB) -> tuple[str, Path]:
    name = fs.unique(stem)
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    assert daemon.inspect(fs.api_path(name))["ready"] is True, "precondition: ready file"
    return name, path


@pytest.fixture
def cleanup_locks(daemon: Daemon):
    """Unlock (and clear +i on) whatever a test locked, even when it fails."""
    paths: list[tuple[str, Path]] = []
    yield paths
    for api_path, path in paths:
        try:
            daemon.post("/v1/files/unlock", {"path": api_path}, validate=False)
        except Exception:
            pass
        if path.exists():
            run(["chattr", "-i", str(path)], check=False)


def assert_writes_refused(path: Path) -> None:
    with pytest.raises(PermissionError) as e:
        open(path, "r+b")
    assert e.value.errno == errno.EPERM
    with pytest.raises(PermissionError) as e:
        os.truncate(path, 0)
    assert e.value.errno == errno.EPERM
    with pytest.raises(PermissionError) as e:
        os.unlink(path)
    assert e.value.errno == errno.EPERM
    with pytest.raises(PermissionError) as e:
        os.rename(path, str(path) + ".renamed")
    assert e.value.errno == errno.EPERM


def test_lock_and_unlock(fs: Filesystem, daemon: Daemon, cleanup_locks):
    name, path = ready_file(fs, daemon, "lock")
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    content = path.read_bytes()
    assert not is_immutable(path)
    assert not lease_on_inode(daemon.pid, os.stat(path).st_ino)

    lock = daemon.lock(api)

    assert lock["path"] == api
    assert lock["immutable"] is True and lock["read_lease"] is True and lock["flag_set_by_daemon"] is True, lock
    compat = lock["compat"]
    assert compat["immutable_flag"]["holds"] is True
    assert compat["existing_writers_blocked"]["holds"] is (fs.fstype == "ext4"), compat
    assert compat["reflink_source_possible"]["holds"] is (fs.fstype in ("xfs", "btrfs")), compat
    assert compat["lease_break_recall"]["holds"] is True
    assert all(row["reason"] for row in compat.values())
    assert is_immutable(path), "lsattr does not show the immutable flag"
    assert lease_on_inode(daemon.pid, os.stat(path).st_ino), "no read lease of the daemon in /proc/locks"
    assert_writes_refused(path)
    assert path.read_bytes() == content  # reading still works

    report = daemon.inspect(api)
    assert report["immutable"] is True and report["locked"] is True, report
    items = [i for i in daemon.files() if i["path"] == api]
    assert len(items) == 1, daemon.files()
    item = items[0]
    st = os.stat(path)
    assert item["state"] == "locked" and item["read_lease"] is True and item["immutable"] is True, item
    assert item["root"] == fs.name and item["relative_path"] == name
    assert item["inode"] == st.st_ino
    assert item["device"] == st.st_dev or (os.major(item["device"]), os.minor(item["device"])) == (os.major(st.st_dev), os.minor(st.st_dev)), item
    assert item["flag_set_by_daemon"] is True and item["locked_at"] == lock["locked_at"]

    unlocked = daemon.unlock(api)

    assert unlocked == {**unlocked, "path": api, "immutable": False, "read_lease": False, "flag_cleared": True}, unlocked
    assert not is_immutable(path)
    assert not lease_on_inode(daemon.pid, os.stat(path).st_ino), "read lease still held after unlock"
    assert api not in [i["path"] for i in daemon.files()]
    with open(path, "r+b") as f:  # writable again
        f.write(b"ok")
    os.truncate(path, MiB)
    os.unlink(path)


def test_prepare_of_locked_file_is_refused(fs: Filesystem, daemon: Daemon, cleanup_locks):
    name, path = ready_file(fs, daemon, "lock-prepare", size=256 * 1024)
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    daemon.lock(api)
    for fields in ({}, {"mode": "wipe"}, {"size": "1MiB"}, {"async": True}):
        daemon.problem("POST", "/v1/files/prepare", {"path": api, **fields}, status=409, code="file-locked")
    assert is_immutable(path)


def test_prepare_of_file_made_immutable_by_someone_else(fs: Filesystem, daemon: Daemon, cleanup_locks):
    name, path = ready_file(fs, daemon, "foreign-immutable", size=256 * 1024)
    cleanup_locks.append((fs.api_path(name), path))
    run(["chattr", "+i", str(path)])
    daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name), "size": "1MiB"}, status=409, code="file-immutable")
    run(["chattr", "-i", str(path)])


def test_unlock_of_unlocked_file(fs: Filesystem, daemon: Daemon):
    name, _ = ready_file(fs, daemon, "notlocked", size=64 * 1024)
    daemon.problem("POST", "/v1/files/unlock", {"path": fs.api_path(name)}, status=409, code="not-locked")


def test_lock_of_not_ready_file(fs: Filesystem, daemon: Daemon):
    name = fs.unique("lock-sparse")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.truncate(4 * MiB)
    problem = daemon.problem("POST", "/v1/files/lock-immutable", {"path": fs.api_path(name)}, status=409, code="not-ready")
    assert problem.get("reasons"), problem
    assert not is_immutable(path), "a refused lock left the immutable flag"


@pytest.mark.parametrize("mapped", [False, True], ids=["open-fd", "shared-mapping"])
def test_lock_with_writer_present(mapped: bool, fs: Filesystem, daemon: Daemon, cleanup_locks):
    name, path = ready_file(fs, daemon, "writer")
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    with Writer(path, mapped=mapped) as writer:
        problem = daemon.problem("POST", "/v1/files/lock-immutable", {"path": api}, status=409, code="writers-present")
        assert writer.pid in problem.get("pids", []), problem
        assert daemon.pid not in problem["pids"]
        assert not is_immutable(path), "lock failed but left the immutable flag set"
        assert api not in [i["path"] for i in daemon.files()]
    # With the writer gone the lock succeeds.
    assert daemon.lock(api)["read_lease"] is True
    daemon.unlock(api)
    assert not is_immutable(path)


def test_flag_set_by_someone_else_is_left_alone(fs: Filesystem, daemon: Daemon, cleanup_locks):
    name, path = ready_file(fs, daemon, "preimmutable", size=256 * 1024)
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    run(["chattr", "+i", str(path)])
    lock = daemon.lock(api)
    assert lock["immutable"] is True and lock["flag_set_by_daemon"] is False and lock["read_lease"] is True, lock
    unlocked = daemon.unlock(api)
    assert unlocked["flag_cleared"] is False and unlocked["immutable"] is True, unlocked
    assert is_immutable(path), "unlock cleared a flag the daemon did not set"
    run(["chattr", "-i", str(path)])


def test_lock_survives_restart(filesystems, daemon: Daemon, cleanup_locks):
    locked = []
    for fsname in ("ext4", "xfs", "btrfs", "tmpfs"):
        fs = filesystems[fsname]
        name, path = ready_file(fs, daemon, "restart", size=256 * 1024)
        api = fs.api_path(name)
        cleanup_locks.append((api, path))
        daemon.lock(api)
        locked.append((api, path))
    old_pid = daemon.pid

    daemon.restart()

    assert daemon.pid != old_pid
    items = {i["path"]: i for i in daemon.files()}
    for api, path in locked:
        assert api in items, f"{api} not tracked after restart: {sorted(items)}"
        item = items[api]
        assert item["state"] == "locked" and item["read_lease"] is True and item["immutable"] is True, item
        assert is_immutable(path)
        assert lease_on_inode(daemon.pid, os.stat(path).st_ino), f"{api}: lease not re-taken after restart"
        report = daemon.inspect(api)
        assert report["locked"] is True
    for api, path in locked:
        unlocked = daemon.unlock(api)
        assert unlocked["flag_cleared"] is True, unlocked
        assert not is_immutable(path)
    remaining = {i["path"] for i in daemon.files()}
    assert not remaining & {api for api, _ in locked}


def test_restart_reports_file_whose_flag_was_cleared(filesystems, daemon: Daemon, cleanup_locks):
    """If someone clears +i while the daemon is down, the file is not silently 'locked'."""
    fs = filesystems["xfs"]
    name, path = ready_file(fs, daemon, "degraded", size=256 * 1024)
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    daemon.lock(api)
    daemon.stop()
    run(["chattr", "-i", str(path)])
    daemon.start()
    items = {i["path"]: i for i in daemon.files()}
    assert api in items, items
    item = items[api]
    # The report tells the truth about the flag, and a file without it is not "locked".
    assert item["immutable"] is is_immutable(path), item
    if not item["immutable"]:
        assert item["state"] == "degraded" and item.get("reason"), item


def test_lease_break_is_received_and_logged(fs: Filesystem, daemon: Daemon, cleanup_locks):
    """After the flag is cleared behind the daemon's back, a write open breaks its read lease:
    the kernel signals the daemon (F_SETSIG real-time signal), which logs it and lives on."""
    name, path = ready_file(fs, daemon, "leasebreak", size=64 * 1024)
    api = fs.api_path(name)
    cleanup_locks.append((api, path))
    daemon.lock(api)
    log_offset = daemon.log_path.stat().st_size
    run(["chattr", "-i", str(path)])
    # O_NONBLOCK: the open fails at once with EWOULDBLOCK instead of waiting for the holder,
    # but the lease break (and its signal) is started all the same.
    with pytest.raises(BlockingIOError):
        os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    deadline = time.monotonic() + 10
    needle = f"kernel lease break on locked {api}"
    while True:
        with open(daemon.log_path, "rb") as f:
            f.seek(log_offset)
            text = f.read().decode(errors="replace")
        if needle in text:
            break
        assert time.monotonic() < deadline, f"no lease-break log line within 10 s; log since the lock:\n{text[-3000:]}"
        time.sleep(0.1)
    assert daemon.proc is not None and daemon.proc.poll() is None, "the lease-break signal killed the daemon"
    assert daemon.get("/healthz", token=None).status_code == 200
    unlocked = daemon.unlock(api)
    assert unlocked["read_lease"] is False
    assert not is_immutable(path)


def test_lock_without_cap_linux_immutable(filesystems, extra_daemon):
    """A daemon without CAP_LINUX_IMMUTABLE cannot set the flag: a clear problem naming the
    capability, and nothing left behind (no flag, nothing tracked)."""
    fs = filesystems["ext4"]
    d = extra_daemon("nocap-daemon", [("ext4", fs.mountpoint)], start=False)
    command = d.command
    d.command = lambda: ["setpriv", "--bounding-set", "-linux_immutable", "--inh-caps", "-linux_immutable", "--"] + command()
    d.start()
    name, path = ready_file(fs, d, "nocap", size=64 * 1024)
    try:
        problem = d.problem("POST", "/v1/files/lock-immutable", {"path": fs.api_path(name)}, status=500, code="missing-capability")
        assert "CAP_LINUX_IMMUTABLE" in problem["detail"], problem
        assert not is_immutable(path)
        assert d.ok("GET", "/v1/files")["items"] == []
    finally:
        run(["chattr", "-i", str(path)], check=False)
        path.unlink()
