"""The local gateway holds each caller to its rate, as the deployed WAF web ACL does (:mod:`infra.waf`).

``chalice local`` serves every request it is sent, so nothing local could show that one caller's
flood leaves the others served. :func:`install` puts a :class:`RateLimiter` in front of the
local server's handler: each request is counted against its ``X-Api-Key``, its bearer token and
its source address, with :data:`infra.waf.RULES`' limits over the same window, and a caller over
a limit is answered 429 problem+json with ``Retry-After`` before the app sees the request (its
body is read and dropped, so the connection stays usable). Limits are per rule, and a test may
lower them (:meth:`RateLimiter.limit`) to show a flood without sending thousands of requests.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from infra.waf import PROBLEM, RETRY_AFTER_SECONDS, RULES, WINDOW_SECONDS


class RateLimiter:
    """Sliding-window counts per rule and caller; ``admit`` says whether a request may pass."""

    def __init__(self, limits: Mapping[str, int] | None = None, window: float = WINDOW_SECONDS,
                 now: Callable[[], float] = time.monotonic) -> None:
        # None: the template's defaults; a rule left out of ``limits`` is not limited
        self.limits = dict(limits if limits is not None else {rule: default for rule, (_p, default, _h) in RULES.items()})
        self.window, self.now = window, now
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def limit(self, **limits: int) -> dict[str, int]:
        """Set some rules' limits (requests per window); returns the previous limits, and forgets
        every count (and how many were refused)."""
        with self._lock:
            previous = dict(self.limits)
            self.limits.update(limits)
            self._seen.clear()
            self.refused = 0
            return previous

    def reset(self, limits: Mapping[str, int]) -> None:
        """Put ``limits`` back (what :meth:`limit` returned), every count forgotten."""
        with self._lock:
            self.limits = dict(limits)
            self._seen.clear()

    @staticmethod
    def callers(headers: Mapping[str, str], address: str) -> dict[str, str]:
        """The rule -> caller keys a request counts against (a rule whose header is absent: none)."""
        asked = {k.lower(): v for k, v in headers.items()}
        keys = {}
        for rule, (_parameter, _default, header) in RULES.items():
            value = asked.get(header) if header else address
            if value:        # tokens are kept as digests only
                keys[rule] = hashlib.sha256(value.encode()).hexdigest() if header == "authorization" else value
        return keys

    def admit(self, headers: Mapping[str, str], address: str) -> bool:
        """Count the request against each of its callers; False if any is over its limit (a
        refused request is counted too, as WAF counts it)."""
        now = self.now()
        with self._lock:
            over = False
            for rule, caller in self.callers(headers, address).items():
                seen = self._seen.setdefault((rule, caller), deque())
                while seen and seen[0] <= now - self.window:
                    seen.popleft()
                seen.append(now)
                over = over or len(seen) > self.limits.get(rule, len(seen))
            self.refused += over
            return not over


def install(handler_class: Any, limiter: RateLimiter) -> None:
    """Put ``limiter`` in front of every method of ``handler_class`` (chalice's local handler)."""
    serve = handler_class._generic_handle

    def limited(handler: Any) -> None:
        if limiter.admit(dict(handler.headers), handler.client_address[0]):
            serve(handler)
            return
        length = int(handler.headers.get("content-length") or 0)
        if length:
            handler.rfile.read(length)
        body = dict(PROBLEM, instance=handler.path.split("?", 1)[0])
        handler._send_http_response(429, {"Content-Type": "application/problem+json",
                                          "Retry-After": str(RETRY_AFTER_SECONDS)}, json.dumps(body))

    for method in ("GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"):
        setattr(handler_class, f"do_{method}", limited)
