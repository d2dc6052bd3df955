"""prepare on every filesystem: fill (never changes a byte that held data), wipe, create,
async with progress, cancel. Each test first proves the file really is not ready (our own
FIEMAP or SEEK_DATA/SEEK_HOLE), then checks the result independently of the daemon."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from e2e_support import (
    FIEMAP_FS,
    FS_NAMES,
    MiB,
    GiB,
    REFLINK_FS,
    Daemon,
    Filesystem,
    all_zero,
    drop_cache,
    fiemap,
    first_difference,
    layout,
    run,
)


# --------------------------------------------------------------------------------------
# File builders. Each returns the bytes the file must hold after a fill prepare (before
# any growth), so the check is a whole-file comparison: data unchanged, holes zero.


def build_sparse(path: Path) -> bytes:
    size = 16 * MiB
    with open(path, "wb") as f:
        f.truncate(size)
    return bytes(size)


def build_preallocated(path: Path) -> bytes:
    size = 16 * MiB
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.posix_fallocate(fd, 0, size)  # fallocate(2) mode 0: unwritten extents
    finally:
        os.close(fd)
    return bytes(size)


def build_mixed(path: Path) -> bytes:
    """Data, holes and unwritten ranges interleaved, plus an unaligned data tail."""
    size = 8 * MiB
    model = bytearray(size)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.ftruncate(fd, size)

        def put(offset: int, length: int) -> None:
            data = os.urandom(length)
            os.pwrite(fd, data, offset)
            model[offset:offset + length] = data

        put(0, 1 * MiB)                 # data      [0, 1M)
        # hole                            [1M, 2M)
        os.posix_fallocate(fd, 2 * MiB, 1 * MiB)  # unwritten [2M, 3M)
        put(3 * MiB, 1 * MiB)           # data      [3M, 4M)
        # hole                            [4M, 5M)
        os.posix_fallocate(fd, 5 * MiB, 1 * MiB)  # unwritten [5M, 6M)
        put(6 * MiB + 12345, 100)       # unaligned data inside a block, holes around it
        # hole                            up to 8M
        os.fsync(fd)
    finally:
        os.close(fd)
    return bytes(model)


def build_small_data(path: Path) -> bytes:
    """100 bytes of data (inline on btrfs); prepared with size 1MiB."""
    data = os.urandom(100)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return data


def build_reflinked(path: Path) -> bytes:
    """Random data whose extents are shared with a reflinked copy (path + '.clone')."""
    data = os.urandom(4 * MiB)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    run(["cp", "--reflink=always", str(path), str(path) + ".clone"])
    return data


def assert_not_ready_before(kind: str, fs: Filesystem, path: Path, daemon: Daemon, api_path: str) -> None:
    """The precondition each case is about, checked with our own probes and the daemon's."""
    mine = layout(path, fs.fstype)
    report = daemon.inspect(api_path)
    codes = {r["code"] for r in report["reasons"]}
    assert report["ready"] is (kind == "small-data" and fs.fstype != "btrfs"), report
    if kind == "sparse":
        assert mine.holes == 1 and mine.hole_bytes == mine.size, mine
        assert "holes" in codes, report
    elif kind == "preallocated":
        if fs.fstype in FIEMAP_FS:
            assert mine.unwritten == mine.size and mine.hole_bytes == 0, mine
            assert "unwritten-extents" in codes, report
        else:  # tmpfs: fallocated pages are not data to SEEK_DATA
            assert mine.hole_bytes == mine.size, mine
            assert "holes" in codes, report
    elif kind == "mixed":
        assert mine.holes >= 3, mine
        assert "holes" in codes, report
        if fs.fstype in FIEMAP_FS:
            assert mine.unwritten >= 2 * MiB, mine
            assert "unwritten-extents" in codes, report
    elif kind == "small-data":
        # 100 bytes: inline in the metadata on btrfs; a plain written block elsewhere.
        assert mine.size == 100
        if fs.fstype == "btrfs":
            assert mine.other_flags > 0, mine
            assert "inline-data" in codes, report
        return
    elif kind == "reflinked":
        assert mine.shared == mine.size and mine.hole_bytes == 0, mine
        assert "shared-extents" in codes, report
    else:
        raise AssertionError(kind)


CASES = {
    "sparse": (build_sparse, {}),
    "preallocated": (build_preallocated, {}),
    "mixed": (build_mixed, {}),
    "small-data": (build_small_data, {"size": "1MiB"}),
    "reflinked": (build_reflinked, {}),
}


FILL_CASES = [(fsname, kind) for fsname in FS_NAMES for kind in CASES if kind != "reflinked" or fsname in REFLINK_FS]


