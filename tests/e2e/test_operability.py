"""Version, structured logs and readiness (issue 11): `pinleased --version`, `GET /v1/version`
and `pinlease version` agree; `--log-format json` writes one valid JSON object per line with
the request id every response carries in `X-Request-Id`, escapes control characters and never
logs a token; `/readyz` lists its checks and answers 503 naming the one that failed, for a
root moved or covered by a mount under the daemon and for a full state filesystem."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from e2e_support import PROBLEM_BASE, SPEC_PATH, Daemon, daemon_binary, run
from polling import wait_for
from test_enospc import fill, full_state  # noqa: F401 - full_state is a fixture used below

REPO = Path(__file__).resolve().parents[2]
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def version_file() -> str:
    return (REPO / "VERSION").read_text().splitlines()[0].strip()


def test_version_agrees_across_daemon_flag_api_and_cli(daemon: Daemon):
    api = daemon.ok("GET", "/v1/version")
    assert set(api) == {"version", "commit", "build_date", "swift_version", "kernel"}, api
    assert api["version"] == version_file()
    assert api["kernel"] == os.uname().release
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", api["commit"]), api
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|unknown", api["build_date"]), api
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", api["swift_version"]), api
    # The API document's version is the package's too.
    assert str(yaml.safe_load(SPEC_PATH.read_text())["info"]["version"]) == api["version"]
    daemon.problem("GET", "/v1/version", token=None, status=401, code="unauthorized")

    flag = run([str(daemon_binary()), "--version"]).stdout.strip()
    assert flag == (f"{api['version']} (commit {api['commit'][:12]}, built {api['build_date']}, "
                    f"Swift {api['swift_version']})"), flag

    cli = daemon_binary().parent / "pinlease"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PINLEASE_")},
           "PINLEASE_ADDR": daemon.url, "PINLEASE_TOKEN": daemon.token or ""}
    shown = json.loads(run([str(cli), "version", "-o", "json"], env=env).stdout)
    assert shown["client"] == api["version"]
    assert shown["client_build"] == {k: api[k] for k in ("version", "commit", "build_date", "swift_version")}
    assert shown["daemon"] == api
    assert run([str(cli), "--version"]).stdout.strip() == flag


def test_json_logs_carry_request_ids_escape_control_characters_and_hide_tokens(extra_daemon, filesystems):
    d = extra_daemon("json-logs", [("ext4", filesystems["ext4"].mountpoint)],
                     extra_args=["--log-format", "json", "--log-level", "debug"])
    bogus_token = "not-a-valid-token-" + os.urandom(8).hex()

    chosen = f"e2e-{os.urandom(6).hex()}"
    named = d.get("/v1/leases/lease_nope", headers={"X-Request-Id": chosen})
    assert named.status_code == 404 and named.headers["X-Request-Id"] == chosen
    unnamed = d.get("/readyz", token=None)
    assert unnamed.status_code == 200 and HEX_ID.match(unnamed.headers["X-Request-Id"]), unnamed.headers
    too_long = d.get("/healthz", token=None, headers={"X-Request-Id": "a" * 129})
    assert HEX_ID.match(too_long.headers["X-Request-Id"]), too_long.headers
    refused = d.get("/v1/files", token=bogus_token)
    assert refused.status_code == 401 and HEX_ID.match(refused.headers["X-Request-Id"])
    marker = f"forged{os.urandom(4).hex()}"
    forged = d.get(f"/v1/files%0A{marker}%1B[2J", validate=False)
    assert forged.status_code == 404 and HEX_ID.match(forged.headers["X-Request-Id"])
    inspected = d.post("/v1/files/inspect", {"path": "ext4:nope.bin"})
    assert inspected.status_code == 404
    with d.session.get(d.url + "/v1/events", headers={"Authorization": f"Bearer {d.token}"}, stream=True,
                       timeout=30) as stream:
        assert stream.status_code == 200 and HEX_ID.match(stream.headers["X-Request-Id"]), stream.headers
    answered = {r.headers["X-Request-Id"]: r for r in (named, unnamed, too_long, refused, forged, inspected)}
    assert len(answered) == 6, "request ids are not unique"

    def records() -> list[dict]:
        text = d.log_path.read_text(errors="strict")
        lines = text.split("\n==== ", 1)[1].split("\n", 1)[1].splitlines()  # after the harness's own header
        return [json.loads(line) for line in lines if line]

    def logged(request_id: str) -> dict | None:
        return next((r for r in records() if r.get("request_id") == request_id and "status" in r), None)

    wait_for("an access line for every request", lambda: all(logged(i) for i in answered))
    for record in records():
        assert {"timestamp", "level", "logger", "message"} <= set(record), record
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"]), record
    raw = d.log_path.read_bytes()
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f-\xff]", raw), "a raw control or non-ASCII byte in the log"
    for secret in (d.token, bogus_token):
        assert secret and secret.encode() not in raw, "a token was logged"

    line = logged(chosen)
    assert line["route"] == "/v1/leases/{id}" and line["lease_id"] == "lease_nope" and line["method"] == "GET"
    assert line["status"] == 404 and line["problem"] == "lease-not-found" and line["level"] == "info"
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    ready = logged(unnamed.headers["X-Request-Id"])
    assert ready["route"] == "/readyz" and ready["status"] == 200 and ready["level"] == "debug"
    assert logged(refused.headers["X-Request-Id"])["problem"] == "unauthorized"
    escaped = logged(forged.headers["X-Request-Id"])
    assert escaped["route"] == "unmatched" and f"/v1/files\n{marker}\x1b[2J" in escaped["message"], escaped
    assert logged(inspected.headers["X-Request-Id"])["path"] == "ext4:nope.bin"


def readiness(d: Daemon) -> requests.Response:
    return d.get("/readyz", token=None)


def failed_checks(response: requests.Response) -> list[str]:
    return [c["name"] for c in response.json()["checks"] if not c["ok"]]


def assert_not_ready(response: requests.Response, check: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "daemon-not-ready" and body["ready"] is False, body
    assert failed_checks(response) == [check], body
    assert body["reasons"] and all(r in body["detail"] for r in body["reasons"]), body


def test_readyz_names_a_root_moved_away_or_covered_by_a_mount(extra_daemon, workdir: Path, registry):
    base = workdir / f"readiness-{os.urandom(4).hex()}"
    root, moved, cover = base / "root", base / "moved", base / "cover"
    for directory in (root, cover):
        directory.mkdir(parents=True)
    d = extra_daemon("readiness-roots", [("data", root)])
    ready = readiness(d)
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert [c["name"] for c in ready.json()["checks"]] == ["draining", "roots", "state"]

    root.rename(moved)
    try:
        assert_not_ready(readiness(d), "roots")
    finally:
        moved.rename(root)
    assert readiness(d).status_code == 200

    run(["mount", "--bind", str(cover), str(root)])
    registry.mounts.append(root)
    try:
        assert_not_ready(readiness(d), "roots")
    finally:
        run(["umount", str(root)])
        registry.mounts.remove(root)
    assert readiness(d).status_code == 200


def test_readyz_names_the_state_check_while_the_state_filesystem_is_full(full_state):  # noqa: F811
    d, _fs, state_mount, _cleanup = full_state
    assert readiness(d).status_code == 200
    filler = fill(state_mount)
    try:
        not_ready = readiness(d)
        assert_not_ready(not_ready, "state")
        assert str(state_mount) in " ".join(not_ready.json()["reasons"]), not_ready.text
    finally:
        filler.unlink()
    wait_for("ready again once the state filesystem has room", lambda: readiness(d).status_code == 200)
