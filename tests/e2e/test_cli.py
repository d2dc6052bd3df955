"""The `pinlease` CLI (issue 10) against a real daemon: every command once, the output formats
(-o json is the API's document, -o id just the id, -o table for people), the documented exit
codes (404, 409, 401, 507, unreachable, usage), TCP and the Unix socket, the token from the
environment and from files (never printed), prepare progress when stderr is not a terminal,
Ctrl-C cancelling a prepare, and `leases revoke --wait`."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import make_daemon, unavailable
from e2e_support import REPO, GiB, MiB, Cleanup, Daemon, Filesystem, daemon_binary, free_port, make_file
from polling import wait_for
from webhook_receiver import WebhookReceiver

BUDGET = 2 * MiB  # a pin of a 4 MiB file is over it: 507


def cli_binary() -> Path:
    return daemon_binary().parent / "pinlease"


def default_sigint() -> None:
    """For a CLI the test interrupts, as a terminal's Ctrl-C would: SIGINT back to its default.
    A test run started in the background by a shell (`make test &`) inherits SIGINT ignored,
    and an ignored SIGINT would never reach the CLI."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def cli_daemon(filesystems, workdir: Path, registry, receiver: WebhookReceiver):
    """A daemon with the generated admin token, a Unix socket, a small pin budget and webhooks to the receiver."""
    if not cli_binary().exists():
        unavailable(f"pinlease not built at {cli_binary()} (run `swift build`)")
    d = make_daemon(
        workdir, registry, "cli",
        [("ext4", filesystems["ext4"].mountpoint), ("tmpfs", filesystems["tmpfs"].mountpoint)],
        extra_args=["--unix", str(workdir / "cli.sock"), "--pin-budget-bytes", str(BUDGET),
                    "--webhook-allow", receiver.url + "/"])
    d.start()
    try:
        yield d
    finally:
        d.stop()



@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The working directory of CLI runs: no ./var/state/admin.token unless a test makes one."""
    return tmp_path


def cli_env(d: Daemon | None, token: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINLEASE_")}
    if d is not None:
        env["PINLEASE_ADDR"] = d.url
        env["PINLEASE_TOKEN"] = token if token is not None else (d.token or "")
    env.update(extra)
    return env


def cli(d: Daemon | None, *args: str, rc: int | None = 0, env: dict[str, str] | None = None,
        cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs pinlease (stdout and stderr are pipes, so the default output is JSON); checks the exit code."""
    result = subprocess.run([str(cli_binary()), *args], capture_output=True, text=True, timeout=timeout,
                            env=env if env is not None else cli_env(d), cwd=cwd, stdin=subprocess.DEVNULL)
    if rc is not None:
        assert result.returncode == rc, (f"pinlease {' '.join(args)} exited {result.returncode}, expected {rc}\n"
                                         f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}")
    for token in (d.token if d is not None else None, (env or {}).get("PINLEASE_TOKEN")):
        if token:
            assert token not in result.stdout + result.stderr, "the token was printed"
    return result


def cli_json(d: Daemon, *args: str) -> Any:
    return json.loads(cli(d, *args, "-o", "json").stdout)


def cli_id(d: Daemon, *args: str) -> str:
    out = cli(d, *args, "-o", "id").stdout
    assert out.endswith("\n") and out.count("\n") == 1, f"-o id printed {out!r}"
    return out.strip()


def locked(d: Daemon, fs: Filesystem, cleanup: Cleanup, stem: str, size: int = MiB) -> str:
    name, path = make_file(fs, stem, size)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((d, api))
    assert cli_id(d, "files", "lock", api) == api
    return api


# -- every command ---------------------------------------------------------------------


