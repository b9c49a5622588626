"""The operations console's headers: one Content-Security-Policy for every place that serves it.

The console (``console/``, a Vue single-page app) is static files. Locally the API server serves
them at ``/console/`` (:mod:`devstack.console`), beside the API and so on its origin; deployed, a
CloudFront distribution serves them from a private bucket (:mod:`infra.hosting`, uploaded by
:mod:`infra.console_upload`) with the same headers through a response headers policy. The policy
admits no inline script or style element, no eval, no frames and no other origin: the built
console has none (``vite.config.ts``), and the browser tests fail on any violation
(tests/console/). ``connect-src`` is the API's origin: ``'self'`` when the console is served
beside it, the API Gateway stage's origin when deployed. The files' types and cache lifetimes are
here too, so that both places serve them alike.
"""

from __future__ import annotations

from pathlib import PurePosixPath

PREFIX = "console"          # the path the console is served under (vite.config.ts ``base``)
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8",
         ".svg": "image/svg+xml", ".woff2": "font/woff2", ".json": "application/json"}
IMMUTABLE = "public, max-age=31536000, immutable"       # hashed assets: a new build has new names
REVALIDATE = "no-cache"                                 # index.html names the current assets


def content_type(name: str) -> str:
    """The media type a console file is served with."""
    import mimetypes
    suffix = PurePosixPath(name).suffix
    return TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def cache_control(relative: str) -> str:
    """How long a console file (its path under the build's folder) may be kept: a year for a
    hashed asset, revalidated every time for anything else (``index.html``)."""
    return IMMUTABLE if PurePosixPath(relative).parts[:1] == ("assets",) else REVALIDATE


def content_security_policy(api_origin: str = "'self'") -> str:
    """The policy; ``api_origin`` is where the console's calls go (``'self'``: beside the API)."""
    connect = "'self'" if api_origin == "'self'" else f"'self' {api_origin}"
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        f"connect-src {connect}",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def headers(api_origin: str = "'self'") -> dict[str, str]:
    """Every header a console file is served with (the deployed response headers policy too)."""
    return {
        "Content-Security-Policy": content_security_policy(api_origin),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=31536000",
    }
