"""Webhook rules that need no storage: which events a subscription takes, the retry schedule, and
which URLs may be called.

* **Filters** are event types with ``*`` wildcards (``points.*``, ``*``, ``order.earned``); a
  filter must match at least one type the system emits (:data:`EVENT_TYPES`), so a typo is
  refused at subscription time instead of silently receiving nothing.
* **Retries.** A failed delivery (anything but 2xx, a timeout, a refused connection) is tried
  again after :data:`RETRY_SECONDS`, with up to 20% jitter: 27 to 31 hours from the first attempt
  to the last of :data:`MAX_ATTEMPTS`. Each wait is the SQS message's visibility timeout (at most
  :data:`MAX_WAIT_SECONDS`: within SQS's 12 h since the receive). The attempts are counted on the
  delivery's record; after the last, deliver-webhooks sends the message to the dead-letter queue.
  ``WEBHOOK_RETRY_SECONDS`` (comma-separated seconds) shortens the schedule on the local and test
  stages only.
* **URLs**: https, no credentials in them, no fragments; plain http on the local and test stages
  only. Outside them a host that resolves to a private, loopback, link-local, multicast, reserved
  or metadata address is refused, when subscribing and again before every delivery (DNS can
  change between the two: :func:`check_address`).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import random
import re
import socket
from urllib.parse import urlsplit

from chalicelib.shared.config import settings
from chalicelib.shared.errors import ValidationProblem
from chalicelib.webhooks import catalogue

# Every event type the system emits, for validating filters (a test checks it against the code):
# the catalogue's (listWebhookEventTypes), so a type is described where it is declared.
EVENT_TYPES = catalogue.types()
MAX_FILTERS = 20
MAX_SUBSCRIPTIONS = 20            # per program: every event of the program is matched against each

# Waits after attempts 1..9 (the 10th is the last): 10 s, 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h,
# 12 h (SQS's longest visibility timeout): 27 h 36 min 10 s in all, before jitter.
RETRY_SECONDS = (10, 60, 300, 1800, 3600, 7200, 14400, 28800, 43200)
MAX_ATTEMPTS = len(RETRY_SECONDS) + 1
RECEIVES_PER_ATTEMPT = 3          # the queue's maxReceiveCount, in attempts (:func:`max_receives`)
JITTER = 0.2
# The longest wait: SQS refuses a visibility timeout past what is left of 12 hours since the
# message was received, and the wait is set after the batch ran (15 minutes: a Lambda's longest
# run, and more than deliver-webhooks' run with the longest batching window). The 9th wait (12 h)
# is cut to 11 h 45 min: 27 h 21 min 10 s in all.
MAX_WAIT_SECONDS = 43_200 - 900
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
RESPONSE_KEPT_BYTES = 1024


URL_CHARACTERS = re.compile(r"[\x21-\x7e]+")
FILTER = re.compile(r"[a-z0-9_*]+(\.[a-z0-9_*]+)*")


class UnsafeUrl(ValidationProblem):
    """A URL the system will not call."""


def retry_schedule() -> tuple[int, ...]:
    """The waits between attempts: :data:`RETRY_SECONDS`, or ``WEBHOOK_RETRY_SECONDS`` on the local
    and test stages (the end-to-end tests retry in seconds)."""
    given = os.environ.get("WEBHOOK_RETRY_SECONDS")
    if given and settings().stage in ("local", "test"):
        return tuple(max(0, int(s)) for s in given.split(","))
    return RETRY_SECONDS


def max_attempts() -> int:
    """Attempts before a delivery is exhausted, counted on its record (not the message's receives:
    a receive that takes no attempt, a copy finding the delivery leased or not due, counts nothing)."""
    return len(retry_schedule()) + 1


def max_receives() -> int:
    """The webhooks queue's ``maxReceiveCount``: a backstop only, well past :func:`max_attempts`.
    A delivery's record decides when it is exhausted, and deliver-webhooks then sends its message
    to the dead-letter queue itself; the queue moves one there only when its receives never reach
    an attempt (a handler that keeps failing on it)."""
    return RECEIVES_PER_ATTEMPT * max_attempts()


def wait_after(attempt: int, rng: random.Random | None = None) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1-based), jittered up to +20% (at most
    :data:`MAX_WAIT_SECONDS`)."""
    schedule = retry_schedule()
    base = schedule[min(attempt, len(schedule)) - 1]
    return min(MAX_WAIT_SECONDS, int(base * (1 + (rng or random).uniform(0, JITTER))))


def matches(filters: list[str], event_type: str) -> bool:
    """Whether an event of ``event_type`` passes any of ``filters``."""
    return any(fnmatch.fnmatchcase(event_type, f) for f in filters)


def check_filters(filters: list[str]) -> list[str]:
    """The filters, each checked to match at least one known event type (deduplicated, in order)."""
    if not filters or len(filters) > MAX_FILTERS:
        raise ValidationProblem(f"give between 1 and {MAX_FILTERS} event type filters")
    for f in filters:
        if not FILTER.fullmatch(f):
            raise ValidationProblem(f"filter '{f[:64]}': event types are lower-case words and dots, with * for any "
                                    "part (points.*, *.expired, *)")
        if not any(fnmatch.fnmatchcase(t, f) for t in EVENT_TYPES):
            raise ValidationProblem(f"filter '{f[:64]}' matches no event type (see the event catalogue in "
                                    "docs/integrators/webhooks.md)")
    return list(dict.fromkeys(filters))


def dev_stage() -> bool:
    """The local and test stages (plain http and any address allowed)."""
    return settings().stage in ("local", "test")


def check_url(url: str) -> str:
    """``url`` if the system may call it (refuses with :class:`UnsafeUrl`); resolves its host
    outside the local and test stages."""
    if not URL_CHARACTERS.fullmatch(url):
        raise UnsafeUrl("the URL may hold only printable ASCII, no spaces (a host in another script: its "
                        "xn-- form; a path: percent-encoded)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as bad:
        raise UnsafeUrl(f"the URL cannot be read: {bad}") from None
    allowed = ("https", "http") if dev_stage() else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl("the URL must be https" + ("" if dev_stage() else " (plain http on the local stage only)"))
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise UnsafeUrl("the URL needs a host, and no credentials or fragment")
    if len(url) > 2048:
        raise UnsafeUrl("the URL is longer than 2,048 characters")
    check_address(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def check_address(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, refused (:class:`UnsafeUrl`) if any is private,
    loopback, link-local (the metadata service), multicast, reserved or unspecified; on the local
    and test stages anything goes (receivers listen on 127.0.0.1)."""
    if dev_stage():
        return []
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"the host '{host[:64]}' does not resolve") from None
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        # an IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo) is judged by that too
        embedded = [address]
        if isinstance(address, ipaddress.IPv6Address):
            embedded += [a for a in (address.ipv4_mapped, address.sixtofour,
                                     address.teredo[1] if address.teredo else None) if a is not None]
        if any(not a.is_global or a.is_multicast for a in embedded):
            raise UnsafeUrl(f"the host '{host[:64]}' resolves to a non-public address")
    # IPv4 first: a Lambda outside a VPC has no IPv6 route
    return sorted(found, key=lambda text: (":" in text, text))
