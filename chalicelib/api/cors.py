"""Cross-origin calls from the operations console, for its configured origin only.

Deployed, the console is served from its own origin (S3 behind CloudFront: ``infra/hosting.py``)
and calls the API on API Gateway's, so the browser asks first (a preflight, ``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) and reads a reply only when it names the
console's origin. The API answers for one origin, ``CONSOLE_ORIGIN`` (the stack's ``ConsoleOrigin``
parameter; empty or unset: none, as locally, where the console is served beside the API):

* a preflight from it: 204 with the methods the path has, the headers the console sends, and a
  cache time; from any other origin (or with none configured): 403 problem+json, no CORS header;
* every other reply to a request from it names it; a reply to another origin names nothing.

Never ``*`` and never ``Access-Control-Allow-Credentials``: the console sends a bearer token in
``Authorization``, not cookies. Chalice's own ``CORSConfig`` cannot do this: it is one static
origin per route, which API Gateway answers itself (a mock integration) whatever the ``Origin``.
So every path gets an ``OPTIONS`` route (:func:`add_preflights`, for the gateway's methods that
``chalice package`` writes and for ``chalice local``, to hand preflights to the function) and
:func:`middleware` answers them before routing. The function itself registers none (``app.py``: in
the Lambda the routes would only cost its cold start some 2 ms), and this module imports nothing
the app had not loaded already: the cold start does not grow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from chalice.app import Request, Response

from chalicelib.api.gateway import PROBLEM_JSON, problem_body

ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Correlation-Id"
EXPOSE_HEADERS = "Retry-After, X-Correlation-Id, Content-Disposition"
MAX_AGE_SECONDS = 7200          # Chromium's cap on a cached preflight (Firefox allows a day)
REFUSED = "cross-origin calls are answered for the console's configured origin only"


def allowed_origin() -> str:
    """The one origin cross-origin calls are answered for; empty: none."""
    return os.environ.get("CONSOLE_ORIGIN", "").strip().rstrip("/")


def _vary(headers: Mapping[str, Any]) -> str:
    given = next((str(v) for k, v in headers.items() if k.lower() == "vary"), "")
    return given if "origin" in given.lower() else ", ".join(p for p in (given, "Origin") if p)


def preflight(origin: str | None, methods: list[str], path: str) -> Response:
    """The answer to an ``OPTIONS`` request on a path having ``methods``."""
    allowed = allowed_origin()
    listed = ", ".join(sorted(m for m in methods if m != "OPTIONS"))
    if origin is None:                  # not a browser's preflight: what the path allows
        return Response(body="", status_code=204, headers={"Allow": listed})
    if not allowed or origin != allowed:
        return Response(body=problem_body(403, REFUSED, path), status_code=403,
                        headers={"Content-Type": PROBLEM_JSON, "Vary": "Origin"})
    return Response(body="", status_code=204, headers={
        "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": listed,
        "Access-Control-Allow-Headers": ALLOW_HEADERS, "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        "Vary": "Origin"})


def middleware(routes: Mapping[str, Mapping[str, Any]]) -> Callable[[Request, Callable[[Request], Response]], Response]:
    """Chalice ``http`` middleware over the app's ``routes``: answers ``OPTIONS`` (:func:`preflight`)
    and names the allowed origin on every reply to it (outside the problem+json middleware, so a
    refusal is readable by the console too)."""
    def answer(event: Request, get_response: Callable[[Request], Response]) -> Response:
        origin = event.headers.get("origin") if event.headers else None
        if event.method == "OPTIONS":
            resource = (event.context or {}).get("resourcePath") or event.path
            return preflight(origin, list(routes.get(resource, {})), event.path)
        response = get_response(event)
        allowed = allowed_origin()
        if allowed:                     # the reply depends on Origin: caches must keep them apart
            headers = dict(response.headers or {})
            headers["Vary"] = _vary(headers)
            if origin == allowed:
                headers.update({"Access-Control-Allow-Origin": origin,
                                "Access-Control-Expose-Headers": EXPOSE_HEADERS})
            response.headers = headers
        return response
    return answer


def _preflight_route(**_params: str) -> Response:
    """Never reached: :func:`middleware` answers every ``OPTIONS`` before routing."""
    return Response(body="", status_code=204)


def add_preflights(app: Any) -> int:  # noqa: ANN401 - a Chalice app
    """An ``OPTIONS`` route on every path of ``app`` that has none (the deployed gateway then has an
    ``OPTIONS`` method on each, handed to the function; ``chalice local`` likewise, where it would
    otherwise answer preflights itself). Returns how many were added. Call after the blueprints."""
    added = 0
    for path, methods in list(app.routes.items()):
        if "OPTIONS" not in methods:
            app.route(path, methods=["OPTIONS"])(_preflight_route)
            added += 1
    return added
