"""One HTTP POST of a webhook: short timeouts and one overall deadline, no redirects, no retries
here (the queue retries), and outside the local stage to the address the SSRF check approved,
never one DNS answers later.

The host is resolved and checked (:func:`chalicelib.webhooks.domain.check_address`) right before
the connection, and the connection goes to that address with the URL's host name for TLS (SNI
and certificate check) and the ``Host`` header: a DNS answer that changes between the check and
the connection (rebinding) cannot point the request inside the network.

Every socket operation waits at most its timeout (connect 3 s, each read 5 s), and the whole
post at most :data:`TOTAL_SECONDS`: a receiver that drips its answer a byte at a time is cut off
then (a watchdog shuts the socket), so no post holds a delivery batch, or the test endpoint's
request, longer than that. Only the first 1 KB of the answer is read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.webhooks import domain

TOTAL_SECONDS = domain.CONNECT_TIMEOUT_SECONDS + domain.READ_TIMEOUT_SECONDS


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


def _first_kb(data: bytes) -> str:
    """At most 1 KB of text (cut on a character boundary)."""
    return data[:domain.RESPONSE_KEPT_BYTES].decode("utf-8", "ignore").encode()[:domain.RESPONSE_KEPT_BYTES] \
        .decode("utf-8", "ignore")


def post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url`` once."""
    started = time.monotonic()
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        addresses = domain.check_address(host, port)
    except (domain.UnsafeUrl, ValueError) as refused:
        return Outcome(None, _ms(started), "", f"refused: {refused}")
    with _Watchdog(TOTAL_SECONDS) as watch:
        try:
            status, data = _exchange(watch, parts.scheme == "https", addresses[0] if addresses else host, host, port,
                                     (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        except TimeoutError:
            return Outcome(None, _ms(started), "", f"timed out after {_ms(started)} ms")
        except ConnectionRefusedError:
            return Outcome(None, _ms(started), "", "connection refused")
        except Exception as failed:  # noqa: BLE001 - whatever the receiver does, the delivery records it
            why = "timed out" if watch.cut.is_set() else "failed"
            return Outcome(None, _ms(started), "", f"{why}: {type(failed).__name__}")
    error = None if 200 <= status < 300 else f"answered {status}"
    return Outcome(status, _ms(started), _first_kb(data), error)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class _Watchdog:
    """Shuts the post's socket once ``seconds`` have passed, whatever it is waiting for."""

    def __init__(self, seconds: float) -> None:
        self.cut = threading.Event()
        self.sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._cut_off)
        self._timer.daemon = True

    def _cut_off(self) -> None:
        self.cut.set()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        if self.sock is not None:
            self.sock.close()


def _exchange(watch: _Watchdog, tls: bool, address: str, host: str, port: int, path: str, body: str,
              headers: dict[str, str]) -> tuple[int, bytes]:
    """Connect to ``address`` (TLS for ``host``), send the post, read the status and the first
    1 KB of the answer."""
    raw = socket.create_connection((address, port), timeout=domain.CONNECT_TIMEOUT_SECONDS)
    watch.sock = raw
    sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host) if tls else raw
    watch.sock = sock
    sock.settimeout(domain.READ_TIMEOUT_SECONDS)
    connection = http.client.HTTPConnection(host, port)
    connection.sock = sock
    connection.request("POST", path, body=body.encode(), headers=headers)
    reply = connection.getresponse()
    data = b""
    while len(data) < domain.RESPONSE_KEPT_BYTES and not watch.cut.is_set():
        chunk = reply.read1(domain.RESPONSE_KEPT_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    if watch.cut.is_set():
        raise TimeoutError("the answer took too long")
    return reply.status, data