def test_every_command(cli_daemon: Daemon, filesystems, cleanup: Cleanup, scratch: Path):
    d, fs = cli_daemon, filesystems["ext4"]
    name, path = make_file(fs, "cli-walk", MiB)
    cleanup.file(path)
    api = fs.api_path(name)

    report = cli_json(d, "files", "inspect", api)
    assert report == d.inspect(api)
    assert report["ready"] is True and report["path"] == api
    table = cli(d, "files", "inspect", api, "-o", "table").stdout
    assert "path:" in table and api in table and "ready:" in table

    prepared = cli_json(d, "files", "prepare", api, "--no-progress")
    assert prepared["path"] == api and prepared["ready"] is True

    cleanup.locks.append((d, api))
    lock = cli_json(d, "files", "lock", api)
    assert lock["path"] == api and lock["immutable"] is True and lock["read_lease"] is True
    assert api in cli(d, "files", "ls", "-o", "id").stdout.split()
    files = cli_json(d, "files", "ls")
    assert any(f["path"] == api for f in files["items"]) and "next_cursor" not in files
    assert cli(d, "files", "ls", "-o", "table").stdout.startswith("PATH")

    pin_id = cli_id(d, "pins", "create", api, "--access", "read", "--longterm", "false")
    cleanup.pins.append((d, pin_id))
    pin = cli_json(d, "pins", "show", pin_id)
    assert pin == {**d.ok("GET", f"/v1/pins/{pin_id}"), "resident_bytes": pin["resident_bytes"]}
    assert pin["path"] == api and pin["length"] == MiB
    pins = cli_json(d, "pins", "ls")
    assert pin_id in [p["id"] for p in pins["items"]] and pins["budget"]["budget_bytes"] == BUDGET
    assert "budget:" in cli(d, "pins", "ls", "-o", "table").stdout

    lease_id = cli_id(d, "leases", "grant", "--pin", pin_id, "--holder", "cli-h1", "--ttl", "60")
    cleanup.leases.append((d, lease_id))
    lease = cli_json(d, "leases", "show", lease_id)
    assert lease["id"] == lease_id and lease["state"] == "active" and lease["holder"] == "cli-h1"
    renewed = cli_json(d, "leases", "renew", lease_id, "--ttl", "120")
    assert renewed["ttl_s"] == 120 and renewed["state"] == "active"
    assert cli(d, "leases", "ls", "--holder", "cli-h1", "--state", "active", "-o", "id").stdout.split() == [lease_id]
    assert cli_json(d, "leases", "deliveries", lease_id)["items"] == []
    table = cli(d, "leases", "ls", "-o", "table").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "PIN", "HOLDER", "STATE"]
    assert any(lease_id in row and " active " in row for row in table), table

    released = cli_json(d, "leases", "release", lease_id)
    assert released["state"] == "released"
    again = cli(d, "leases", "release", lease_id, "-o", "json")
    assert json.loads(again.stdout)["state"] == "released"
    assert "note:" in again.stderr and "already ended" in again.stderr

    assert cli(d, "pins", "rm", pin_id, "-o", "id").stdout.strip() == pin_id
    assert d.get(f"/v1/pins/{pin_id}").status_code == 404
    unlocked = cli_json(d, "files", "unlock", api)
    assert unlocked["path"] == api and unlocked["immutable"] is False
    note = cli(d, "files", "unlock", api, "--if-locked")
    assert note.stdout == "" and "not locked" in note.stderr
    refused = cli(d, "files", "unlock", api, rc=4)
    assert refused.stderr.strip().startswith("File is not locked: "), refused.stderr

    events = [json.loads(line) for line in cli(d, "events", "-o", "json").stdout.splitlines()]
    mine = [e["type"] for e in events if e["data"].get("lease_id") == lease_id]
    assert mine == ["lease.granted", "lease.released"], mine
    last = events[-1]["seq"]
    assert cli(d, "events", "--since", str(last), "-o", "json").stdout == ""
    assert [int(s) for s in cli(d, "events", "--since", str(last - 1), "-o", "id").stdout.split()] == [last]

    status = cli_json(d, "status")
    assert status["health"] == {"status": "ok"} and status["ready"]["status"] == "ready"
    assert [c["name"] for c in status["ready"]["checks"] if not c["ok"]] == []
    assert status["budget"]["budget_bytes"] == BUDGET and isinstance(status["counts"]["files"], int)
    assert "ready.status:" in cli(d, "status", "-o", "table").stdout
    # The client's version is VERSION's first line, as the daemon's (GET /v1/version).
    version = cli_json(d, "version")
    assert version["client"] == (REPO / "VERSION").read_text().splitlines()[0].strip(), version
    assert version["client"] == d.ok("GET", "/v1/version")["version"], version


def test_global_options_before_the_subcommand(cli_daemon: Daemon):
    d = cli_daemon
    out = cli(d, "--addr", d.url, "-o", "json", "status", env=cli_env(None, PINLEASE_TOKEN=d.token)).stdout
    assert json.loads(out)["health"] == {"status": "ok"}


# -- exit codes --------------------------------------------------------------------------


