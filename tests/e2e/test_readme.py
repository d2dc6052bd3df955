"""README.md's walk-through, run as written (issue 10): the blocks marked ```sh walkthrough are
read from README.md when the test runs and executed in order in one `bash -euo pipefail`
session, so the README cannot drift from the product.

What a test must change is changed around the README's text, never in it:
- the block that starts the daemon (`make run ARGS="..."`) is skipped; the test starts the
  debug pinleased itself with the same ARGS (their receiver address 127.0.0.1:9000 replaced by
  a free port) and checks with `make -n` that `make run` passes ARGS to pinleased;
- the blocks run in a scratch directory laid out like the repository after `make run`:
  .build/release is the directory of the binaries under test (PINLEASED_BIN's), examples/ the
  repository's, var/data a loop-mounted ext4 (the daemon's root: the immutable flag is real
  there), var/state the daemon's state directory (its admin.token);
- PINLEASE_ADDR (the CLI's variable, which the curl lines read too) names the test daemon, and
  RECEIVER the webhook receiver's address.

Then it checks what really happened: the lsattr line shows `i` after the lock and not after the
unlock, the append to the immutable file failed and its size is unchanged, the receiver verified
the signatures and released both leases (they ended `released`, as the daemon also says), and no
webhook secret was printed."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import unavailable
from e2e_support import (
    REPO,
    Daemon,
    MiB,
    daemon_binary,
    free_port,
    make_loop_filesystem,
    missing_prerequisites,
    run,
)

README = REPO / "README.md"
MARK = "```sh walkthrough"
README_RECEIVER = "127.0.0.1:9000"
SCRIPT_TIMEOUT_S = 600  # a deadline for the whole walk-through, not an expectation of its duration


@dataclass
class Block:
    line: int  # README.md line of the opening fence
    text: str

    @property
    def starts_daemon(self) -> bool:
        return bool(re.search(r"^\s*make run\b", self.text, re.MULTILINE))


def walkthrough_blocks(readme: str) -> list[Block]:
    blocks: list[Block] = []
    lines = readme.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == MARK:
            start = i
            i += 1
            body: list[str] = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"README.md:{start + 1}: walkthrough block is not closed"
            blocks.append(Block(start + 1, "\n".join(body)))
        i += 1
    return blocks


def make_run_args(block: Block) -> list[str]:
    """The ARGS of the block's `make run ARGS="..."` (the block must do nothing else)."""
    commands = [ln for ln in block.text.split("\n") if ln.strip() and not ln.strip().startswith("#")]
    assert len(commands) == 1, f"README.md:{block.line}: the daemon block should be one `make run` line: {commands}"
    words = shlex.split(commands[0], comments=True)
    assert words[:2] == ["make", "run"], commands[0]
    args = [w.split("=", 1)[1] for w in words[2:] if w.startswith("ARGS=")]
    return shlex.split(args[0]) if args else []


def check_make_run_passes(args: list[str]) -> None:
    """`make -n run ARGS=...` (a dry run: prints, runs nothing) starts pinleased with them."""
    dry = run(["make", "-n", "-C", str(REPO), "run", "ARGS=" + shlex.join(args)]).stdout
    starts = [ln for ln in dry.splitlines() if "pinleased" in ln and ln.lstrip().startswith("exec")]
    assert starts and starts[-1].rstrip().endswith(shlex.join(args)), f"make run does not pass ARGS:\n{dry}"


def segments(output: str) -> dict[int, str]:
    """The output of each block, keyed by its README line (from the markers the script prints)."""
    parts = re.split(r"^=== README\.md:(\d+)\n", output, flags=re.MULTILINE)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def attrs_of(text: str, name: str) -> list[str]:
    """The flag columns of the lsattr lines for `name` in `text`."""
    return re.findall(rf"^(\S+) {re.escape(name)}$", text, re.MULTILINE)


