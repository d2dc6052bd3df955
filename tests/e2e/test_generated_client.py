"""A client generated from openapi/pinlease.yaml with openapi-python-client (issue 10) drives a
real daemon through the whole walk-through: prepare (asynchronous, polled), inspect, lock, pins
with `longterm` false, true and "if-possible", a lease granted, renewed and revoked, another
granted and released, pins deleted and the file unlocked. Every answer is parsed into the
generated models (an answer the spec does not describe raises `UnexpectedStatus`), and error
answers (404, 409, 422) are parsed as the generated `Problem`. The generator itself must print
no warning: a warning means a part of the API the generated client silently lacks."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import unavailable
from e2e_support import SPEC_PATH, Cleanup, Daemon, MiB
from polling import wait_for

PACKAGE = "pinlease_generated_client"


def generate(output: Path) -> str:
    """Runs the generator; returns what it printed."""
    generator = shutil.which("openapi-python-client")
    if generator is None:
        unavailable("openapi-python-client is not installed (make deps-pip)")
    result = subprocess.run([generator, "generate", "--path", str(SPEC_PATH), "--meta", "none",
                             "--output-path", str(output)],
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    return printed


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> ModuleType:
    root = tmp_path_factory.mktemp("generated")
    printed = generate(root / PACKAGE)
    assert "warning" not in printed.lower(), f"openapi-python-client warned:\n{printed[-5000:]}"
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        yield package
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def client(gen: ModuleType, daemon: Daemon):
    # raise_on_unexpected_status: an answer with a status the spec does not give raises.
    with gen.AuthenticatedClient(base_url=daemon.url, token=daemon.token, raise_on_unexpected_status=True,
                                 timeout=120) as c:
        yield c



def call(endpoint: str, status: int, **kw: Any) -> Any:
    """Calls `api.<endpoint>`, checks the status and that the answer parsed into a model."""
    response = module(f"api.{endpoint}").sync_detailed(**kw)
    assert response.status_code == status, (endpoint, response.status_code, response.content[:2000])
    assert (response.parsed is None) is (status == 204), (endpoint, response.content[:2000])
    return response.parsed


def problem(endpoint: str, status: int, code: str, **kw: Any) -> Any:
    parsed = call(endpoint, status, **kw)
    models = module("models")
    assert isinstance(parsed, models.Problem), parsed
    assert parsed.status == status and parsed.type_ == f"https://pinlease.dev/problems/{code}", parsed
    assert parsed.title and parsed.detail
    return parsed


def test_the_generator_prints_no_warning(tmp_path: Path):
    printed = generate(tmp_path / "client")
    assert "warning" not in printed.lower(), printed[-5000:]
    assert (tmp_path / "client" / "models" / "problem.py").exists()


def test_walk_through_with_the_generated_client(client, daemon: Daemon, filesystems, cleanup: Cleanup):
    m = module("models")
    fs = filesystems["tmpfs"]  # tmpfs allows a writable long-term pin
    name = fs.unique("gen-client")
    cleanup.file(fs.path(name))
    api = fs.api_path(name)

    assert isinstance(call("health.get_health", 200, client=client), m.Health)
    assert isinstance(call("health.get_readiness", 200, client=client), m.Ready)

    # prepare, asynchronously: 202 with the operation, polled until it succeeded.
    body = m.PrepareRequest(path=api, size="4MiB", create=True, async_=True)
    operation = call("files.prepare_file", 202, client=client, body=body)
    assert isinstance(operation, m.Operation)
    if operation.state not in (m.OperationState.SUCCEEDED, m.OperationState.FAILED):
        def finished() -> Any:
            now = call("operations.get_operation", 200, id=operation.id, client=client)
            return now if now.state in (m.OperationState.SUCCEEDED, m.OperationState.FAILED) else None
        operation = wait_for("the prepare operation to finish", finished, timeout=120)
    assert operation.state == m.OperationState.SUCCEEDED, operation
    assert isinstance(operation.result, m.LayoutReport) and operation.result.ready, operation
    problem("operations.get_operation", 404, "operation-not-found", id="op_nope", client=client)

    report = call("files.inspect_file", 200, client=client, body=m.PathRequest(path=api))
    assert isinstance(report, m.LayoutReport) and report.ready and report.size == 4 * MiB

    # A pin of a file that is not locked: 409 not-locked.
    problem("pins.create_pin", 409, "not-locked", client=client,
            body=m.PinRequest(path=api, access=m.PinAccess.READ))

    cleanup.locks.append((daemon, api))
    lock = call("files.lock_file", 200, client=client, body=m.LockRequest(path=api, writers=m.LockWriters.DAEMON))
    assert isinstance(lock, m.LockReport) and lock.immutable
    problem("files.prepare_file", 409, "file-locked", client=client, body=m.PrepareRequest(path=api))

    # Pins with longterm false, true and "if-possible": each answer parses (the old client raised
    # `LongTermRequest_type_1 must match const 'if-possible', got 'False'` on every one).
    pins = {}
    for longterm, access, offset in ((False, m.PinAccess.READ, 0), (True, m.PinAccess.WRITE, MiB),
                                     (m.LongTermRequestType1.IF_POSSIBLE, m.PinAccess.READ, 2 * MiB)):
        body = m.PinRequest(path=api, access=access, offset=offset, length=MiB, longterm=longterm)
        pin = call("pins.create_pin", 201, client=client, body=body)
        cleanup.pins.append((daemon, pin.id))
        assert isinstance(pin, m.Pin) and isinstance(pin.longterm, m.PinLongTerm), pin
        assert pin.longterm.requested == longterm and pin.state == m.PinState.ACTIVE, pin
        pins[str(longterm)] = pin
    assert pins["True"].longterm.held is True and pins["False"].longterm.held is False
    again = call("pins.get_pin", 200, id=pins["if-possible"].id, client=client)
    assert again.longterm.requested == m.LongTermRequestType1.IF_POSSIBLE
    listed = call("pins.list_pins", 200, client=client)
    assert isinstance(listed, m.PinList) and {p.id for p in pins.values()} <= {p.id for p in listed.items}
    problem("pins.get_pin", 404, "pin-not-found", id="pin_nope", client=client)
    problem("pins.create_pin", 422, "unaligned-range", client=client,
            body=m.PinRequest(path=api, access=m.PinAccess.READ, offset=1, length=4096))

    # A lease granted, renewed and revoked.
    lease = call("leases.grant_lease", 201, client=client,
                 body=m.LeaseRequest(holder="gen-h1", pin_id=pins["False"].id, ttl_s=60, grace_s=1))
    cleanup.leases.append((daemon, lease.id))
    assert isinstance(lease, m.Lease) and lease.state == m.LeaseState.ACTIVE, lease
    renewed = call("leases.renew_lease", 200, id=lease.id, client=client, body=m.LeaseRenewRequest(ttl_s=120))
    assert renewed.state == m.LeaseState.ACTIVE and renewed.expires_at >= lease.expires_at, renewed
    problem("pins.delete_pin", 409, "pin-in-use", id=pins["False"].id, client=client)
    problem("leases.grant_lease", 422, "invalid-ttl", client=client,
            body=m.LeaseRequest(holder="gen-h1", pin_id=pins["False"].id, ttl_s=0))
    revoked = call("leases.revoke_lease", 202, id=lease.id, client=client,
                   body=m.LeaseRevokeRequest(reason="walk-through", grace_s=1))
    assert isinstance(revoked, m.Lease)
    if revoked.state != m.LeaseState.REVOKED:
        def ended() -> Any:
            now = call("leases.get_lease", 200, id=lease.id, client=client)
            return now if now.state == m.LeaseState.REVOKED else None
        revoked = wait_for("the lease to be revoked", ended, timeout=60)
    problem("leases.renew_lease", 409, "lease-not-active", id=lease.id, client=client, body=m.LeaseRenewRequest())
    deliveries = call("leases.list_deliveries", 200, id=lease.id, client=client)
    assert isinstance(deliveries, m.DeliveryList)

    # Another lease, released by its holder.
    second = call("leases.grant_lease", 201, client=client,
                  body=m.LeaseRequest(holder="gen-h2", pin_id=pins["True"].id, ttl_s=60))
    cleanup.leases.append((daemon, second.id))
    released = call("leases.release_lease", 200, id=second.id, client=client)
    assert released.state == m.LeaseState.RELEASED, released
    leases = call("leases.list_leases", 200, client=client)
    assert isinstance(leases, m.LeaseList) and {lease.id, second.id} <= {item.id for item in leases.items}
    problem("leases.get_lease", 404, "lease-not-found", id="lease_nope", client=client)

    # Unlock is refused while pins exist; then pins deleted, the file unlocked.
    problem("files.unlock_file", 409, "pins-exist", client=client, body=m.PathRequest(path=api))
    for pin in pins.values():
        call("pins.delete_pin", 204, id=pin.id, client=client)
    unlocked = call("files.unlock_file", 200, client=client, body=m.PathRequest(path=api))
    assert isinstance(unlocked, m.UnlockReport)
    files = call("files.list_files", 200, client=client)
    assert isinstance(files, m.FileList)
    problem("files.inspect_file", 404, "not-found", client=client, body=m.PathRequest(path=fs.api_path("gone.bin")))
