"""Every way out of a root, and every non-regular file, is refused with its own problem type,
on every filesystem, and nothing is created or changed outside the root."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from e2e_support import Daemon, Filesystem, run

ENDPOINTS = ("/v1/files/inspect", "/v1/files/prepare", "/v1/files/lock-immutable", "/v1/files/unlock")


@pytest.fixture
def tree(fs: Filesystem, workdir: Path):
    """A small tree of traps under the root, removed afterwards."""
    base = fs.unique("trap", "")
    root = fs.path(base)
    (root / "real").mkdir(parents=True)
    (root / "real" / "f.bin").write_bytes(b"x" * 8192)
    os.symlink("real", root / "linkdir")
    os.symlink("real/f.bin", root / "link.bin")
    os.symlink("/etc/passwd", root / "passwd-link")
    (root / "dir").mkdir()
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "sock"))
    outside = workdir / f"outside-{base}"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"s" * 8192)
    mounts = []
    try:
        (root / "nested").mkdir()
        run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root / "nested")])
        mounts.append(root / "nested")
        (root / "nested" / "f.bin").write_bytes(b"n" * 8192)
        (root / "bound").mkdir()
        run(["mount", "--bind", str(root / "real"), str(root / "bound")])
        mounts.append(root / "bound")
        yield base, root, outside
    finally:
        sock.close()
        for m in reversed(mounts):
            subprocess.run(["umount", str(m)], check=False)
        run(["rm", "-rf", str(root), str(outside)], check=False)


CASES = [
    # (relative path under the trap dir or literal, expected status, problem code)
    ("{base}/../../x.bin", 422, "path-traversal"),
    ("{base}/real/../../../etc/passwd", 422, "path-traversal"),
    ("../x.bin", 422, "path-traversal"),
    ("/etc/passwd", 422, "absolute-path"),
    ("{base}/linkdir/f.bin", 422, "symlink-in-path"),
    ("{base}/link.bin", 422, "symlink-in-path"),
    ("{base}/passwd-link", 422, "symlink-in-path"),
    ("{base}/dir", 422, "is-a-directory"),
    ("{base}/fifo", 422, "is-a-fifo"),
    ("{base}/null", 422, "is-a-device"),
    ("{base}/sock", 422, "is-a-socket"),
    ("{base}/nested/f.bin", 422, "crosses-mount"),
    ("{base}/bound/f.bin", 422, "crosses-mount"),
    ("{base}/missing.bin", 404, "not-found"),
]


@pytest.mark.parametrize("template,status,code", CASES, ids=[c[2] + ":" + c[0].replace("{base}/", "") for c in CASES])
def test_inspect_confinement(template, status, code, fs: Filesystem, daemon: Daemon, tree):
    base, root, _ = tree
    relative = template.format(base=base)
    path = relative if relative.startswith("/") else fs.api_path(relative)
    problem = daemon.problem("POST", "/v1/files/inspect", {"path": path}, status=status, code=code, timeout=30)
    assert problem["detail"], problem


def test_unknown_root(daemon: Daemon):
    daemon.problem("POST", "/v1/files/inspect", {"path": "nope:a.bin"}, status=422, code="unknown-root")


@pytest.mark.parametrize("path", ["", "ext4:", "a\u0000b.bin"], ids=["empty", "root-only", "nul-byte"])
def test_invalid_path(path, daemon: Daemon):
    problem = daemon.problem("POST", "/v1/files/inspect", {"path": path}, status=422)
    assert problem["type"].rsplit("/", 1)[1] in ("invalid-path", "invalid-body", "is-a-directory"), problem


@pytest.mark.parametrize(
    "path",
    ["a" * 256 + ".bin", "x/" * 2100 + "f.bin"],
    ids=["name-longer-than-name-max", "longer-than-path-max"],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_too_long_path_is_invalid_path(path, endpoint, daemon: Daemon):
    body = {"path": path, **({"size": 4096, "create": True} if endpoint.endswith("prepare") else {})}
    problem = daemon.problem("POST", endpoint, body, timeout=30)
    assert (problem["status"], problem["type"]) == (422, "https://pinlease.dev/problems/invalid-path"), problem


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_is_confined(endpoint, filesystems, daemon: Daemon, tree_on_ext4):
    base, root, outside = tree_on_ext4
    body_extra = {"size": 8192, "create": True} if endpoint.endswith("prepare") else {}
    for relative, code in (
        (f"{base}/linkdir/new.bin", "symlink-in-path"),
        (f"{base}/../../escape.bin", "path-traversal"),
        (f"{base}/fifo", "is-a-fifo"),
        (f"{base}/passwd-link", "symlink-in-path"),
    ):
        daemon.problem("POST", endpoint, {"path": f"ext4:{relative}", **body_extra}, status=422, code=code, timeout=30)
    assert not (root / "real" / "new.bin").exists(), "prepare create followed a symlinked directory"
    assert not (root.parent.parent / "escape.bin").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.bin"]


def test_prepare_create_through_symlink_to_outside(filesystems, daemon: Daemon, tree_on_ext4):
    base, root, outside = tree_on_ext4
    os.symlink(outside, root / "out-link")
    daemon.problem(
        "POST", "/v1/files/prepare", {"path": f"ext4:{base}/out-link/created.bin", "size": 4096, "create": True},
        status=422, code="symlink-in-path",
    )
    assert not (outside / "created.bin").exists()
    daemon.problem(
        "POST", "/v1/files/prepare", {"path": f"ext4:{base}/out-link/secret.bin", "size": 1 << 20},
        status=422, code="symlink-in-path",
    )
    assert (outside / "secret.bin").stat().st_size == 8192


@pytest.fixture
def tree_on_ext4(filesystems, workdir: Path):
    fs = filesystems["ext4"]
    base = fs.unique("trap", "")
    root = fs.path(base)
    (root / "real").mkdir(parents=True)
    os.symlink("real", root / "linkdir")
    os.symlink("/etc/passwd", root / "passwd-link")
    os.mkfifo(root / "fifo")
    outside = workdir / f"outside-{base}"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"s" * 8192)
    try:
        yield base, root, outside
    finally:
        run(["rm", "-rf", str(root), str(outside)], check=False)