def test_exit_codes(cli_daemon: Daemon, filesystems, cleanup: Cleanup):
    d, fs = cli_daemon, filesystems["ext4"]
    missing = cli(d, "pins", "show", "pin_00000000000000000000000000000000", rc=3)
    assert missing.stdout == "" and missing.stderr.startswith("Pin not found: ") and missing.stderr.count("\n") == 1
    cli(d, "leases", "show", "lease_00000000000000000000000000000000", rc=3)
    cli(d, "ops", "show", "op_nope", rc=3)

    # 409: a file with pins cannot be unlocked.
    api = locked(d, fs, cleanup, "cli-codes")
    pin_id = cli_id(d, "pins", "create", api)
    cleanup.pins.append((d, pin_id))
    busy = cli(d, "files", "unlock", api, rc=4)
    assert busy.stderr.startswith("File has pins: ")

    # 507: over the pin budget.
    big = locked(d, fs, cleanup, "cli-budget", 4 * MiB)
    over = cli(d, "pins", "create", big, rc=6)
    assert over.stderr.startswith("Pin budget exceeded: ")

    # 401: a token the daemon does not know; never echoed.
    bad = cli(d, "pins", "ls", rc=5, env=cli_env(d, token="not-a-valid-token-123456"))
    assert "not-a-valid-token-123456" not in bad.stdout + bad.stderr
    cli(d, "pins", "ls", rc=5, env=cli_env(d, token="not-a-valid-token-123456") | {"PINLEASE_TOKEN": ""})

    # 7: nothing listens there.
    down = cli(None, "status", rc=7, env=cli_env(None, PINLEASE_ADDR=f"http://127.0.0.1:{free_port()}"))
    assert "cannot reach the daemon" in down.stderr
    cli(None, "pins", "ls", rc=7, env=cli_env(None, PINLEASE_ADDR=f"unix:{d.state_dir}/no-such.sock"))

    # 2: usage.
    cli(d, "pins", "frobnicate", rc=2)
    cli(d, "leases", "grant", "--holder", "h", rc=2)  # neither --pin nor a path
    cli(None, "status", rc=2, env=cli_env(None, PINLEASE_ADDR="ftp://x"))
    help_text = cli(None, "--help").stdout
    for line in ("0 ok", "3 not found", "4 conflict", "5 unauthorized", "6 no space", "7 daemon unreachable"):
        assert line in help_text, help_text


def test_verbose_never_prints_the_token(cli_daemon: Daemon):
    d = cli_daemon
    out = cli(d, "-v", "pins", "ls", "-o", "json")  # cli() asserts the token is absent
    assert "GET " in out.stderr and "/v1/pins" in out.stderr


# -- address and token sources -----------------------------------------------------------


def test_unix_socket_and_token_sources(cli_daemon: Daemon, workdir: Path, scratch: Path):
    d = cli_daemon
    token_file = d.state_dir / "admin.token"
    unix = f"unix:{workdir / 'cli.sock'}"
    socket_env = cli_env(None, PINLEASE_ADDR=unix, PINLEASE_TOKEN=d.token)
    via_socket = json.loads(cli(d, "pins", "ls", "-o", "json", env=socket_env).stdout)
    assert via_socket["budget"]["budget_bytes"] == BUDGET
    cli(d, "pins", "ls", "--token-file", str(token_file), env=cli_env(None, PINLEASE_ADDR=unix))
    cli(d, "pins", "ls", env=cli_env(None, PINLEASE_ADDR=d.url, PINLEASE_TOKEN_FILE=str(token_file)))
    cli(d, "pins", "ls", "--token-file", str(scratch / "absent"), rc=1, env=cli_env(None, PINLEASE_ADDR=d.url))
    # Without any token: 401, unless ./var/state/admin.token (the daemon's default state dir) is readable.
    cli(d, "pins", "ls", rc=5, cwd=scratch, env=cli_env(None, PINLEASE_ADDR=d.url))
    (scratch / "var").mkdir()
    (scratch / "var" / "state").symlink_to(d.state_dir)
    cli(d, "pins", "ls", cwd=scratch, env=cli_env(None, PINLEASE_ADDR=d.url))


# -- long work ----------------------------------------------------------------------------


def sparse_file(fs: Filesystem, cleanup: Cleanup, stem: str, size: int) -> tuple[str, Path]:
    """A file with data at both ends and a hole between: not ready until prepared."""
    name = fs.unique(stem)
    path = cleanup.file(fs.path(name))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.pwrite(fd, os.urandom(MiB), 0)
        os.pwrite(fd, os.urandom(MiB), size - MiB)
        os.fsync(fd)
    finally:
        os.close(fd)
    return fs.api_path(name), path


