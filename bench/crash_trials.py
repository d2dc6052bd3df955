"""Crash consistency of pinleased, measured: a mixed workload killed with SIGKILL at a random
moment, the daemon restarted on the same state directory, and what it recovered checked
against what its clients were told and against what outside tools see.

Shared by bench/crash.sh (many trials, a summary table) and tests/e2e/test_crash.py (a few).
Needs only the standard library and `requests`; the caller provides mounted filesystems
(xfs with reflink, ext4) and runs as root.

One trial: the daemon is running (recovered from the previous trial); client threads run
random operations on files they own (prepare fill/wipe sync/async, lock, pin, grant leases
with and without webhooks, renew, revoke, release, unpin, unlock, re-create); at a random
moment the daemon gets SIGKILL; it is restarted and then checked:

- lease-lost / lease-state / lease-expiry / lease-deadline / lease-unknown: every lease whose
  grant was answered is listed, in the state it was last answered with (or the state of the
  one call that was in flight on it), an active lease's expires_at is not earlier than the
  last answer's (the daemon adds the downtime), a revoking lease keeps its deadline, a
  released lease stays released; a lease nobody was answered about appears only where a grant
  was in flight.
- flag-untracked / flag-missing / lock-lost / lock-degraded: `lsattr` shows +i exactly on the
  files GET /v1/files lists as locked (and none is degraded: nothing outside touched them);
  an answered lock is still listed, an answered unlock is not.
- ready-with-holes / ready-lost: a file inspect reports ready has no hole and no unwritten
  extent by `filefrag -v` (ext4) or `xfs_bmap -vp` (xfs); an answered prepare stays ready.
- pin-lost / pin-failed-silently / pin-unknown / vmlck: every answered pin is listed active,
  or failed with a reason; /proc/PID/status VmLck covers the active pins' lengths.
- operation-stuck: an asynchronous prepare is not reported running after the restart.
- unclean-exit / not-ready: the daemon was still running when killed, and answered /readyz
  within the deadline after the restart; critical-log: it logged nothing critical."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
LONG_TTL_S = 3600
LONG_GRACE_S = 1800
SLOW_S = 0.5  # a call slower than this is counted (information, not a violation)
VIOLATION_KINDS = (
    "lease-lost", "lease-state", "lease-expiry", "lease-deadline", "lease-unknown",
    "flag-untracked", "flag-missing", "lock-lost", "lock-unexpected", "lock-degraded",
    "ready-with-holes", "ready-lost",
    "pin-lost", "pin-failed-silently", "pin-unknown", "vmlck",
    "operation-stuck", "unclean-exit", "not-ready", "critical-log", "client-error",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)


@dataclasses.dataclass
class Root:
    name: str
    path: Path
    fstype: str  # "xfs" or "ext4"


# ------------------------------------------------------------------------------------------
# Outside views of a file


def immutable_files(paths: list[Path]) -> set[Path]:
    """The files among `paths` whose `lsattr -d` shows the i attribute."""
    existing = [p for p in paths if p.exists()]
    if not existing:
        return set()
    out = subprocess.run(["lsattr", "-d", *map(str, existing)], capture_output=True, text=True, timeout=60)
    result = set()
    for line in out.stdout.splitlines():
        attrs, _, name = line.partition(" ")
        if "i" in attrs.replace("-", ""):
            result.add(Path(name.strip()))
    return result


def layout_problems(path: Path, fstype: str) -> list[str]:
    """Holes and unwritten extents of `path` as `xfs_bmap -vp` (xfs) or `filefrag -v` (ext4)
    report them; empty when every byte is in a written extent."""
    size = path.stat().st_size
    problems: list[str] = []
    if fstype == "xfs":
        out = subprocess.run(["xfs_bmap", "-vp", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
        covered = 0
        for line in out.splitlines():
            m = re.match(r"^\s*\d+:\s*\[(\d+)\.\.(\d+)\]:\s*(\S+)(.*)$", line)
            if not m:
                continue
            start, end = int(m.group(1)) * 512, (int(m.group(2)) + 1) * 512
            if m.group(3) == "hole":
                problems.append(f"hole at [{start}, {end})")
                covered = max(covered, end)
                continue
            if start > covered:
                problems.append(f"hole at [{covered}, {start})")
            covered = max(covered, end)
            flags = m.group(4).split()[-1] if m.group(4).split() else "0"
            if flags.isdigit() and int(flags, 8) & 0o10000:
                problems.append(f"unwritten extent at [{start}, {end})")
        if covered < size:
            problems.append(f"hole at [{covered}, {size})")
    else:
        out = subprocess.run(["filefrag", "-v", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
        m = re.search(r"blocks of (\d+) bytes", out)
        block = int(m.group(1)) if m else 4096
        covered = 0
        for line in out.splitlines():
            m = re.match(r"^\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*\d+\.\.\s*\d+:\s*\d+:\s*(?:\d+:)?\s*(.*)$", line)
            if not m:
                continue
            start, end = int(m.group(1)) * block, (int(m.group(2)) + 1) * block
            if start > covered:
                problems.append(f"hole at [{covered}, {start})")
            covered = max(covered, end)
            if "unwritten" in m.group(3):
                problems.append(f"unwritten extent at [{start}, {end})")
        if covered < size:
            problems.append(f"hole at [{covered}, {size})")
    return problems


def locked_memory_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------------------------------
# A webhook receiver on loopback


class WebhookReceiver:
    """Answers every POST with 204 and counts the event types it received."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        lock = threading.Lock()
        counts = self.counts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    kind = json.loads(body).get("type", "?")
                except ValueError:
                    kind = "?"
                with lock:
                    counts[kind] += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the daemon was killed mid-request

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------
# The daemon


