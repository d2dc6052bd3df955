"""The compatibility report (issue 3): lock-immutable and GET /v1/files say, per file, what
really holds on this kernel and filesystem, each row {holds, reason, probed}. The expected
values are not just written down: the kernel facts behind the rows (a write through a
descriptor opened before +i; an io_uring fixed-buffer registration of a shared writable
mapping; an immutable file as reflink source) are also probed here, independently of the
daemon, and the report must agree with them."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from e2e_support import (
    MiB,
    Daemon,
    Filesystem,
    immutable_blocks_existing_writer,
    is_immutable,
    make_file,
    longterm_write_pin_errno,
    run,
)

ROWS = ("immutable_flag", "existing_writers_blocked", "reflink_source_possible", "lease_break_recall",
        "longterm_pin_write", "longterm_pin_read", "map_sync", "dax", "pinned_writes")

# What holds on each filesystem here (Linux 6.18, no DAX devices).
EXPECTED = {
    "ext4": {"immutable_flag": True, "existing_writers_blocked": True, "reflink_source_possible": False,
             "longterm_pin_write": False, "longterm_pin_read": True, "map_sync": False, "dax": False,
             "pinned_writes": False},
    "xfs": {"immutable_flag": True, "existing_writers_blocked": False, "reflink_source_possible": True,
            "longterm_pin_write": False, "longterm_pin_read": True, "map_sync": False, "dax": False,
            "pinned_writes": True},
    "btrfs": {"immutable_flag": True, "existing_writers_blocked": False, "reflink_source_possible": True,
              "longterm_pin_write": False, "longterm_pin_read": True, "map_sync": False, "dax": False,
              "pinned_writes": True},
    "tmpfs": {"immutable_flag": True, "existing_writers_blocked": False, "reflink_source_possible": False,
              "longterm_pin_write": True, "longterm_pin_read": True, "map_sync": False, "dax": False,
              "pinned_writes": True},
}
PROBED = {"existing_writers_blocked": True, "longterm_pin_write": True, "map_sync": True, "longterm_pin_read": False}


@pytest.fixture
def tracked(daemon: Daemon):
    """(api path, path) of what a test locked: unlocked, +i cleared and removed at the end."""
    items: list[tuple[str, Path]] = []
    try:
        yield items
    finally:
        for api, path in items:
            try:
                daemon.post("/v1/files/unlock", {"path": api}, validate=False, timeout=30)
            except Exception:
                pass
            for p in (path, Path(str(path) + ".clone")):
                if p.exists():
                    run(["chattr", "-i", str(p)], check=False)
                    p.unlink()


def check_rows(compat: dict, fstype: str, writers: str) -> None:
    missing = [row for row in ROWS if row not in compat]
    assert not missing, f"compat rows missing: {missing}: {compat}"
    for row in ROWS:
        value = compat[row]
        assert set(value) >= {"holds", "reason", "probed"}, f"{row}: {value}"
        assert isinstance(value["holds"], bool) and isinstance(value["probed"], bool), f"{row}: {value}"
        assert isinstance(value["reason"], str) and value["reason"].strip(), f"{row} has no reason: {value}"
    expected = dict(EXPECTED[fstype])
    if writers == "none":
        # Nobody may write under a writers:"none" lock (there is no daemon descriptor to write
        # through), so pinned writes do not hold there whatever the filesystem.
        expected["pinned_writes"] = False
    wrong = {row: compat[row]["holds"] for row, holds in expected.items() if compat[row]["holds"] is not holds}
    assert not wrong, f"{fstype}: rows that do not hold what this kernel does: {wrong} (expected {expected}); {compat}"
    wrong = {row: compat[row]["probed"] for row, probed in PROBED.items() if compat[row]["probed"] is not probed}
    assert not wrong, f"{fstype}: probed flags {wrong}, expected {PROBED}: {compat}"
    if writers == "daemon":
        assert compat["pinned_writes"]["holds"] is not compat["existing_writers_blocked"]["holds"]


@pytest.mark.parametrize("writers", ["none", "daemon"])
def test_compat_rows(writers: str, fs: Filesystem, daemon: Daemon, tracked):
    name, path = make_file(fs, f"compat-{writers}", MiB)
    api = fs.api_path(name)
    tracked.append((api, path))
    lock = daemon.ok("POST", "/v1/files/lock-immutable", {"path": api, "writers": writers})
    assert lock["writers"] == writers, lock
    compat = lock["compat"]
    check_rows(compat, fs.fstype, writers)
    assert compat["lease_break_recall"]["holds"] is (writers == "none"), compat  # no read lease beside a daemon writer

    items = {i["path"]: i for i in daemon.files()}
    item = items[api]
    assert item["writers"] == writers, item
    assert item["compat"] == compat, f"GET /v1/files compat differs from the lock's:\n{item['compat']}\n{compat}"
    assert item["pins"] == [], item


def test_compat_is_the_same_for_every_file_of_a_mount(fs: Filesystem, daemon: Daemon, tracked):
    """Probed once per mount (cached): two files on one filesystem get the same report."""
    reports = []
    for i in range(2):
        name, path = make_file(fs, f"compat-same{i}", 64 * 1024)
        api = fs.api_path(name)
        tracked.append((api, path))
        reports.append(daemon.ok("POST", "/v1/files/lock-immutable", {"path": api})["compat"])
    assert reports[0] == reports[1]


def test_compat_agrees_with_the_kernel(fs: Filesystem, daemon: Daemon, tracked):
    """Never overclaim: the rows the daemon probes agree with our own probes of the same mount."""
    name, path = make_file(fs, "compat-kernel")
    api = fs.api_path(name)
    tracked.append((api, path))
    compat = daemon.ok("POST", "/v1/files/lock-immutable", {"path": api})["compat"]

    blocked = immutable_blocks_existing_writer(fs.mountpoint)
    assert compat["existing_writers_blocked"]["holds"] is blocked, (blocked, compat["existing_writers_blocked"])
    assert compat["pinned_writes"]["holds"] is False, "writers:none lock: nobody writes"
    name2, path2 = make_file(fs, "compat-kernel-dw", 64 * 1024)
    tracked.append((fs.api_path(name2), path2))
    dw = daemon.ok("POST", "/v1/files/lock-immutable", {"path": fs.api_path(name2), "writers": "daemon"})["compat"]
    assert dw["pinned_writes"]["holds"] is (not blocked), (blocked, dw["pinned_writes"])
    assert compat["existing_writers_blocked"]["probed"] is True
    assert compat["longterm_pin_write"]["probed"] is True

    err = longterm_write_pin_errno(fs.mountpoint)
    assert err in (0, errno.EFAULT), os.strerror(err)
    assert compat["longterm_pin_write"]["holds"] is (err == 0), (err, compat["longterm_pin_write"])
    if err:
        assert "EFAULT" in compat["longterm_pin_write"]["reason"], compat["longterm_pin_write"]

    # An immutable file as a reflink source: possible exactly where the report says so.
    result = subprocess.run(["cp", "--reflink=always", str(path), str(path) + ".clone"], capture_output=True, text=True)
    assert (result.returncode == 0) is compat["reflink_source_possible"]["holds"], (result.stderr, compat["reflink_source_possible"])
    assert is_immutable(path)


def test_files_items_carry_writers_compat_and_pins(filesystems, daemon: Daemon, tracked):
    fs = filesystems["tmpfs"]
    name, path = make_file(fs, "compat-list")
    api = fs.api_path(name)
    tracked.append((api, path))
    daemon.ok("POST", "/v1/files/lock-immutable", {"path": api, "writers": "daemon"})
    r = daemon.post("/v1/pins", {"path": api, "access": "write", "length": 64 * 1024})
    assert r.status_code == 201, r.text
    pin_id = r.json()["id"]
    try:
        item = {i["path"]: i for i in daemon.files()}[api]
        assert item["writers"] == "daemon" and item["pins"] == [pin_id], item
        check_rows(item["compat"], "tmpfs", "daemon")
        for other in daemon.files():
            assert {"writers", "compat", "pins"} <= set(other), other
    finally:
        daemon.delete(f"/v1/pins/{pin_id}", validate=False)
