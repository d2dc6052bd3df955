"""The sd_notify protocol as systemd's Type=notify sees it: a real daemon, and a datagram socket bound
here as its NOTIFY_SOCKET (a socket file, and an abstract name), receiving READY=1 once it serves,
RELOADING=1 then READY=1 around SIGHUP, WATCHDOG=1 with WATCHDOG_USEC set, and STOPPING=1 on SIGTERM.
Every wait is on a received datagram, with a deadline."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import requests

DEADLINE_S = 60


class NotifyReceiver:
    """A bound AF_UNIX datagram socket; a thread collects each datagram as a dict of its KEY=VALUE
    lines, and, for one carrying READY=1, whether the daemon answered /healthz at that moment."""

    def __init__(self, address: str, daemon_url=lambda: None) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # Python names an abstract socket with a leading NUL byte; systemd writes "@".
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.daemon_url = daemon_url
        self.messages: list[dict[str, str]] = []
        self.changed = threading.Condition()
        self.closing = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while not self.closing:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if fields.get("READY") == "1":
                fields["_healthz"] = self._healthz()
            with self.changed:
                self.messages.append(fields)
                self.changed.notify_all()

    def _healthz(self) -> str:
        url = self.daemon_url()
        try:
            return str(requests.get(url + "/healthz", timeout=10).status_code) if url else "no url"
        except requests.RequestException as error:
            return f"refused: {error}"

    def wait_for(self, what: str, predicate, after: int = 0) -> int:
        """Index of the first message from `after` on that satisfies `predicate`."""
        deadline = time.monotonic() + DEADLINE_S
        with self.changed:
            while True:
                for index in range(after, len(self.messages)):
                    if predicate(self.messages[index]):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    others = [m for m in self.messages if "WATCHDOG" not in m]
                    pets = len(self.messages) - len(others)
                    raise AssertionError(f"no {what} within {DEADLINE_S}s; received {others} and {pets} WATCHDOG=1")
                self.changed.wait(remaining)

    def close(self) -> None:
        self.closing = True
        self.thread.join(timeout=10)
        self.sock.close()
        if not self.address.startswith("@"):
            Path(self.address).unlink(missing_ok=True)


def start_notified_daemon(extra_daemon, filesystems, address: str, name: str, **env: str):
    d = extra_daemon(name, [("tmpfs", filesystems["tmpfs"].mountpoint)], start=False,
                     env={"NOTIFY_SOCKET": address, **env})
    receiver = NotifyReceiver(address, daemon_url=lambda: d.url if d.port else None)
    return d, receiver


def test_notify_socket_file_ready_reload_watchdog_stopping(extra_daemon, filesystems, workdir: Path):
    address = str(workdir / f"notify-{uuid.uuid4().hex[:6]}.sock")
    unix_path = f"/run/pinlease-e2e-{uuid.uuid4().hex[:6]}.sock"
    d, receiver = start_notified_daemon(extra_daemon, filesystems, address, f"notify-{uuid.uuid4().hex[:6]}",
                                        WATCHDOG_USEC="300000")
    d.extra_args = ["--unix", unix_path]
    try:
        d.start()
        ready = receiver.wait_for("READY=1", lambda m: m.get("READY") == "1")
        message = receiver.messages[ready]
        # Sent once both listeners accept connections: HTTP answered at that moment.
        assert message["_healthz"] == "200", message
        assert re.fullmatch(r"serving on 127\.0\.0\.1:\d+, unix:.*", message["STATUS"]), message
        assert os.path.exists(unix_path) and os.path.exists(unix_path + ".fd")
        assert not any(m.get("READY") == "1" for m in receiver.messages[:ready])

        # WATCHDOG_USEC=0.3 s: petted every 0.15 s, from the daemon's start on.
        first = receiver.wait_for("WATCHDOG=1", lambda m: m.get("WATCHDOG") == "1")
        receiver.wait_for("a second WATCHDOG=1", lambda m: m.get("WATCHDOG") == "1", after=first + 1)

        d.proc.send_signal(signal.SIGHUP)
        reloading = receiver.wait_for("RELOADING=1", lambda m: m.get("RELOADING") == "1", after=ready + 1)
        stamp = int(receiver.messages[reloading]["MONOTONIC_USEC"])
        assert 0 < stamp <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        reloaded = receiver.wait_for("READY=1 after the reload", lambda m: m.get("READY") == "1", after=reloading + 1)
        assert "tokens reloaded" in receiver.messages[reloaded]["STATUS"]

        code = d.stop()
        assert code == 0, d.log_tail()
        stopping = receiver.wait_for("STOPPING=1", lambda m: m.get("STOPPING") == "1", after=reloaded + 1)
        assert receiver.messages[stopping]["STATUS"] == "stopping"
    finally:
        receiver.close()


def test_notify_abstract_name_ready_and_draining_stop(extra_daemon, filesystems):
    address = f"@pinlease-e2e-notify-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d, receiver = start_notified_daemon(extra_daemon, filesystems, address, f"notify-abs-{uuid.uuid4().hex[:6]}")
    d.extra_args = ["--drain"]
    try:
        d.start()
        ready = receiver.wait_for("READY=1", lambda m: m.get("READY") == "1")
        assert receiver.messages[ready]["_healthz"] == "200"
        assert receiver.messages[ready]["STATUS"].startswith("serving on 127.0.0.1:")
        assert d.stop() == 0, d.log_tail()
        stopping = receiver.wait_for("STOPPING=1", lambda m: m.get("STOPPING") == "1", after=ready + 1)
        receiver.wait_for("STATUS=draining", lambda m: m.get("STATUS") == "draining: 0 leases", after=stopping)
        # No WATCHDOG_USEC: never petted.
        assert not any("WATCHDOG" in m for m in receiver.messages)
    finally:
        receiver.close()
