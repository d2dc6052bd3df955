"""A lease transition that cannot be made durable because the state filesystem is full
(issue 8, crash consistency): the caller gets 507 `no-space`, the daemon keeps serving, no
lease is shown that was not acknowledged, and once there is space again grants succeed,
without a restart. Before the fix the daemon stopped (exit 70) at the first failed commit,
and a restart on the still-full disk could not start."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from e2e_support import FS_NAMES, PROBLEM_BASE, Cleanup, Daemon, make_file, make_tmpfs

MAX_GRANTS = 20_000


def fill(directory: Path) -> Path:
    """Writes a file until the filesystem has no space left; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512):
            try:
                while True:
                    os.write(fd, b"\xff" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_state_disk_answers_507_keeps_serving_and_recovers(filesystems, workdir: Path, registry):
    state_fs = make_tmpfs(registry, workdir / "mnt" / "state-full", "4m", name="state-full")
    d = Daemon(roots=[(name, filesystems[name].mountpoint) for name in FS_NAMES], state_dir=state_fs.mountpoint / "state",
               log_path=workdir / "state-full.log", registry=registry)
    d.start()
    cleanup = Cleanup()
    try:
        name, path = make_file(filesystems["tmpfs"], "state-full")
        cleanup.file(path)
        api = filesystems["tmpfs"].api_path(name)
        cleanup.locks.append((d, api))
        d.lock(api)
        pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
        cleanup.pins.append((d, pin["id"]))
        filler = fill(state_fs.mountpoint)

        granted: list[str] = []
        refused = None
        for _ in range(MAX_GRANTS):
            r = d.post("/v1/leases", {"pin_id": pin["id"], "holder": "h", "ttl_s": 3600})
            if r.status_code == 201:
                granted.append(r.json()["id"])
                continue
            refused = r
            break
        assert refused is not None, f"{len(granted)} grants fit on a full 4 MiB state filesystem"
        assert refused.status_code == 507, refused.text
        assert refused.json()["type"] == PROBLEM_BASE + "no-space", refused.text
        assert d.proc is not None and d.proc.poll() is None, f"pinleased exited:\n{d.log_tail()}"

        # Reads are still served, and show exactly the acknowledged leases.
        assert requests.get(d.url + "/healthz", timeout=30).status_code == 200
        listed = {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}&state=active")["items"]}
        assert listed == set(granted), f"shown but not acknowledged: {sorted(listed - set(granted))[:5]}"

        # A restart on the still-full disk starts (no crash loop) and shows the same leases.
        d.restart()
        listed = {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}&state=active")["items"]}
        assert listed == set(granted)
        # (A clean stop checkpoints the write-ahead log, which may give some space back.)
        r = d.post("/v1/leases", {"pin_id": pin["id"], "holder": "h", "ttl_s": 3600})
        assert r.status_code in (201, 507), r.text
        if r.status_code == 201:
            granted.append(r.json()["id"])

        # Space is back: the next grant succeeds, without a restart.
        filler.unlink()
        os.sync()
        after = d.ok("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h", "ttl_s": 3600}, status=201)
        granted.append(after["id"])

        # Every acknowledged lease is durable.
        d.restart()
        listed = {lease["id"] for lease in d.ok("GET", f"/v1/leases?pin_id={pin['id']}&state=active")["items"]}
        assert listed == set(granted)
        for lease_id in granted:
            cleanup.leases.append((d, lease_id))
    finally:
        cleanup.run()
        d.stop()
