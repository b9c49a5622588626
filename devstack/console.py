"""The local API server serves the console's built files at ``/console/`` (``make run`` builds them).

The console is static files (``console/dist``, built by ``npm run build``). Serving them from the
local server's handler, in front of the app, keeps them on the API's origin (no CORS, the CSP's
``connect-src 'self'``) and out of the app: the API's Lambda never imports or serves any of this,
so its cold start does not grow. Every file carries the headers of :mod:`infra.console`. A path
under ``/console/`` that is not a file is the single-page app's own route: it gets ``index.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra import console

PREFIX = "/" + console.PREFIX


def resolve(dist: Path, path: str) -> Path | None:
    """The file of ``dist`` that ``path`` (under /console/) names, ``index.html`` for an app route;
    None for a path that leaves ``dist`` or when the console is not built."""
    rest = path.split("?", 1)[0].split("#", 1)[0][len(PREFIX):].lstrip("/")
    root = dist.resolve()
    try:
        wanted = (root / rest).resolve() if rest else root / "index.html"
        wanted.is_file()
    except (ValueError, OSError):            # a NUL byte, a name too long: no such file (found from outside)
        return None
    if root not in wanted.parents and wanted != root / "index.html":
        return None
    if wanted.is_file():
        return wanted
    if rest.startswith("assets/"):          # a missing asset is a 404, not the app
        return None
    index = root / "index.html"
    return index if index.is_file() else None


def install(handler_class: Any, dist: Path) -> None:
    """Answer GET and HEAD under /console from ``dist`` before the app (and its rate limits) see them."""
    for method in ("GET", "HEAD"):
        serve_app = getattr(handler_class, f"do_{method}")

        def serve(handler: Any, _app: Any = serve_app, _head: bool = method == "HEAD") -> None:
            path = handler.path
            if path != PREFIX and not path.startswith(PREFIX + "/"):
                _app(handler)
                return
            found = resolve(dist, path)
            if found is None:
                body = b"not found (is the console built? make run builds it)"
                _send(handler, 404, "text/plain; charset=utf-8", body, _head, "no-store")
                return
            relative = found.relative_to(dist.resolve()).as_posix()
            _send(handler, 200, console.content_type(found.name), found.read_bytes(), _head,
                  console.cache_control(relative))
        setattr(handler_class, f"do_{method}", serve)


def _send(handler: Any, status: int, kind: str, body: bytes, head: bool, cache: str) -> None:
    handler.send_response(status)
    for name, value in {**console.headers(), "Content-Type": kind, "Content-Length": str(len(body)),
                        "Cache-Control": cache}.items():
        handler.send_header(name, value)
    handler.end_headers()
    if not head:
        handler.wfile.write(body)
