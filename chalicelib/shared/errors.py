"""RFC 9457 problems: every error a caller can see, with a stable ``type``.

Domain code raises these; the HTTP layer renders them as ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TYPE_BASE = "https://loyalty.example/problems/"


class Problem(Exception):
    """An error the caller caused or can act on. Never a 5xx but a 503: retry later, unchanged."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    remembered = True        # a keyed 409/422 is kept under its key (False: a passing state)
    audited = False          # its refusal is in the audit log already (api/refusals.py writes no second entry)

    RESERVED = frozenset({"type", "title", "status", "detail", "instance"})    # RFC 9457's own members

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        if clash := self.RESERVED & extensions.keys():     # an extension must never replace them
            raise TypeError(f"problem extension named {sorted(clash)[0]!r}: RFC 9457 reserves it")
        self.detail = detail
        self.extensions = extensions

    @property
    def type(self) -> str:
        """The stable URI that names this kind of problem."""
        return TYPE_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json body, with ``instance`` when given."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status,
                                "detail": self.detail}
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class ValidationProblem(Problem):
    status, slug, title = 422, "validation-failed", "The request is not valid"


class MalformedRequest(Problem):
    status, slug, title = 400, "malformed-request", "The request could not be read"


class Unauthenticated(Problem):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class IdentityTaken(Conflict):
    slug, title = "identity-taken", "Identity already belongs to a member"


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused with a different request"


class IdempotencyKeyMissing(Problem):
    status, slug, title = 400, "idempotency-key-required", "Idempotency-Key header required"


class ConcurrentUpdate(Problem):
    """A race lost on a version or counter: the endpoint retries it; callers never see it.
    ``record``: the record raced for (its keys), when the unit of work knows it: the endpoint
    queues a process's retries on it (:mod:`chalicelib.api.contention`)."""

    status, slug, title = 409, "concurrent-update", "The record changed while the request ran; retry"
    record: str | None = None


def changed(what: str, when: str = "while the request ran") -> Callable[[], ConcurrentUpdate]:
    """The conflict of a lock on ``what`` (a version, a counter): one wording for every lost race,
    which the endpoint retries from fresh state (and names in its 503 if it keeps losing)."""
    return lambda: ConcurrentUpdate(f"{what} changed {when}; retry")


class Busy(Problem):
    """Races kept being lost for the whole retry budget: retry after ``Retry-After`` seconds."""

    status, slug, title = 503, "busy", "The record is busy; retry shortly"


class OverCapacity(Problem):
    """DynamoDB refused the request's reads or writes for capacity (throttled): nothing was
    changed; retry after ``Retry-After`` seconds with the same Idempotency-Key."""

    status, slug, title = 503, "over-capacity", "The service is over its capacity for a moment; retry shortly"


class NotJson(Problem):
    """A body sent with no Content-Type (one of another type the framework refuses itself)."""

    status, slug, title = 415, "unsupported-media-type", "Send JSON"
    remembered = False


class RequestTooLarge(Problem):
    status, slug, title = 413, "request-too-large", "Request body too large"


class VersionChanged(Conflict):
    """An update sent with the version its caller read, which another change has moved on since:
    nothing is changed; read the record again and decide (optimistic concurrency)."""

    slug, title = "version-changed", "The record changed since the version you read"