def test_prepare_reports_progress_lines_without_a_terminal(cli_daemon: Daemon, filesystems, cleanup: Cleanup):
    d, fs = cli_daemon, filesystems["ext4"]
    api, _ = sparse_file(fs, cleanup, "cli-progress", 64 * MiB)
    assert d.inspect(api)["ready"] is False
    result = cli(d, "files", "prepare", api, "-o", "json")
    report = json.loads(result.stdout)
    assert report["path"] == api and report["ready"] is True
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"prepare {api}: operation op_") and lines[0].endswith(" started"), lines
    # The total is the bytes the prepare writes (the hole between the two MiB of data).
    assert lines[-1].startswith(f"prepare {api}: 62.0 MiB / 62.0 MiB (100%), "), lines
    assert "\r" not in result.stderr and "\x1b" not in result.stderr

    api2, _ = sparse_file(fs, cleanup, "cli-quiet", 8 * MiB)
    quiet = cli(d, "files", "prepare", api2, "--no-progress", "-o", "id")
    assert quiet.stdout.strip() == api2 and quiet.stderr == ""

    api3, _ = sparse_file(fs, cleanup, "cli-detach", 8 * MiB)
    op_id = cli_id(d, "files", "prepare", api3, "--detach")
    final = cli_json(d, "ops", "wait", op_id, "--no-progress")
    assert final["id"] == op_id and final["state"] == "succeeded" and final["result"]["ready"] is True
    assert cli_json(d, "ops", "show", op_id)["state"] == "succeeded"
    assert cli_json(d, "ops", "cancel", op_id)["state"] == "succeeded"  # a finished operation stays as it is


def test_ctrl_c_cancels_the_prepare(cli_daemon: Daemon, filesystems, cleanup: Cleanup):
    d, fs = cli_daemon, filesystems["ext4"]
    api, _ = sparse_file(fs, cleanup, "cli-cancel", 2 * GiB)
    proc = subprocess.Popen([str(cli_binary()), "files", "prepare", api, "--mode", "wipe", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(d),
                            stdin=subprocess.DEVNULL, preexec_fn=default_sigint)
    try:
        first = proc.stderr.readline()  # written right after the 202
        assert first.startswith(f"prepare {api}: operation op_"), first
        op_id = first.split("operation ", 1)[1].split()[0]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, err)
    assert f"cancelling operation {op_id}" in err and out == ""
    final = d.wait_operation(op_id, timeout=120)
    assert final["state"] == "cancelled", final


