"""A real webhook receiver on loopback for the lease tests: it verifies every Standard Webhooks
signature itself (HMAC-SHA256 over id.timestamp.body with the secret the grant returned),
records what arrived, and answers as a test scripts it per lease: 2xx, an error status, a
redirect, a delay, or "release the lease through the API, then answer"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks v1 signature (the reference libraries' algorithm)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time()
    signature_ok: bool | None  # None: no secret known for its lease
    status: int = 0

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.event["type"]

    @property
    def lease_id(self) -> str | None:
        return self.event.get("data", {}).get("lease_id")

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Script:
    """How the receiver answers the deliveries of one lease."""
    status: int = 204
    # statuses for the first deliveries, then `status`
    first: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # called (on a separate thread, after `delay`) for each delivery before answering
    on_delivery: Callable[[Delivery], None] | None = None
    # decides the status of each delivery (before `first` and `status` are considered) when it returns one
    status_for: Callable[[Delivery], int | None] | None = None


class WebhookReceiver:
    def __init__(self, port: int = 0) -> None:
        self.deliveries: list[Delivery] = []
        self.secrets: dict[str, str] = {}
        self.scripts: dict[str, Script] = {}
        self.default = Script()
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver._handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, lease_id: str, **fields: Any) -> Script:
        s = Script(**fields)
        self.scripts[lease_id] = s
        return s

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            lease_id = json.loads(body).get("data", {}).get("lease_id")
        except ValueError:
            lease_id = None
        secret = self.secrets.get(lease_id or "")
        ok = None
        if secret is not None:
            expected = sign(secret, headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""), body)
            offered = headers.get("webhook-signature", "").split(" ")
            ok = any(hmac.compare_digest(expected, s) for s in offered)
        delivery = Delivery(handler.path, headers, body, time.time(), ok)
        script = self.scripts.get(lease_id or "", self.default)
        with self.lock:
            earlier = sum(1 for d in self.deliveries if d.lease_id == lease_id)
        status = script.first[earlier] if earlier < len(script.first) else script.status
        decided = script.status_for(delivery) if script.status_for is not None else None
        if decided is not None:
            status = decided
        delivery.status = status
        if script.delay:
            time.sleep(script.delay)
        if script.on_delivery is not None:
            script.on_delivery(delivery)
        with self.lock:
            self.deliveries.append(delivery)
            self.lock.notify_all()
        handler.send_response(status)
        for name, value in script.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def of(self, lease_id: str, type_: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.lease_id == lease_id and (type_ is None or d.type == type_)]

    def wait(self, lease_id: str, type_: str, count: int = 1, timeout: float = 30) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [d for d in self.deliveries if d.lease_id == lease_id and d.type == type_]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(d.type, d.lease_id, d.status) for d in self.deliveries]
                    raise AssertionError(f"no {count}x {type_} for {lease_id} within {timeout}s; received {seen}")
                self.lock.wait(remaining)
