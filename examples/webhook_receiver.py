#!/usr/bin/env python3
"""A small webhook receiver for pinlease leases (Python standard library only).

It listens on 127.0.0.1:9000 (--listen), checks every delivery's Standard Webhooks signature
and timestamp, prints the event, and answers 204; a delivery with a bad or missing signature,
or a timestamp more than --tolerance-s away from now, is answered 401 and printed with the
reason. With --release it releases a lease as soon as the daemon asks for it (`lease.revoking`,
`lease.expired`), the way a holder that has stopped using its pin would.

The signature: webhook-signature is "v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>"
(several may be given, separated by spaces), where key is the base64 decoding of the lease's
secret after its "whsec_" prefix. The daemon shows a lease's secret once, in the grant's answer.
The receiver reads it, at each delivery, from:
  --secrets-dir DIR   DIR/<lease_id>.secret (the lease id is the body's data.lease_id), or
  WEBHOOK_SECRET      one secret for every lease (an environment variable, not an argument:
                      arguments are visible in ps).
It never prints a secret.

--release calls POST /v1/leases/{id}/release on the daemon named by PINLEASE_ADDR
(http://HOST:PORT or unix:/path; default http://127.0.0.1:8470) with the token of
PINLEASE_TOKEN, or the file PINLEASE_TOKEN_FILE, or ./var/state/admin.token (the holder's own
token or an admin token), as the pinlease CLI does.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LEASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
CALLS_TO_ACT = ("lease.revoking", "lease.expired")


def say(line: str) -> None:
    print(f"receiver: {line}", flush=True)


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.strip().removeprefix("whsec_"), validate=True)
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Verifier:
    """Finds a lease's secret and checks a delivery's timestamp and signature."""

    def __init__(self, secrets_dir: Path | None, tolerance_s: int) -> None:
        self.secrets_dir = secrets_dir
        self.tolerance_s = tolerance_s

    def secret_for(self, lease_id: str | None) -> str:
        if self.secrets_dir is None:
            secret = os.environ.get("WEBHOOK_SECRET", "")
            if not secret:
                raise ValueError("no secret: set WEBHOOK_SECRET or pass --secrets-dir")
            return secret
        if not lease_id or not LEASE_ID.match(lease_id):
            raise ValueError("the body names no valid data.lease_id")
        path = self.secrets_dir / f"{lease_id}.secret"
        try:
            return path.read_text()
        except OSError:
            raise ValueError(f"no secret for {lease_id} in {path}") from None

    def check(self, headers: dict[str, str], body: bytes, lease_id: str | None) -> None:
        """Raises ValueError with the reason when the delivery must be refused."""
        msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        offered = headers.get("webhook-signature", "").split()
        if not msg_id or not timestamp or not offered:
            raise ValueError("missing webhook-id, webhook-timestamp or webhook-signature")
        try:
            age = time.time() - int(timestamp)
        except ValueError:
            raise ValueError(f"webhook-timestamp {timestamp!r} is not a number") from None
        if abs(age) > self.tolerance_s:
            raise ValueError(f"stale timestamp: {int(age)} s from now (tolerance {self.tolerance_s} s)")
        try:
            expected = expected_signature(self.secret_for(lease_id), msg_id, timestamp, body)
        except binascii.Error:
            raise ValueError("the secret is not whsec_<base64>") from None
        if not any(hmac.compare_digest(expected, s) for s in offered):
            raise ValueError("bad signature")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def daemon_token() -> str:
    if os.environ.get("PINLEASE_TOKEN"):
        return os.environ["PINLEASE_TOKEN"].strip()
    path = os.environ.get("PINLEASE_TOKEN_FILE") or "var/state/admin.token"
    return Path(path).read_text().strip()


def release(lease_id: str) -> None:
    """POST /v1/leases/{id}/release; prints the lease's state afterwards (never the token)."""
    address = os.environ.get("PINLEASE_ADDR") or "http://127.0.0.1:8470"
    try:
        if address.startswith("unix:"):
            connection: http.client.HTTPConnection = UnixHTTPConnection(address[5:], timeout=30)
        elif address.startswith("http://"):
            connection = http.client.HTTPConnection(address[7:].rstrip("/"), timeout=30)
        else:
            return say(f"cannot release {lease_id}: PINLEASE_ADDR must be http://HOST:PORT or unix:/path")
        connection.request("POST", f"/v1/leases/{lease_id}/release",
                           headers={"Authorization": f"Bearer {daemon_token()}"})
        response = connection.getresponse()
        document = json.loads(response.read() or b"{}")
        connection.close()
    except (OSError, ValueError, http.client.HTTPException) as e:
        return say(f"release of {lease_id} failed: {e}")
    if response.status == 200:
        say(f"released {lease_id}: state {document.get('state')}")
    else:
        say(f"release of {lease_id} answered {response.status}: {document.get('title')}: {document.get('detail')}")


def handler_class(verifier: Verifier, release_on_request: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # one line per delivery is printed below
            pass

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = json.loads(body)
                kind, data = event.get("type"), event.get("data") or {}
                lease_id = data.get("lease_id")
            except (ValueError, AttributeError):
                kind, data, lease_id = None, {}, None
            try:
                verifier.check(headers, body, lease_id)
            except ValueError as refusal:
                say(f"refused {headers.get('webhook-id', '?')} ({kind}, {lease_id}): {refusal} -> 401")
                return self.answer(401)
            details = ", ".join(f"{k} {v}" for k, v in data.items() if k != "lease_id")
            say(f"{kind} {lease_id}: {details} (signature ok, webhook-id {headers['webhook-id']})")
            self.answer(204)
            if release_on_request and kind in CALLS_TO_ACT:
                release(lease_id)

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:9000", help="HOST:PORT to listen on (127.0.0.1:9000)")
    parser.add_argument("--secrets-dir", type=Path, help="directory of LEASE_ID.secret files (else WEBHOOK_SECRET)")
    parser.add_argument("--release", action="store_true", help="release a lease when asked to (lease.revoking)")
    parser.add_argument("--tolerance-s", type=int, default=300, help="largest timestamp distance from now (300)")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler_class(
        Verifier(args.secrets_dir, args.tolerance_s), args.release))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    say(f"listening on http://{args.listen}/" + (" (releases leases it is asked to)" if args.release else ""))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
