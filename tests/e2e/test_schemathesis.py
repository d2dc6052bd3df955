"""schemathesis against the live daemon with openapi/pinlease.yaml, every check (`--checks all`):
no 5xx, every answer conforms to the spec, schema-invalid requests are refused, and schema-valid
ones are accepted unless the daemon's settings or state refuse them (the refusals of
schemathesis_hooks.STATE_DEPENDENT, each with its reason; an `invalid-body` never is). The daemon
serves a small tmpfs of its own (64 MiB), so generated prepare requests with big sizes run out of
space quickly (507) instead of filling the host."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_support import SPEC_PATH, Daemon, make_tmpfs

MAX_EXAMPLES = int(os.environ.get("PINLEASE_SCHEMATHESIS_EXAMPLES", "50"))


@pytest.fixture(scope="module")
def fuzz_daemon(filesystems, workdir: Path, registry):
    from conftest import make_daemon

    fs = make_tmpfs(registry, workdir / "mnt" / "fuzz", "64m", name="data")
    (fs.mountpoint / "a.bin").write_bytes(os.urandom(1 << 20))
    with open(fs.mountpoint / "sparse.bin", "wb") as f:
        f.truncate(1 << 20)
    (fs.mountpoint / "dir").mkdir()
    (fs.mountpoint / "dir" / "b.bin").write_bytes(b"b" * 8192)
    os.symlink("a.bin", fs.mountpoint / "link.bin")
    d = make_daemon(workdir, registry, "fuzz-daemon", [("data", fs.mountpoint)])
    d.start()
    try:
        yield d
    finally:
        d.stop()
        subprocess.run(["chattr", "-R", "-i", str(fs.mountpoint)], capture_output=True)


def test_schemathesis_no_server_errors_and_conforming_responses(fuzz_daemon: Daemon, workdir: Path):
    report = workdir / "schemathesis-junit.xml"
    # 507 (no-space) is the documented answer when a generated size does not fit the small
    # filesystem: a server-side condition, not a server error.
    config = workdir / "schemathesis.toml"
    config.write_text('[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "507"]\n')
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run", str(SPEC_PATH),
        "--url", fuzz_daemon.url,
        "--header", f"Authorization: Bearer {fuzz_daemon.token}",
        # The event stream stays open until the daemon stops: every call would run into the timeout.
        "--exclude-path", "/v1/events",
        # Every check, with positive_data_acceptance (ST202) replaced by the hooks' version that
        # lets pass only the refusals that depend on settings or state (schemathesis_hooks.py).
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", str(MAX_EXAMPLES),
        "--phases", "examples,coverage,fuzzing,stateful",
        "--workers", "1",
        "--seed", "20260101",
        "--request-timeout", "120",
        "--suppress-health-check", "all",
        "--report", "junit",
        "--report-junit-path", str(report),
    ]
    hooks = Path(__file__).resolve().parent / "schemathesis_hooks.py"
    env = dict(os.environ, NO_COLOR="1", SCHEMATHESIS_TELEMETRY="false", SCHEMATHESIS_HOOKS=str(hooks))
    # cwd: schemathesis and hypothesis keep their databases (.schemathesis/, .hypothesis/) there.
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, stdin=subprocess.DEVNULL, cwd=workdir)
    output = result.stdout + result.stderr
    print(output[-20000:])
    assert "Traceback" not in result.stderr, output[-5000:]
    assert result.returncode == 0, f"schemathesis found problems (exit {result.returncode}):\n{output[-15000:]}"
    # It really exercised the API: every operation was tested.
    import xml.etree.ElementTree as ET

    tested = {case.get("name") for case in ET.parse(report).getroot().iter("testcase")}
    for operation in ("POST /v1/files/inspect", "POST /v1/files/prepare", "POST /v1/files/lock-immutable",
                      "POST /v1/files/unlock", "GET /v1/files", "GET /v1/operations/{id}", "DELETE /v1/operations/{id}",
                      "GET /healthz", "GET /readyz", "GET /v1/status", "GET /v1/events/latest"):
        assert operation in tested, f"{operation} not exercised; tested: {sorted(tested)}"
    assert fuzz_daemon.proc is not None and fuzz_daemon.proc.poll() is None, "the daemon died during the run"
    assert fuzz_daemon.get("/healthz", token=None).status_code == 200


def test_the_hooks_let_pass_only_refusals_of_settings_or_state():
    """The ST202 exclusion is precise: a refusal passes only for its code's reason (and a cursor,
    or a path too long in bytes), never an `invalid-body` or another bad query argument."""
    import json as json_module
    from types import SimpleNamespace

    import schemathesis_hooks as hooks

    def answer(status: int, code: str, **members) -> SimpleNamespace:
        document = {"type": hooks.PROBLEM_BASE + code, "status": status, **members}
        return SimpleNamespace(status_code=status, content=json_module.dumps(document).encode())

    assert hooks.why_state_dependent(answer(422, "unknown-root", path="shm:buf.bin"))
    assert hooks.why_state_dependent(answer(422, "webhook-not-allowed"))
    assert hooks.why_state_dependent(answer(422, "invalid-query", parameter="cursor"))
    assert hooks.why_state_dependent(answer(422, "invalid-path", path="data:" + "é" * 200))
    assert hooks.why_state_dependent(answer(422, "invalid-body", field="size")) is None
    assert hooks.why_state_dependent(answer(422, "invalid-query", parameter="limit")) is None
    assert hooks.why_state_dependent(answer(422, "invalid-query")) is None
    assert hooks.why_state_dependent(answer(422, "invalid-path", path="a\x00b")) is None
    assert hooks.why_state_dependent(answer(422, "invalid-size", field="size")) is None
    assert hooks.why_state_dependent(answer(409, "unknown-root")) is None
