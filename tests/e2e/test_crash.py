"""Crash consistency, the short variant of bench/crash.sh: a few SIGKILL trials of a mixed
workload on xfs and ext4, each followed by a restart on the same state directory and the
same checks (bench/crash_trials.py: the API against what clients were told, lsattr,
filefrag/xfs_bmap, VmLck). The seed is printed; CRASH_SEED=N reproduces a run."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import REPO, MiB, daemon_binary, run

sys.path.insert(0, str(REPO / "bench"))
import crash_trials  # noqa: E402

TRIALS = int(os.environ.get("CRASH_TRIALS", "8"))


def test_checks_see_holes_unwritten_extents_and_flags(filesystems):
    """The outside checks the trials rely on do report what they look for."""
    for name in ("xfs", "ext4"):
        fs = filesystems[name]
        holey, unwritten, full = (fs.path(fs.unique(stem)) for stem in ("crash-holey", "crash-unwritten", "crash-full"))
        try:
            with open(holey, "wb") as f:
                f.truncate(2 * MiB)
                f.seek(MiB)
                f.write(os.urandom(64 * 1024))
            run(["fallocate", "-l", str(MiB), str(unwritten)])
            full.write_bytes(os.urandom(MiB))
            os.sync()
            assert any(p.startswith("hole") for p in crash_trials.layout_problems(holey, name)), name
            assert any(p.startswith("unwritten") for p in crash_trials.layout_problems(unwritten, name)), name
            assert crash_trials.layout_problems(full, name) == [], name
            run(["chattr", "+i", str(full)])
            assert crash_trials.immutable_files([holey, full]) == {full}
        finally:
            for p in (holey, unwritten, full):
                subprocess.run(["chattr", "-i", str(p)], capture_output=True)
                p.unlink(missing_ok=True)


def test_sigkill_at_random_moments_loses_nothing_acknowledged(filesystems, workdir: Path, registry):
    if not daemon_binary().exists():
        pytest.skip(f"pinleased not built at {daemon_binary()}")
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"crash trials seed {seed} (CRASH_SEED={seed} reproduces)")
    base = workdir / f"crash-{seed}"
    base.mkdir()
    roots = [crash_trials.Root(name, filesystems[name].mountpoint, name) for name in ("xfs", "ext4")]
    trials = crash_trials.CrashTrials(
        daemon_binary(), roots, base / "state", base / "pinleased.log", seed, clients=3, kill_after=(0.0, 1.0))
    files = [f.path for c in trials.clients for f in c.files]
    try:
        summary = trials.run(TRIALS)
        # Beyond the violation counts: the workload did reach the daemon's durable paths.
        assert sum(summary.operations.values()) > 0, summary.table()
    finally:
        trials.close()
        if trials.daemon.proc is not None and trials.daemon.proc.poll() is None:
            trials.daemon.proc.kill()
        for path in files:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
            path.unlink(missing_ok=True)
    print(summary.table())
    assert summary.trials == TRIALS
    assert summary.total_violations == 0, f"seed {seed}:\n{summary.table()}\n" + "\n".join(summary.examples) + (
        f"\nlog: {base / 'pinleased.log'}")
