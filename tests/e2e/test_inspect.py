"""inspect: the layout report's fields agree with our own FIEMAP / SEEK_DATA probes, on
every filesystem, and inspect changes nothing."""

from __future__ import annotations

import os

import pytest

from e2e_support import FIEMAP_FS, MiB, REFLINK_FS, Daemon, Filesystem, fiemap, layout, run

BYTE_KEYS = ("written", "unwritten", "hole", "shared", "delalloc", "inline", "encoded")


def check_common(report: dict, fs: Filesystem, name: str) -> None:
    assert report["path"] == f"{fs.name}:{name}"
    assert report["root"] == fs.name
    assert report["relative_path"] == name
    assert report["fs_type"] == fs.fstype
    assert os.path.realpath(report["mount_point"]) == os.path.realpath(fs.mountpoint)
    assert report["block_size"] == os.statvfs(fs.mountpoint).f_bsize
    assert report["dax"] is False
    assert report["extent_source"] == ("fiemap" if fs.fstype in FIEMAP_FS else "seek_data")
    b = report["bytes"]
    assert set(BYTE_KEYS) <= set(b), b
    assert b["written"] + b["unwritten"] + b["hole"] + b["delalloc"] + b["inline"] == report["size"], b
    assert b["shared"] <= report["size"] - b["hole"]
    assert report["ready"] == (report["reasons"] == [])


def test_inspect_sparse_file_with_data(fs: Filesystem, daemon: Daemon):
    name = fs.unique("inspect-sparse", "")
    path = fs.path(name)
    size = 12 * MiB
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.pwrite(fd, os.urandom(MiB), 2 * MiB)   # hole [0,2M), data, hole [3M,6M)
        os.pwrite(fd, os.urandom(MiB), 6 * MiB)   # data, hole [7M, 12M)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    mine = layout(path, fs.fstype)
    assert mine.holes == 3 and mine.hole_bytes == 10 * MiB, f"precondition: {mine}"
    before = os.stat(path)

    report = daemon.inspect(fs.api_path(name))

    check_common(report, fs, name)
    assert report["size"] == size
    assert report["holes"] == 3, report
    assert report["bytes"]["hole"] == 10 * MiB, report
    assert report["bytes"]["written"] == 2 * MiB, report
    assert report["ready"] is False
    holes = [r for r in report["reasons"] if r["code"] == "holes"]
    assert len(holes) == 1 and holes[0]["bytes"] == 10 * MiB, report["reasons"]
    assert holes[0]["detail"]
    if fs.fstype in FIEMAP_FS:
        assert report["extents"] >= 2
    # inspect changes nothing
    after = os.stat(path)
    assert (after.st_mtime_ns, after.st_ctime_ns, after.st_size) == (before.st_mtime_ns, before.st_ctime_ns, before.st_size)
    assert layout(path, fs.fstype) == mine


def test_inspect_preallocated_reports_unwritten(fs: Filesystem, daemon: Daemon):
    name = fs.unique("inspect-falloc")
    path = fs.path(name)
    run(["fallocate", "-l", "8MiB", str(path)])
    report = daemon.inspect(fs.api_path(name))
    check_common(report, fs, name)
    assert report["size"] == 8 * MiB
    assert report["ready"] is False
    codes = {r["code"] for r in report["reasons"]}
    if fs.fstype in FIEMAP_FS:
        assert layout(path, fs.fstype).unwritten == 8 * MiB, "precondition: fallocate leaves unwritten extents"
        assert report["bytes"]["unwritten"] == 8 * MiB, report
        assert "unwritten-extents" in codes, report
    else:
        # tmpfs has no FIEMAP: fallocated pages are holes to SEEK_DATA.
        assert report["extent_source"] == "seek_data"
        assert report["bytes"]["hole"] == 8 * MiB, report
        assert "holes" in codes


@pytest.mark.parametrize("fsname", REFLINK_FS)
def test_inspect_reflinked_reports_shared(fsname: str, filesystems, daemon: Daemon):
    fs = filesystems[fsname]
    name = fs.unique("inspect-reflink")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(os.urandom(2 * MiB))
        f.flush()
        os.fsync(f.fileno())
    run(["cp", "--reflink=always", str(path), str(path) + ".clone"])
    assert layout(path, fs.fstype).shared == 2 * MiB, "precondition: extents shared"

    report = daemon.inspect(fs.api_path(name))

    check_common(report, fs, name)
    assert report["bytes"]["shared"] == 2 * MiB, report
    assert report["bytes"]["written"] == 2 * MiB, report
    assert report["ready"] is False
    assert "shared-extents" in {r["code"] for r in report["reasons"]}, report


def test_inspect_dirty_data_is_synced_first(fs: Filesystem, daemon: Daemon):
    """Data not yet written back shows as delalloc without FIEMAP_FLAG_SYNC; the report syncs."""
    name = fs.unique("inspect-dirty")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(os.urandom(MiB))  # no fsync
    report = daemon.inspect(fs.api_path(name))
    check_common(report, fs, name)
    assert report["bytes"]["delalloc"] == 0, report
    assert report["bytes"]["written"] == MiB, report
    assert report["ready"] is True, report


def test_inspect_empty_file(fs: Filesystem, daemon: Daemon):
    name = fs.unique("inspect-empty")
    fs.path(name).touch()
    report = daemon.inspect(fs.api_path(name))
    check_common(report, fs, name)
    assert report["size"] == 0 and report["ready"] is False
    assert [r["code"] for r in report["reasons"]] == ["empty-file"], report


def test_inspect_many_extents(filesystems, daemon: Daemon):
    """More extents than one FIEMAP batch: the daemon must loop past the first batch."""
    fs = filesystems["xfs"]
    name = fs.unique("inspect-frag")
    path = fs.path(name)
    count = 1500
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        # data block, hole block, ...; written backwards inside the final size so that xfs's
        # speculative preallocation past EOF does not fill the holes
        os.ftruncate(fd, (count - 1) * 8192 + 4096)
        for i in reversed(range(count)):
            os.pwrite(fd, b"x" * 4096, i * 8192)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert len(fiemap(path)) == count, "precondition: one extent per written block"
    report = daemon.inspect(fs.api_path(name))
    assert report["extents"] == count, report
    assert report["bytes"]["written"] == count * 4096
    assert report["holes"] == count - 1
    os.unlink(path)


def test_inspect_default_root_and_canonical_path(filesystems, daemon: Daemon):
    """A path without ROOT: is in the first root (ext4 here)."""
    fs = filesystems["ext4"]
    name = fs.unique("first-root")
    fs.path(name).write_bytes(b"x" * 8192)
    report = daemon.inspect(name)
    assert report["path"] == f"ext4:{name}" and report["root"] == "ext4"
