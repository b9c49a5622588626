"""One HTTP POST of a webhook: short timeouts, no redirects, no retries here (the queue retries),
and outside the local stage to the address the SSRF check approved, never one DNS answers later.

The host is resolved and checked (:func:`chalicelib.webhooks.domain.check_address`) right before
the connection, and the connection goes to that address with the URL's host name for TLS (SNI
and certificate check) and the ``Host`` header: a DNS answer that changes between the check and
the connection (rebinding) cannot point the request inside the network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from chalicelib.webhooks import domain


@dataclass(frozen=True)
class Outcome:
    status_code: int | None          # None: no answer (refused, timed out, unsafe)
    latency_ms: int
    response: str                    # the first 1 KB of the answer's body
    error: str | None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url`` once."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = domain.check_address(host, port)
    except domain.UnsafeUrl as refused:
        return Outcome(None, took(), "", f"refused: {refused}")
    target = addresses[0] if addresses else host
    timeout = urllib3.Timeout(connect=domain.CONNECT_TIMEOUT_SECONDS, read=domain.READ_TIMEOUT_SECONDS,
                              total=domain.CONNECT_TIMEOUT_SECONDS + domain.READ_TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target, port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(target, port, timeout=timeout, retries=False, maxsize=1)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    try:
        reply = pool.urlopen("POST", path, body=body.encode(), headers={**headers, "Host": host_header},
                             redirect=False, retries=False, preload_content=False)
        try:
            answer = reply.read(domain.RESPONSE_KEPT_BYTES, decode_content=True)
        finally:
            reply.release_conn()
        text = answer.decode("utf-8", "replace")[:domain.RESPONSE_KEPT_BYTES]
        error = None if 200 <= reply.status < 300 else f"answered {reply.status}"
        return Outcome(reply.status, took(), text, error)
    except urllib3.exceptions.HTTPError as failed:
        kind = "timed out" if isinstance(failed, (urllib3.exceptions.TimeoutError,)) else "failed"
        return Outcome(None, took(), "", f"{kind}: {type(failed).__name__}")
    finally:
        pool.close()
