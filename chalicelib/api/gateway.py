"""Errors that the framework or the gateway answer before an operation runs (no such route, a
method the route does not have, a body that is not JSON), in the same problem+json shape as every
other error, never echoing a credential."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from chalice.app import Request, Response

from chalicelib.shared.errors import TYPE_BASE
from chalicelib.shared.ids import new_id

PROBLEM_JSON = "application/problem+json"
TITLES = {403: ("forbidden", "Not allowed"), 404: ("no-such-route", "No such route"),
          405: ("method-not-allowed", "Method not allowed"), 415: ("unsupported-media-type", "Send JSON"),
          400: ("bad-request", "Bad request"), 413: ("request-too-large", "Request too large")}


CORRELATION_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def correlation_id_of(headers: dict[str, str], request_id: str | None) -> str:
    """The request's correlation id: the caller's if well-formed, else the gateway's request id, else new."""
    given = headers.get("x-correlation-id") or ""
    if CORRELATION_ID.fullmatch(given):
        return given
    if request_id and CORRELATION_ID.fullmatch(str(request_id)):
        return str(request_id)
    return new_id()


def concrete_path(template: str, params: dict[str, str]) -> str:
    """The path asked for: the route's template with the (decoded) path values put back."""
    for name, value in params.items():
        template = template.replace("{" + name + "}", value)
    return template


def problem_body(status: int, detail: str, instance: str | None = None) -> str:
    """A problem+json body for a framework-level refusal."""
    slug, title = TITLES.get(status, ("bad-request" if status < 500 else "internal-error", "Error"))
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return json.dumps(body)


def as_problem(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice middleware: an error Chalice produced itself ({"Code", "Message"}) becomes problem+json."""
    response = get_response(event)
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    if response.status_code >= 400 and not str(headers.get("content-type", "")).startswith(PROBLEM_JSON):
        body = response.body if isinstance(response.body, dict) else {}
        message = str(body.get("Message") or "the request was refused")
        path = concrete_path(event.path, {k: unquote(v) for k, v in (event.uri_params or {}).items()})
        response.body = problem_body(response.status_code, message[:300], path)
        response.headers = {**(response.headers or {}), "Content-Type": PROBLEM_JSON}
        if "x-correlation-id" not in headers:
            asked = {k.lower(): v for k, v in (event.headers or {}).items()}
            response.headers["X-Correlation-Id"] = correlation_id_of(asked, (event.context or {}).get("requestId"))
    return response


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own answers (unknown route, no credentials...) as problem+json, for the template."""
    def response(status: str, slug: str, title: str, detail: str) -> dict[str, Any]:
        template = json.dumps({"type": TYPE_BASE + slug, "title": title, "status": int(status), "detail": detail,
                               "instance": "$context.path"})
        return {"StatusCode": status, "ResponseTemplates": {"application/json": template},
                "ResponseParameters": {"Headers": {"Content-Type": f"'{PROBLEM_JSON}'"}}}
    return {
        "MISSING_AUTHENTICATION_TOKEN": response("404", "no-such-route", "No such route",
                                                 "no operation at this path and method"),
        "DEFAULT_4XX": response("400", "bad-request", "Bad request", "$context.error.message"),
        "DEFAULT_5XX": response("502", "internal-error", "Internal error", "the gateway could not reach the service"),
    }
