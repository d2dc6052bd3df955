"""The deployment files: deploy/systemd/pinleased.service passes `systemd-analyze verify` with no
warning, deploy/kubernetes/daemonset.yaml validates (strictly, no unknown field) against the newest
Kubernetes schema kubernetes-validate ships (offline), and the daemon command line of each really
starts pinleased (its paths moved to a temporary directory), which tells READY=1 over NOTIFY_SOCKET.
Both files grant the same capabilities, and the DaemonSet's termination grace covers its drain."""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import yaml
from conftest import require_binary, unavailable
from e2e_support import daemon_binary, free_port
from test_systemd import NotifyReceiver

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "systemd" / "pinleased.service"
DAEMONSET = REPO / "deploy" / "kubernetes" / "daemonset.yaml"
# `--drain` waits this long past the last revocation deadline (PinCoreService.drain's `extra`).
DRAIN_EXTRA_S = 10


def unit_settings() -> dict[str, list[str]]:
    """The [Service] keys of the unit (continuation lines joined), each with its values in order."""
    settings: dict[str, list[str]] = {}
    text = UNIT.read_text().replace("\\\n", " ")
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def daemonset() -> dict:
    documents = list(yaml.safe_load_all(DAEMONSET.read_text()))
    return next(d for d in documents if d["kind"] == "DaemonSet")


def test_systemd_unit_verifies(workdir: Path):
    if shutil.which("systemd-analyze") is None:
        unavailable("systemd-analyze not installed (Debian package systemd)")
    require_binary()
    # verify insists that ExecStart's binary exists: point it at the one built here.
    unit = workdir / f"verify-{uuid.uuid4().hex[:6]}" / "pinleased.service"
    unit.parent.mkdir()
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/pinleased", str(daemon_binary())))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], check=False, capture_output=True, text=True, timeout=120
    )
    # verify exits 0 on unknown keys and unparsable values too: any message is a failure.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_daemonset_validates_against_current_kubernetes():
    try:
        import kubernetes_validate
    except ImportError:
        unavailable("kubernetes-validate not installed (make deps-pip)")
    latest = kubernetes_validate.utils.latest_version()
    assert tuple(int(part) for part in latest.split(".")[:2]) >= (1, 33), latest
    for document in yaml.safe_load_all(DAEMONSET.read_text()):
        # Raises ValidationError naming the field.
        kubernetes_validate.validate(document, latest, strict=True)


def test_unit_and_daemonset_grant_the_same_capabilities():
    settings = unit_settings()
    bounding = set(settings["CapabilityBoundingSet"][0].split())
    assert set(settings["AmbientCapabilities"][0].split()) == bounding
    security = daemonset()["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert security["capabilities"]["drop"] == ["ALL"] and not security["privileged"]
    assert {"CAP_" + name for name in security["capabilities"]["add"]} == bounding


def test_daemonset_termination_grace_covers_the_drain():
    pod = daemonset()["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--drain" in args
    grace_max = int(args[args.index("--grace-max-s") + 1])
    delivery = int(args[args.index("--drain-delivery-timeout-s") + 1]) if "--drain-delivery-timeout-s" in args else 30
    assert pod["terminationGracePeriodSeconds"] >= grace_max + DRAIN_EXTRA_S + delivery


def start_and_stop(command: list[str], notify: str, what: str) -> None:
    """Runs `command` with NOTIFY_SOCKET, waits for READY=1, checks /healthz, stops it with SIGTERM."""
    receiver = NotifyReceiver(notify)
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={"NOTIFY_SOCKET": notify, "PATH": "/usr/bin:/bin"})
    try:
        ready = receiver.wait_for(f"READY=1 from {what}", lambda m: m.get("READY") == "1")
        assert receiver.messages[ready]["STATUS"].startswith("serving on "), receiver.messages[ready]
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0].decode(errors="replace")
        receiver.close()
    assert proc.returncode == 0, output


def relocated(args: list[str], base: Path, replacements: dict[str, str]) -> list[str]:
    """`args` with each host path prefix moved below `base` (created) and the listen port freed."""
    moved = []
    for arg in args:
        for old, new in replacements.items():
            arg = arg.replace(old, new)
        moved.append(arg)
    for path in ("srv", "state", "run"):
        (base / path).mkdir(parents=True, exist_ok=True)
    listen = moved.index("--listen") + 1
    moved[listen] = f"127.0.0.1:{free_port()}"
    return moved


def test_unit_command_line_starts_the_daemon(workdir: Path):
    require_binary()
    base = workdir / f"unit-{uuid.uuid4().hex[:6]}"
    exec_start = shlex.split(unit_settings()["ExecStart"][0])
    assert exec_start[0] == "/usr/local/bin/pinleased"
    args = relocated(exec_start[1:], base, {
        "/srv/pinlease": str(base / "srv"),
        "${STATE_DIRECTORY}": str(base / "state"),
        "${RUNTIME_DIRECTORY}": str(base / "run"),
    })
    start_and_stop([str(daemon_binary())] + args, str(base / "notify.sock"), "the unit's ExecStart")
    assert (base / "state" / "lock").exists()


def test_daemonset_command_line_starts_the_daemon(workdir: Path):
    require_binary()
    base = workdir / f"daemonset-{uuid.uuid4().hex[:6]}"
    container = daemonset()["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    args = relocated(container["args"], base, {
        mounts["roots"]: str(base / "srv"),
        mounts["state"]: str(base / "state"),
        mounts["api-socket"]: str(base / "run"),
    })
    start_and_stop([str(daemon_binary())] + args, str(base / "notify.sock"), "the DaemonSet's args")
    # The preStop hook names the daemon by the pid in this file.
    assert f"cat {mounts['state']}/lock" in container["lifecycle"]["preStop"]["exec"]["command"][-1]
