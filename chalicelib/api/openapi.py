"""The OpenAPI 3.1 document, built from the endpoint declarations (never written by hand)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api.endpoint import REGISTRY, Operation

_PARAM = re.compile(r"{(\w+)}")
PROBLEM = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}},
                   "conflicts": {"type": "array", "items": {"type": "object"}}},
    "additionalProperties": True,
}
_ERROR_TEXT = {400: "Malformed request", 401: "No or bad credentials", 403: "Caller may not do this",
               404: "Not found", 409: "Conflicts with current state", 413: "Body too large",
               422: "Validation failed or idempotency key reused"}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for n in _PARAM.findall(op.path)]
    if op.query is not None:
        qs = op.query.model_json_schema()
        for name, prop in qs.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                           "schema": {k: v for k, v in prop.items() if k != "title"}})
    if op.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                       "description": "Unique per intended change; a retry with the same key replays the first reply",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-\"$-~]+$"}})
    body: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags),
                            "parameters": params}
    if op.body is not None:
        body["requestBody"] = {"required": True,
                               "content": {"application/json": {"schema": _schema(op.body, components)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(op.response, components)}}
    elif op.produces:
        ok["content"] = {op.produces.split(";")[0]: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors) | {400, 413, 422}
    if not op.public:
        codes |= {401, 403}
        body["security"] = [{s: []} for s in _schemes(op)]
    for code in sorted(codes):
        responses[str(code)] = {"description": _ERROR_TEXT.get(code, "Problem"),
                                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    body["responses"] = responses
    body["x-callers"] = [a.describe() for a in op.allow] or ["public"]
    return body


def _schemes(op: Operation) -> list[str]:
    kinds = {a.kind for a in op.allow}
    out = []
    if kinds & {"member", "staff"}:
        out.append("bearer")
    if "merchant" in kinds:
        out.append("merchantSignature")
    return out


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    components: dict[str, Any] = {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Loyalty platform API", "version": "1.0.0",
                 "description": "Members, identities and (in later waves) points, stored value, coupons."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "Member token (issueMemberToken) or staff token with a role"},
                "merchantSignature": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                                      "description": "With X-Timestamp and X-Signature: see the README"},
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
