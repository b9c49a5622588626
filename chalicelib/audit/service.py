"""listAuditLog: a page of the program's audit store (:mod:`chalicelib.db.audit`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import date, timedelta
from typing import Any

from chalicelib.audit.schemas import AuditLogQuery
from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import ValidationProblem

DEFAULT_DAYS, MAX_DAYS = 7, 92
POSITION = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z(#[0-9A-Z]{26})?$")


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for: default the last :data:`DEFAULT_DAYS` (today included), at most :data:`MAX_DAYS`."""
    end = end or clock.program_date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationProblem(f"start {start} is after end {end}")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationProblem(f"a listing covers at most {MAX_DAYS} days; ask for a shorter period")
    return start, end


def _filters(want: audit.Wanted) -> str:
    return hashlib.sha256(f"{want.member_id}|{want.staff_id}|{want.action}".encode()).hexdigest()[:12]


def encode(position: str, want: audit.Wanted) -> str:
    """An opaque cursor: where the next page starts, for these filters."""
    raw = json.dumps({"p": position, "f": _filters(want)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, want: audit.Wanted) -> str:
    """The position a cursor of this listing holds (422 for anything else)."""
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position, filters = found["p"], found["f"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ValidationProblem("cursor is not a `next` this listing gave") from None
    if not isinstance(position, str) or not POSITION.match(position) or filters != _filters(want):
        raise ValidationProblem("cursor is not a `next` this listing gave with these filters")
    if not want.low <= position <= want.high:
        raise ValidationProblem("cursor is outside the period asked for")
    return position


def listing(uow: UnitOfWork, q: AuditLogQuery) -> dict[str, Any]:
    """A page of the program's audit entries in the period, newest first, filtered."""
    start, end = period(q.start, q.end)
    want = audit.Wanted(clock.iso(clock.day_start(start)), clock.iso(clock.day_start(end + timedelta(days=1))),
                        member_id=q.member_id, staff_id=q.staff_id, action=q.action)
    before = decode(q.cursor, want) if q.cursor else None
    items, position = audit.page(uow, want, before, q.limit)
    return {"start": start.isoformat(), "end": end.isoformat(), "next": encode(position, want) if position else None,
            "entries": [{"entry_id": i.entry_id, "at": i.at, "action": i.action, "actor": i.actor,
                         "detail": i.detail, "member_id": i.subject_member(), "staff_id": i.staff_id,
                         "merchant_id": i.merchant_id} for i in items]}
