"""Many kept-alive connections (issue 12, "Connections and load"): the daemon once served 256
connections at most, the rest sat in the accept queue for as long as those stayed open. Now
every one of a few hundred concurrent keep-alive connections gets its answers, and those
connections held open idle keep no new client out. Pass/fail only: every wait polls a
condition up to a generous deadline, and no timing is asserted (bench/connections.sh
measures the latencies)."""

from __future__ import annotations

import json
import resource
import selectors
import socket
import time

import pytest
import requests

from e2e_support import Cleanup, Daemon, make_file

# Well above the old fixed limit (256) and above libdispatch's cap of 255 threads per root queue.
CONNECTIONS = 400
# Long enough for every answer on a loaded machine, shorter than the idle timeout the daemon is
# given below: a connection left in the accept queue is never answered within it.
ANSWER_DEADLINE = 60
IDLE_TIMEOUT = 300


class KeptAliveConnections:
    """`count` connections to the daemon that stay open; requests are sent on all of them at
    once and their answers read with one selector, so they are in flight together."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets: list[socket.socket] = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.setblocking(False)
            self.sockets.append(s)

    def exchange(self, requests: list[bytes], deadline: float) -> list[tuple[int, bytes] | None]:
        """Sends requests[i] on connection i (all of them first), then reads one response on
        each until `deadline` (monotonic). Returns (status, body) per connection, None where no
        complete answer came (or the connection was closed)."""
        for s, request in zip(self.sockets, requests):
            s.setblocking(True)
            s.sendall(request)
            s.setblocking(False)
        buffers = [b""] * len(self.sockets)
        answers: list[tuple[int, bytes] | None] = [None] * len(self.sockets)
        selector = selectors.DefaultSelector()
        for index, s in enumerate(self.sockets):
            selector.register(s, selectors.EVENT_READ, index)
        pending = len(self.sockets)
        try:
            while pending and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    index = key.data
                    try:
                        data = self.sockets[index].recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        selector.unregister(self.sockets[index])
                        pending -= 1
                        continue
                    buffers[index] += data
                    answer = parse_response(buffers[index])
                    if answer is not None:
                        answers[index] = answer
                        selector.unregister(self.sockets[index])
                        pending -= 1
        finally:
            selector.close()
        return answers

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def parse_response(data: bytes) -> tuple[int, bytes] | None:
    """(status, body) of a complete HTTP/1.1 response with a Content-Length, or None."""
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if len(rest) < length:
        return None
    return int(lines[0].split()[1]), rest[:length]


def post(path: str, token: str, body: dict | None = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload


def raise_descriptor_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"the descriptor limit ({hard}) is too low for {CONNECTIONS} connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_hundreds_of_kept_alive_connections_all_get_answers_and_do_not_block_a_new_client(
        extra_daemon, filesystems):
    raise_descriptor_limit(CONNECTIONS + 512)
    d: Daemon = extra_daemon("connections-daemon", [("tmpfs", filesystems["tmpfs"].mountpoint)],
                             extra_args=["--connection-timeout-s", str(IDLE_TIMEOUT)])
    cleanup = Cleanup()
    connections = None
    try:
        name, path = make_file(filesystems["tmpfs"], "connections", size=64 * 1024)
        cleanup.file(path)
        api = filesystems["tmpfs"].api_path(name)
        cleanup.locks.append((d, api))
        d.ok("POST", "/v1/files/lock-immutable", {"path": api})
        pin = d.ok("POST", "/v1/pins", {"path": api, "access": "read"}, status=201)
        cleanup.pins.append((d, pin["id"]))

        connections = KeptAliveConnections(d.port, CONNECTIONS)
        # Every connection grants a lease at the same moment: more handlers in flight than the
        # old connection limit, each waiting for its commit.
        grant = post("/v1/leases", d.token, {"pin_id": pin["id"], "holder": "conn", "ttl_s": 600})
        answers = connections.exchange([grant] * CONNECTIONS, time.monotonic() + ANSWER_DEADLINE)
        unanswered = [i for i, answer in enumerate(answers) if answer is None]
        assert not unanswered, (
            f"{len(unanswered)} of {CONNECTIONS} kept-alive connections got no answer to their grant "
            f"within {ANSWER_DEADLINE}s (left in the accept queue?)\n{d.log_tail()}")
        assert all(status == 201 for status, _ in answers), sorted({status for status, _ in answers})
        leases = [json.loads(body)["id"] for _, body in answers]
        cleanup.leases.extend((d, lease) for lease in leases)

        # The same connections, kept alive, release them: each is served again.
        releases = [post(f"/v1/leases/{lease}/release", d.token) for lease in leases]
        answers = connections.exchange(releases, time.monotonic() + ANSWER_DEADLINE)
        statuses = [None if answer is None else answer[0] for answer in answers]
        assert statuses.count(200) == CONNECTIONS, (
            f"releases answered 200 on {statuses.count(200)} of {CONNECTIONS} connections; "
            f"no answer on {statuses.count(None)}")
        cleanup.leases.clear()

        # All of them held open and idle: a new client is still served, on new connections.
        assert requests.get(d.url + "/healthz", timeout=ANSWER_DEADLINE).status_code == 200
        headers = {"Authorization": f"Bearer {d.token}"}
        r = requests.post(d.url + "/v1/leases", json={"pin_id": pin["id"], "holder": "conn", "ttl_s": 600},
                          headers=headers, timeout=ANSWER_DEADLINE)
        assert r.status_code == 201, r.text
        r = requests.post(d.url + f"/v1/leases/{r.json()['id']}/release", headers=headers, timeout=ANSWER_DEADLINE)
        assert r.status_code == 200, r.text
        assert d.proc is not None and d.proc.poll() is None
    finally:
        if connections is not None:
            connections.close()
        cleanup.run()
