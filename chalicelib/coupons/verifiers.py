"""The port to a group-buying platform that verifies its codes live (a template with
``codes: "live"``), and its adapters.

:class:`Verifier` is what the till's operations need: ``verify`` (the code's face value, end and
the platform's reference, or None for a code it does not know), ``consume`` (write it off there,
for an order: the same order again is not an error) and ``cancel`` (an undo: the code usable
again). The adapter is chosen by configuration: ``COUPON_PLATFORM_URL`` names an HTTP provider
(:class:`HttpVerifier`: ``POST {url}/verify``, ``/consume``, ``/cancel`` with JSON); the local stack
and tests may install one in process (:func:`use`). With neither, a live code is answered 503.

A provider that times out or cannot be reached is 503 ``coupon-platform-unavailable``; one that
answers nonsense or a 5xx is 502 ``coupon-platform-failed``. Either comes before anything is
staged, so nothing changes here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.shared.errors import Conflict, Problem

TIMEOUT_SECONDS = 2.0
URL = "COUPON_PLATFORM_URL"


@dataclass(frozen=True)
class Verified:
    """A code the platform knows and has not consumed: its face value, its end (ISO, or None) and
    the platform's reference."""

    face_value_fen: int
    valid_until: str | None
    ref: str


class Verifier(Protocol):
    """A platform's live verification."""

    def verify(self, platform: str, code: str) -> Verified | None:
        """The code, if the platform knows it and it is unused; else None."""

    def consume(self, platform: str, code: str, order_id: str) -> None:
        """Write the code off at the platform for the order (again for the same order: no error);
        :class:`ConsumedElsewhere` if it was consumed for another."""

    def cancel(self, platform: str, code: str, order_id: str) -> None:
        """Undo the order's consumption: the code is usable again."""


class PlatformUnavailable(Problem):
    status, slug, title = 503, "coupon-platform-unavailable", "The coupon's platform did not answer; retry shortly"
    remembered = False


class PlatformFailed(Problem):
    status, slug, title = 502, "coupon-platform-failed", "The coupon's platform answered with an error"
    remembered = False


class ConsumedElsewhere(Conflict):
    slug, title = "coupon-used", "The coupon was used already"


class HttpVerifier:
    """A provider over HTTP (JSON both ways), with a short timeout and no retries."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        import urllib3
        self.base = base_url.rstrip("/")
        self.pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout))

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        import urllib3
        try:
            reply = self.pool.request("POST", self.base + path, body=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json"})
        except urllib3.exceptions.HTTPError as error:
            raise PlatformUnavailable(f"the coupon platform did not answer {path}: {type(error).__name__}",
                                      retry_after=5) from None
        if reply.status >= 500:
            raise PlatformFailed(f"the coupon platform answered {reply.status} to {path}")
        try:
            return reply.status, json.loads(reply.data or b"null")
        except ValueError:
            raise PlatformFailed(f"the coupon platform's answer to {path} is not JSON") from None

    def verify(self, platform: str, code: str) -> Verified | None:
        """See :class:`Verifier`."""
        status, data = self._post("/verify", {"platform": platform, "code": code})
        if status == 404:
            return None
        try:
            assert status == 200 and isinstance(data, dict)
            return Verified(int(data["face_value_fen"]), data.get("valid_until"), str(data["ref"]))
        except (AssertionError, KeyError, TypeError, ValueError):
            raise PlatformFailed(f"the coupon platform's verification is not understood ({status})") from None

    def consume(self, platform: str, code: str, order_id: str) -> None:
        """See :class:`Verifier`."""
        status, _ = self._post("/consume", {"platform": platform, "code": code, "order_id": order_id})
        if status == 409:
            raise ConsumedElsewhere("the platform says the code was used already")
        if status != 200:
            raise PlatformFailed(f"the coupon platform refused the consumption ({status})")

    def cancel(self, platform: str, code: str, order_id: str) -> None:
        """See :class:`Verifier`."""
        status, _ = self._post("/cancel", {"platform": platform, "code": code, "order_id": order_id})
        if status != 200:
            raise PlatformFailed(f"the coupon platform refused the cancellation ({status})")


class Unconfigured:
    """No provider configured: every live code is 503."""

    def _down(self) -> PlatformUnavailable:
        return PlatformUnavailable(f"no coupon platform is configured ({URL})", retry_after=60)

    def verify(self, platform: str, code: str) -> Verified | None:
        """See :class:`Verifier`."""
        raise self._down()

    def consume(self, platform: str, code: str, order_id: str) -> None:
        """See :class:`Verifier`."""
        raise self._down()

    def cancel(self, platform: str, code: str, order_id: str) -> None:
        """See :class:`Verifier`."""
        raise self._down()


_installed: list[Verifier | None] = [None]
_http: dict[str, HttpVerifier] = {}


def use(verifier: Verifier | None) -> None:
    """Install a provider in process (the local stack, tests); None: back to configuration."""
    _installed[0] = verifier


def current() -> Verifier:
    """The provider in force: one installed in process, else the configured URL's, else none."""
    if _installed[0] is not None:
        return _installed[0]
    url = os.environ.get(URL)
    if not url:
        return Unconfigured()
    if url not in _http:
        _http[url] = HttpVerifier(url)
    return _http[url]
