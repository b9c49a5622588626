"""Reading a request: its body (bounded in size and depth), its query and their models. Each
refusal is a problem+json 4xx (400, 413, 422) raised before the handler runs: bad input changes
nothing."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.shared.errors import MalformedRequest, RequestTooLarge, ValidationProblem

MAX_BODY = 256 * 1024
MAX_JSON_DEPTH = 32


def raw_body(request) -> bytes:
    """The request's body as sent (413 past :data:`MAX_BODY` bytes)."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise RequestTooLarge(f"request bodies are limited to {MAX_BODY} bytes")
    return raw


def parse(model: type[BaseModel] | None, data: Any, where: str) -> Any:
    """``data`` as ``model`` (as it is without one); 422 naming each field refused."""
    if model is None:
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        details = [{"field": ".".join(str(p) for p in e["loc"]) or where, "message": e["msg"]}
                   for e in error.errors(include_url=False)]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        raise ValidationProblem(f"invalid {where}: {summary}", errors=details) from None


def query_of(params: Any) -> dict[str, str]:
    """The query parameters; one given twice is refused (a signature covers each key once)."""
    if not params:
        return {}
    twice = sorted(k for k in params if len(params.getlist(k)) > 1) if hasattr(params, "getlist") else []
    if twice:
        raise MalformedRequest(f"query parameter {twice[0][:64]} is given more than once")
    return dict(params)


def json_body(raw: bytes) -> Any:
    """The body's JSON (400 when missing, malformed or nested deeper than :data:`MAX_JSON_DEPTH`)."""
    if not raw:
        raise MalformedRequest("this operation needs a JSON body")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise MalformedRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedRequest(f"body is not valid JSON: {error}") from None
    if depth(data) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def depth(data: Any) -> int:
    """How deeply arrays and objects nest (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest
