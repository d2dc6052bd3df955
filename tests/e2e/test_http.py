"""The HTTP layer: bodies (malformed, oversized, unknown fields, wrong types, wrong media
type), authentication and roles, routes and methods, health. Every error answer is checked
against openapi/pinlease.yaml by the client (problem+json, documented status, schema)."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import time
from pathlib import Path

import pytest
import requests

from e2e_support import PROBLEM_BASE, Daemon, spec


@pytest.fixture(scope="module")
def sample(filesystems, daemon: Daemon) -> str:
    fs = filesystems["tmpfs"]
    name = fs.unique("http")
    fs.path(name).write_bytes(b"x" * 4096)
    return fs.api_path(name)


def raw(daemon: Daemon, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """Send exactly these bytes (requests would not let us send some of these)."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) before reading it all
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# -- bodies --------------------------------------------------------------------------


def test_malformed_json_says_line_and_column(daemon: Daemon):
    body = '{\n  "path": "a.bin",\n  oops\n}'
    problem = daemon.problem("POST", "/v1/files/inspect", data=body, headers={"Content-Type": "application/json"}, status=400, code="invalid-json")
    detail = problem["detail"]
    line = problem.get("line")
    column = problem.get("column")
    if line is None:
        m = re.search(r"line\D{0,3}(\d+)\D+column\D{0,3}(\d+)", detail)
        assert m, f"detail does not give line and column: {detail!r}"
        line, column = int(m.group(1)), int(m.group(2))
    assert line == 3, problem
    assert column >= 1, problem
    assert str(line) in detail and "line" in detail.lower() and "column" in detail.lower(), problem


@pytest.mark.parametrize(
    "body",
    ["", "{", '{"path": "a.bin"', "nul\u0000", '{"path": "a.bin", "path": "b.bin"}', '{"path": "a.bin"} trailing'],
    ids=["empty", "open-brace", "unterminated", "garbage", "duplicate-key", "trailing-garbage"],
)
def test_invalid_json_variants(body, daemon: Daemon):
    r = daemon.post("/v1/files/inspect", data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
    assert r.json()["type"] in (PROBLEM_BASE + "invalid-json", PROBLEM_BASE + "invalid-body"), r.text


def test_oversized_body_is_413(daemon: Daemon):
    body = json.dumps({"path": "a.bin", "pad": "x" * (1024 * 1024 + 100)}).encode()
    status, headers, content = raw(
        daemon, "POST", "/v1/files/inspect", body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {daemon.token}"},
    )
    assert status == 413, content[:500]
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(content)
    assert problem["type"] == PROBLEM_BASE + "body-too-large" and problem["status"] == 413
    # The daemon is still fine afterwards.
    assert daemon.get("/healthz", token=None).status_code == 200


def test_body_just_under_limit_is_parsed(daemon: Daemon):
    """A large body under the limit reaches the JSON layer (here: an unknown field)."""
    body = {"path": "a.bin", "pad": "x" * (1024 * 1024 - 200)}
    problem = daemon.problem("POST", "/v1/files/inspect", body, status=422, code="invalid-body")
    assert "pad" in problem["detail"], problem


@pytest.mark.parametrize(
    "endpoint,body,field",
    [
        ("/v1/files/inspect", {"path": "a.bin", "bogus": 1}, "bogus"),
        ("/v1/files/prepare", {"path": "a.bin", "sizee": "1MiB"}, "sizee"),
        ("/v1/files/lock-immutable", {"path": "a.bin", "force": True}, "force"),
        ("/v1/files/unlock", {"path": "a.bin", "x": None}, "x"),
    ],
)
def test_unknown_field_is_422(endpoint, body, field, daemon: Daemon):
    problem = daemon.problem("POST", endpoint, body, status=422, code="invalid-body")
    assert field in problem["detail"], problem


@pytest.mark.parametrize(
    "body,field",
    [
        ({"path": 5}, "path"),
        ({}, "path"),
        ({"path": "a.bin", "size": True}, "size"),
        ({"path": "a.bin", "size": -1}, "size"),
        ({"path": "a.bin", "size": 1.5}, "size"),
        ({"path": "a.bin", "mode": "shred"}, "mode"),
        ({"path": "a.bin", "create": "yes"}, "create"),
        ({"path": "a.bin", "async": 1}, "async"),
    ],
    ids=["path-int", "path-missing", "size-bool", "size-negative", "size-float", "mode-unknown", "create-string", "async-int"],
)
def test_wrong_types_are_422_naming_the_field(body, field, daemon: Daemon):
    problem = daemon.problem("POST", "/v1/files/prepare", body, status=422)
    assert problem["type"] in (PROBLEM_BASE + "invalid-body", PROBLEM_BASE + "invalid-size"), problem
    assert field in problem["detail"], problem


@pytest.mark.parametrize("body", ["[]", '"a.bin"', "null", "42"], ids=["array", "string", "null", "number"])
def test_non_object_body_is_422(body, daemon: Daemon):
    daemon.problem("POST", "/v1/files/inspect", data=body.encode(), headers={"Content-Type": "application/json"}, status=422, code="invalid-body")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(ctype, daemon: Daemon, sample):
    headers = {"Content-Type": ctype} if ctype else {}
    daemon.problem("POST", "/v1/files/inspect", data=json.dumps({"path": sample}).encode(), headers=headers, status=415, code="unsupported-media-type")


def test_json_with_charset_is_accepted(daemon: Daemon, sample):
    r = daemon.post("/v1/files/inspect", data=json.dumps({"path": sample}).encode(), headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == sample and r.json()["size"] == 4096, "the body was read as JSON: " + r.text


# -- auth ----------------------------------------------------------------------------

PROTECTED = [
    ("POST", "/v1/files/inspect"),
    ("POST", "/v1/files/prepare"),
    ("POST", "/v1/files/lock-immutable"),
    ("POST", "/v1/files/unlock"),
    ("GET", "/v1/files"),
    ("GET", "/v1/operations/op_x"),
    ("DELETE", "/v1/operations/op_x"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_missing_token_is_401(method, path, daemon: Daemon, sample):
    body = {"path": sample} if method == "POST" else None
    r = daemon.request(method, path, body, token=None)
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
    assert r.json()["type"] == PROBLEM_BASE + "unauthorized"


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong-token", "Bearer ", "Basic dXNlcjpwYXNz", "bearer-but-not", "TOKEN"],
    ids=["wrong", "empty", "basic", "garbage", "bare"],
)
def test_wrong_token_is_401(header, daemon: Daemon, sample):
    r = daemon.post("/v1/files/inspect", {"path": sample}, token=None, headers={"Authorization": header})
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_token_prefix_or_suffix_is_401(daemon: Daemon, sample):
    for token in (daemon.token[:-1], daemon.token + "x", daemon.token.upper() if daemon.token.upper() != daemon.token else daemon.token + "Z"):
        r = daemon.post("/v1/files/inspect", {"path": sample}, token=token)
        assert r.status_code == 401, token


def test_admin_token_file_mode(daemon: Daemon):
    token_file = daemon.state_dir / "admin.token"
    mode = stat.S_IMODE(token_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert len(daemon.token) >= 32


@pytest.fixture(scope="module")
def tokens_daemon(filesystems, workdir: Path, registry):
    from conftest import make_daemon

    fs = filesystems["tmpfs"]
    tokens = workdir / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": "admin-" + "a" * 40, "role": "admin"},
        {"token": "holder-" + "h" * 40, "role": "holder", "holder": "h1"},
    ]}))
    os.chmod(tokens, 0o600)
    d = make_daemon(workdir, registry, "tokens-daemon", [("tmp", fs.mountpoint)], tokens_file=tokens)
    d.start()
    d.token = "admin-" + "a" * 40
    try:
        yield d
    finally:
        d.stop()