@pytest.mark.parametrize("fsname,kind", FILL_CASES, ids=[f"{f}-{k}" for f, k in FILL_CASES])
def test_prepare_fill_keeps_data_and_zeroes_the_rest(fsname: str, kind: str, filesystems, daemon: Daemon):
    fs = filesystems[fsname]
    build, fields = CASES[kind]
    name = fs.unique(kind)
    path = fs.path(name)
    expected = build(path)
    assert_not_ready_before(kind, fs, path, daemon, fs.api_path(name))

    report = daemon.prepare(fs.api_path(name), **fields)

    target_size = max(len(expected), {"1MiB": MiB}.get(fields.get("size"), 0))
    expected = expected + bytes(target_size - len(expected))
    assert report["ready"] is True and report["reasons"] == [], report
    assert report["size"] == target_size == os.stat(path).st_size
    assert report["bytes"]["hole"] == 0 and report["bytes"]["unwritten"] == 0 and report["bytes"]["shared"] == 0, report
    assert report["holes"] == 0
    diff = first_difference(path, expected)
    assert diff is None, f"content differs from the original data/zeros at byte {diff}"
    mine = layout(path, fs.fstype)
    assert mine.ready, f"our own probe says not ready after prepare: {mine}"
    if kind == "reflinked":
        clone = Path(str(path) + ".clone")
        assert first_difference(clone, expected) is None, "the reflinked copy changed"
        assert layout(path, fs.fstype).shared == 0


def test_prepare_of_ready_file_changes_nothing(fs: Filesystem, daemon: Daemon):
    name = fs.unique("ready")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(os.urandom(4 * MiB))
        f.flush()
        os.fsync(f.fileno())
    first = daemon.inspect(fs.api_path(name))
    assert first["ready"] is True, f"precondition: a written, fsynced file is ready: {first}"
    content = path.read_bytes()
    st_before = os.stat(path)
    extents_before = fiemap(path) if fs.fstype in FIEMAP_FS else None

    report = daemon.prepare(fs.api_path(name))

    assert report["ready"] is True and report["size"] == 4 * MiB, report
    st_after = os.stat(path)
    assert st_after.st_mtime_ns == st_before.st_mtime_ns, "re-prepare of a ready file modified it (mtime changed)"
    assert st_after.st_ctime_ns == st_before.st_ctime_ns, "re-prepare of a ready file changed its inode (ctime changed)"
    assert st_after.st_ino == st_before.st_ino
    if extents_before is not None:
        assert fiemap(path) == extents_before, "re-prepare of a ready file moved its extents"
    assert first_difference(path, content) is None


def test_prepare_wipe_zeroes_everything(fs: Filesystem, daemon: Daemon):
    name = fs.unique("wipe")
    path = fs.path(name)
    size = 6 * MiB
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.pwrite(fd, os.urandom(2 * MiB), 0)
        os.pwrite(fd, os.urandom(1 * MiB), 4 * MiB)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert not all_zero(path), "precondition: the file holds data"
    assert layout(path, fs.fstype).holes >= 1, "precondition: the file has a hole"

    report = daemon.prepare(fs.api_path(name), mode="wipe")

    assert report["ready"] is True, report
    assert report["size"] == size == os.stat(path).st_size
    assert all_zero(path), "wipe left non-zero bytes"
    assert layout(path, fs.fstype).ready


def test_prepare_create_64mib(fs: Filesystem, daemon: Daemon):
    name = fs.unique("create")
    path = fs.path(name)
    assert not path.exists()

    report = daemon.prepare(fs.api_path(name), size="64MiB", create=True)

    assert report["ready"] is True, report
    assert report["size"] == 64 * MiB == os.stat(path).st_size
    assert report["path"] == fs.api_path(name)
    assert report["bytes"]["written"] == 64 * MiB, report
    assert all_zero(path)
    assert layout(path, fs.fstype).ready
    os.unlink(path)


def test_prepare_create_with_integer_size_grows_existing(fs: Filesystem, daemon: Daemon):
    name = fs.unique("grow")
    path = fs.path(name)
    data = os.urandom(MiB + 7)
    path.write_bytes(data)
    report = daemon.prepare(fs.api_path(name), size=3 * MiB, create=True)
    assert report["ready"] is True and report["size"] == 3 * MiB, report
    assert first_difference(path, data + bytes(3 * MiB - len(data))) is None


def test_prepare_create_without_size_keeps_an_existing_file(fs: Filesystem, daemon: Daemon):
    """`create` without a size is fine when the file exists: it is prepared at its size."""
    name = fs.unique("exists")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(b"x" * 4096)
        f.truncate(2 * MiB)
    report = daemon.prepare(fs.api_path(name), create=True)
    assert report["ready"] is True and report["size"] == 2 * MiB, report
    assert first_difference(path, b"x" * 4096 + bytes(2 * MiB - 4096)) is None


@pytest.mark.parametrize(
    "fields,status,code",
    [
        ({"create": True}, 422, "size-required"),
        ({"size": "12XB", "create": True}, 422, "invalid-size"),
        ({"size": "1MiB"}, 404, "not-found"),
    ],
    ids=["create-without-size", "bad-size-suffix", "missing-without-create"],
)
def test_prepare_request_errors(fields, status, code, filesystems, daemon: Daemon):
    fs = filesystems["tmpfs"]
    name = fs.unique("err")
    daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name), **fields}, status=status, code=code)
    assert not fs.path(name).exists(), "a failed prepare created the file"


