"""The benefits capability's service API: the rules, what a member gets now (with the reason for
each benefit and what the next tier would add), coupon-pack entitlements, and the points
multiplier earning applies (registered with :mod:`chalicelib.points.tiering`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from chalicelib.benefits import repository
from chalicelib.benefits import rules as B
from chalicelib.benefits.tables import EntitlementItem
from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.points import service as points
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.shared.retry import Contention
from chalicelib.tiers import service as tiers

CLAIMABLE = ("monthly", "on_birthday")
T = TypeVar("T")


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
    return grant(uow, member.member_id, rule_id, ref, period, by.ref, offer["because"])


def grant(uow: UnitOfWork, member_id: str, rule_id: str, ref: str, period: str, actor: str | None,
          why: list[str], owe_because: str | None = None) -> dict[str, Any]:
    """Stage an entitlement (once per rule, pack and period), its pack's coupons and
    ``benefit.granted`` in one unit: ``issued``. When no such pack is in force, or with
    ``owe_because`` (the caller's unit with the coupons was refused: out of stock, a limit, a
    template not active), the entitlement is recorded ``granted`` with its pack owed, and the
    coupons' ``coupon-owed`` job issues it later (ids derived from the entitlement: once)."""
    at = clock.iso(clock.now())
    key = EntitlementItem.key(member_id, rule_id, ref, period)
    if uow.get(EntitlementItem, key, consistent=True) is not None:    # (before its coupons: their ids repeat)
        raise AlreadyGranted(f"pack {ref} of rule {rule_id} was granted for {period} already")
    issued, reason = coupons.grant_pack(uow, member_id, ref, "benefit", key[1].removeprefix("ENTITLE#"),
                                        f"benefit {rule_id} for {period}", owe_because)
    status = "granted" if reason else "issued"
    uow.create(EntitlementItem(*key, member_id=member_id, rule=rule_id, kind="coupon_pack", ref=ref, period=period,
                               granted_at=at, status=status, actor=actor, reason=reason),
               on_conflict=lambda: AlreadyGranted(f"pack {ref} of rule {rule_id} was granted for {period} already"))
    uow.emit(DomainEvent("benefit.granted", f"member:{member_id}", {
        "member_id": member_id, "rule": rule_id, "kind": "coupon_pack", "ref": ref, "period": period,
        "because": why, "coupons": issued, **({"owed": reason} if reason else {})}))
    return {"member_id": member_id, "rule": rule_id, "ref": ref, "period": period, "status": status,
            "granted_at": at, "coupons": issued, **({"reason": reason} if reason else {})}


def owing_if_refused(attempt: Callable[[str | None], T], tries: int = 5) -> T:
    """``attempt(None)``: a unit that grants with the pack's coupons, tried again after a lost race
    (a stock shard another take emptied: the next try reads the shards); refused (out of stock,
    a limit, a template not active), ``attempt(reason)``: a fresh unit with the pack owed."""
    contention = Contention(tries)
    while True:
        try:
            return attempt(None)
        except ConcurrentUpdate:
            if not contention.lost():
                raise
        except coupons.pack_refusals() as refused:
            return attempt(getattr(refused, "detail", str(refused)))


def _pack_settled(uow: UnitOfWork, owed: Any) -> None:
    """An entitlement's owed pack was issued (or given up on): the entitlement says so, in the same unit."""
    item = uow.get(EntitlementItem, (f"MEMBER#{owed.member_id}", f"ENTITLE#{owed.ref}"), consistent=True)
    if item is None:
        return
    why = EntitlementItem.reason.set(owed.reason) if owed.status == "expired" else EntitlementItem.reason.remove()
    uow.update(item, [EntitlementItem.status.set(owed.status), why], EntitlementItem.status == "granted")


coupons.on_pack_settled("benefit", _pack_settled)

MIGRATION = "migration:entitlement-coupons"


def issue_open(program: str, member_id: str, sk: str) -> str:
    """An entitlement recorded before coupons existed (``granted``, no pack owed for it): its
    coupons issued in one unit with its status ``issued`` (ids derived from it, so a rerun never
    issues twice), or, refused, its pack owed. What became of it: issued | owed | skipped."""
    return owing_if_refused(lambda owe_because: _issue_open(program, member_id, sk, owe_because))


def _issue_open(program: str, member_id: str, sk: str, owe_because: str | None) -> str:
    uow = UnitOfWork(MIGRATION, program=program)
    e = uow.get(EntitlementItem, (f"MEMBER#{member_id}", sk), consistent=True)
    ref = sk.removeprefix("ENTITLE#")
    if e is None or e.status != "granted" or coupons.pack_owed(uow, member_id, "benefit", ref) is not None:
        return "skipped"
    issued, reason = coupons.grant_pack(uow, member_id, e.ref, "benefit", ref, f"benefit {e.rule} for {e.period}",
                                        owe_because)
    uow.update(e, [EntitlementItem.status.set("granted" if reason else "issued"),
                   EntitlementItem.reason.set(reason) if reason else EntitlementItem.reason.remove()],
               EntitlementItem.status == "granted")
    if not reason:
        uow.emit(DomainEvent("benefit.granted", f"member:{member_id}", {
            "member_id": member_id, "rule": e.rule, "kind": "coupon_pack", "ref": e.ref, "period": e.period,
            "because": ["recorded before coupons existed"], "coupons": issued}))
    uow.commit()
    return "owed" if reason else "issued"


def entitlements(uow: UnitOfWork, member_id: str, by: Principal, limit: int) -> dict[str, Any]:
    """The coupon packs the member was granted."""
    member_id = members.acting_on(uow, member_id, by).member_id
    return {"member_id": member_id, "entitlements": [
        {"rule": e.rule, "kind": e.kind, "ref": e.ref, "period": e.period, "status": e.status,
         "granted_at": e.granted_at, "reason": e.reason} for e in repository.of(uow).entitlements(member_id, limit)]}


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
