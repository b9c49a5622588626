"""The benefits capability's service API: the rules, what a member gets now (with the reason for
each benefit and what the next tier would add), coupon-pack entitlements, and the points
multiplier earning applies (registered with :mod:`chalicelib.points.tiering`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.benefits import repository
from chalicelib.benefits import rules as B
from chalicelib.benefits.tables import EntitlementItem
from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.tiers import service as tiers

CLAIMABLE = ("monthly", "on_birthday")


class AlreadyGranted(Conflict):
    slug, title = "already-granted", "This benefit was granted for this period already"


def facts(uow: UnitOfWork, member: members.Member, when: datetime) -> tuple[B.Facts, date | None]:
    """The member at ``when`` as benefit conditions see them (tier, plan, birthday, stage), and
    the last day of the tier's validity."""
    ladder, held, valid_until = tiers.tier_at(uow, member.member_id, when)
    return B.Facts(codes=tuple(t.code for t in ladder.tiers), tier=held,
                   plan=tiers.plus_at(uow, member.member_id, when), birthday=member.birthday,
                   stage=member.stage, now=when, today=clock.program_date(when)), valid_until


@dataclass(frozen=True)
class InForce:
    """A member's benefits at one moment: the facts, every benefit given and the best of each kind."""

    facts: B.Facts
    valid_until: date | None        # the last day of the tier's validity
    given: list[dict[str, Any]]
    best: dict[str, Any]            # B.summary: the multiplier, the deepest discount, the price list...


def in_force(uow: UnitOfWork, member: members.Member, when: datetime) -> InForce:
    """What the rules in force at ``when`` give the member as they stood then (earning's
    multiplier, checkout's price list and discount)."""
    f, valid_until = facts(uow, member, when)
    _, rules = B.RULES.at(uow, when)
    given = B.benefits(rules, f)
    return InForce(f, valid_until, given, B.summary(given))


def member_benefits(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """What the member gets right now, each benefit with its rule and conditions, the best of
    each kind for checkout, and what reaching the next tier would add. One read."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, *tiers.tier_keys(own)])
    member = members.acting_on(uow, member_id, by)
    now = clock.now()
    version, rules = B.RULES.at(uow, now)
    f, _ = facts(uow, member, now)
    given = B.benefits(rules, f)
    reply: dict[str, Any] = {"member_id": member.member_id, "tier": f.codes[f.tier], "plan": f.plan,
                             "rules_version": version, "benefits": given, "best": B.summary(given),
                             "next_tier": None}
    if f.tier + 1 < len(f.codes):
        then = B.benefits(rules, f.at_tier(f.tier + 1))
        reply["next_tier"] = {"tier": f.codes[f.tier + 1], "would_gain": B.gained(given, then)}
    return reply


def claim(member_id: str, rule_id: str, ref: str, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Grant a claimable coupon pack (monthly, or on the birthday) for this period: once."""
    member = members.acting_on(uow, member_id, by)
    now = clock.now()
    _, rules = B.RULES.at(uow, now)
    f, _ = facts(uow, member, now)
    offer = next((g for g in B.benefits(rules, f) if g["rule"] == rule_id and g["kind"] == "coupon_pack"
                  and g["ref"] == ref), None)
    if offer is None or offer["grant"] not in CLAIMABLE:
        raise ValidationProblem(f"rule {rule_id} gives this member no claimable pack {ref} now")
    if offer["grant"] == "on_birthday":
        if f.birthday is None or f.birthday.month != f.today.month:
            raise ValidationProblem("a birthday pack is claimed in the birthday month")
        period = f"birthday:{f.today.year}"
    else:
        period = f.today.strftime("%Y-%m")
    return grant(uow, member.member_id, rule_id, ref, period, by.ref, offer["because"], with_coupons=True)


def grant(uow: UnitOfWork, member_id: str, rule_id: str, ref: str, period: str, actor: str | None,
          why: list[str], with_coupons: bool = False) -> dict[str, Any]:
    """Stage an entitlement (once per rule, pack and period) and ``benefit.granted``; with
    ``with_coupons``, when a coupon pack of that id is in force, its coupons in the same unit
    (the entitlement is then ``issued``: all of them or, past a template's stock or limits, none
    and no entitlement)."""
    at = clock.iso(clock.now())
    issued = coupons.stage_pack(uow, member_id, ref, f"benefit {rule_id} for {period}") if with_coupons else None
    status = "granted" if issued is None else "issued"
    uow.create(EntitlementItem(*EntitlementItem.key(member_id, rule_id, ref, period), member_id=member_id,
                               rule=rule_id, kind="coupon_pack", ref=ref, period=period, granted_at=at,
                               status=status, actor=actor),
               on_conflict=lambda: AlreadyGranted(f"pack {ref} of rule {rule_id} was granted for {period} already"))
    uow.emit(DomainEvent("benefit.granted", f"member:{member_id}", {
        "member_id": member_id, "rule": rule_id, "kind": "coupon_pack", "ref": ref, "period": period,
        "because": why, "coupons": issued or []}))
    return {"member_id": member_id, "rule": rule_id, "ref": ref, "period": period, "status": status,
            "granted_at": at, "coupons": issued or []}


def entitlements(uow: UnitOfWork, member_id: str, by: Principal, limit: int) -> dict[str, Any]:
    """The coupon packs the member was granted."""
    member_id = members.acting_on(uow, member_id, by).member_id
    return {"member_id": member_id, "entitlements": [
        {"rule": e.rule, "kind": e.kind, "ref": e.ref, "period": e.period, "status": e.status,
         "granted_at": e.granted_at} for e in repository.of(uow).entitlements(member_id, limit)]}


class _Earning:
    """What earning asks: the tier at the order's time and the best points multiplier then."""

    def keys(self, member_id: str) -> list[tuple[Any, tuple[str, str]]]:
        return tiers.tier_keys(member_id)

    def at(self, uow: UnitOfWork, member: Any, when: datetime) -> points.TierAt:
        found = in_force(uow, member, when)
        multiplier = found.best["points_multiplier"]
        bonus = (found.best["points_multiplier_rule"], multiplier) if multiplier else None
        return points.TierAt(found.facts.codes[found.facts.tier], found.valid_until, bonus)


points.use_tiers(_Earning())