def test_prepare_refuses_to_truncate(filesystems, daemon: Daemon):
    fs = filesystems["xfs"]
    name = fs.unique("shrink")
    data = os.urandom(2 * MiB)
    fs.path(name).write_bytes(data)
    daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name), "size": "1MiB"}, status=422, code="would-truncate")
    assert fs.path(name).read_bytes() == data


def test_async_prepare_reports_progress(fs: Filesystem, daemon: Daemon):
    name = fs.unique("async")
    path = fs.path(name)
    size = 128 * MiB
    with open(path, "wb") as f:
        f.write(b"head")
        f.truncate(size)
    assert layout(path, fs.fstype).hole_bytes > 0, "precondition: sparse"

    r = daemon.post("/v1/files/prepare", {"path": fs.api_path(name), "async": True})
    assert r.status_code == 202, r.text
    op = r.json()
    assert r.headers["Location"] == f"/v1/operations/{op['id']}"
    assert op["kind"] == "prepare" and op["state"] in ("running", "succeeded"), op
    assert op["path"] == fs.api_path(name)

    final = daemon.wait_operation(op["id"])

    assert final["state"] == "succeeded", final
    assert final["progress"]["total_bytes"] > 0, final
    assert final["progress"]["done_bytes"] == final["progress"]["total_bytes"], final
    assert "finished_at" in final
    assert final["result"]["ready"] is True and final["result"]["size"] == size, final
    assert layout(path, fs.fstype).ready
    with open(path, "rb") as f:
        assert f.read(4) == b"head"
    os.unlink(path)


@pytest.mark.parametrize("fsname", FIEMAP_FS)
def test_cancel_async_prepare(fsname: str, filesystems, daemon: Daemon):
    fs = filesystems[fsname]
    name = fs.unique("cancel")
    path = fs.path(name)
    size = 2 * GiB
    head, tail = os.urandom(MiB), os.urandom(MiB)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.pwrite(fd, head, 0)
        os.pwrite(fd, tail, size - 3 * MiB)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        r = daemon.post("/v1/files/prepare", {"path": fs.api_path(name), "async": True})
        assert r.status_code == 202, r.text
        op = r.json()
        assert op["state"] == "running", f"a 2 GiB prepare should still be running when the 202 arrives: {op}"

        # While it runs, the file is busy.
        daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name)}, status=409, code="busy")

        cancelled = daemon.ok("DELETE", f"/v1/operations/{op['id']}")
        assert cancelled["id"] == op["id"] and cancelled["state"] in ("running", "cancelled"), cancelled
        final = daemon.wait_operation(op["id"], timeout=120)

        assert final["state"] == "cancelled", final
        assert final["progress"]["done_bytes"] < final["progress"]["total_bytes"], final
        assert "finished_at" in final
        # The data that was there is still there, and the file is usable again.
        drop_cache(path)
        with open(path, "rb") as f:
            assert f.read(MiB) == head
            f.seek(size - 3 * MiB)
            assert f.read(MiB) == tail
        report = daemon.inspect(fs.api_path(name))
        assert report["size"] == size
        # Cancelling a finished operation changes nothing.
        again = daemon.ok("DELETE", f"/v1/operations/{op['id']}")
        assert again["state"] == "cancelled"
    finally:
        os.unlink(path)


def test_a_finished_operation_reads_the_same_after_a_restart(filesystems, daemon: Daemon):
    """The result is kept in the state database: after a restart the operation is served again,
    byte for byte, and its result is the file's layout report."""
    fs = filesystems["ext4"]
    name = fs.unique("async-restart")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.write(b"head")
        f.truncate(4 * MiB)
    try:
        r = daemon.post("/v1/files/prepare", {"path": fs.api_path(name), "async": True})
        assert r.status_code == 202, r.text
        op_id = r.json()["id"]
        final = daemon.wait_operation(op_id)
        assert final["state"] == "succeeded", final
        assert final["result"] == daemon.inspect(fs.api_path(name)), final
        before = daemon.get(f"/v1/operations/{op_id}")
        assert before.status_code == 200, before.text

        daemon.restart()

        after = daemon.get(f"/v1/operations/{op_id}")
        assert after.status_code == 200, after.text
        assert after.content == before.content
    finally:
        os.unlink(path)


def test_operation_not_found(daemon: Daemon):
    daemon.problem("GET", "/v1/operations/op_doesnotexist", status=404, code="operation-not-found")
    daemon.problem("DELETE", "/v1/operations/op_doesnotexist", status=404, code="operation-not-found")


def test_prepare_with_writer_present_is_refused(fs: Filesystem, daemon: Daemon):
    from e2e_support import Writer

    name = fs.unique("prep-writer")
    path = fs.path(name)
    with open(path, "wb") as f:
        f.truncate(4 * MiB)
    with Writer(path) as writer:
        problem = daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name)}, status=409, code="writers-present")
        assert writer.pid in problem["pids"], problem
    assert layout(path, fs.fstype).hole_bytes == 4 * MiB, "a refused prepare wrote to the file"
    assert daemon.prepare(fs.api_path(name))["ready"] is True
    os.unlink(path)
