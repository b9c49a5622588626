"""The operations console's headers: one Content-Security-Policy for every place that serves it.

The console (``console/``, a Vue single-page app) is static files. Locally the API server serves
them at ``/console/`` (:mod:`devstack.console`), beside the API and so on its origin; the deployed
hosting plan (S3 behind CloudFront, not yet in the template: docs/operators/console.md) serves the
same files with the same headers. The policy admits no inline script or style element, no eval,
no frames and no other origin: the built console has none (``vite.config.ts``), and the browser
tests fail on any violation (tests/e2e/test_console_browser.py). ``connect-src`` is the API's
origin: ``'self'`` when the console is served beside it.
"""

from __future__ import annotations


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
