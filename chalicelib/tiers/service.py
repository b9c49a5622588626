"""The tiers capability's service API: the ladder, a member's tier and its history, manual
floors, paid membership plans, and the tier and plan at a moment (what benefits and earning ask)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import ValidationProblem
from chalicelib.shared.principal import Principal
from chalicelib.tiers import membership, repository, standing
from chalicelib.tiers.ladder import LADDER, Ladder, add_months
from chalicelib.tiers.plans import refund_fen
from chalicelib.tiers.schemas import SetTier
from chalicelib.tiers.tables import MembershipItem, TierItem

MAX_FLOOR_DAYS = 3 * 366


def get_membership(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """The member's paid membership and its history."""
    member_id = members.acting_on(uow, member_id, by).member_id
    return {**membership.view(repository.of(uow).membership(member_id), clock.program_date()), "member_id": member_id,
            "history": membership.history(uow, member_id)}


def member_keys(member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The items :func:`member_tier` reads besides the member: to batch with a caller's reads."""
    return [*tier_keys(member_id), *points.balance_keys(member_id, "growth")]


def member_tier(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """The member's tier now: where it comes from, its validity, growth, what the next tier and
    keeping this one need, and the paid membership it stacks with."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, *member_keys(own)])                                    # one request
    member_id = members.acting_on(uow, member_id, by).member_id
    version, ladder = LADDER.at(uow, clock.now())
    item = repository.of(uow).tier(member_id)
    today = clock.program_date()
    held, source = standing.effective(ladder, item, today)
    earned = ladder.index(item.tier) if item else 0
    growth = points.balance(uow, member_id, "growth")
    period_growth = standing.period_growth(item, points.growth_total(uow, member_id).total)
    tier = ladder.tiers[held]
    reply: dict[str, Any] = {
        "member_id": member_id, "tier": {"code": tier.code, "name": tier.name}, "source": source,
        "earned_tier": ladder.tiers[earned].code, "valid_until": item.valid_until if item else None,
        "grace_until": item.grace_until if item else None, "growth": growth, "period_growth": period_growth,
        "period_start": item.period_start if item and int(item.changes or 0) else None, "ladder_version": version,
        "manual": ({"tier": item.manual_tier, "until": item.manual_until, "reason": item.manual_reason}
                   if item and item.manual_tier else None),
        "next": None, "retain": None, "plus": None}
    plus = membership.at(uow, member_id, clock.now())
    if plus is not None:
        reply["plus"] = {"plan": plus.plan, "status": plus.status, "until": plus.until}
    step = max(earned, held) + 1           # the next tier above the one held (a floor may hold above the earned one)
    if step < len(ladder.tiers):
        nxt = ladder.tiers[step]
        needed = max(0, nxt.threshold - growth)
        if item is not None and step <= ladder.index(item.regain_from) and ladder.has(item.regain_from):
            needed = max(needed, nxt.keep - period_growth)      # left by a downgrade: earned again (standing)
        reply["next"] = {"code": nxt.code, "name": nxt.name, "threshold": nxt.threshold, "growth_needed": needed}
    if item and item.valid_until:
        keep = ladder.tiers[earned].keep
        reply["retain"] = {"needed": keep, "growth_needed": max(0, keep - period_growth), "by": item.valid_until}
    return reply


def held_keys(member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The items :func:`held_tier` reads, for a caller's batch read (a list of many members)."""
    return [(TierItem, TierItem.key(member_id))]


def held_tier(uow: UnitOfWork, member_id: str) -> dict[str, str]:
    """The tier the member holds today (its code and name: earned, or a manual floor above it),
    from the member's tier item alone (prefetched: no request); the member is not read."""
    _, ladder = LADDER.at(uow, clock.now())
    held, _ = standing.effective(ladder, repository.of(uow).tier(member_id), clock.program_date())
    tier = ladder.tiers[held]
    return {"code": tier.code, "name": tier.name}


def set_member_tier(member_id: str, cmd: SetTier, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """A manual floor: the member holds at least ``cmd.tier`` through ``cmd.until``."""
    member_id = members.acting_on(uow, member_id, by).member_id
    version, ladder = LADDER.at(uow, clock.now())
    if cmd.tier not in [t.code for t in ladder.tiers]:
        raise ValidationProblem(f"no tier '{cmd.tier}' on the ladder in force (version {version})")
    today = clock.program_date()
    if not today <= cmd.until <= today + timedelta(days=MAX_FLOOR_DAYS):
        raise ValidationProblem(f"until must be between today ({today}) and {MAX_FLOOR_DAYS} days ahead")
    item = repository.of(uow).tier(member_id) or standing.new(member_id, ladder, clock.now())
    read = int(item.version)
    before = ladder.tiers[standing.effective(ladder, item, today)[0]].code
    item.manual_tier, item.manual_until = cmd.tier, cmd.until.isoformat()
    item.manual_reason, item.manual_by = cmd.reason, by.ref
    standing.record(uow, item, before, cmd.tier, "manual", clock.now(), by.ref,
                    {"until": item.manual_until, "reason": cmd.reason, "ladder_version": version})
    standing.save(uow, item, read, ladder, today)
    return member_tier_after(uow, member_id, item, ladder)


def grant_tier(uow: UnitOfWork, member_id: str, code: str, months: int, task: str, at: datetime,
               actor: str) -> bool:
    """A task's reward: the member holds at least ``code`` for ``months`` from today (a floor, as
    a manual one; kept if a higher or longer floor is already set). False if the ladder in force
    has no such tier or nothing changes."""
    version, ladder = LADDER.at(uow, at)
    if not ladder.has(code):
        return False
    today = clock.program_date(at)
    until = (add_months(today, months) - timedelta(days=1)).isoformat()
    item = repository.of(uow).tier(member_id) or standing.new(member_id, ladder, at)
    if item.manual_tier and item.manual_until and item.manual_until >= today.isoformat() and (
            ladder.index(item.manual_tier) > ladder.index(code)
            or (item.manual_tier == code and item.manual_until >= until)):
        return False
    read = int(item.version)
    before = ladder.tiers[standing.effective(ladder, item, today)[0]].code
    item.manual_tier, item.manual_until, item.manual_reason, item.manual_by = code, until, f"task {task}", actor
    standing.record(uow, item, before, code, "task", at, actor, {"until": until, "task": task,
                                                                 "ladder_version": version})
    standing.save(uow, item, read, ladder, today)
    return True


def best_floor(uow: UnitOfWork, floors: list[tuple[str, int]], at: datetime) -> tuple[str, int] | None:
    """Of several floors (tier code, months) granted at once, the one :func:`grant_tier` should
    set: the highest tier of the ladder in force at ``at``, then the longest (None: none)."""
    _, ladder = LADDER.at(uow, at)
    known = [f for f in floors if ladder.has(f[0])]
    return max(known, key=lambda f: (ladder.index(f[0]), f[1])) if known else None


def member_tier_after(uow: UnitOfWork, member_id: str, item: TierItem, ladder: Ladder) -> dict[str, Any]:
    """A short reply after a change: the tier held now and the item's figures."""
    held, source = standing.effective(ladder, item, clock.program_date())
    return {"member_id": member_id, "tier": ladder.tiers[held].code, "source": source, "earned_tier": item.tier,
            "valid_until": item.valid_until, "manual": {"tier": item.manual_tier, "until": item.manual_until,
                                                       "reason": item.manual_reason} if item.manual_tier else None}


def history(uow: UnitOfWork, member_id: str, by: Principal, before: int | None, limit: int) -> dict[str, Any]:
    """The member's tier changes, newest first."""
    member_id = members.acting_on(uow, member_id, by).member_id
    items = repository.of(uow).history(member_id, before, limit)
    entries = [{"number": int(h.number), "at": h.at, "from": h.from_tier, "to": h.to_tier, "cause": h.cause,
                "detail": json.loads(h.detail or "{}"), "actor": h.actor} for h in items]
    last = entries[-1]["number"] if len(entries) == limit else None
    return {"member_id": member_id, "changes": entries, "next_before": last if last and last > 1 else None}


def tier_keys(member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The items :func:`tier_at` and :func:`plus_at` read, for batching with a caller's reads."""
    return [(TierItem, TierItem.key(member_id)), (MembershipItem, MembershipItem.key(member_id))]


def tier_at(uow: UnitOfWork, member_id: str, when: datetime) -> tuple[Ladder, int, date | None]:
    """The ladder in force at ``when``, the tier the member held then (its index) and the last
    day of its validity (None: no end)."""
    _, ladder = LADDER.at(uow, when)
    item = repository.of(uow).tier(member_id)
    if item is None:
        return ladder, 0, None
    if clock.iso(when) < item.since:             # an order from before the last change
        item = TierItem(*item.key(member_id), tier=item.previous or ladder.tiers[0].code,
                        manual_tier=item.manual_tier, manual_until=item.manual_until, valid_until=None)
    held, _ = standing.effective(ladder, item, clock.program_date(when))
    end = item.valid_until or (item.manual_until if held != ladder.index(item.tier) else None)
    return ladder, held, date.fromisoformat(end) if end else None


def plus_at(uow: UnitOfWork, member_id: str, when: datetime) -> str | None:
    """The plan of the member's paid membership running on the day of ``when``, if any."""
    item = membership.at(uow, member_id, when)
    return item.plan if item else None


def prorated_refund_fen(periods: list[dict[str, Any]], today: date) -> int:
    """What a prorated cancellation on ``today`` refunds of ``periods`` (the balance sheet reads
    a cancellation recorded before its event carried what it kept)."""
    return refund_fen(periods, today)
