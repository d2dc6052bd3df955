"""The audit racing unlock and re-lock (issue 8, item 3): with an audit every 10 ms, a file is
locked, pinned, leased, released, unpinned and unlocked over and over. The unlock clears the
flag and drops the read lease itself, and the next lock is a new generation: no audit verdict
read about one generation may land on another. Before the fix this raised false
`file.violation` events, refused the next pin or grant, revoked legitimate leases, and left
files `violated` across a restart."""

from __future__ import annotations

import pytest

from conftest import make_daemon
from e2e_support import FS_NAMES, Cleanup, make_file

CYCLES = 150


@pytest.mark.parametrize("fsname", ["xfs", "tmpfs"])
def test_unlock_and_relock_under_a_10ms_audit_raise_no_false_violation(filesystems, workdir, registry, fsname):
    d = make_daemon(workdir, registry, f"audit-race-{fsname}", [(name, filesystems[name].mountpoint) for name in FS_NAMES],
                    extra_args=["--audit-interval-ms", "10"])
    d.start()
    cleanup = Cleanup()
    try:
        fs = filesystems[fsname]
        name, path = make_file(fs, "audit-race")
        cleanup.file(path)
        api = fs.api_path(name)
        cleanup.locks.append((d, api))
        # A file that stays locked and leased all along: its lease must survive untouched.
        steady_name, steady_path = make_file(fs, "audit-steady")
        cleanup.file(steady_path)
        steady_api = fs.api_path(steady_name)
        cleanup.locks.append((d, steady_api))
        d.lock(steady_api)
        steady = d.ok("POST", "/v1/leases", {"path": steady_api, "access": "read", "holder": "steady", "ttl_s": 3600}, status=201)
        cleanup.leases.append((d, steady["id"]))

        for cycle in range(CYCLES):
            d.lock(api)
            pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
            lease = d.ok("POST", "/v1/leases", {"pin_id": pin["id"], "holder": "h", "ttl_s": 600}, status=201)
            released = d.ok("POST", f"/v1/leases/{lease['id']}/release")
            assert released["state"] == "released" and "reason" not in released, f"cycle {cycle}: {released}"
            d.request("DELETE", f"/v1/pins/{pin['id']}")
            d.unlock(api)

        assert d.ok("GET", f"/v1/leases/{steady['id']}")["state"] == "active"
        violated = [f for f in d.files() if f["state"] != "locked"]
        assert not violated, f"files not plainly locked: {violated}"
        log = d.log_path.read_text(errors="replace")
        assert "violation on locked" not in log, "a false violation was recorded:\n" + "\n".join(
            line for line in log.splitlines() if "violation" in line)[:3000]

        d.restart()
        assert [f["state"] for f in d.files()] == ["locked"], d.files()
    finally:
        cleanup.run()
        d.stop()
