"""Session fixtures: loop-mounted ext4, xfs (reflink) and btrfs images, a tmpfs, and the real
pinleased serving all four as roots named after their filesystem.

Runs as root. Outside CI a missing prerequisite (not root, no loop devices, no mkfs, no
daemon binary) skips the tests that need it, with the reason; with CI=true it fails them."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from e2e_support import (
    FS_NAMES,
    GiB,
    IN_CI,
    Cleanup,
    Daemon,
    Filesystem,
    MountRegistry,
    daemon_binary,
    make_loop_filesystem,
    make_tmpfs,
    missing_prerequisites,
)

from webhook_receiver import WebhookReceiver

IMAGE_SIZE = 4 * GiB  # sparse images; big enough for the 2 GiB cancel test
TMPFS_SIZE = "1g"


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere (with the reason printed by -ra)."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


_registries: list[MountRegistry] = []


@atexit.register
def _cleanup_everything() -> None:
    for reg in _registries:
        reg.cleanup()


@pytest.fixture(scope="session")
def registry():
    reg = MountRegistry()
    _registries.append(reg)
    try:
        yield reg
    finally:
        problems = reg.cleanup()
        if problems:
            print("\ncleanup problems:\n  " + "\n  ".join(problems))


@pytest.fixture(scope="session")
def workdir(registry: MountRegistry) -> Path:
    base = Path(tempfile.mkdtemp(prefix="pinlease-e2e-"))
    registry.dirs.append(base)
    return base


@pytest.fixture(scope="session")
def filesystems(registry: MountRegistry, workdir: Path) -> dict[str, Filesystem]:
    missing = missing_prerequisites()
    if missing:
        unavailable("; ".join(missing))
    result: dict[str, Filesystem] = {}
    try:
        for fstype in ("ext4", "xfs", "btrfs"):
            result[fstype] = make_loop_filesystem(registry, workdir, fstype, IMAGE_SIZE)
        result["tmpfs"] = make_tmpfs(registry, workdir / "mnt" / "tmpfs", TMPFS_SIZE)
    except Exception as e:  # noqa: BLE001 - any setup failure is a missing prerequisite
        registry.cleanup()
        unavailable(f"could not set up loop-mounted filesystems: {e}")
    for fs in result.values():
        assert os.path.ismount(fs.mountpoint), f"{fs.mountpoint} is not a mount point"
    return result


def require_binary() -> None:
    binary = daemon_binary()
    if not binary.exists():
        unavailable(f"pinleased not built at {binary} (run `swift build` or set PINLEASED_BIN)")


@pytest.fixture(scope="session")
def daemon(filesystems: dict[str, Filesystem], workdir: Path, registry: MountRegistry):
    require_binary()
    d = Daemon(
        roots=[(name, filesystems[name].mountpoint) for name in FS_NAMES],
        state_dir=workdir / "state",
        log_path=workdir / "pinleased.log",
        registry=registry,
    )
    d.start()
    _daemons.append(d)
    try:
        yield d
    finally:
        code = d.stop()
        if code not in (0, None):
            print(f"\npinleased exited with {code} on SIGTERM\n{d.log_tail()}")


@pytest.fixture(params=FS_NAMES)
def fs(request, filesystems: dict[str, Filesystem]) -> Filesystem:
    return filesystems[request.param]


def make_daemon(workdir: Path, registry: MountRegistry, name: str, roots, **kw) -> Daemon:
    """An extra daemon (own state dir and log) for tests that need other flags."""
    require_binary()
    base = workdir / name
    base.mkdir(parents=True, exist_ok=True)
    return Daemon(roots=roots, state_dir=base / "state", log_path=base / "pinleased.log", registry=registry, **kw)


@pytest.fixture
def extra_daemon(workdir: Path, registry: MountRegistry):
    """Factory for extra daemons, stopped at the end of the test."""
    started: list[Daemon] = []

    def factory(name: str, roots, start: bool = True, **kw) -> Daemon:
        d = make_daemon(workdir, registry, name, roots, **kw)
        if start:
            d.start()
        started.append(d)
        _daemons.append(d)
        return d

    yield factory
    for d in started:
        d.stop()


@pytest.fixture
def cleanup():
    """What a test made (leases, pins, locks, files), undone at its end, also on failure. A module
    whose cleanup must run before a function-scoped daemon stops defines its own."""
    c = Cleanup()
    try:
        yield c
    finally:
        c.run()


_daemons: list[Daemon] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for d in _daemons:
            report.sections.append((f"pinleased log tail ({d.log_path})", d.log_tail(30)))


def pytest_report_header(config) -> list[str]:
    return [f"pinleased: {daemon_binary()}", f"CI: {IN_CI}"]


@pytest.fixture(scope="module")
def receiver():
    """A webhook receiver on the loopback, one per test module."""
    r = WebhookReceiver()
    try:
        yield r
    finally:
        r.close()