def test_revoke_wait(cli_daemon: Daemon, filesystems, cleanup: Cleanup, receiver: WebhookReceiver):
    d, fs = cli_daemon, filesystems["tmpfs"]
    api = locked(d, fs, cleanup, "cli-revoke")
    pin_id = cli_id(d, "pins", "create", api)
    cleanup.pins.append((d, pin_id))

    # The holder does not release: the daemon revokes at the deadline.
    granted = cli_json(d, "leases", "grant", "--pin", pin_id, "--holder", "cli-h2", "--ttl", "60", "--grace", "1",
                       "--webhook", receiver.url + "/cli")
    lease_id = granted["id"]
    cleanup.leases.append((d, lease_id))
    receiver.secrets[lease_id] = granted["webhook_secret"]
    first_id = lease_id
    result = cli(d, "leases", "revoke", lease_id, "--wait", "-o", "json")
    assert json.loads(result.stdout)["state"] == "revoked"
    assert f"lease {lease_id} ended: revoked" in result.stderr

    # The webhook log, and a redelivery of one of its messages.
    deliveries = wait_for("a webhook delivery to be logged",
                          lambda: cli_json(d, "leases", "deliveries", lease_id)["items"], timeout=60)
    webhook_id = deliveries[0]["webhook_id"]
    assert webhook_id in cli(d, "leases", "deliveries", lease_id, "-o", "id").stdout.split()
    message = cli_json(d, "leases", "redeliver", lease_id, webhook_id)
    assert message["webhook_id"] == webhook_id and message["lease_id"] == lease_id

    # A lease on a path pins for itself (auto_pin), and the pin goes with the lease.
    auto = cli_json(d, "leases", "grant", api, "--holder", "cli-h2", "--ttl", "60", "--length", "4096")
    cleanup.leases.append((d, auto["id"]))
    assert auto["auto_pin"] is True and cli_json(d, "pins", "show", auto["pin_id"])["length"] == 4096
    assert cli_json(d, "leases", "release", auto["id"])["state"] == "released"
    wait_for("the lease's own pin to go after its release",
             lambda: cli(d, "pins", "show", auto["pin_id"], rc=None).returncode == 3, timeout=60)

    # The holder releases while the CLI waits.
    lease_id = cli_id(d, "leases", "grant", "--pin", pin_id, "--holder", "cli-h2", "--ttl", "60", "--grace", "600")
    cleanup.leases.append((d, lease_id))
    proc = subprocess.Popen([str(cli_binary()), "leases", "revoke", lease_id, "--wait", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(d),
                            stdin=subprocess.DEVNULL)
    try:
        def revoking() -> bool:
            assert proc.poll() is None, "the CLI exited before the lease started revoking"
            return d.ok("GET", f"/v1/leases/{lease_id}")["state"] == "revoking"
        wait_for("the lease to start revoking", revoking, timeout=60)
        assert cli_json(d, "leases", "release", lease_id)["state"] == "released"
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert json.loads(out)["state"] == "released" and f"lease {lease_id} ended: released by its holder" in err

    # Paged lists are followed to the end.
    every = cli(d, "leases", "ls", "--holder", "cli-h2", "-o", "id").stdout.split()
    assert len(every) == 3, every
    assert cli(d, "leases", "ls", "--holder", "cli-h2", "--page-size", "1", "-o", "id").stdout.split() == every
    paged = cli_json(d, "leases", "ls", "--page-size", "1")
    assert len(paged["items"]) >= 2 and "next_cursor" not in paged
    all_deliveries = cli(d, "leases", "deliveries", first_id, "-o", "id").stdout.split()
    assert cli(d, "leases", "deliveries", first_id, "--page-size", "1", "-o", "id").stdout.split() == all_deliveries


def test_events_follow(cli_daemon: Daemon, filesystems, cleanup: Cleanup):
    d, fs = cli_daemon, filesystems["tmpfs"]
    api = locked(d, fs, cleanup, "cli-events")
    pin_id = cli_id(d, "pins", "create", api)
    cleanup.pins.append((d, pin_id))
    seqs = cli(d, "events", "-o", "id").stdout.split()
    since = seqs[-1] if seqs else "0"
    proc = subprocess.Popen([str(cli_binary()), "events", "--follow", "--since", since, "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(d), stdin=subprocess.DEVNULL,
                            preexec_fn=default_sigint)
    try:
        lease_id = cli_id(d, "leases", "grant", "--pin", pin_id, "--holder", "cli-h3", "--ttl", "60")
        cleanup.leases.append((d, lease_id))
        assert cli_json(d, "leases", "release", lease_id)["state"] == "released"
        seen: list[dict] = []
        buffer = b""
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 60
        while [e["type"] for e in seen if e["data"].get("lease_id") == lease_id] != ["lease.granted", "lease.released"]:
            assert time.monotonic() < deadline, f"events seen: {seen}"
            assert proc.poll() is None, proc.stderr.read()
            if selector.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 65536)
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                seen += [json.loads(line) for line in lines]
        assert all(e["seq"] > int(since) for e in seen)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_holder_token(filesystems, workdir: Path, extra_daemon):
    """A holder token: 403 (exit 5) where only admins may go; its own leases and events work."""
    tokens = workdir / "cli-tokens.json"
    admin, holder = "cli-admin-token-0123456789", "cli-holder-token-0123456789"
    tokens.write_text(json.dumps({"tokens": [{"token": admin, "role": "admin"},
                                             {"token": holder, "role": "holder", "holder": "cli-h9"}]}))
    d = extra_daemon("cli-holder", [("tmpfs", filesystems["tmpfs"].mountpoint)], tokens_file=tokens)
    d.token = admin
    env = cli_env(d, token=holder)
    forbidden = cli(d, "files", "ls", rc=5, env=env)
    assert forbidden.stderr.startswith("Not allowed for this token: ") and forbidden.stderr.count("\n") == 1
    assert json.loads(cli(d, "leases", "ls", "-o", "json", env=env).stdout)["items"] == []
    assert cli(d, "events", "-o", "json", env=env).stdout == ""
    status = json.loads(cli(d, "status", "-o", "json", env=env).stdout)
    assert status["ready"]["status"] == "ready" and status["counts"].startswith("Not allowed for this token: ")
