"""Support code for the pinlease end-to-end tests: loop-mounted filesystems, the daemon
process, an HTTP client that checks every answer against openapi/pinlease.yaml, and
independent layout probes (our own FIEMAP and SEEK_DATA/SEEK_HOLE) so that no test has to
trust the daemon to tell it what the daemon did."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "openapi" / "pinlease.yaml"
PROBLEM_BASE = "https://pinlease.dev/problems/"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
MiB = 1 << 20
GiB = 1 << 30
FS_NAMES = ("ext4", "xfs", "btrfs", "tmpfs")
FIEMAP_FS = ("ext4", "xfs", "btrfs")
REFLINK_FS = ("xfs", "btrfs")


def daemon_binary() -> Path:
    value = os.environ.get("PINLEASED_BIN")
    path = Path(value) if value else REPO / ".build" / "debug" / "pinleased"
    return path if path.is_absolute() else (REPO / path)


def run(cmd: list[str], check: bool = True, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return result


# --------------------------------------------------------------------------------------
# Filesystems


@dataclasses.dataclass
class Filesystem:
    name: str  # also the daemon's root name
    fstype: str
    mountpoint: Path
    device: str | None = None
    image: Path | None = None

    def path(self, relative: str) -> Path:
        return self.mountpoint / relative

    def api_path(self, relative: str) -> str:
        return f"{self.name}:{relative}"

    def unique(self, stem: str, suffix: str = ".bin") -> str:
        return f"{stem}-{uuid.uuid4().hex[:10]}{suffix}"


class MountRegistry:
    """Everything mounted or attached, undone in reverse order (also from atexit)."""

    def __init__(self) -> None:
        self.mounts: list[Path] = []
        self.loops: list[str] = []
        self.images: list[Path] = []
        self.dirs: list[Path] = []
        self.processes: list[subprocess.Popen] = []

    def cleanup(self) -> list[str]:
        problems: list[str] = []
        for proc in list(self.processes):
            if proc.poll() is None:
                try:
                    proc.terminate()
                    proc.wait(timeout=15)
                except Exception:
                    proc.kill()
                    proc.wait(timeout=15)
            self.processes.remove(proc)
        for mount in reversed(self.mounts):
            subprocess.run(["chattr", "-R", "-i", str(mount)], capture_output=True, timeout=120)
            for attempt in range(10):
                result = subprocess.run(["umount", str(mount)], capture_output=True, text=True, timeout=60)
                if result.returncode == 0 or not os.path.ismount(mount):
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=60)
                problems.append(f"umount {mount}: {result.stderr.strip()} (lazily unmounted)")
        self.mounts.clear()
        for loop in reversed(self.loops):
            result = subprocess.run(["losetup", "-d", loop], capture_output=True, text=True, timeout=60)
            if result.returncode != 0:
                problems.append(f"losetup -d {loop}: {result.stderr.strip()}")
        self.loops.clear()
        for image in self.images:
            try:
                image.unlink()
            except FileNotFoundError:
                pass
        self.images.clear()
        for directory in reversed(self.dirs):
            shutil.rmtree(directory, ignore_errors=True)
        self.dirs.clear()
        return problems


def make_loop_filesystem(reg: MountRegistry, base: Path, fstype: str, size: int, name: str | None = None) -> Filesystem:
    name = name or fstype
    image = base / f"{name}.img"
    with open(image, "wb") as f:
        f.truncate(size)
    reg.images.append(image)
    device = run(["losetup", "--find", "--show", str(image)]).stdout.strip()
    reg.loops.append(device)
    mkfs = {
        "ext4": ["mkfs.ext4", "-q", "-F", device],
        "xfs": ["mkfs.xfs", "-q", "-f", "-m", "reflink=1", device],
        "btrfs": ["mkfs.btrfs", "-q", "-f", device],
    }[fstype]
    run(mkfs, timeout=300)
    mountpoint = base / "mnt" / name
    mountpoint.mkdir(parents=True, exist_ok=True)
    run(["mount", "-t", fstype, device, str(mountpoint)])
    reg.mounts.append(mountpoint)
    return Filesystem(name=name, fstype=fstype, mountpoint=mountpoint, device=device, image=image)


def make_tmpfs(reg: MountRegistry, mountpoint: Path, size: str, name: str = "tmpfs") -> Filesystem:
    mountpoint.mkdir(parents=True, exist_ok=True)
    run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)])
    reg.mounts.append(mountpoint)
    return Filesystem(name=name, fstype="tmpfs", mountpoint=mountpoint)


def missing_prerequisites() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("the end-to-end tests must run as root (loop devices, mounts, chattr)")
    tools = [t for t in ("losetup", "mount", "umount", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "chattr", "lsattr", "xfs_io", "fallocate")
             if shutil.which(t) is None]
    if tools:
        missing.append(f"not found: {', '.join(tools)} (apt-get install util-linux e2fsprogs xfsprogs btrfs-progs; run as root with /usr/sbin on PATH)")
    if not Path("/dev/loop-control").exists():
        missing.append("/dev/loop-control missing: no loop device support")
    return missing


# --------------------------------------------------------------------------------------
# Independent layout probes

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
EXTENT_LAST = 0x1
EXTENT_UNKNOWN = 0x2
EXTENT_DELALLOC = 0x4
EXTENT_ENCODED = 0x8
EXTENT_DATA_INLINE = 0x200
EXTENT_UNWRITTEN = 0x800
EXTENT_SHARED = 0x2000


@dataclasses.dataclass(frozen=True)
class Extent:
    logical: int
    physical: int
    length: int
    flags: int


def fiemap(path: Path | str) -> list[Extent]:
    """FS_IOC_FIEMAP with FIEMAP_FLAG_SYNC over the whole file, looping past each batch."""
    extents: list[Extent] = []
    start = 0
    count = 128
    with open(path, "rb") as f:
        while True:
            header = struct.pack("=QQIIII", start, 0xFFFFFFFFFFFFFFFF, FIEMAP_FLAG_SYNC, 0, count, 0)
            buf = bytearray(header + b"\0" * (56 * count))
            fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf, True)
            mapped = struct.unpack_from("=I", buf, 20)[0]
            for i in range(mapped):
                logical, physical, length, _r1, _r2, flags = struct.unpack_from("=QQQQQI", buf, 32 + 56 * i)
                extents.append(Extent(logical, physical, length, flags))
            if mapped == 0 or extents[-1].flags & EXTENT_LAST or mapped < count:
                break
            start = extents[-1].logical + extents[-1].length
    return extents


def seek_segments(path: Path | str) -> list[tuple[int, int]]:
    """Data segments [start, end) by SEEK_DATA/SEEK_HOLE."""
    segments = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                data = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            segments.append((data, min(hole, size)))
            offset = hole
    finally:
        os.close(fd)
    return segments


@dataclasses.dataclass
class Layout:
    """Our own view of a file's layout."""

    size: int
    hole_bytes: int
    holes: int
    unwritten: int
    shared: int
    other_flags: int  # delalloc/unknown/inline/encoded bytes
    source: str

    @property
    def ready(self) -> bool:
        return self.size > 0 and self.hole_bytes == 0 and self.unwritten == 0 and self.shared == 0 and self.other_flags == 0


