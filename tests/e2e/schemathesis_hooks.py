"""schemathesis hooks for test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

`positive_data_acceptance` (ST202) says that a request the schema allows must not be refused. The
daemon refuses some such requests for reasons no schema can state: its settings (roots, the
webhook allow-list, the TTL and grace bounds), what exists on the filesystem, and values only the
daemon hands out (list cursors). This check is that check, except for exactly those refusals,
each recognised by its problem `type` (and, where the code is broader, by what it is about), with
the reason. Any other refusal of a schema-valid request, `invalid-body` above all, still fails:
that is a disagreement between the spec and the daemon, to be fixed in one or the other.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

PROBLEM_BASE = "https://pinlease.dev/problems/"

# Refusals that depend on the daemon's settings or state, by problem code, with why. Only those a
# run met (with the seed of test_schemathesis.py); a new one is looked at before it is added here.
STATE_DEPENDENT = {
    # Settings of the fuzz daemon (test_schemathesis.py starts it with one root, `data`, no
    # --webhook-allow, and the default TTL and grace bounds).
    "unknown-root": "the roots are the daemon's --root flags: `shm:buf.bin` (an example) names none of them",
    "webhook-not-allowed": "the allow-list is the daemon's --webhook-allow flags (none here: every URL is refused)",
    "invalid-ttl": "the TTL bounds are the daemon's --ttl-min-s/--ttl-max-s (the schema says only >= 1)",
    "invalid-grace": "the grace bound is the daemon's --grace-max-s (the schema says only >= 0)",
    # What is on the filesystem.
    "size-required": "create without size is refused only when the file does not exist yet",
}


def _problem(response: Any) -> dict:
    try:
        document = json.loads(response.content)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def why_state_dependent(response: Any) -> str | None:
    """Why this refusal depends on settings or state; None when it does not (a real mismatch)."""
    if response.status_code != 422:
        return None
    problem = _problem(response)
    code = str(problem.get("type", "")).removeprefix(PROBLEM_BASE)
    if code in STATE_DEPENDENT:
        return STATE_DEPENDENT[code]
    if code == "invalid-query" and problem.get("parameter") == "cursor":
        # A cursor is what the daemon handed out as `next_cursor` (opaque); a generated string is none.
        return "a cursor is only one the daemon handed out"
    if code == "invalid-path":
        # JSON Schema's maxLength counts characters; the kernel's limits (255 per component,
        # 4095 in all) count bytes: a path of multibyte characters within the schema may exceed them.
        path = str(problem.get("path", ""))
        if len(path.encode()) > 4095 or any(len(part.encode()) > 255 for part in path.split("/")):
            return "the kernel's name limits count bytes, the schema characters"
    return None


@schemathesis.check
def positive_data_acceptance_beyond_state(ctx: Any, response: Any, case: Any) -> bool | None:
    """`positive_data_acceptance`, except for the refusals of ``STATE_DEPENDENT`` (see above)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except AssertionError:
        if why_state_dependent(response) is not None:
            return None
        raise
