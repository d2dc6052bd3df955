"""Waiting on a condition with a deadline (never a fixed sleep), shared by the e2e tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(what: str, condition: Callable[[], T], timeout: float = 30, interval: float = 0.05) -> T:
    """Polls `condition` until it returns something truthy, and returns that; fails the test,
    naming `what`, once `timeout` seconds went by."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(interval)


def wait_lease_state(d: Any, lease_id: str, state: str, timeout: float = 60) -> dict:
    """The lease (`GET /v1/leases/{id}`) once it is in `state`."""
    def reached() -> dict | None:
        lease = d.ok("GET", f"/v1/leases/{lease_id}")
        return lease if lease["state"] == state else None
    return wait_for(f"lease {lease_id} to be {state}", reached, timeout)


def wait_file_state(d: Any, api: str, state: str, timeout: float = 30) -> None:
    """Returns once the file list shows `api` in `state`."""
    wait_for(f"{api} to be {state}",
             lambda: next(item["state"] for item in d.files() if item["path"] == api) == state, timeout)
