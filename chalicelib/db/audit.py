"""The audit store: who did what, to whom, when. One store; every capability writes it through
:func:`record`, in the unit of work of the change it records (committed with it, or not at all).

An entry is staged as a few items of the main table (the program's keys, :mod:`chalicelib.db.tenancy`),
each a full copy (``at``, ``action``, ``actor``, ``detail``, ``member_id``, ``staff_id``,
``merchant_id``), all under the sort key ``<at>#<ulid>`` (newest first is a backward Query):

``AUDITLOG#<day>#<n>``           every entry, under its UTC day (``at[:10]``), shard ``n`` of
                                 :data:`SHARDS` (crc32 of the entry's ULID): the program-wide log
                                 by period. Indexed on ``gsi1`` as ``AUDITKIND#<action>#<day>#<n>``:
                                 one kind within a period, without reading the others.
``AUDITFAM#<family>#<day>#<n>``  a copy under the kind's family (``staff`` of ``staff.login``):
                                 a prefix filter (``staff.``) within a period.
``AUDIT#<member id>``            a copy for the member it concerns: the shape ``listMemberAudit``
                                 has always read (entries written before this store are there only).
``AUDITSTAFF#<staff id>``        a copy for the staff member it concerns (``staff_id``), and one for
                                 the acting staff member (``actor`` ``staff:<id>``) if another.

So an entry is 2 to 5 items. The day partitions are sharded because member token issues are
audited on every login: 100,000 a day is 1.2 a second, but a flash event's logins at a few
thousand a second would be more than one partition takes (1,000 writes a second); with
:data:`SHARDS` of 4 the log, the family copies and the kind index each take 4,000 a second.

Reading (:func:`page`) is newest first, a page at a time, and bounded whatever the volume: a member's
or a staff member's partition is one Query over the period; a period is read day by day, its shards
side by side and merged by sort key, at most :data:`DAYS_PER_PAGE` days and :data:`READ_BUDGET`
items per page (a page may end short with a cursor to continue). Other filters (a kind within a
member's entries, say) are applied to what was read, within the same budget.

Kept :data:`KEEP_DAYS` days (``expires_at``, DynamoDB's TTL): MLPS Level 3 asks for at least six
months of behaviour logs; 400 days covers a year's review with margin.

Never a secret in an entry: :func:`record` masks, in the detail, text that looks like a credential
(:data:`SECRET_LOOKING`, replaced by ``[redacted]``) and keeps the rest: a detail often quotes free
text somebody typed (a reveal's reason, a display name before and after), and a reason that happens
to look like a token must neither fail the change it records nor land in the log. An actor that looks
like one is refused (an actor is made by code, never typed).
"""

from __future__ import annotations

import heapq
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.backend import SortKey
from chalicelib.db.items import Gsi1, MainModel, expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Problem
from chalicelib.shared.ids import new_id

SHARDS = 4                 # partitions of a day (of the log, of a family, of a kind)
KEEP_DAYS = 400            # MLPS Level 3: six months at least
DAYS_PER_PAGE = 8          # a page reads at most this many days' shards (8 x 4 Queries)
READ_BUDGET = 1_000        # and at most this many items
MAX_DETAIL = 500
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
# what a credential looks like: a webhook secret, a member refresh token (rt_<program>.<id>.<secret>),
# an Authorization header's token (a word after ``Bearer`` with a digit or a token's punctuation in
# it, or of 16 letters or more), a JWT, an API key's secret (64 hex digits). Narrow enough that a
# login name such as ``rt_ops`` or ``bearer-x``, or a phrase such as "the bearer of the card", is not
# taken for one. A match runs to the end of the token, so that masking it leaves none of it.
TOKEN_AFTER_BEARER = r"\bbearer\s+(?:[A-Za-z]*[0-9._~+/=-][A-Za-z0-9._~+/=-]*|[A-Za-z]{16,})"
SECRET_LOOKING = re.compile(r"whsec_\S*|\brt_[a-z0-9][a-z0-9-]*\.[0-9A-Za-z]+\.\S*|" + TOKEN_AFTER_BEARER
                            + r"|\beyJ[A-Za-z0-9_.-]{6,}|\b[0-9a-fA-F]{64}\b", re.IGNORECASE)
ISO_LENGTH = len("2026-01-01T00:00:00.000Z")


class AuditRefused(ValueError):
    """A malformed entry (or an actor that looks like a credential): a bug of its caller, never stored."""