def layout(path: Path | str, fstype: str) -> Layout:
    size = os.stat(path).st_size
    if fstype in FIEMAP_FS:
        covered = []
        unwritten = shared = other = 0
        for e in fiemap(path):
            lo, hi = e.logical, min(e.logical + e.length, size)
            if hi <= lo:
                continue
            covered.append((lo, hi))
            if e.flags & EXTENT_UNWRITTEN:
                unwritten += hi - lo
            if e.flags & EXTENT_SHARED:
                shared += hi - lo
            if e.flags & (EXTENT_DELALLOC | EXTENT_UNKNOWN | EXTENT_DATA_INLINE | EXTENT_ENCODED):
                other += hi - lo
        source = "fiemap"
    else:
        covered = seek_segments(path)
        unwritten = shared = other = 0
        source = "seek_data"
    holes = hole_bytes = 0
    cursor = 0
    for lo, hi in sorted(covered):
        if lo > cursor:
            holes += 1
            hole_bytes += lo - cursor
        cursor = max(cursor, hi)
    if cursor < size:
        holes += 1
        hole_bytes += size - cursor
    return Layout(size, hole_bytes, holes, unwritten, shared, other, source)


def drop_cache(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def file_sha256(path: Path | str) -> str:
    drop_cache(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def first_difference(path: Path | str, expected: bytes) -> int | None:
    drop_cache(path)
    data = Path(path).read_bytes()
    if len(data) != len(expected):
        return min(len(data), len(expected))
    if data == expected:
        return None
    for i in range(0, len(data), 4096):
        if data[i:i + 4096] != expected[i:i + 4096]:
            for j in range(i, min(i + 4096, len(data))):
                if data[j] != expected[j]:
                    return j
    return None


def all_zero(path: Path | str) -> bool:
    drop_cache(path)
    zero = bytes(4 * MiB)
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            if chunk != zero[: len(chunk)]:
                return False
    return True


def lsattr_flags(path: Path | str) -> str:
    return run(["lsattr", "-d", str(path)]).stdout.split()[0]


def is_immutable(path: Path | str) -> bool:
    return "i" in lsattr_flags(path)


def proc_leases(pid: int) -> list[str]:
    """Lines of /proc/locks that are leases held by pid."""
    out = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # "1: LEASE  ACTIVE    READ 12345 08:01:1234 0 EOF"
        if len(fields) >= 5 and fields[1] == "LEASE" and fields[4] == str(pid):
            out.append(line)
    return out


def lease_on_inode(pid: int, inode: int) -> bool:
    return any(line.split()[5].endswith(f":{inode}") for line in proc_leases(pid))


# --------------------------------------------------------------------------------------
# The OpenAPI document, and checking answers against it


class Spec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.doc = yaml.safe_load(path.read_text())
        self.uri = "urn:pinlease:openapi"
        self.registry = Registry().with_resource(self.uri, Resource(contents=self.doc, specification=DRAFT202012))
        self._validator_cls = jsonschema.Draft202012Validator
        self._format_checker = jsonschema.FormatChecker()
        self.templates = []
        for template in self.doc["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.templates.append((template, re.compile(regex)))

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def template_for(self, path: str) -> str | None:
        path = path.split("?", 1)[0]
        for template, regex in self.templates:
            if regex.match(path):
                return template
        return None

    def validate_instance(self, schema: dict, instance: Any) -> list[str]:
        validator = self._validator_cls(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "allOf": [self._rebase(schema)]},
            registry=self.registry,
            format_checker=self._format_checker,
        )
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]

    def _rebase(self, schema: Any) -> Any:
        """Make local refs ("#/components/...") point into the registered document."""
        if isinstance(schema, dict):
            return {k: (self.uri + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else self._rebase(v)) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self._rebase(v) for v in schema]
        return schema

    def check_response(self, method: str, path: str, response: requests.Response) -> list[str]:
        """Everything in this answer that the spec does not allow."""
        errors: list[str] = []
        status = response.status_code
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip()
        template = self.template_for(path)
        operation = self.doc["paths"].get(template, {}).get(method.lower()) if template else None
        if status >= 400:
            if ctype != "application/problem+json":
                errors.append(f"{status} answer has Content-Type {ctype!r}, not application/problem+json")
        if operation is None:
            # Not a documented operation: only a problem answer is acceptable.
            if status < 400:
                errors.append(f"undocumented {method} {path} answered {status}")
                return errors
            schema = {"$ref": "#/components/schemas/Problem"}
            body = self._json(response, errors)
            if body is not None:
                errors += self.validate_instance(schema, body)
                if body.get("status") != status:
                    errors.append(f"problem status {body.get('status')} != HTTP status {status}")
            return errors
        responses = operation["responses"]
        documented = responses.get(str(status))
        if documented is None:
            errors.append(f"{method} {template} answered {status}, not documented (documented: {sorted(responses)})")
            return errors
        documented = self.resolve(documented)
        for name, header in documented.get("headers", {}).items():
            header = self.resolve(header)
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    errors.append(f"missing header {name}")
                continue
            errors += [f"header {name}: {e}" for e in self.validate_instance(header.get("schema", {}), value)]
        content = documented.get("content")
        if content:
            if ctype not in content:
                errors.append(f"Content-Type {ctype!r} not in documented {sorted(content)}")
                return errors
            if not ctype.endswith("json"):
                return errors  # a text body (the metrics): its documented media type is all there is to check
            body = self._json(response, errors)
            if body is not None:
                errors += self.validate_instance(content[ctype]["schema"], body)
                if status >= 400 and isinstance(body, dict) and body.get("status") != status:
                    errors.append(f"problem status {body.get('status')} != HTTP status {status}")
                # A problem's `type` is one the response lists (its codes, `x-problem-types`).
                codes = documented.get("x-problem-types")
                if status >= 400 and codes and isinstance(body, dict):
                    code = str(body.get("type", "")).removeprefix("https://pinlease.dev/problems/")
                    if code not in codes:
                        errors.append(f"problem type {body.get('type')!r} is not one of {status}'s {codes}")
        return errors

    @staticmethod
    def _json(response: requests.Response, errors: list[str]) -> Any:
        try:
            return response.json()
        except ValueError:
            errors.append(f"body is not JSON: {response.text[:200]!r}")
            return None


_SPEC: Spec | None = None


def spec() -> Spec:
    global _SPEC
    if _SPEC is None:
        _SPEC = Spec()
    return _SPEC


# --------------------------------------------------------------------------------------
# The daemon and its HTTP API


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiError(AssertionError):
    pass


class Daemon:
    """A real pinleased process."""

    def __init__(
        self,
        roots: Iterable[tuple[str, Path]],
        state_dir: Path,
        log_path: Path,
        tokens_file: Path | None = None,
        extra_args: Iterable[str] = (),
        registry: MountRegistry | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.roots = list(roots)
        self.state_dir = state_dir
        self.log_path = log_path
        self.tokens_file = tokens_file
        self.extra_args = list(extra_args)
        self.registry = registry
        # Added to (not replacing) this process's environment, e.g. PINLEASED_* settings.
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.token: str | None = None
        self.session = requests.Session()
        self.last_exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        cmd = [str(daemon_binary()), "--listen", f"127.0.0.1:{self.port}", "--state-dir", str(self.state_dir)]
        for name, path in self.roots:
            cmd += ["--root", f"{name}={path}"]
        if self.tokens_file is not None:
            cmd += ["--tokens", str(self.tokens_file)]
        return cmd + self.extra_args

    def start(self, timeout: float = 60) -> None:
        binary = daemon_binary()
        if not binary.exists():
            raise RuntimeError(f"pinleased binary not found at {binary} (build it with `swift build`, or set PINLEASED_BIN)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.log_path, "ab")
        log.write(f"\n==== {' '.join(self.command())}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **self.env})
        log.close()
        if self.registry is not None:
            self.registry.processes.append(self.proc)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pinleased exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                r = requests.get(self.url + "/readyz", timeout=2)
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"pinleased not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)
        if self.tokens_file is None:
            token_path = self.state_dir / "admin.token"
            self.token = token_path.read_text().strip()
            assert self.token, f"{token_path} is empty"

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return self.last_exit_code
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
                self.last_exit_code = None
                raise RuntimeError(f"pinleased did not exit within {timeout}s of SIGTERM (killed)")
        if self.registry is not None and proc in self.registry.processes:
            self.registry.processes.remove(proc)
        self.session.close()
        self.session = requests.Session()
        self.last_exit_code = proc.returncode
        return proc.returncode

    def restart(self) -> None:
        code = self.stop()
        assert code == 0, f"pinleased exited with {code} on SIGTERM:\n{self.log_tail()}"
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text[-lines:])

    # -- HTTP ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None | bool = True,
        headers: dict[str, str] | None = None,
        data: bytes | str | None = None,
        validate: bool = True,
        timeout: float = 120,
    ) -> requests.Response:
        h = dict(headers or {})
        if token is True:
            token = self.token
        if token:
            h.setdefault("Authorization", f"Bearer {token}")
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        response = self.session.request(method, self.url + path, data=data, headers=h, timeout=timeout)
        if validate:
            errors = spec().check_response(method, path, response)
            if errors:
                raise ApiError(
                    f"{method} {path} -> {response.status_code} does not conform to openapi/pinlease.yaml:\n  "
                    + "\n  ".join(errors)
                    + f"\nbody: {response.text[:2000]}"
                )
        return response

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        r = self.request(method, path, body, **kw)
        if r.status_code != status:
            raise ApiError(f"{method} {path} {json.dumps(body) if body is not None else ''} -> {r.status_code}, expected {status}: {r.text[:3000]}")
        return r.json()

    def problem(self, method: str, path: str, body: Any = None, status: int | None = None, code: str | None = None, **kw: Any) -> dict:
        r = self.request(method, path, body, **kw)
        text = f"{method} {path} {json.dumps(body) if body is not None else ''} -> {r.status_code} {r.text[:3000]}"
        if status is not None and r.status_code != status:
            raise ApiError(f"expected {status} {code or ''}, got: {text}")
        assert r.headers.get("Content-Type", "").startswith("application/problem+json"), text
        problem = r.json()
        if code is not None and problem.get("type") != PROBLEM_BASE + code:
            raise ApiError(f"expected problem type {code}, got: {text}")
        return problem

    # -- files API -------------------------------------------------------------------

    def inspect(self, path: str) -> dict:
        return self.ok("POST", "/v1/files/inspect", {"path": path})

    def prepare(self, path: str, **fields: Any) -> dict:
        return self.ok("POST", "/v1/files/prepare", {"path": path, **fields}, timeout=600)

    def lock(self, path: str) -> dict:
        return self.ok("POST", "/v1/files/lock-immutable", {"path": path})

    def unlock(self, path: str) -> dict:
        return self.ok("POST", "/v1/files/unlock", {"path": path})

    def files(self) -> list[dict]:
        return self.ok("GET", "/v1/files")["items"]

    def wait_operation(self, op_id: str, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            op = self.ok("GET", f"/v1/operations/{op_id}")
            if op["state"] != "running":
                return op
            if time.monotonic() > deadline:
                raise AssertionError(f"operation {op_id} still running after {timeout}s: {op}")
            time.sleep(0.05)


# --------------------------------------------------------------------------------------
# Processes that hold a file open for writing



class EventStream:
    """A client of GET /v1/events on a raw socket (HTTP/1.1 by hand, chunked decoding, then
    SSE frames: `id:`, `event:`, `data:` lines and a blank line), with a read timeout: it
    fails instead of hanging when the daemon sends nothing. It returns once the response head
    has arrived: the daemon subscribes the stream before it answers, so every event after
    that is seen."""

    def __init__(self, d: "Daemon", query: str = "", token: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 15) -> None:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
        self.sock.sendall(f"GET /v1/events{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token or d.token}\r\n"
                          f"Accept: text/event-stream\r\n{extra}\r\n".encode())
        self.raw = b""
        self.body = b""
        self.head: bytes | None = None
        self.chunked = False
        self.timeout = timeout
        deadline = time.monotonic() + timeout
        while self.head is None:
            assert time.monotonic() < deadline, "no response head from GET /v1/events"
            self._pump()

    def _pump(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the stream ended"
        self.raw += chunk
        if self.head is None:
            if b"\r\n\r\n" not in self.raw:
                return
            self.head, self.raw = self.raw.split(b"\r\n\r\n", 1)
            assert self.head.startswith(b"HTTP/1.1 200"), self.head + self.raw[:500]
            assert b"text/event-stream" in self.head.lower(), self.head
            self.chunked = b"transfer-encoding: chunked" in self.head.lower()
        if not self.chunked:
            self.body += self.raw
            self.raw = b""
            return
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def read(self, count: int) -> list[dict]:
        """The next `count` events (each checked: its `id:` is its `seq`)."""
        events: list[dict] = []
        deadline = time.monotonic() + self.timeout
        while len(events) < count:
            while b"\n\n" in self.body and len(events) < count:
                frame, self.body = self.body.split(b"\n\n", 1)
                lines = frame.decode(errors="replace").split("\n")
                data = [line[5:].strip() for line in lines if line.startswith("data:")]
                ids = [line[3:].strip() for line in lines if line.startswith("id:")]
                if data and ids:
                    event = json.loads(data[0])
                    assert int(ids[0]) == event["seq"]
                    events.append(event)
            if len(events) >= count:
                break
            assert time.monotonic() < deadline, f"only {len(events)} of {count} events: {[e['seq'] for e in events]}"
            self._pump()
        return events

    def sequences(self, count: int) -> list[int]:
        """The sequence numbers of the next `count` events."""
        return [event["seq"] for event in self.read(count)]

    def close(self) -> None:
        self.sock.close()


class Writer:
    """A process that holds `path` open read-write (fd 3), or mapped shared+writable."""

    def __init__(self, path: Path, mapped: bool = False) -> None:
        if mapped:
            code = (
                "import mmap, os, sys, time\n"
                "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                "m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)\n"
                "os.close(fd)\n"
                "print('ready', flush=True)\n"
                "time.sleep(600)\n"
            )
            cmd = [sys.executable, "-c", code, str(path)]
        else:
            cmd = ["bash", "-c", 'exec 3<>"$1" && echo ready && exec sleep 600', "writer", str(path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line == "ready", f"writer did not start: {line!r}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --------------------------------------------------------------------------------------
# Pins: independent probes of what the daemon holds (page-cache residency, its mappings,
# its io_uring registrations, the kernel's FOLL_PIN counters) and of the kernel facts the
# compatibility report claims.

import ctypes  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.restype = ctypes.c_int
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.restype = ctypes.c_int
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
_libc.syscall.restype = ctypes.c_long
_MAP_FAILED = ctypes.c_void_p(-1).value
_PROT_READ, _PROT_WRITE, _MAP_SHARED = 0x1, 0x2, 0x01
SYS_IO_URING_SETUP, SYS_IO_URING_REGISTER = 425, 427  # the same number on every architecture
IORING_REGISTER_BUFFERS = 0


def pages(length: int) -> int:
    return (length + PAGE_SIZE - 1) // PAGE_SIZE


def drop_caches(level: int = 3) -> None:
    """`sync; echo LEVEL > /proc/sys/vm/drop_caches`: page cache (1), slab (2), or both (3)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text(f"{level}\n")


def _mmap(fd: int, length: int, prot: int, offset: int = 0) -> int:
    addr = _libc.mmap(None, length, prot, _MAP_SHARED, fd, offset)
    if addr in (None, _MAP_FAILED):
        err = ctypes.get_errno()
        raise OSError(err, f"mmap: {os.strerror(err)}")
    return addr


def resident_pages(path: Path | str, offset: int = 0, length: int | None = None) -> tuple[int, int]:
    """(resident, total) pages of [offset, offset+length) of the file's page cache, by mincore
    on a read-only shared mapping made by this process (it faults nothing in)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if length is None:
            length = os.fstat(fd).st_size - offset
        addr = _mmap(fd, length, _PROT_READ, offset)
        try:
            n = pages(length)
            vec = (ctypes.c_ubyte * n)()
            if _libc.mincore(addr, length, vec) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"mincore: {os.strerror(err)}")
            return sum(v & 1 for v in vec), n
        finally:
            _libc.munmap(addr, length)
    finally:
        os.close(fd)


def vmtouch_resident(path: Path | str) -> tuple[int, int]:
    """(resident, total) pages of the whole file as `vmtouch -v` reports them."""
    out = run(["vmtouch", "-v", str(path)]).stdout
    m = re.search(r"Resident Pages:\s*(\d+)/(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


@dataclasses.dataclass
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    path: str
    fields: dict[str, int]  # smaps fields in kB
    vmflags: list[str]

    @property
    def size(self) -> int:
        return self.end - self.start


def mappings_of(pid: int, path: Path | str) -> list[Mapping]:
    """The mappings of `path` in /proc/<pid>/smaps."""
    target = str(path)
    result: list[Mapping] = []
    current: Mapping | None = None
    header = re.compile(r"^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$")
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        m = header.match(line)
        if m:
            current = None
            if m.group(5).strip() == target:
                current = Mapping(int(m.group(1), 16), int(m.group(2), 16), m.group(3), int(m.group(4), 16), target, {}, [])
                result.append(current)
            continue
        if current is None:
            continue
        if line.startswith("VmFlags:"):
            current.vmflags = line.split()[1:]
        else:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                current.fields[parts[0][:-1]] = int(parts[1])
    return result


def io_uring_buffers(pid: int) -> dict[int, list[int]]:
    """io_uring descriptors of pid: fd -> lengths of its registered user buffers, from
    /proc/<pid>/fdinfo/<fd> ("UserBufs:\\tN" followed by "  i: 0xADDR/LEN" lines)."""
    rings: dict[int, list[int]] = {}
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir():
        try:
            if os.readlink(entry) != "anon_inode:[io_uring]":
                continue
            text = (Path(f"/proc/{pid}/fdinfo") / entry.name).read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        lengths: list[int] = []
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("UserBufs:"):
                for follow in lines[i + 1:]:
                    m = re.match(r"^\s+\d+:\s*0x[0-9a-fA-F]+/(\d+)", follow)
                    if not m:
                        break
                    lengths.append(int(m.group(1)))
                break
        rings[int(entry.name)] = lengths
    return rings


def vmstat(*names: str) -> dict[str, int]:
    """Counters from /proc/vmstat, after folding the per-cpu deltas (vm/stat_refresh)."""
    try:
        Path("/proc/sys/vm/stat_refresh").write_text("1\n")
    except OSError:
        pass
    values = {}
    for line in Path("/proc/vmstat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key in names:
            values[key] = int(value)
    return values


def longterm_write_pin_errno(directory: Path | str) -> int:
    """Register a MAP_SHARED read-write mapping of a scratch file in `directory` as an io_uring
    fixed buffer (FOLL_WRITE|FOLL_LONGTERM), by raw syscalls: 0 when the kernel allows it,
    else the errno (EFAULT for page-cache-backed files)."""
    path = Path(directory) / f".lt-probe-{uuid.uuid4().hex[:10]}"
    length = 64 * 1024
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    ring = -1
    addr = None
    try:
        os.write(fd, os.urandom(length))
        os.fsync(fd)
        addr = _mmap(fd, length, _PROT_READ | _PROT_WRITE)
        params = ctypes.create_string_buffer(120)
        ring = _libc.syscall(ctypes.c_long(SYS_IO_URING_SETUP), ctypes.c_long(4), params)
        if ring < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"io_uring_setup: {os.strerror(err)}")

        class IOVec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

        iov = IOVec(addr, length)
        rc = _libc.syscall(ctypes.c_long(SYS_IO_URING_REGISTER), ctypes.c_long(ring), ctypes.c_long(IORING_REGISTER_BUFFERS),
                           ctypes.byref(iov), ctypes.c_long(1))
        return 0 if rc == 0 else ctypes.get_errno()
    finally:
        if ring >= 0:
            os.close(ring)
        if addr is not None:
            _libc.munmap(addr, length)
        os.close(fd)
        path.unlink()


def immutable_blocks_existing_writer(directory: Path | str) -> bool:
    """Open a scratch file read-write, set +i, write through the earlier descriptor: True when
    the filesystem refuses that write (EPERM), False when it goes through."""
    path = Path(directory) / f".iw-probe-{uuid.uuid4().hex[:10]}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"x" * 4096)
        run(["chattr", "+i", str(path)])
        try:
            os.pwrite(fd, b"y" * 4096, 0)
            return False
        except PermissionError:
            return True
    finally:
        os.close(fd)
        run(["chattr", "-i", str(path)], check=False)
        path.unlink()


# --------------------------------------------------------------------------------------
# Files made by tests, and undoing what a test did


def make_file(fs: Filesystem, stem: str, size: int = 4 * MiB) -> tuple[str, Path]:
    """A ready file of random data (every byte written, fsynced)."""
    name = fs.unique(stem)
    path = fs.path(name)
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            chunk = min(remaining, 8 * MiB)
            f.write(os.urandom(chunk))
            remaining -= chunk
        f.flush()
        os.fsync(f.fileno())
    return name, path


class Cleanup:
    """What a test leased, pinned and locked, undone at the end even when the test fails:
    leases released, pins deleted, files unlocked, +i cleared, files removed."""

    def __init__(self) -> None:
        self.leases: list[tuple[Daemon, str]] = []
        self.pins: list[tuple[Daemon, str]] = []
        self.locks: list[tuple[Daemon, str]] = []
        self.files: list[Path] = []

    def file(self, path: Path) -> Path:
        self.files.append(path)
        return path

    def run(self) -> None:
        undo = [(d, "POST", f"/v1/leases/{lease_id}/release", None) for d, lease_id in reversed(self.leases)]
        undo += [(d, "DELETE", f"/v1/pins/{pin_id}", None) for d, pin_id in reversed(self.pins)]
        undo += [(d, "POST", "/v1/files/unlock", {"path": api}) for d, api in reversed(self.locks)]
        for d, method, path, body in undo:
            try:
                if d.proc is not None:
                    d.request(method, path, body, validate=False, timeout=30)
            except Exception:
                pass
        for path in self.files:
            for p in (path, Path(str(path) + ".clone")):
                if p.exists():
                    run(["chattr", "-i", str(p)], check=False)
                    try:
                        p.unlink()
                    except OSError:
                        pass