@pytest.mark.parametrize("method,path", PROTECTED)
def test_holder_token_is_403(method, path, tokens_daemon: Daemon, filesystems):
    fs = filesystems["tmpfs"]
    name = fs.unique("holder")
    fs.path(name).write_bytes(b"x" * 4096)
    body = {"path": f"tmp:{name}"} if method == "POST" else None
    r = tokens_daemon.request(method, path, body, token="holder-" + "h" * 40)
    assert r.status_code == 403, r.text
    assert r.json()["type"] == PROBLEM_BASE + "forbidden"


def test_tokens_file_admin_works_and_no_admin_token_created(tokens_daemon: Daemon, filesystems):
    fs = filesystems["tmpfs"]
    name = fs.unique("admin")
    fs.path(name).write_bytes(b"x" * 4096)
    report = tokens_daemon.inspect(f"tmp:{name}")
    assert report["ready"] is True
    assert not (tokens_daemon.state_dir / "admin.token").exists()
    r = tokens_daemon.post("/v1/files/inspect", {"path": f"tmp:{name}"}, token="admin-" + "a" * 39)
    assert r.status_code == 401


# -- routes --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/files/inspect/extra", "/", "/v2/files", "/v1/nothing-here"])
def test_unknown_route_is_404(path, daemon: Daemon):
    daemon.problem("GET", path, status=404, code="not-found-route")


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/v1/files/inspect"), ("PUT", "/v1/files/prepare"), ("DELETE", "/v1/files"), ("POST", "/v1/files"),
     ("POST", "/healthz"), ("PATCH", "/v1/operations/op_x")],
)
def test_wrong_method_is_405(method, path, daemon: Daemon):
    r = daemon.request(method, path)
    assert r.status_code == 405, r.text
    assert r.json()["type"] == PROBLEM_BASE + "method-not-allowed"
    allow = r.headers.get("Allow")
    assert allow, "405 without an Allow header"
    assert method not in [m.strip() for m in allow.split(",")]


