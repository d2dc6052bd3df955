"""openapi/pinlease.yaml keeps its contract: every operation with its parameters, request body,
status codes, headers and media types, every component schema with its properties, required
members, types and enums, and the webhooks, summarised one fact a line and compared with the
committed list openapi_contract.txt. A change that drops a route, a status or a field fails
here; descriptions and examples may change freely.

A deliberate API change regenerates the list (and is reviewed in its diff):
    PINLEASE_UPDATE_CONTRACT=1 python3 -m pytest tests/e2e/test_openapi_contract.py
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from e2e_support import SPEC_PATH

CONTRACT_PATH = Path(__file__).resolve().parent / "openapi_contract.txt"
METHODS = ("get", "put", "post", "delete", "patch")


def _ref(node: dict) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _shape(schema: object) -> str:
    """A schema in one line: a reference's name, or its type, format, enum, const and pattern."""
    if not isinstance(schema, dict):
        return repr(schema)
    if (name := _ref(schema)) is not None:
        return name
    parts = []
    for key in ("type", "format", "const", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
                "maxItems"):
        if key in schema:
            parts.append(f"{key}={schema[key]}")
    if "enum" in schema:
        parts.append("enum=" + "|".join(map(str, schema["enum"])))
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema:
            parts.append(f"{key}(" + ", ".join(_shape(member) for member in schema[key]) + ")")
    if "items" in schema:
        parts.append(f"items({_shape(schema['items'])})")
    if isinstance(schema.get("properties"), dict):
        parts.append("properties(" + ", ".join(sorted(schema["properties"])) + ")")
    if "required" in schema:
        parts.append("required(" + ", ".join(sorted(schema["required"])) + ")")
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        parts.append(f"additionalProperties={extra if isinstance(extra, bool) else _shape(extra)}")
    return " ".join(parts) or "any"


def _schema_lines(prefix: str, schema: dict) -> list[str]:
    lines = [f"{prefix}: {_shape(schema)}"]
    for name, member in sorted((schema.get("properties") or {}).items()):
        lines.append(f"{prefix}.{name}: {_shape(member)}")
    for key in ("oneOf", "anyOf", "allOf"):
        for index, member in enumerate(schema.get(key) or []):
            if isinstance(member, dict) and "$ref" not in member:
                lines += _schema_lines(f"{prefix}.{key}[{index}]", member)
    return lines


def _content_lines(prefix: str, content: dict) -> list[str]:
    lines = []
    for media, body in sorted((content or {}).items()):
        lines += _schema_lines(f"{prefix} {media}", (body or {}).get("schema") or {})
    return lines


def _resolve(doc: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation_lines(doc: dict, where: str, item: dict) -> list[str]:
    lines = []
    for method in METHODS:
        if method not in item:
            continue
        operation = item[method]
        name = f"{method.upper()} {where}"
        if not where.startswith("webhook:"):  # a webhook is a call the daemon makes: no bearer token
            security = operation.get("security", doc.get("security"))
            lines.append(f"{name} security: {sorted(next(iter(entry), 'none') for entry in security or [{}])}")
        for parameter in item.get("parameters", []) + operation.get("parameters", []):
            parameter = _resolve(doc, parameter)
            required = " required" if parameter.get("required") else ""
            shape = _shape(parameter.get("schema") or {})
            lines.append(f"{name} parameter {parameter['in']}:{parameter['name']}{required}: {shape}")
        if "requestBody" in operation:
            body = _resolve(doc, operation["requestBody"])
            lines.append(f"{name} body required={bool(body.get('required'))}")
            lines += _content_lines(f"{name} body", body.get("content"))
        for status, response in sorted(operation.get("responses", {}).items()):
            response = _resolve(doc, response)
            lines.append(f"{name} {status}")
            for header in sorted(response.get("headers") or {}):
                lines.append(f"{name} {status} header {header}")
            if response.get("x-problem-types"):
                lines.append(f"{name} {status} problem types: " + "|".join(response["x-problem-types"]))
            lines += _content_lines(f"{name} {status}", response.get("content"))
    return lines


def contract_lines(doc: dict) -> list[str]:
    lines = [f"openapi {doc['openapi']}"]
    for path, item in sorted(doc["paths"].items()):
        lines += _operation_lines(doc, path, item)
    for name, item in sorted((doc.get("webhooks") or {}).items()):
        lines += _operation_lines(doc, f"webhook:{name}", item)
    for name, schema in sorted(doc["components"].get("schemas", {}).items()):
        lines += _schema_lines(f"schema {name}", schema)
    for name, scheme in sorted(doc["components"].get("securitySchemes", {}).items()):
        lines.append(f"security scheme {name}: {scheme.get('type')} {scheme.get('scheme', '')}".rstrip())
    return lines


def test_the_contract_is_the_committed_one():
    doc = yaml.safe_load(SPEC_PATH.read_text())
    actual = contract_lines(doc)
    if os.environ.get("PINLEASE_UPDATE_CONTRACT") == "1":
        CONTRACT_PATH.write_text("\n".join(actual) + "\n")
    expected = CONTRACT_PATH.read_text().splitlines()
    missing = [line for line in expected if line not in actual]
    added = [line for line in actual if line not in expected]
    assert not missing and not added, (
        "the OpenAPI contract changed (regenerate openapi_contract.txt for a deliberate change):\n"
        + "".join(f"- {line}\n" for line in missing) + "".join(f"+ {line}\n" for line in added))
    # The summary itself covers every operation and status (a broken summariser cannot pass).
    statuses = [line for line in actual
                if line.startswith(("GET /", "POST /", "DELETE /")) and line.split()[-1].isdigit()]
    assert len(statuses) >= 150
