"""The daemon and openapi/pinlease.yaml agree on the request bodies schemathesis found them
disagreeing on (issue 10): each body is checked against the request schema AND sent to the
daemon, and the two verdicts must match. Integers beyond 64 bits are a refused value (422 naming
the member), not malformed JSON; a real without a fraction (`5176.0`) is the integer JSON Schema
sees in it; `pin_id` with `path` is refused by both; an optional member sent as `null` is absent."""

from __future__ import annotations

from typing import Any

from e2e_support import Cleanup, Daemon, MiB, make_file, spec
from polling import wait_for



def schema_allows(schema: str, body: Any) -> bool:
    return not spec().validate_instance({"$ref": f"#/components/schemas/{schema}"}, body)


def test_an_integer_beyond_64_bits_is_422_naming_the_member(daemon: Daemon, filesystems):
    api = filesystems["tmpfs"].api_path("no-such-file.bin")
    for path, text, field in (
        ("/v1/files/prepare", f'{{"path": "{api}", "size": 18446744073709551616}}', "size"),
        ("/v1/pins", f'{{"path": "{api}", "access": "read", "offset": 99999999999999999999999}}', "offset"),
        ("/v1/leases", '{"holder": "h", "pin_id": "pin_x", "ttl_s": -9223372036854775809}', "ttl_s"),
    ):
        problem = daemon.problem("POST", path, data=text.encode(), headers={"Content-Type": "application/json"},
                                 status=422, code="invalid-body")
        assert problem["field"] == field and "out of range" in problem["detail"], problem
    # Malformed JSON is still 400.
    daemon.problem("POST", "/v1/files/prepare", data=b'{"size": 1,}', headers={"Content-Type": "application/json"},
                   status=400, code="invalid-json")