class AuditItem(MainModel):
    """One copy of an audit entry (see the module's docstring for where the copies live)."""

    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    detail = UnicodeAttribute()
    at = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)     # entries before this store: only in AUDIT#<member>, without it
    staff_id = UnicodeAttribute(null=True)
    merchant_id = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)        # the day's copy only: AUDITKIND#<action>#<day>#<n>
    gsi1sk = UnicodeAttribute(null=True)
    by_kind = Gsi1()

    @staticmethod
    def key(member_id: str, at: str, entry_id: str) -> tuple[str, str]:
        """The member's copy (the key ``listMemberAudit`` reads)."""
        return f"AUDIT#{member_id}", f"{at}#{entry_id}"

    @property
    def entry_id(self) -> str:
        """The entry's ULID (the same in every copy)."""
        return self.sk.rpartition("#")[2]

    def subject_member(self) -> str | None:
        """The member the entry concerns (an old entry names it only by its partition)."""
        return self.member_id or (self.pk.removeprefix("AUDIT#") if self.pk.startswith("AUDIT#") else None)


def _shard(entry_id: str) -> int:
    return zlib.crc32(entry_id.encode()) % SHARDS


def family(action: str) -> str:
    """The family of a kind: ``staff`` of ``staff.login_failed``."""
    return action.split(".", 1)[0]


def log_key(day: str, shard: int) -> str:
    """The program-wide log's partition of a UTC day's shard."""
    return f"AUDITLOG#{day}#{shard}"


def kind_key(action: str, day: str, shard: int) -> str:
    """The ``gsi1`` partition of one kind in a UTC day's shard."""
    return f"AUDITKIND#{action}#{day}#{shard}"


def family_key(name: str, day: str, shard: int) -> str:
    """The partition of one family of kinds in a UTC day's shard."""
    return f"AUDITFAM#{name}#{day}#{shard}"


