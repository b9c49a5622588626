"""The OpenAPI 3.1 document, built from the endpoint declarations (never written by hand)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api.operation import REGISTRY, Operation, model_of

_PARAM = re.compile(r"{(\w+)}")
PROBLEM = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "description": "An RFC 9457 problem. `type` is stable (https://loyalty.example/problems/<slug>, e.g. "
                   "insufficient-points, identity-taken, busy, over-capacity); a problem may carry more members that say "
                   "what the refusal met (e.g. available, limit_fen, refunded_fen, state, locked_until).",
    "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "instance": {"type": "string"},
                   "errors": {"type": "array", "description": "422: each invalid field",
                              "items": {"type": "object", "required": ["field", "message"],
                                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
                   "conflicts": {"type": "array", "description": "409 identity-taken: each identity taken (masked)",
                                 "items": {"type": "object", "required": ["type", "value"],
                                           "properties": {"type": {"type": "string"}, "value": {"type": "string"}}}}},
    "additionalProperties": True,
}
_ERROR_TEXT = {400: "Malformed request", 401: "No or bad credentials", 403: "Caller may not do this",
               404: "Not found", 409: "Conflicts with current state", 413: "Body too large",
               415: "The body is not sent as Content-Type: application/json",
               422: "Validation failed or idempotency key reused",
               500: "The server failed; safe to retry with the same Idempotency-Key",
               423: "Locked after wrong tries (a gift card): retry after Retry-After seconds",
               429: "Too many wrong tries or lookups: the caller is locked out; retry after Retry-After seconds",
               503: "Busy (the record kept changing under concurrent requests: nothing was changed; or the database "
                    "did not answer in time: a change may or may not have been made) or over-capacity (the database "
                    "refused the work for capacity: nothing was changed); retry after Retry-After seconds with the "
                    "same Idempotency-Key, which answers the first outcome or makes the change once"}
_PATH_TEXT = {"member_id": "the member's id; with a member token, `me` names the calling member"}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                               "schema": {"type": "integer", "minimum": 1}}}


class DuplicateComponent(ValueError):
    """Two different models would be published under one component name: the last one would win."""


def _add(components: dict[str, Any], name: str, definition: dict[str, Any]) -> None:
    if name in components and components[name] != definition:
        raise DuplicateComponent(f"two different models are named {name}: "
                                 f"{json.dumps(components[name])[:200]} and {json.dumps(definition)[:200]}")
    components[name] = definition


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        _add(components, name, definition)
    _add(components, model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


_BUILT: dict[int, type[BaseModel]] = {}


def reply_model(op: Operation) -> type[BaseModel] | None:
    """The model of ``op``'s 2xx body (a "module:Model" reference is imported now, a builder called once)."""
    if op.response is None or isinstance(op.response, str | type):
        return model_of(op.response)
    if id(op) not in _BUILT:
        _BUILT[id(op)] = op.response()
    return _BUILT[id(op)]


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    closed = op.path_values or {}
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True,
         "schema": {"type": "string", "enum": closed[n]()} if n in closed else
         {"type": "string", "minLength": 1, "maxLength": 64},
         **({"description": _PATH_TEXT[n]} if n in _PATH_TEXT else {})}
        for n in _PARAM.findall(op.path)]
    if (query := op.query_model()) is not None:
        qs = query.model_json_schema()
        for name, prop in qs.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                           "schema": {k: v for k, v in prop.items() if k != "title"}})
    if op.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                       "description": "Unique per intended change; a retry with the same key replays the first reply",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -\"$-~]+$"}})
    body: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags),
                            "parameters": params}
    if (request := op.body_model()) is not None:
        body["requestBody"] = {"required": True,
                               "content": {"application/json": {"schema": _schema(request, components)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if (model := reply_model(op)) is not None:
        ok["content"] = {"application/json": {"schema": _schema(model, components)}}
        ok["description"] = (model.__doc__ or "OK").strip().split("\n\n")[0].replace("\n", " ")
    elif op.produces:
        ok["content"] = {op.produces.split(";")[0]: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(status): ok for status in sorted({op.status, *op.also})}
    codes = set(op.errors) | {400, 413, 422, 500, 503} | \
        ({415} if op.body is not None else set())
    if not op.public:
        codes |= {401, 403}
        body["security"] = [{s: []} for s in _schemes(op)]
    for code in sorted(codes):
        responses[str(code)] = {"description": _ERROR_TEXT.get(code, "Problem"),
                                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if code in (423, 429, 503):
            responses[str(code)]["headers"] = RETRY_AFTER
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


SIGNATURE_TEXT = """A merchant's API key (a POS, a mini-program backend, a login server) signs every request.
Headers:

    X-Api-Key:       <key id>
    X-Timestamp:     <unix seconds, within 5 minutes of the server clock>
    X-Nonce:         <8-64 random letters or digits, new for every request>
    Idempotency-Key: <unique per intended change>        (writes)
    X-Signature:     v2=<hex HMAC-SHA256(secret, canonical)>

    canonical = "v2" \\n timestamp \\n nonce \\n METHOD \\n path \\n query \\n key id
                \\n idempotency key (empty on a read) \\n hex(SHA-256(raw body))
    query     = keys and values percent-encoded as AWS SigV4 does (only A-Z a-z 0-9 - _ . ~ kept),
                sorted by key, k=v joined with '&'; empty if none. A key given twice is refused.
    path      = decoded: /v1/orders/POS:1 even when sent as /v1/orders/POS%3A1.

Each signature is good once (a signed read sent again is 401 signature-reused; a signed write sent
again replays its first answer): sign every request anew, retries included."""


def document(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    components: dict[str, Any] = {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, components)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Loyalty platform API", "version": "1.0.0",
                 "description": "A member-loyalty platform: members and identities, tiers and paid membership, "
                                "points, stored value and gift cards, for POS tills, member apps, head office "
                                "staff and integrators. Errors are RFC 9457 problem+json."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "Member token (issueMemberToken) or staff token with a role"},
                "merchantSignature": {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                                      "description": SIGNATURE_TEXT},
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