def test_a_real_without_a_fraction_is_an_integer(daemon: Daemon, filesystems, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    name, path = make_file(fs, "spec-real", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    cleanup.locks.append((daemon, api))
    daemon.ok("POST", "/v1/files/lock-immutable", {"path": api})

    grant = {"holder": "spec-h", "path": api, "access": "read", "offset": 0.0, "length": 4096.0, "ttl_s": 60.0,
             "grace_s": 30.0}
    assert schema_allows("LeaseRequest", grant)
    lease = daemon.ok("POST", "/v1/leases", grant, status=201)
    cleanup.leases.append((daemon, lease["id"]))
    cleanup.pins.append((daemon, lease["pin_id"]))
    assert lease["grace_s"] == 30 and lease["ttl_s"] == 60, lease
    # 5176.0 is read as 5176: above the configured bound (3600 s by default), so `invalid-grace`
    # with the integer, not `invalid-body` for its type.
    problem = daemon.problem("POST", "/v1/leases", {**grant, "grace_s": 5176.0}, status=422, code="invalid-grace")
    assert problem["grace_s"] == 5176, problem

    renew = {"ttl_s": 120.0}
    assert schema_allows("LeaseRenewRequest", renew)
    assert daemon.ok("POST", f"/v1/leases/{lease['id']}/renew", renew)["ttl_s"] == 120

    # A fraction is refused by both.
    revoke = {"grace_s": 1.5}
    assert not schema_allows("LeaseRevokeRequest", revoke)
    problem = daemon.problem("POST", f"/v1/leases/{lease['id']}/revoke", revoke, status=422, code="invalid-body")
    assert problem["field"] == "grace_s"

    revoke = {"grace_s": 1.0}
    assert schema_allows("LeaseRevokeRequest", revoke)
    revoked = daemon.ok("POST", f"/v1/leases/{lease['id']}/revoke", revoke, status=202)
    assert revoked["state"] in ("revoking", "revoked"), revoked


def test_pin_id_and_path_together_are_refused_by_both(daemon: Daemon, filesystems):
    api = filesystems["tmpfs"].api_path("a.bin")
    for body in ({"holder": "h", "pin_id": "pin_x", "path": api, "access": "read"},
                 {"holder": "h", "pin_id": "pin_x", "offset": 0},
                 {"holder": "h"},
                 {"holder": "h", "path": api}):
        assert not schema_allows("LeaseRequest", body), body
        daemon.problem("POST", "/v1/leases", body, status=422, code="invalid-body")
    assert schema_allows("LeaseRequest", {"holder": "h", "pin_id": "pin_x"})
    assert schema_allows("LeaseRequest", {"holder": "h", "path": api, "access": "read"})


def test_null_optional_members_are_absent_for_both(daemon: Daemon, filesystems, cleanup: Cleanup):
    fs = filesystems["tmpfs"]
    name, path = make_file(fs, "spec-null", MiB)
    cleanup.file(path)
    api = fs.api_path(name)
    body = {"path": api, "async": None, "create": None}
    assert schema_allows("PrepareRequest", body)
    report = daemon.ok("POST", "/v1/files/prepare", body)
    assert report["ready"] is True, report
    lock = {"path": api, "writers": None}
    assert schema_allows("LockRequest", lock)
    cleanup.locks.append((daemon, api))
    assert daemon.ok("POST", "/v1/files/lock-immutable", lock)["writers"] == "none"
    pin = {"path": api, "access": "read", "offset": None, "longterm": None}
    assert schema_allows("PinRequest", pin)
    created = daemon.ok("POST", "/v1/pins", pin, status=201)
    cleanup.pins.append((daemon, created["id"]))
    assert created["longterm"]["requested"] is False, created
    assert schema_allows("LeaseRevokeRequest", {"reason": None, "grace_s": None})
    assert schema_allows("LeaseRenewRequest", {"ttl_s": None})

    # size, length and mode too; and a pin member sent as null beside pin_id is no pin member.
    body = {"path": api, "size": None, "mode": None}
    assert schema_allows("PrepareRequest", body)
    daemon.problem("POST", "/v1/files/prepare", body, status=409, code="file-locked")
    pin = {"path": api, "access": "read", "offset": 0, "length": None}
    assert schema_allows("PinRequest", pin)
    second = daemon.ok("POST", "/v1/pins", pin, status=201)
    cleanup.pins.append((daemon, second["id"]))
    assert second["length"] == MiB, second
    grant = {"holder": "spec-null", "pin_id": created["id"], "path": None, "access": None, "offset": None,
             "length": None, "longterm": None, "ttl_s": None, "webhook_url": None}
    assert schema_allows("LeaseRequest", grant)
    lease = daemon.ok("POST", "/v1/leases", grant, status=201)
    cleanup.leases.append((daemon, lease["id"]))
    assert lease["pin_id"] == created["id"], lease
    by_path = {"holder": "spec-null", "pin_id": None, "path": api, "access": "read", "length": None}
    assert schema_allows("LeaseRequest", by_path)
    auto = daemon.ok("POST", "/v1/leases", by_path, status=201)
    cleanup.leases.append((daemon, auto["id"]))
    cleanup.pins.append((daemon, auto["pin_id"]))
    assert auto["auto_pin"] is True, auto
    # null is absent, so these name neither a pin nor a path: refused by both.
    for refused in ({"holder": "h", "pin_id": None}, {"holder": "h", "path": api, "access": None}):
        assert not schema_allows("LeaseRequest", refused), refused
        daemon.problem("POST", "/v1/leases", refused, status=422, code="invalid-body")


def test_a_failed_operation_error_is_a_problem_with_its_status(daemon: Daemon, filesystems, cleanup: Cleanup):
    """A failed asynchronous prepare shows in `error` the problem the synchronous prepare would
    have answered, `status` included (it used to lack it)."""
    fs = filesystems["tmpfs"]
    name = fs.unique("spec-op-fail")
    cleanup.file(fs.path(name))
    # A sparse file of 1 TiB: created at once, then the prepare finds it cannot fit (no-space).
    body = {"path": fs.api_path(name), "size": "1TiB", "create": True, "async": True}
    operation = daemon.ok("POST", "/v1/files/prepare", body, status=202)
    final = daemon.wait_operation(operation["id"])
    assert final["state"] == "failed", final
    error = final["error"]
    assert error["type"] == "https://pinlease.dev/problems/no-space" and error["status"] == 507, final
    # The same document, status and all, as the synchronous answer.
    synchronous = daemon.problem("POST", "/v1/files/prepare", {**body, "async": False}, status=507, code="no-space")
    assert list(error) == list(synchronous), (error, synchronous)
    for member in ("type", "title", "status", "path", "needed_bytes"):
        assert error[member] == synchronous[member], (member, error, synchronous)


def test_an_operation_stays_readable_after_delete(daemon: Daemon, filesystems, cleanup: Cleanup):
    """DELETE cancels an operation and does not remove it (documented at DELETE): GET keeps
    answering 200 with the same operation, finished."""
    fs = filesystems["tmpfs"]
    name = fs.unique("spec-op")
    cleanup.file(fs.path(name))
    operation = daemon.ok("POST", "/v1/files/prepare",
                          {"path": fs.api_path(name), "size": "8MiB", "create": True, "async": True}, status=202)
    cancelled = daemon.ok("DELETE", f"/v1/operations/{operation['id']}")
    assert cancelled["id"] == operation["id"]
    def finished() -> dict | None:
        again = daemon.ok("GET", f"/v1/operations/{operation['id']}")
        return again if again["state"] in ("cancelled", "succeeded", "failed") else None
    again = wait_for("the cancelled operation to finish", finished, timeout=60)
    assert again["id"] == operation["id"], again


def test_the_path_syntax_is_refused_by_both(daemon: Daemon, filesystems):
    """FilePath's pattern refuses what the daemon refuses for the path's syntax alone (absolute,
    a `..` component, a NUL byte, a component over 255, the root itself): the same verdict for each path, and a
    path the pattern allows reaches the filesystem (404 here: none of them exists). A long
    component under a directory that does not exist is 404 (the kernel stops at the missing
    directory first): refused either way, so it is not in the list."""
    refused_codes = {"absolute-path", "path-traversal", "invalid-path", "is-a-directory"}
    long = "x" * 256
    for path in ("/etc/passwd", "tmpfs:/nope.bin", "a/../b", "..", "tmpfs:x/..", "./..", "a\x00b", long,
                 "tmpfs:" + long, "a..b", "...", "./nope.bin", "tmpfs:a:b", "tmpfs:..x", "x" * 255,
                 "tmpfs:dir//nope.bin", "..nope", "nope.bin/.", ".", "./////", "tmpfs:", "tmpfs:./", "./nope:x"):
        allowed = not spec().validate_instance({"$ref": "#/components/schemas/FilePath"}, path)
        answer = daemon.post("/v1/files/inspect", {"path": path})
        code = answer.json().get("type", "").removeprefix("https://pinlease.dev/problems/")
        if allowed:
            assert answer.status_code == 404 and code == "not-found", (path, answer.text)
        else:
            assert answer.status_code == 422 and code in refused_codes, (path, answer.text)