def staff_key(staff_id: str) -> str:
    """The partition of the entries a staff member did or is the subject of."""
    return f"AUDITSTAFF#{staff_id}"


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``[redacted]`` (what
    :func:`record` does to a detail; callers use it for text they cut, e.g. a typed login name)."""
    return SECRET_LOOKING.sub("[redacted]", text)


def _refuse_secrets(name: str, text: str) -> None:
    if SECRET_LOOKING.search(text):
        raise AuditRefused(f"an audit entry's {name} looks like it holds a credential; never audit one")


def record(uow: UnitOfWork, action: str, actor: str, *, member_id: str | None = None,
           staff_id: str | None = None, merchant_id: str | None = None, detail: str = "") -> None:
    """Stage one audit entry on ``uow`` (committed with the change it records)."""
    if not ACTION.match(action) or len(action) > 64:
        raise AuditRefused(f"an audit action is a dotted lowercase kind, not {action[:64]!r}")
    if not actor or len(actor) > 256:
        raise AuditRefused("an audit entry names its actor")
    for name, value in (("member_id", member_id), ("staff_id", staff_id), ("merchant_id", merchant_id)):
        if value is not None and not ID.match(value):
            raise AuditRefused(f"an audit entry's {name} is an id, not {value[:64]!r}")
    if len(detail) > MAX_DETAIL:
        raise AuditRefused(f"an audit entry's detail is at most {MAX_DETAIL} characters")
    _refuse_secrets("actor", actor)
    detail = redact(detail)
    at, entry_id = clock.iso(clock.now()), new_id()
    sk, day, n = f"{at}#{entry_id}", at[:10], _shard(entry_id)
    fields: dict[str, Any] = {"actor": actor, "action": action, "detail": detail, "at": at, "member_id": member_id,
              "staff_id": staff_id, "merchant_id": merchant_id, "expires_at": expiry_in(KEEP_DAYS)}
    uow.create(AuditItem(log_key(day, n), sk, gsi1pk=kind_key(action, day, n), gsi1sk=sk, **fields))
    uow.create(AuditItem(family_key(family(action), day, n), sk, **fields))
    if member_id:
        uow.create(AuditItem(*AuditItem.key(member_id, at, entry_id), **fields))
    acting = actor.removeprefix("staff:") if actor.startswith("staff:") else None
    for who in dict.fromkeys(s for s in (staff_id, acting) if s):
        uow.create(AuditItem(staff_key(who), sk, **fields))


def refused(uow: UnitOfWork, action: str, actor: str, problem: Problem | None, *, detail: str,
            merchant_id: str | None = None, staff_id: str | None = None, unit_actor: str | None = None) -> None:
    """Audit a refused attempt now, on a unit of its own (the request's own unit is thrown away
    with the refusal), and mark ``problem`` audited so that the endpoint's ``access.refused``
    (:mod:`chalicelib.api.refusals`) does not write it a second time."""
    work = UnitOfWork(unit_actor or actor, uow.correlation_id, program=uow.program)
    record(work, action, actor, merchant_id=merchant_id if merchant_id and ID.match(merchant_id) else None,
           staff_id=staff_id, detail=redact(detail)[:MAX_DETAIL])
    work.commit()
    if problem is not None:
        problem.audited = True


@contextmanager
def refusals(uow: UnitOfWork, action: str, actor: str, detail: Callable[[Problem], str], *,
             merchant_id: str | None = None) -> Iterator[None]:
    """Audit every refusal of the change staged on ``uow`` (:func:`refused`, once each): one raised
    within the block (what was read refuses it) and one its commit raises later (a condition that
    failed: the state changed since it was read). ``detail`` words the entry from the problem."""
    def audit_one(problem: Problem) -> None:
        if not problem.audited and not isinstance(problem, ConcurrentUpdate):
            refused(uow, action, actor, problem, detail=detail(problem), merchant_id=merchant_id)
    uow.on_refused(audit_one)
    try:
        yield
    except Problem as problem:
        audit_one(problem)
        raise


# reading ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    """What a listing asks for: entries at or after ``low`` and before ``high`` (ISO instants), of
    a member, of a staff member (subject or actor), of a kind (``action``; ending in ``.``: a prefix)."""

    low: str
    high: str
    member_id: str | None = None
    staff_id: str | None = None
    action: str | None = None

    def admits(self, item: AuditItem) -> bool:
        """Whether ``item`` (read from a partition that may hold others) is one of the wanted."""
        if self.action and not (item.action.startswith(self.action) if self.action.endswith(".")
                                else item.action == self.action):
            return False
        if self.member_id and item.subject_member() != self.member_id:
            return False
        return not self.staff_id or self.staff_id == item.staff_id or item.actor == f"staff:{self.staff_id}"


# a stretch of the sort key, [low, high), and the partitions (and index) that hold it
Segment = tuple[str, str, list[str], str | None]


def _day_of(position: str) -> date:
    """The UTC day of the newest entry strictly before ``position`` (an entry's sort key or an instant)."""
    at = clock.parse_iso(position[:ISO_LENGTH])
    if len(position) <= ISO_LENGTH:              # an instant: the entries before it
        at -= timedelta(milliseconds=1)
    return at.date()


def _segments(want: Wanted, upper: str) -> Iterator[Segment]:
    if want.member_id:
        yield want.low, upper, [f"AUDIT#{want.member_id}"], None
        return
    if want.staff_id:
        yield want.low, upper, [staff_key(want.staff_id)], None
        return
    if want.low >= upper:
        return
    day, first_day = _day_of(upper), clock.parse_iso(want.low).date()
    while day >= first_day:
        text = day.isoformat()
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        start, end = clock.iso(midnight), clock.iso(midnight + timedelta(days=1))
        low, high = max(want.low, start), min(upper, end)
        if want.action and not want.action.endswith("."):
            yield low, high, [kind_key(want.action, text, n) for n in range(SHARDS)], "gsi1"
        elif want.action:
            yield low, high, [family_key(family(want.action), text, n) for n in range(SHARDS)], None
        else:
            yield low, high, [log_key(text, n) for n in range(SHARDS)], None
        day -= timedelta(days=1)


def page(uow: UnitOfWork, want: Wanted, before: str | None, limit: int) -> tuple[list[AuditItem], str | None]:
    """A page of entries, newest first, strictly before ``before`` (a position this function
    returned; None: from ``want.high``); and the position to continue from (None: no more)."""
    upper = min(before, want.high) if before else want.high
    taken: list[AuditItem] = []
    reads = 0
    for days, (low, high, partitions, index) in enumerate(_segments(want, upper)):
        if days == DAYS_PER_PAGE:
            return taken, high                     # the rest is before this segment's end
        if low >= high:
            continue
        chunk = min(limit, READ_BUDGET) // len(partitions) + 1
        streams = [uow.query(AuditItem, pk, SortKey.between(low, high), index=index, forward=False,
                             limit=READ_BUDGET, page_size=chunk) for pk in partitions]
        for item in heapq.merge(*streams, key=lambda i: i.sk, reverse=True):
            if item.sk >= high:                    # the position itself (between includes it)
                continue
            reads += 1
            if want.admits(item):
                taken.append(item)
                if len(taken) == limit:
                    return taken, item.sk
            if reads >= READ_BUDGET:
                return taken, item.sk
    return taken, None