class DaemonProcess:
    def __init__(self, binary: Path, roots: list[Root], state_dir: Path, log_path: Path, extra: list[str]) -> None:
        self.binary, self.roots, self.state_dir, self.log_path, self.extra = binary, roots, state_dir, log_path, extra
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.token = ""
        self.log_offset = 0

    def start(self, deadline_s: float) -> float:
        """Starts the daemon and returns the seconds it took to answer /readyz; raises
        TimeoutError or RuntimeError (it exited) otherwise."""
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [str(self.binary), "--listen", f"127.0.0.1:{port}", "--state-dir", str(self.state_dir), *self.extra]
        for root in self.roots:
            cmd += ["--root", f"{root.name}={root.path}"]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            log.write(f"\n==== {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pinleased exited with {self.proc.returncode} while starting")
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() - started > deadline_s:
                raise TimeoutError(f"pinleased not ready after {deadline_s} s")
            time.sleep(0.02)
        self.token = (self.state_dir / "admin.token").read_text().strip()
        return time.monotonic() - started

    def kill(self) -> int | None:
        """SIGKILL; returns the exit status the daemon had before the kill (None: it was running)."""
        assert self.proc is not None
        before = self.proc.poll()
        if before is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        return before

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


class Api:
    """A client's connection to the daemon; every answer is returned, errors are raised as
    `requests.RequestException` (the outcome of that call is then unknown)."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.url = daemon.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {daemon.token}"

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> requests.Response:
        return self.session.request(method, self.url + path, json=body, timeout=timeout)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.call(method, path, body)
        if r.status_code != status:
            raise AssertionError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def all_items(self, path: str) -> list:
        """Every item of a paged list (`limit` + `cursor`, following `next_cursor`)."""
        items: list = []
        cursor = None
        while True:
            page = self.ok("GET", f"{path}?limit=10000" + (f"&cursor={cursor}" if cursor else ""))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def close(self) -> None:
        self.session.close()


# ------------------------------------------------------------------------------------------
# What the clients were told


@dataclasses.dataclass
class LeaseFact:
    pin_id: str
    state: str  # active | revoking | released
    expires_ms: int = 0
    deadline_ms: int = 0


@dataclasses.dataclass
class FileModel:
    """A file one client owns, and what the client was last told about it."""

    root: Root
    relative: str
    exists: bool = False
    ready: bool = False
    locked: bool = False
    pins: list[str] = dataclasses.field(default_factory=list)

    @property
    def api_path(self) -> str:
        return f"{self.root.name}:{self.relative}"

    @property
    def path(self) -> Path:
        return self.root.path / self.relative


@dataclasses.dataclass
class InFlight:
    """The one call a client had sent and not seen answered when the daemon was killed."""

    op: str
    file: FileModel
    target: str | None = None  # pin or lease id
    since: float = dataclasses.field(default_factory=time.monotonic)


class Client:
    def __init__(self, index: int, files: list[FileModel], rng: random.Random, hook_url: str | None) -> None:
        self.index = index
        self.files = files
        self.rng = rng
        self.hook_url = hook_url
        self.leases: dict[str, LeaseFact] = {}
        self.pending_ops: dict[str, FileModel] = {}  # async prepare operation id -> file
        self.inflight: InFlight | None = None
        self.counts: Counter[str] = Counter()
        self.slow: Counter[str] = Counter()
        self.errors: list[str] = []

    # -- the workload ---------------------------------------------------------------------

    def run(self, api: Api, stop: threading.Event) -> None:
        while not stop.is_set():
            file = self.rng.choice(self.files)
            try:
                self.step(api, file)
            except requests.RequestException:
                return  # the daemon is gone: what was in flight stays in self.inflight
            except AssertionError as e:
                if stop.is_set():
                    return
                self.errors.append(str(e))
                self.inflight = None
                return

    def send(self, api: Api, op: str, file: FileModel, method: str, path: str, body: Any = None,
             target: str | None = None) -> requests.Response:
        self.inflight = InFlight(op, file, target)
        r = api.call(method, path, body)
        if time.monotonic() - self.inflight.since > SLOW_S:
            self.slow[op] += 1
        self.inflight = None
        self.counts[op] += 1
        return r

    def live_leases(self, pin_id: str) -> list[str]:
        return [i for i, f in self.leases.items() if f.pin_id == pin_id and f.state != "released"]

    def step(self, api: Api, file: FileModel) -> None:
        rng = self.rng
        if not file.ready or not file.exists:
            self.prepare(api, file)
            return
        if not file.locked:
            choice = rng.random()
            if choice < 0.6:
                self.expect(self.send(api, "lock", file, "POST", "/v1/files/lock-immutable", {"path": file.api_path}), 200)
                file.locked = True
            elif choice < 0.85:
                self.prepare(api, file)
            else:
                # Start again with a new file (outside the daemon: it is not locked).
                file.path.unlink(missing_ok=True)
                file.exists = file.ready = False
            return
        if not file.pins:
            if rng.random() < 0.75:
                self.pin(api, file)
            else:
                self.expect(self.send(api, "unlock", file, "POST", "/v1/files/unlock", {"path": file.api_path}), 200)
                file.locked = False
            return
        pin_id = rng.choice(file.pins)
        live = self.live_leases(pin_id)
        choice = rng.random()
        if choice < 0.3 and len(live) < 4:
            self.grant(api, file, pin_id)
        elif live and choice < 0.75:
            self.lease_call(api, file, rng.choice(live))
        elif live and choice < 0.85:
            # Every holder lets go, then the pin goes (and later the lock).
            for lease_id in live:
                r = self.send(api, "release", file, "POST", f"/v1/leases/{lease_id}/release", target=lease_id)
                self.expect(r, 200)
                self.leases[lease_id].state = "released"
        elif not live and choice < 0.95:
            r = self.send(api, "unpin", file, "DELETE", f"/v1/pins/{pin_id}", target=pin_id)
            self.expect(r, 204)
            file.pins.remove(pin_id)
        elif len(file.pins) < 2:
            self.pin(api, file)

    def expect(self, r: requests.Response, status: int) -> None:
        if r.status_code != status:
            raise AssertionError(f"{r.request.method} {r.request.path_url} {r.request.body!r} -> {r.status_code}: {r.text[:400]}")

    def prepare(self, api: Api, file: FileModel) -> None:
        rng = self.rng
        body: dict[str, Any] = {"path": file.api_path, "mode": rng.choice(["fill", "fill", "wipe"])}
        current = file.path.stat().st_size if file.path.exists() else 0
        if current == 0 or rng.random() < 0.2:
            size = rng.choice([1, 2, 4, 8, 16, 32, 64]) * MiB + rng.choice([0, 0, PAGE, 12345])
            size = max(size, current)
            body.update(size=size, create=True)
        if rng.random() < 0.4:
            body["async"] = True
            r = self.send(api, "prepare-async", file, "POST", "/v1/files/prepare", body)
            self.expect(r, 202)
            op_id = r.json()["id"]
            file.exists = True
            self.pending_ops[op_id] = file
            while True:
                r = self.send(api, "operation", file, "GET", f"/v1/operations/{op_id}", target=op_id)
                self.expect(r, 200)
                op = r.json()
                if op["state"] != "running":
                    break
                time.sleep(0.01)
            del self.pending_ops[op_id]
            if op["state"] != "succeeded":
                raise AssertionError(f"prepare {body} failed: {op}")
        else:
            self.expect(self.send(api, "prepare", file, "POST", "/v1/files/prepare", body), 200)
        file.exists = file.ready = True

    def pin(self, api: Api, file: FileModel) -> None:
        r = self.send(api, "pin", file, "POST", "/v1/pins", {"path": file.api_path, "access": "read"})
        self.expect(r, 201)
        file.pins.append(r.json()["id"])

    def grant(self, api: Api, file: FileModel, pin_id: str) -> None:
        body: dict[str, Any] = {"pin_id": pin_id, "holder": f"client{self.index}", "ttl_s": LONG_TTL_S, "grace_s": LONG_GRACE_S}
        if self.hook_url and self.rng.random() < 0.5:
            body["webhook_url"] = self.hook_url + f"c{self.index}"
        r = self.send(api, "grant", file, "POST", "/v1/leases", body, target=pin_id)
        self.expect(r, 201)
        lease = r.json()
        self.leases[lease["id"]] = LeaseFact(pin_id, "active", expires_ms=parse_ms(lease["expires_at"]))

    def lease_call(self, api: Api, file: FileModel, lease_id: str) -> None:
        fact = self.leases[lease_id]
        choice = self.rng.random()
        if fact.state == "revoking":
            # A holder answers a revocation by releasing; now and then the revoke is repeated.
            choice = 0.6 if choice < 0.15 else 0.9
        if fact.state == "active" and choice < 0.4:
            r = self.send(api, "renew", file, "POST", f"/v1/leases/{lease_id}/renew", {}, target=lease_id)
            self.expect(r, 200)
            fact.expires_ms = parse_ms(r.json()["expires_at"])
        elif choice < 0.7:
            r = self.send(api, "revoke", file, "POST", f"/v1/leases/{lease_id}/revoke", {"reason": "crash-bench"}, target=lease_id)
            if fact.state == "active":
                self.expect(r, 202)
            elif r.status_code not in (200, 202):
                self.expect(r, 202)
            answer = r.json()
            fact.state = answer["state"]
            if answer["state"] == "revoking":
                fact.deadline_ms = parse_ms(answer["deadline"])
        else:
            r = self.send(api, "release", file, "POST", f"/v1/leases/{lease_id}/release", target=lease_id)
            self.expect(r, 200)
            fact.state = "released"

    # -- after the restart -----------------------------------------------------------------

    def adopt(self, files_listed: dict[str, dict], pins_listed: dict[str, dict], leases_listed: dict[str, dict],
              ready: dict[str, bool], api: Api) -> None:
        """Takes what the daemon recovered (already checked) as the new starting point."""
        self.inflight = None
        self.pending_ops.clear()
        for file in self.files:
            file.exists = file.path.exists()
            file.ready = ready.get(file.api_path, False)
            listed = files_listed.get(file.api_path)
            file.locked = listed is not None
            file.pins = [p["id"] for p in pins_listed.values() if p["path"] == file.api_path and p["state"] == "active"]
            for p in pins_listed.values():
                if p["path"] == file.api_path and p["state"] != "active":
                    api.call("DELETE", f"/v1/pins/{p['id']}")
        mine = {pid for f in self.files for pid in f.pins}
        self.leases = {}
        for lease in leases_listed.values():
            if lease["pin_id"] in mine and lease["state"] in ("active", "revoking"):
                self.leases[lease["id"]] = LeaseFact(
                    lease["pin_id"], lease["state"], expires_ms=parse_ms(lease["expires_at"]),
                    deadline_ms=parse_ms(lease["deadline"]) if lease.get("deadline") else 0)


# ------------------------------------------------------------------------------------------
# The trials


@dataclasses.dataclass
class Summary:
    seed: int
    trials: int = 0
    violations: Counter = dataclasses.field(default_factory=Counter)
    examples: list[str] = dataclasses.field(default_factory=list)
    operations: Counter = dataclasses.field(default_factory=Counter)
    killed_during: Counter = dataclasses.field(default_factory=Counter)
    ready_seconds: list[float] = dataclasses.field(default_factory=list)
    failed_pins: int = 0
    stalled: Counter = dataclasses.field(default_factory=Counter)
    slow: Counter = dataclasses.field(default_factory=Counter)
    webhooks: Counter = dataclasses.field(default_factory=Counter)

    @property
    def total_violations(self) -> int:
        return sum(self.violations.values())

    def table(self) -> str:
        ready = sorted(self.ready_seconds)
        pct = (lambda p: ready[min(len(ready) - 1, int(p * (len(ready) - 1) + 0.5))]) if ready else (lambda p: float("nan"))
        lines = [
            f"seed {self.seed}: {self.trials} kill trials, {self.total_violations} violations",
            "",
            "| check | violations |",
            "|---|---:|",
        ]
        lines += [f"| {kind} | {self.violations.get(kind, 0)} |" for kind in VIOLATION_KINDS]
        lines += [
            "",
            f"restart to /readyz: p50 {pct(0.5):.3f} s, max {ready[-1] if ready else float('nan'):.3f} s",
            "answered calls: " + ", ".join(f"{k} {v}" for k, v in sorted(self.operations.items())),
            "killed while in flight: " + (", ".join(f"{k} {v}" for k, v in sorted(self.killed_during.items())) or "nothing"),
            f"calls answered after more than {SLOW_S} s: " + (", ".join(f"{k} {v}" for k, v in sorted(self.slow.items())) or "none"),
            f"calls unanswered after more than {SLOW_S} s when the daemon was killed: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.stalled.items())) or "none"),
            f"pins reported failed (with a reason) after a restart: {self.failed_pins}",
            "webhooks received: " + (", ".join(f"{k} {v}" for k, v in sorted(self.webhooks.items())) or "none"),
        ]
        return "\n".join(lines)


class CrashTrials:
    def __init__(
        self, binary: Path, roots: list[Root], state_dir: Path, log_path: Path, seed: int,
        clients: int = 4, kill_after: tuple[float, float] = (0.0, 1.5), ready_deadline_s: float = 60,
        log: Any = print,
    ) -> None:
        self.rng = random.Random(seed)
        self.summary = Summary(seed=seed)
        self.receiver = WebhookReceiver()
        extra = ["--webhook-allow", self.receiver.url, "--log-level", "info", "--webhook-timeout-s", "2"]
        self.daemon = DaemonProcess(binary, roots, state_dir, log_path, extra)
        self.kill_after = kill_after
        self.on_trial: Any = lambda n: None
        self.ready_deadline_s = ready_deadline_s
        self.log = log
        self.clients = [
            Client(i, [FileModel(root, f"crash-c{i}-{root.name}.bin") for root in roots], random.Random(self.rng.random()),
                   self.receiver.url)
            for i in range(clients)
        ]

    def violation(self, kind: str, detail: str) -> None:
        assert kind in VIOLATION_KINDS, kind
        self.summary.violations[kind] += 1
        if len(self.summary.examples) < 50:
            self.summary.examples.append(f"trial {self.summary.trials}: {kind}: {detail}")
        self.log(f"VIOLATION trial {self.summary.trials}: {kind}: {detail}")

    def close(self) -> None:
        self.daemon.stop()
        self.receiver.close()

    def run(self, trials: int) -> Summary:
        self.summary.ready_seconds.append(self.daemon.start(self.ready_deadline_s))
        try:
            self.resync()
            for _ in range(trials):
                self.trial()
                self.summary.trials += 1
                self.on_trial(self.summary.trials)
        finally:
            self.summary.webhooks = Counter(self.receiver.counts)
        return self.summary

    def trial(self) -> None:
        stop = threading.Event()
        apis = [Api(self.daemon) for _ in self.clients]
        threads = [threading.Thread(target=c.run, args=(a, stop), daemon=True) for c, a in zip(self.clients, apis)]
        for t in threads:
            t.start()
        # Kill at a random moment; the clients' calls in flight fail with connection errors.
        stop.wait(self.rng.uniform(*self.kill_after))
        killed_at = time.monotonic()
        exited = self.daemon.kill()
        stop.set()
        for t in threads:
            t.join(timeout=120)
            if t.is_alive():
                self.violation("client-error", "a client call did not return within 120 s of the kill")
        for a in apis:
            a.close()
        if exited is not None:
            self.violation("unclean-exit", f"the daemon had exited by itself with {exited} before the kill")
        log = self.daemon.log_since_start()
        for line in log.splitlines():
            if "critical" in line.lower():
                self.violation("critical-log", line.strip()[:300])
        for c in self.clients:
            for e in c.errors:
                self.violation("client-error", f"client {c.index}: {e}")
            c.errors.clear()
            self.summary.operations.update(c.counts)
            c.counts.clear()
            self.summary.slow.update(c.slow)
            c.slow.clear()
            if c.inflight:
                self.summary.killed_during[c.inflight.op] += 1
                if killed_at - c.inflight.since > SLOW_S:
                    self.summary.stalled[c.inflight.op] += 1
        try:
            self.summary.ready_seconds.append(self.daemon.start(self.ready_deadline_s))
        except (TimeoutError, RuntimeError) as e:
            self.violation("not-ready", f"{e}: {self.daemon.log_since_start()[-2000:]}")
            raise
        self.check()
        self.resync()

    # -- checks ------------------------------------------------------------------------------

    def snapshot(self, api: Api) -> tuple[dict, dict, dict]:
        files = {f["path"]: f for f in api.all_items("/v1/files")}
        pins = {p["id"]: p for p in api.all_items("/v1/pins")}
        leases = {lease["id"]: lease for lease in api.all_items("/v1/leases")}
        return files, pins, leases

    def check(self) -> None:
        api = Api(self.daemon)
        try:
            files, pins, leases = self.snapshot(api)
            self.check_files(api, files)
            self.check_pins(pins)
            self.check_leases(leases)
            self.check_operations(api)
        finally:
            api.close()

    def check_files(self, api: Api, listed: dict[str, dict]) -> None:
        all_files = [f for c in self.clients for f in c.files]
        flagged = immutable_files([f.path for f in all_files])
        for c in self.clients:
            for f in c.files:
                entry = listed.get(f.api_path)
                inflight = c.inflight is not None and c.inflight.file is f
                op = c.inflight.op if inflight else None
                if entry is not None and entry["state"] == "degraded":
                    self.violation("lock-degraded", f"{f.api_path}: {entry.get('reason')}")
                healthy = entry is not None and entry["state"] != "degraded"
                if f.path in flagged and entry is None:
                    self.violation("flag-untracked", f"{f.path} has +i but GET /v1/files does not list it")
                if healthy and f.path not in flagged:
                    self.violation("flag-missing", f"{f.api_path} is listed locked but lsattr shows no +i")
                if f.locked and entry is None and op != "unlock":
                    self.violation("lock-lost", f"{f.api_path} was locked (answered) and is not listed")
                if not f.locked and entry is not None and op != "lock":
                    self.violation("lock-unexpected", f"{f.api_path} was unlocked (answered) and is listed")
                if not f.path.exists():
                    continue
                report = api.ok("POST", "/v1/files/inspect", {"path": f.api_path})
                if report["ready"]:
                    problems = layout_problems(f.path, f.root.fstype)
                    if problems:
                        self.violation("ready-with-holes", f"{f.api_path} reported ready: {'; '.join(problems[:3])}")
                elif f.ready and op not in ("prepare", "prepare-async", "operation"):
                    self.violation("ready-lost", f"{f.api_path} was prepared (answered) and is not ready: {report.get('reasons')}")

    def check_pins(self, listed: dict[str, dict]) -> None:
        active_bytes = 0
        for p in listed.values():
            if p["state"] == "active":
                active_bytes += (p["length"] + PAGE - 1) // PAGE * PAGE
            elif not p.get("reason"):
                self.violation("pin-failed-silently", f"pin {p['id']} is {p['state']} without a reason")
            else:
                self.summary.failed_pins += 1
        known: set[str] = set()
        for c in self.clients:
            for f in c.files:
                op = c.inflight.op if c.inflight and c.inflight.file is f else None
                for pin_id in f.pins:
                    known.add(pin_id)
                    if pin_id not in listed and not (op == "unpin" and c.inflight.target == pin_id):
                        self.violation("pin-lost", f"pin {pin_id} on {f.api_path} was answered 201 and is not listed")
                for p in listed.values():
                    if p["path"] == f.api_path and p["id"] not in f.pins and op != "pin":
                        self.violation("pin-unknown", f"pin {p['id']} on {f.api_path} was never answered")
        locked = locked_memory_bytes(self.daemon.proc.pid)
        if locked < active_bytes:
            self.violation("vmlck", f"VmLck {locked} bytes < {active_bytes} bytes of active pins")

    def check_leases(self, listed: dict[str, dict]) -> None:
        now = int(time.time() * 1000)
        for c in self.clients:
            inflight = c.inflight
            for lease_id, fact in c.leases.items():
                op = inflight.op if inflight and inflight.target == lease_id else None
                lease = listed.get(lease_id)
                if lease is None:
                    self.violation("lease-lost", f"{lease_id} ({fact.state}) is not listed")
                    continue
                state = lease["state"]
                allowed = {fact.state}
                if fact.state == "active" and op == "revoke":
                    allowed.add("revoking")
                if fact.state in ("active", "revoking") and op == "release":
                    allowed.add("released")
                if fact.state == "revoking" and fact.deadline_ms <= now:
                    allowed.add("revoked")
                if state not in allowed:
                    self.violation("lease-state", f"{lease_id}: {state}, answered {fact.state} (in flight: {op})")
                    continue
                if state == "active" and parse_ms(lease["expires_at"]) < fact.expires_ms:
                    self.violation("lease-expiry", f"{lease_id}: expires_at {lease['expires_at']} is earlier than answered ({fact.expires_ms})")
                if state == "revoking" and fact.state == "revoking" and parse_ms(lease["deadline"]) != fact.deadline_ms:
                    self.violation("lease-deadline", f"{lease_id}: deadline {lease['deadline']}, answered {fact.deadline_ms}")
            known = set(c.leases)
            my_pins = {p for f in c.files for p in f.pins}
            for lease in listed.values():
                if lease["pin_id"] in my_pins and lease["id"] not in known and lease["state"] in ("active", "revoking"):
                    if not (inflight and inflight.op == "grant" and inflight.target == lease["pin_id"]):
                        self.violation("lease-unknown", f"{lease['id']} on {lease['pin_id']} ({lease['state']}) was never answered")

    def check_operations(self, api: Api) -> None:
        for c in self.clients:
            for op_id in c.pending_ops:
                r = api.call("GET", f"/v1/operations/{op_id}")
                if r.status_code == 200 and r.json()["state"] == "running":
                    self.violation("operation-stuck", f"{op_id} is still running after the restart")

    def resync(self) -> None:
        api = Api(self.daemon)
        try:
            files, pins, leases = self.snapshot(api)
            ready = {}
            for c in self.clients:
                for f in c.files:
                    if f.path.exists():
                        ready[f.api_path] = api.ok("POST", "/v1/files/inspect", {"path": f.api_path})["ready"]
            for c in self.clients:
                c.adopt(files, pins, leases, ready, api)
        finally:
            api.close()


def main() -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, type=Path)
    parser.add_argument("--root", action="append", required=True, help="NAME=PATH:FSTYPE")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print(f"crash trials: seed {seed} (rerun with SEED={seed}), {args.trials} trials, {args.clients} clients", flush=True)
    roots = []
    for spec in args.root:
        name, _, rest = spec.partition("=")
        path, _, fstype = rest.rpartition(":")
        roots.append(Root(name, Path(path), fstype))
    trials = CrashTrials(args.binary, roots, args.state_dir, args.log, seed, clients=args.clients,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    started = time.monotonic()
    try:
        def progress(n: int) -> None:
            if n % 10 == 0:
                print(f"  {n} trials, {trials.summary.total_violations} violations, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        trials.on_trial = progress
        summary = trials.run(args.trials)
    finally:
        trials.close()
    table = summary.table() + f"\nwall time: {time.monotonic() - started:.0f} s"
    print(table)
    for example in summary.examples:
        print("  " + example)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return 1 if summary.total_violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