@pytest.fixture
def scratch(tmp_path: Path, registry, workdir: Path) -> Path:
    """A directory laid out like the repository after `make run`, with var/data on its own ext4."""
    missing = missing_prerequisites()
    if missing:
        unavailable("; ".join(missing))
    binaries = daemon_binary().parent
    for tool in ("pinleased", "pinlease"):
        if not (binaries / tool).exists():
            unavailable(f"{tool} not built in {binaries} (run `swift build` or set PINLEASED_BIN)")
    for tool in ("jq", "curl", "lsattr", "make"):
        if run(["sh", "-c", f"command -v {tool}"], check=False).returncode != 0:
            unavailable(f"{tool} not installed (make deps installs it)")
    fs = make_loop_filesystem(registry, workdir, "ext4", 512 * MiB, name=f"readme-{tmp_path.name}")
    (tmp_path / ".build").mkdir()
    (tmp_path / ".build" / "release").symlink_to(binaries)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    (tmp_path / "var" / "state").mkdir(parents=True)
    (tmp_path / "var" / "data").symlink_to(fs.mountpoint)
    return tmp_path


def test_readme_walkthrough(scratch: Path, extra_daemon):
    blocks = walkthrough_blocks(README.read_text())
    daemon_blocks = [b for b in blocks if b.starts_daemon]
    found = [(b.line, b.starts_daemon) for b in blocks]
    assert len(blocks) >= 5 and len(daemon_blocks) == 1 and blocks[0].starts_daemon, \
        f"README.md: expected a `make run` block, then the walk-through's blocks; found {found}"

    receiver = f"127.0.0.1:{free_port()}"
    args = make_run_args(daemon_blocks[0])
    check_make_run_passes(args)
    daemon_args = [a.replace(README_RECEIVER, receiver) for a in args]
    d: Daemon = extra_daemon("readme", [("data", (scratch / "var" / "data").resolve())], start=False,
                             extra_args=daemon_args)
    d.state_dir = scratch / "var" / "state"
    d.start()
    print(f"README.md:{daemon_blocks[0].line}: skipped (`make run`); started {' '.join(d.command())}")

    script = ['trap \'echo "=== failed: exit $? at: $BASH_COMMAND" >&2\' ERR']
    for b in blocks:
        if not b.starts_daemon:
            script += [f"echo '=== README.md:{b.line}'", b.text]
    script.append("echo '=== done'")
    (scratch / "walkthrough.sh").write_text("\n".join(script) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINLEASE_") and k != "RECEIVER"}
    env.update(PINLEASE_ADDR=d.url, RECEIVER=receiver)
    log_path = scratch / "walkthrough.log"
    with open(log_path, "wb") as log:
        # Its own session, so that whatever the script leaves running (the receiver, if a block
        # failed before `kill`) is ended by the group's id below.
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "walkthrough.sh"], cwd=scratch, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=SCRIPT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait()
    output = log_path.read_text(errors="replace")
    print(output)
    if code != 0:
        last = re.findall(r"^=== README\.md:(\d+)$", output, re.MULTILINE)
        tail = "\n".join(ln if len(ln) <= 300 else ln[:300] + " …" for ln in output.splitlines()[-40:])
        where = last[-1] if last else "?"
        pytest.fail(f"the README walk-through failed (exit {code}) in the block at README.md:{where};"
                    f" its output ends:\n{tail}", pytrace=False)
    assert output.rstrip().endswith("=== done"), output[-2000:]

    seen = segments(output)
    assert sorted(seen) == [b.line for b in blocks if not b.starts_daemon], sorted(seen)
    everything = "\n".join(seen.values())
    lock_block = next(text for text in seen.values() if attrs_of(text, "var/data/demo.bin"))
    after_lock = attrs_of(lock_block, "var/data/demo.bin")
    assert len(after_lock) == 1 and "i" in after_lock[0], f"lsattr after the lock: {after_lock}"
    assert "var/data/demo.bin: Operation not permitted" in lock_block, lock_block
    after_unlock = attrs_of(seen[max(seen)], "var/data/demo.bin")
    assert len(after_unlock) == 1 and "i" not in after_unlock[0], f"lsattr after the unlock: {after_unlock}"
    demo = scratch / "var" / "data" / "demo.bin"
    assert demo.stat().st_size == 64 * MiB, "the append to the immutable file changed it"
    assert "whsec_" not in everything, "a webhook secret was printed"

    # The two leases: each revoked, its lease.revoking verified and released by the receiver.
    leases = d.request("GET", "/v1/leases").json()["items"]
    assert sorted(lease["holder"] for lease in leases) == ["rdma-1", "rdma-2"], leases
    for lease in leases:
        assert lease["state"] == "released", lease
        lease_id = lease["id"]
        assert re.search(rf"receiver: lease\.revoking {lease_id}: .*\(signature ok, webhook-id ", everything), \
            f"the receiver did not verify the lease.revoking of {lease_id}"
        assert f"receiver: released {lease_id}: state released" in everything, everything
        attempts = d.request("GET", f"/v1/leases/{lease_id}/deliveries").json()["items"]
        # The receiver listened before the grant (the README waits for it): no attempt needed a retry.
        revoking = [a for a in attempts if a["event"] == "lease.revoking"]
        assert revoking and all(a.get("status") == 204 for a in revoking), attempts
    assert "receiver: refused" not in everything
    assert re.search(r"lease lease_\S+ ended: released by its holder", everything), "revoke --wait said otherwise"
    assert "event: lease.released" in everything, "the SSE replay showed no lease.released"
    assert d.request("GET", "/v1/files").json()["items"] == [], "a file is still locked"
    assert d.request("GET", "/v1/pins").json()["items"] == [], "a pin is left"
    assert "i" not in run(["lsattr", str(demo)]).stdout.split()[0]


