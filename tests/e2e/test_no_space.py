"""A prepare that cannot fit: 507 no-space, and the filesystem and the file are left as they
were (a failed prepare must not fill the filesystem nor grow the file). Runs on small
filesystems of its own so that a daemon that does fill them harms nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e_support import MiB, Filesystem, make_loop_filesystem, make_tmpfs


@pytest.fixture(scope="module")
def small(filesystems, workdir: Path, registry):
    from conftest import make_daemon

    base = workdir / "small"
    base.mkdir()
    fss = {
        "tmpfs": make_tmpfs(registry, base / "mnt" / "small-tmpfs", "64m", name="small-tmpfs"),
        "xfs": make_loop_filesystem(registry, base, "xfs", 320 * MiB, name="small-xfs"),
    }
    d = make_daemon(workdir, registry, "small-daemon", [(fs.name, fs.mountpoint) for fs in fss.values()])
    d.start()
    try:
        yield d, fss
    finally:
        d.stop()


def free_bytes(fs: Filesystem) -> int:
    st = os.statvfs(fs.mountpoint)
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize("fsname", ["tmpfs", "xfs"])
def test_prepare_that_cannot_fit_changes_nothing(fsname, small):
    daemon, fss = small
    fs = fss[fsname]
    name = fs.unique("nospace-existing")
    data = os.urandom(8192)
    fs.path(name).write_bytes(data)
    os.sync()
    free_before = free_bytes(fs)
    assert free_before < 1 << 30, "precondition: the filesystem is smaller than the request"

    try:
        daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name), "size": "1GiB"}, status=507, code="no-space")

        assert os.stat(fs.path(name)).st_size == len(data), "a failed prepare grew the file"
        assert fs.path(name).read_bytes() == data
        os.sync()
        assert free_bytes(fs) >= free_before - 4 * MiB, f"a failed prepare used {(free_before - free_bytes(fs)) // MiB} MiB"
    finally:
        fs.path(name).unlink()


@pytest.mark.parametrize("fsname", ["tmpfs", "xfs"])
def test_create_that_cannot_fit_leaves_nothing(fsname, small):
    daemon, fss = small
    fs = fss[fsname]
    name = fs.unique("nospace-create")
    os.sync()
    free_before = free_bytes(fs)

    try:
        daemon.problem("POST", "/v1/files/prepare", {"path": fs.api_path(name), "size": "2GiB", "create": True}, status=507, code="no-space")

        os.sync()
        assert free_bytes(fs) >= free_before - 4 * MiB, f"a failed create used {(free_before - free_bytes(fs)) // MiB} MiB"
        assert not fs.path(name).exists(), f"a failed create left {fs.path(name)} ({os.stat(fs.path(name)).st_size} bytes)"
    finally:
        if fs.path(name).exists():
            fs.path(name).unlink()
    # The filesystem is still usable for a prepare that fits.
    ok = fs.unique("fits")
    report = daemon.prepare(fs.api_path(ok), size="8MiB", create=True)
    assert report["ready"] is True
    fs.path(ok).unlink()


def test_async_prepare_that_cannot_fit_fails_with_no_space(small):
    daemon, fss = small
    fs = fss["tmpfs"]
    name = fs.unique("nospace-async")
    r = daemon.post("/v1/files/prepare", {"path": fs.api_path(name), "size": "1GiB", "create": True, "async": True})
    if r.status_code == 507:  # refused up front: also right
        assert r.json()["type"].endswith("/no-space")
        return
    assert r.status_code == 202, r.text
    final = daemon.wait_operation(r.json()["id"])
    assert final["state"] == "failed", final
    assert final["error"]["type"].endswith("/no-space"), final
    if fs.path(name).exists():
        fs.path(name).unlink()
