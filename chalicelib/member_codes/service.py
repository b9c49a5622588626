"""Member codes: the member app's code of the minute (:func:`code`), and a till resolving a code to
its member once (:func:`resolve_member`; :func:`resolve` for an operation that identifies the
member inside its own unit of work, as checkout will).

A resolve is counted against the caller's lockout first (:mod:`chalicelib.ledger.guard`, its own
count, ``MCODEGUARD#<caller>``): a code that is mistyped, unknown, another program's, expired or
not the member's current one is a wrong code (422, the same answer after the same reads). A right
code is marked used by one conditional update of its handle (``used_step`` below the code's step):
of eight tills resolving one code at once, one succeeds and seven get 409, and a screenshot
replayed later is refused the same way (or, past its two minutes, as a wrong code). Any till of
the program may identify its members (a member is the program's, not one merchant's)."""

from __future__ import annotations

import math
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.guard import Guard
from chalicelib.member_codes import domain
from chalicelib.member_codes.tables import HandleItem, MemberCodeItem
from chalicelib.members import service as members
from chalicelib.shared import clock, sealing
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Problem
from chalicelib.shared.principal import Principal
from chalicelib.tiers import service as tiers

INFO = b"loyalty member code secrets"


class CodeRejected(Problem):
    status, slug, title = 422, "member-code-rejected", "No member has this code now"


class CallerLocked(Problem):
    status, slug, title = 429, "too-many-wrong-member-codes", "Too many wrong member codes; try again later"
    remembered = False


class TooManyAtOnce(Problem):
    status, slug, title = 429, "too-many-member-code-lookups", "Too many member code lookups at once by one caller"
    remembered = False


class CodeNotReady(Problem):
    status, slug, title = 429, "member-code-not-ready", "Every code this member may show now was used; wait for the next"
    remembered = False


class CodeUsed(Conflict):
    slug, title = "member-code-used", "This member code was used already; the member shows a new one"


GUARD = Guard("MCODEGUARD", "member_codes:guard", "member", CodeRejected, CallerLocked, TooManyAtOnce)


def _context(program: str, member_id: str) -> bytes:
    return f"{program}/{member_id}".encode()


def _secret(item: MemberCodeItem | HandleItem, program: str, member_id: str) -> str:
    return sealing.unseal({"master": item.master, "sealed": item.sealed}, INFO, _context(program, member_id)).decode()


def _first_code(uow: UnitOfWork, member_id: str) -> tuple[str, str]:
    """Stage the member's handle and secret (each item only if absent: two first requests at once,
    or a handle drawn twice, lose the race and are retried, finding or drawing again)."""
    secret, handle, at = domain.new_secret(), domain.new_handle(), clock.iso(clock.now())
    stored = sealing.seal(secret.encode(), INFO, _context(uow.program, member_id))
    retry = lambda: ConcurrentUpdate("the member's code was made by another request; retry")  # noqa: E731
    uow.create(MemberCodeItem(*MemberCodeItem.key(member_id), handle=handle, created_at=at, **stored), on_conflict=retry)
    uow.create(HandleItem(*HandleItem.key(handle), member_id=member_id, used_step=0, created_at=at, **stored),
               on_conflict=retry)
    return secret, handle


def code(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """The member's code now, when it stops resolving, and when to ask for the next one."""
    member_id = members.acting_on(uow, member_id, by).member_id
    key = MemberCodeItem.key(member_id)
    item = uow.get(MemberCodeItem, key) or uow.get(MemberCodeItem, key, consistent=True)
    secret, handle = (_secret(item, uow.program, member_id), item.handle) if item else _first_code(uow, member_id)
    now = clock.now()
    # this minute's code used already (a checkout a moment ago): the next minute's, which resolves
    # now; that one used too, none resolves before the next minute (never show a used code)
    used = uow.get(HandleItem, HandleItem.key(handle), consistent=True)
    n = domain.step(now)
    wanted = max(n, int(used.used_step or 0) + 1 if used is not None else n)
    if wanted > n + domain.AHEAD_STEPS:
        ready = domain.step_start(wanted - domain.AHEAD_STEPS)
        raise CodeNotReady(f"this member's codes up to the next minute's are used: a new one resolves from "
                           f"{clock.iso(ready)}", retry_after=max(1, math.ceil((ready - now).total_seconds())))
    shown = domain.code_at(secret, handle, now if wanted == n else domain.step_start(wanted))
    return {"member_id": member_id, "code": shown.code, "valid_until": clock.iso(shown.valid_until),
            "refresh_in_seconds": shown.refresh_in(now), "step_seconds": domain.STEP_SECONDS,
            "skew_steps": domain.SKEW_STEPS}


def _lookup(uow: UnitOfWork, code: str) -> tuple[HandleItem, int] | None:
    presented = domain.parse(code)
    item = uow.get(HandleItem, HandleItem.key(presented.handle), consistent=True) if presented else None
    if presented is None or item is None:
        return None
    n = domain.matching_step(_secret(item, uow.program, item.member_id), presented.digits, clock.now())
    return (item, n) if n is not None else None


def resolve(uow: UnitOfWork, code: str, by: Principal) -> str:
    """The id of the member whose code ``code`` is, valid now; the code's use staged on ``uow``
    (committed with the caller's change, or not at all). Raises 422 (counted toward ``by``'s
    lockout), 429 while ``by`` is locked out, 409 for a code used already."""
    place = GUARD.admit(uow, by)
    try:
        found = _lookup(uow, code)
    except Exception:
        GUARD.done(uow, place, right=True)          # no answer: the flight back, no wrong code counted
        raise
    if found is None:
        raise GUARD.reject(uow, place)
    GUARD.done(uow, place, right=True)
    item, n = found
    used = CodeUsed("this member code was used already: ask the member to show the code again (a new one)")
    if n <= int(item.used_step or 0):
        raise used
    uow.update(HandleItem(item.pk, item.sk), [HandleItem.used_step.set(n)], HandleItem.used_step < n,
               on_conflict=lambda: used)
    return members.acting_on(uow, item.member_id).member_id


def resolve_member(uow: UnitOfWork, code: str, by: Principal) -> dict[str, Any]:
    """The member a till's code names (masked), their tier and paid plan now; the code used up."""
    member_id = resolve(uow, code, by)
    uow.prefetch(tiers.tier_keys(member_id))
    member = members.acting_on(uow, member_id)
    now = clock.now()
    ladder, held, _ = tiers.tier_at(uow, member_id, now)
    plan = tiers.plus_at(uow, member_id, now)
    tier = ladder.tiers[held]
    return {"member_id": member_id, "phone": member.view(reveal=False)["phone"], "stage": member.stage,
            "tier": {"code": tier.code, "name": tier.name}, "paid_plan": plan, "paid_plan_active": plan is not None}