def post_signed(port: int, body: bytes, headers: dict[str, str]) -> int:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/pinlease", body=body, headers={"Content-Type": "application/json", **headers})
    status = connection.getresponse().status
    connection.close()
    return status


def test_example_receiver_refuses_bad_signatures_and_stale_timestamps(tmp_path: Path):
    """examples/webhook_receiver.py alone: 204 for a correctly signed delivery, 401 for a wrong
    signature, a wrong secret, a stale timestamp or missing headers; the secret never printed."""
    import base64

    from webhook_receiver import sign

    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    port = free_port()
    log_path = tmp_path / "receiver.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["python3", str(REPO / "examples" / "webhook_receiver.py"), "--listen", f"127.0.0.1:{port}"],
            env={**os.environ, "WEBHOOK_SECRET": secret}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the receiver did not start within 60 s"
            time.sleep(0.05)
        body = b'{"seq":7,"type":"lease.revoking","timestamp":"now","data":{"lease_id":"lease_x","reason":"test"}}'
        now = str(int(time.time()))

        def headers(ts: str, signature: str) -> dict[str, str]:
            return {"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": signature}

        other = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        stale = str(int(time.time()) - 3600)
        assert post_signed(port, body, headers(now, "v1,AAAA " + sign(secret, "msg_1", now, body))) == 204
        assert post_signed(port, body + b" ", headers(now, sign(secret, "msg_1", now, body))) == 401
        assert post_signed(port, body, headers(now, sign(other, "msg_1", now, body))) == 401
        assert post_signed(port, body, headers(stale, sign(secret, "msg_1", stale, body))) == 401
        assert post_signed(port, body, {}) == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    output = log_path.read_text()
    print(output)
    assert proc.returncode == 0, output
    assert output.count("lease.revoking lease_x: reason test (signature ok") == 1, output
    assert output.count("bad signature -> 401") == 2, output
    assert "stale timestamp" in output and "missing webhook-id" in output, output
    assert secret.removeprefix("whsec_") not in output and other.removeprefix("whsec_") not in output
