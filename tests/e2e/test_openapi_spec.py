"""openapi/pinlease.yaml is a valid OpenAPI 3.1 document and describes the whole contract."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from e2e_support import SPEC_PATH, Spec

ENDPOINTS = {
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/v1/files/inspect", "post"),
    ("/v1/files/prepare", "post"),
    ("/v1/files/lock-immutable", "post"),
    ("/v1/files/unlock", "post"),
    ("/v1/files", "get"),
    ("/v1/operations/{id}", "get"),
    ("/v1/operations/{id}", "delete"),
    ("/v1/pins", "post"),
    ("/v1/pins", "get"),
    ("/v1/pins/{id}", "get"),
    ("/v1/pins/{id}", "delete"),
    ("/v1/events", "get"),
    ("/v1/events/latest", "get"),
    ("/v1/status", "get"),
    ("/v1/leases", "post"),
    ("/v1/leases", "get"),
    ("/v1/leases/{id}", "get"),
    ("/v1/leases/{id}/renew", "post"),
    ("/v1/leases/{id}/release", "post"),
    ("/v1/leases/{id}/revoke", "post"),
    ("/v1/leases/{id}/deliveries", "get"),
    ("/v1/leases/{id}/deliveries/{msg_id}/retry", "post"),
    ("/v1/version", "get"),
}
# The members every request body must have.
REQUIRED_BODY_FIELDS = {("/v1/pins", "post"): ["path", "access"], ("/v1/leases", "post"): ["holder"]}
# Operations any valid token may call (a holder for its own leases): no 403 for them.
ANY_TOKEN = {("/v1/events", "get"), ("/v1/events/latest", "get"), ("/v1/leases", "get"), ("/v1/leases/{id}", "get"), ("/v1/leases/{id}/renew", "post"),
             ("/v1/leases/{id}/release", "post"), ("/v1/leases/{id}/deliveries", "get"),
             ("/v1/leases/{id}/deliveries/{msg_id}/retry", "post"), ("/v1/version", "get")}
# POSTs whose every member is optional (an empty body is accepted).
OPTIONAL_BODIES = {("/v1/leases/{id}/renew", "post"), ("/v1/leases/{id}/release", "post"), ("/v1/leases/{id}/revoke", "post"),
                   ("/v1/leases/{id}/deliveries/{msg_id}/retry", "post"), ("/v1/version", "get")}


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def test_spec_is_valid_openapi_3_1():
    spec_dict, _ = read_from_filename(str(SPEC_PATH))
    assert str(spec_dict["openapi"]).startswith("3.1")
    validate(spec_dict)  # raises on any error


def test_every_endpoint_is_described(doc):
    described = {(path, method) for path, item in doc["paths"].items() for method in item if method in ("get", "post", "put", "delete", "patch")}
    assert ENDPOINTS <= described, f"missing: {sorted(ENDPOINTS - described)}"
    # Nothing described that the daemon does not serve yet (leases, ...).
    assert described <= ENDPOINTS, f"describes unimplemented endpoints: {sorted(described - ENDPOINTS)}"


def test_bearer_security_global_and_none_on_health(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/readyz"]["get"]["security"] == []
    for (path, method) in ENDPOINTS:
        if path.startswith("/v1/"):
            op = doc["paths"][path][method]
            assert "security" not in op, f"{method} {path} must use the global bearer security"
            assert "401" in op["responses"], f"{method} {path}"
            assert ("403" in op["responses"]) is ((path, method) not in ANY_TOKEN), f"{method} {path}: 403 only where a role is refused"


def test_request_bodies_are_strict(doc):
    spec = Spec()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            if "requestBody" not in op:
                assert method != "post", f"POST {path} has no request body"
                continue
            schema = spec.resolve(op["requestBody"]["content"]["application/json"]["schema"])
            assert schema.get("additionalProperties") is False, f"{method} {path} body allows unknown fields"
            if (path, method) in OPTIONAL_BODIES:
                assert op["requestBody"].get("required") is False and not schema.get("required"), f"{method} {path}"
            else:
                assert op["requestBody"]["required"] is True, f"{method} {path}"
                assert schema["required"] == REQUIRED_BODY_FIELDS.get((path, method), ["path"]), f"{method} {path}"
            for code in ("400", "413", "415", "422"):
                assert code in op["responses"], f"{method} {path} lacks {code}"


def test_errors_are_problem_json(doc):
    spec = Spec()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            for status, response in op["responses"].items():
                response = spec.resolve(response)
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"
                    schema = response["content"]["application/problem+json"]["schema"]
                    refs = re.findall(r"#/components/schemas/(\w+)", str(schema))
                    assert "Problem" in refs, f"{method} {path} {status} is not a Problem"
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    unauthorized = doc["components"]["responses"]["Unauthorized"]
    assert "WWW-Authenticate" in unauthorized["headers"]


def test_async_prepare_has_location_header(doc):
    accepted = doc["paths"]["/v1/files/prepare"]["post"]["responses"]["202"]
    location = accepted["headers"]["Location"]
    assert location["required"] is True
    assert re.match(location["schema"]["pattern"], "/v1/operations/op_0123abcd")
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/Operation")


def test_size_is_integer_or_suffixed_string(doc):
    """A size is an integer (at most int64) or a suffixed string; the optional members that hold
    one (`size`, `length`) also take `null`, which is absent (the rule of every optional member)."""
    spec = Spec()
    schema = {"$ref": "#/components/schemas/ByteSize"}
    good = [0, 67108864, 2**63 - 1, "64MiB", "1GiB", "4096", "1 KiB", "2T", "10B"]
    bad = ["64 MB", "-1", "MiB", "1.5GiB", -1, 2**63, 1.5, True, None]
    for value in good:
        assert not spec.validate_instance(schema, value), f"{value!r} should be a valid size"
    for value in bad:
        assert spec.validate_instance(schema, value), f"{value!r} should be rejected"
    for body, member in (("PrepareRequest", "size"), ("PinRequest", "length"), ("LeaseRequest", "length")):
        member_schema = doc["components"]["schemas"][body]["properties"][member]
        for value in good + [None]:
            assert not spec.validate_instance(member_schema, value), f"{body}.{member}: {value!r} should be valid"
        for value in bad[:-1]:
            assert spec.validate_instance(member_schema, value), f"{body}.{member}: {value!r} should be rejected"


def test_every_optional_request_member_accepts_null(doc):
    """`null` is absent (info.description): every optional member of every request body takes
    `null`, and no required member does."""
    spec = Spec()
    checked = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody") if isinstance(op, dict) else None
            if not body:
                continue
            schema = spec.resolve(body["content"]["application/json"]["schema"])
            for name, member in schema.get("properties", {}).items():
                accepts_null = not spec.validate_instance(member, None)
                if name in schema.get("required", []):
                    assert not accepts_null, f"{method} {path}: required {name} accepts null"
                else:
                    assert accepts_null, f"{method} {path}: optional {name} refuses null"
                    checked += 1
    assert checked >= 20


def test_examples_match_their_schemas(doc):
    spec = Spec()
    count = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody") if isinstance(op, dict) else None
            if not body:
                continue
            media = body["content"]["application/json"]
            examples = [media["example"]] if "example" in media else [e["value"] for e in media.get("examples", {}).values()]
            for example in examples:
                count += 1
                assert not spec.validate_instance(media["schema"], example), f"{method} {path}: {example}"
    assert count >= 4


def test_every_described_operation_is_served(daemon, doc):
    """Each operation of the spec, with every path parameter filled, reaches a route of the
    running daemon: no `not-found-route` 404 and no 405. Read from the spec, so operations
    added later are probed too. Requests carry no body and name no existing object, so they
    change nothing (the answers are 4xx problems of the operation itself, or lists)."""
    probed = []
    for path, item in doc["paths"].items():
        for method in item:
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x_probe", path)
            # stream=True: GET /v1/events answers with a stream that never ends.
            with daemon.session.request(method.upper(), daemon.url + concrete, stream=True, timeout=60,
                                        headers={"Authorization": f"Bearer {daemon.token}"}) as response:
                status = response.status_code
                problem_type = ""
                if response.headers.get("Content-Type", "").startswith("application/problem+json"):
                    problem_type = response.json().get("type", "")
            probed.append(f"{method.upper()} {path}")
            assert not problem_type.endswith(("/not-found-route", "/method-not-allowed")), \
                f"{method.upper()} {concrete} ({path} in the spec) -> {status} {problem_type}"
            assert status != 405, f"{method.upper()} {concrete} -> 405"
    assert "GET /healthz" in probed and len(probed) >= 20


def _source_problem_codes() -> set[str]:
    root = SPEC_PATH.parent.parent / "Sources"
    text = "".join((root / module / f"{name}.swift").read_text()
                   for module, name in (("PinCore", "CoreErrorCode"), ("PinServer", "ServerProblemCode")))
    return set(re.findall(r'case \w+ = "([a-z0-9-]+)"', text))


def _listed_problem_types(node: object) -> set[str]:
    if isinstance(node, dict):
        found = set(node.get("x-problem-types") or [])
        for value in node.values():
            found |= _listed_problem_types(value)
        return found
    if isinstance(node, list):
        return set().union(*(_listed_problem_types(value) for value in node)) if node else set()
    return set()


def test_problem_types_are_complete(doc):
    """Every problem code the daemon has is named in info.description, and each response's
    `x-problem-types` names only codes the daemon has."""
    codes = _source_problem_codes()
    assert len(codes) >= 60
    described = set(re.findall(r"`([a-z0-9-]+)`", doc["info"]["description"]))
    assert codes <= described, f"problem codes missing from info.description: {sorted(codes - described)}"
    listed = _listed_problem_types(doc)
    assert listed <= codes, f"x-problem-types names unknown codes: {sorted(listed - codes)}"
    # Only the hand-off socket's own codes are in no response list.
    assert codes - listed <= {"invalid-request", "peer-not-allowed"}, sorted(codes - listed)


def test_every_operation_documents_503_shutting_down(doc):
    """The daemon answers any request 503 `shutting-down` once it is stopping (HTTPEngine), on
    every route: each operation lists that 503."""
    spec = Spec()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            response = spec.resolve(op["responses"].get("503", {}))
            assert "shutting-down" in response.get("x-problem-types", []), f"{method} {path}"


def test_servers_take_any_host_and_port(doc):
    (server,) = doc["servers"]
    assert server["url"] == "http://{host}:{port}"
    assert set(server["variables"]) == {"host", "port"}


def test_no_const_and_error_schemas_are_plain_problems(doc):
    """Generators mis-handle `const` (openapi-python-client parsed every pin answer's
    `longterm: false` against `const: if-possible`) and `allOf` merges of a problem."""
    assert "const:" not in SPEC_PATH.read_text()
    for name, response in doc["components"]["responses"].items():
        schema = response["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, name


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_patterns_keep_to_the_interoperable_regex_subset(doc):
    """JSON Schema recommends a subset of ECMA-262 for `pattern`: no lookaround, no
    non-capturing or named groups, no backreferences. Validators built on RE2 (Go, Rust) cannot
    compile a lookahead, so a client generated there would fail on the document."""
    patterns = _patterns(doc)
    assert len(patterns) >= 10
    for pattern in patterns:
        assert "(?" not in pattern and not re.search(r"\\[1-9kbB]", pattern), pattern
        re.compile(pattern)