def test_health_and_readiness_need_no_token(daemon: Daemon):
    r = daemon.get("/healthz", token=None)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Content-Type"].startswith("application/json")
    r = daemon.get("/readyz", token=None)
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_list_files_shape(daemon: Daemon):
    body = daemon.ok("GET", "/v1/files")
    assert isinstance(body["items"], list)


def test_keep_alive_and_concurrency(daemon: Daemon, sample):
    """Several requests on one connection, and a burst from threads, all answered."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(20):
        assert daemon.post("/v1/files/inspect", {"path": sample}).status_code == 200

    def one(_):
        with requests.Session() as s:
            return s.post(daemon.url + "/v1/files/inspect", json={"path": sample},
                          headers={"Authorization": f"Bearer {daemon.token}"}, timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(64)))
    assert codes == [200] * 64


def test_unix_socket(extra_daemon, filesystems, workdir: Path):
    fs = filesystems["tmpfs"]
    sock_path = workdir / "pinleased.sock"
    d = extra_daemon("unix-daemon", [("tmp", fs.mountpoint)], extra_args=["--unix", str(sock_path)])
    assert sock_path.exists() and stat.S_ISSOCK(sock_path.stat().st_mode)

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(str(sock_path))

    conn = UnixConnection("localhost")
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"status": "ok"}
    conn.request("GET", "/v1/files")
    response = conn.getresponse()
    assert response.status == 401
    response.read()
    conn.request("GET", "/v1/files", headers={"Authorization": f"Bearer {d.token}"})
    response = conn.getresponse()
    assert response.status == 200 and "items" in json.loads(response.read())
    conn.close()


def test_sigterm_exits_cleanly(extra_daemon, filesystems):
    fs = filesystems["tmpfs"]
    d = extra_daemon("sigterm-daemon", [("tmp", fs.mountpoint)])
    assert d.get("/healthz", token=None).status_code == 200
    code = d.stop()
    assert code == 0, f"exit code {code} after SIGTERM\n{d.log_tail()}"
    with pytest.raises(requests.ConnectionError):
        requests.get(d.url + "/healthz", timeout=2)


@pytest.mark.parametrize(
    "args,wanted",
    [
        (["--root", "/nonexistent-pinlease-root"], "nonexistent-pinlease-root"),
        (["--listen", "not-an-address"], "not-an-address"),
    ],
    ids=["missing-root", "bad-listen"],
)
def test_bad_configuration_exits_non_zero(args, wanted, workdir: Path):
    import subprocess

    from conftest import require_binary
    from e2e_support import daemon_binary, free_port

    require_binary()
    state = workdir / f"bad-config-state-{args[0].strip('-')}"
    cmd = [str(daemon_binary()), "--state-dir", str(state)] + args
    if args[0] != "--listen":
        cmd += ["--listen", f"127.0.0.1:{free_port()}"]
    if args[0] != "--root":
        cmd += ["--root", str(workdir)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode != 0, result
    output = (result.stderr + result.stdout).strip()
    assert output, "no message on bad configuration"
    assert wanted in output, output


def test_tokens_file_reloaded_on_sighup(extra_daemon, filesystems, workdir: Path):
    import signal

    fs = filesystems["tmpfs"]
    tokens = workdir / "tokens-hup.json"
    old, new = "old-" + "o" * 40, "new-" + "n" * 40
    tokens.write_text(json.dumps({"tokens": [{"token": old, "role": "admin"}]}))
    d = extra_daemon("hup-daemon", [("tmp", fs.mountpoint)], tokens_file=tokens)
    assert d.get("/v1/files", token=old).status_code == 200
    assert d.get("/v1/files", token=new).status_code == 401
    tokens.write_text(json.dumps({"tokens": [{"token": new, "role": "admin"}]}))
    os.kill(d.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while d.get("/v1/files", token=new).status_code != 200:
        assert time.monotonic() < deadline, "new token not accepted 10 s after SIGHUP"
        time.sleep(0.1)
    assert d.get("/v1/files", token=old).status_code == 401
    # A broken file keeps the tokens in force: wait until the daemon has read it (its log says
    # so), rather than for some time that may not be enough on a loaded machine.
    log_offset = d.log_path.stat().st_size
    tokens.write_text("{not json")
    os.kill(d.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while "tokens not reloaded" not in d.log_path.read_bytes()[log_offset:].decode(errors="replace"):
        assert d.proc.poll() is None, "daemon died on a broken tokens file"
        assert time.monotonic() < deadline, "no log line about the broken tokens file 30 s after SIGHUP"
        time.sleep(0.05)
    assert d.proc.poll() is None, "daemon died on a broken tokens file"
    assert d.get("/v1/files", token=new).status_code == 200
