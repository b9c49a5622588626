"""Earning: points and growth value for a paid order, and rewards for behaviours."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import once
from chalicelib.orders import service as order_lines
from chalicelib.points import access, limits, orders, program, repository, rolling, tiering
from chalicelib.points import rules as R
from chalicelib.points.orders import OrderAlreadyEarned
from chalicelib.points.tables import CounterItem, PointsOrderItem
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.points.schemas import EarnForOrder, PreviewEarn, RecordBehavior

FUTURE_SKEW_SECONDS = 300            # clocks of tills drift; an order from further ahead is refused


class LimitReached(Conflict):
    slug, title = "limit-reached", "The rule's limit for this period is reached"


def earn(member_id: str, cmd: EarnForOrder, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Points and growth for a paid order, under the rules in force when it was paid; once per order."""
    merchant, store_id = access.merchant(uow, by, cmd.merchant_id, cmd.store_id)
    access.prefetch(uow, member_id, by, ["points", "growth"], (merchant, cmd.order_id), tier=True)
    member = access.member_record(uow, member_id, by)
    member_id = member.member_id
    at = cmd.occurred_at or clock.now()
    version, rules = program.rules_at(uow, at)
    _check_paid_at(at, program.rules_at(uow, clock.now())[1])
    tier = tiering.at(uow, member, at)
    order = repository.of(uow).order(merchant, cmd.order_id)
    points_paid, bonus_paid = paid_without_points(rules, order, cmd)
    points, growth, why = R.order_points(rules, paid_fen=cmd.amount_fen, points_paid_fen=points_paid,
                                         bonus_paid_fen=bonus_paid, lines=cmd.lines,
                                         store_id=store_id, tier=tier.code, at=at, bonus=tier.multiplier)
    if order and not access.owns(by, order.merchant_id, order.store_id):     # another store's order says nothing
        raise NotFound(f"no order {cmd.order_id} of yours at merchant {merchant}")
    if order and order.earned_at:
        raise OrderAlreadyEarned(f"order {cmd.order_id} earned points already")
    if order and order.member_id not in (None, member_id):
        raise Conflict(f"order {cmd.order_id} belongs to another member")
    orders.check_amount(order, cmd.order_id, cmd.amount_fen)
    if (overpaid := order_lines.paid_problem(order, cmd.order_id, cmd.amount_fen)) is not None:
        raise overpaid                    # its first use was a payment of more than this amount
    order_lines.state_lines(order, cmd.order_id, cmd.lines, cmd.amount_fen)
    today = program.today(at)
    points = apply_caps(uow, member_id, rules, today, points, why)
    expires = R.expiry_date(rules.expiry, today, tier.valid_until)
    last_day = _last_day(uow, member_id, rules, today, expires)
    if points and last_day is not None and last_day < program.today():
        why.append(f"none: points earned then expired on {last_day.isoformat()}, before the order was recorded")
        points = 0                        # a lot born expired is never spendable, so none is made
    if points and rules.expiry.policy == "rolling":
        _expire_ended_window(uow, member_id, today)
    source = f"order:{merchant}:{cmd.order_id}"
    stamp = {"merchant_id": merchant, "store_id": store_id, "source": source}
    earned: dict[str, list] = {}
    reply: dict[str, Any] = {"member_id": member_id, "order_id": cmd.order_id, "rules_version": version,
                             "points": points, "growth": growth, "explanation": why}
    if points > 0:
        earned["points"] = [_earn_points(uow, member_id, rules, today, points, cmd.order_id, stamp, reply, expires)]
    if growth > 0:
        g = program.ledger(uow, member_id, "growth", rules, today)
        earned["growth"] = [g.add_lot(growth, None, source=source)]
        g.stage("earn", growth, reason="order", event_type="growth.earned",
                event_data={"order_id": cmd.order_id}, **stamp)

    def record(o: PointsOrderItem) -> None:
        o.amount_fen, o.earned_at, o.earned = cmd.amount_fen, clock.iso(at), json.dumps(earned)
        o.lines = order_lines.lines_of(order, cmd.lines)
        if cmd.lines and points > 0:      # each line's share of the points, by what it earned by
            o.earned_lines = json.dumps({"points": order_lines.allocate(points, R.line_weights(rules, cmd.lines))})
        o.store_id = o.store_id or store_id          # a spend recorded it first: same store (checked above)
    orders.save(uow, order, merchant, cmd.order_id, member_id, record)
    # One event per order whatever it earned: tasks, profiles and reports count orders and spend.
    uow.emit(DomainEvent("order.earned", f"member:{member_id}", {
        "member_id": member_id, "order_id": cmd.order_id, "merchant_id": merchant, "store_id": store_id,
        "amount_fen": cmd.amount_fen, "paid_at": clock.iso(at), "points": points, "growth": growth},
        merchant_id=merchant))
    return reply


def paid_without_points(rules: R.ProgramRules, order: PointsOrderItem | None,
                        cmd: EarnForOrder | PreviewEarn) -> tuple[int, int]:
    """What of the order points and stored value bonus paid, which earn nothing: the larger of
    what the till states and what the order records (points spent on it, at the redemption rate;
    the bonus its stored value payments took), never both subtracted. Never more than the amount."""
    points = max(cmd.paid_with_points_fen, R.points_value_fen(rules, orders.spent_points(order)))
    bonus = max(cmd.paid_with_stored_value_bonus_fen, int(order.paid_bonus_fen or 0) if order is not None else 0)
    points = min(points, cmd.amount_fen)
    return points, min(bonus, cmd.amount_fen - points)


def _check_paid_at(at: datetime, rules: R.ProgramRules) -> None:
    """An order earns from when it was paid: not from the future, and not after the back-dating window."""
    now = clock.now()
    if at > now + timedelta(seconds=FUTURE_SKEW_SECONDS):
        raise ValidationProblem("occurred_at is in the future")
    if at < now - timedelta(days=rules.backdate_days):
        raise ValidationProblem(f"occurred_at is more than {rules.backdate_days} days ago (the program's "
                                "back-dating window)")


def apply_caps(uow: UnitOfWork, member_id: str, rules: R.ProgramRules, today: date, points: int,
               why: list[str], stage: bool = True) -> int:
    """Points left after the day and month caps; the counters are staged with the earning (not
    with ``stage=False``: a preview reads them and writes nothing)."""
    for label, period in limits.periods(today):
        cap = rules.caps.per_day if label == "day" else rules.caps.per_month
        limit = limits.read(uow, member_id, f"PTS#points#CAP#{period}", cap)
        if limit is None:
            continue
        left = limit.left or 0
        if points > left:
            why.append(f"capped by {label} limit to {left}")
            points = left
        if points and stage:
            limits.use(uow, limit, points)
    return points


def _earn_points(uow: UnitOfWork, member_id: str, rules: R.ProgramRules, today: date, points: int,
                 order_id: str, stamp: dict[str, Any], reply: dict[str, Any], expires: date | None) -> dict[str, Any]:
    ledger = program.ledger(uow, member_id, "points", rules, today)
    pending = rules.pending_days > 0
    lot = ledger.add_lot(points, expires, pending=pending,
                         unlock_on=today + timedelta(days=rules.pending_days) if pending else None,
                         source=stamp["source"])
    if rules.expiry.policy == "rolling":
        rolling.push(ledger, today + timedelta(days=rules.expiry.days), rules.reminder_days)
    posting = ledger.stage("earn", points, reason="order", event_type="points.earned",
                           event_data={"order_id": order_id}, **stamp)
    reply.update(pending=pending, expires_on=lot["expires_on"] or ledger.account.rolling_until,
                 posting_id=posting.posting_id, balance=int(posting.balance_after))
    return lot


def _last_day(uow: UnitOfWork, member_id: str, rules: R.ProgramRules, paid_on: date,
              expires: date | None) -> date | None:
    """The last day of the points of an order paid on ``paid_on``: the lot's, or under rolling
    expiry the window the purchase opens or extends (the account's)."""
    return rolling_end(uow, member_id, rules, paid_on) if rules.expiry.policy == "rolling" else expires


def rolling_end(uow: UnitOfWork, member_id: str, rules: R.ProgramRules, paid_on: date) -> date:
    """Under rolling expiry, the last day of the member's points once an order paid on
    ``paid_on`` is earned (the earn and its preview)."""
    return rolling.window_end(repository.of(uow).account(member_id, "points"), paid_on, rules.expiry.days)


def _expire_ended_window(uow: UnitOfWork, member_id: str, paid_on: date) -> None:
    """A purchase after the member's rolling window ended renews nothing: the lapsed points are
    expired first (in transactions of their own, as the job would), then the request tries again
    on the account they leave."""
    if rolling.ended_before(repository.of(uow).account(member_id, "points"), paid_on, program.today()):
        rolling.expire(uow.program, member_id, "points", program.today(), clock.now(), uow.actor or "points-earn")
        raise ConcurrentUpdate("the rolling window had ended: its points expired first")


# --- behaviours ---------------------------------------------------------------------------------

def record_behavior(member_id: str, cmd: RecordBehavior, by: Principal, uow: UnitOfWork,
                    key: str | None) -> dict[str, Any]:
    """Reward a behaviour (check-in, referral, review, share, profile completion, custom) within
    its limits; each reference is rewarded once."""
    member_id = access.member(uow, member_id, by)
    if by.kind == "member" and cmd.behavior != "check_in":
        raise Forbidden("members may record only their own check-in; other behaviours come from trusted systems")
    at = clock.now()
    version, rules = program.rules_at(uow, at)
    name, rule = _behavior_rule(rules, cmd)
    today = program.today(at)
    detail: dict[str, Any] = {"behavior": name, "ref": cmd.ref}
    _mark_rewarded(uow, member_id, name, cmd)
    _use_behavior_limits(uow, member_id, name, rule, cmd, today)
    points = rule.points
    if cmd.behavior == "check_in":
        points += _check_in(uow, member_id, rule, today, detail)
    source = f"behavior:{name}:{cmd.ref}"
    expires = R.expiry_date(rules.expiry, today)
    stamp = {"merchant_id": by.merchant_id, "store_id": by.store_id}
    reply: dict[str, Any] = {"member_id": member_id, "points": points, "rules_version": version, **detail}
    if points > 0:
        ledger = program.ledger(uow, member_id, "points", rules, today)
        ledger.add_lot(points, expires, source=source)
        posting = ledger.stage("earn", points, reason=name, source=source, event_type="points.earned",
                               event_data=detail, **stamp)
        reply["balance"] = int(posting.balance_after)
    if cmd.behavior == "referral":
        reply["referee_points"] = _reward_referee(uow, member_id, cmd, rule, rules, today, expires, stamp)
    uow.emit(DomainEvent("member.behavior", f"member:{member_id}", {
        "member_id": member_id, "behavior": name, "kind": cmd.behavior, "ref": cmd.ref, "points": points},
        merchant_id=by.merchant_id))
    return reply


def _behavior_rule(rules: R.ProgramRules, cmd: RecordBehavior) -> tuple[str, R.Behavior]:
    name = cmd.custom_event if cmd.behavior == "custom" else cmd.behavior
    if not name:
        raise ValidationProblem("custom behaviours need custom_event")
    rule = (rules.custom_events if cmd.behavior == "custom" else rules.behaviors).get(name)
    if rule is None:
        raise ValidationProblem(f"no rule rewards '{name}'; configure it with putEarnRules")
    return name, rule


def _mark_rewarded(uow: UnitOfWork, member_id: str, name: str, cmd: RecordBehavior) -> None:
    """Rewarded once per ref (a review id, a referee): the marker is part of the transaction."""
    if cmd.behavior == "referral":
        pk, sk = f"REFERRAL#{cmd.referee_member_id}", f"PTS#BEHREF#{name}#REFERRED"
    else:
        pk, sk = f"MEMBER#{member_id}", f"PTS#BEHREF#{name}#{cmd.ref}"
    once.apply(uow, CounterItem(pk, sk, total=1), cmd.ref or name,
               taken=lambda: Conflict(f"'{name}' was already rewarded for {cmd.ref}"))


def _use_behavior_limits(uow: UnitOfWork, member_id: str, name: str, rule: R.Behavior, cmd: RecordBehavior,
                         today: date) -> None:
    once = 1 if rule.once or cmd.behavior == "profile_completion" else None
    (_, day), (_, month) = limits.periods(today)
    for period, cap in ((day, rule.per_day), (month, rule.per_month), ("ONCE", once)):
        limit = limits.read(uow, member_id, f"PTS#BEH#{name}#{period}", cap)
        if limit is None:
            continue
        if not limit.left:
            raise LimitReached(f"'{name}' is limited to {cap} per {period.split('#')[0].lower()}")
        limits.use(uow, limit, 1)


def _check_in(uow: UnitOfWork, member_id: str, rule: R.Behavior, today: date, detail: dict[str, Any]) -> int:
    """Extend the streak; returns the streak bonus."""
    item = repository.of(uow).counter(member_id, "PTS#CHECKIN") or CounterItem(
        *CounterItem.key(member_id, "PTS#CHECKIN"), total=0, streak=0)
    streak = limits.next_streak(item, today)
    if streak is None:
        raise LimitReached("already checked in today")
    bonus = rule.streak_bonus.get(streak, 0)
    detail.update(streak=streak, streak_bonus=bonus)
    previous = item.last_day
    item.last_day, item.streak = today.isoformat(), streak
    uow.save(item, CounterItem.last_day == previous if previous else CounterItem.pk.does_not_exist(),
             on_conflict=lambda: LimitReached("already checked in today"))
    return bonus


def _reward_referee(uow: UnitOfWork, member_id: str, cmd: RecordBehavior, rule: R.Behavior,
                    rules: R.ProgramRules, today: date, expires: date | None, stamp: dict[str, Any]) -> int:
    referee = cmd.referee_member_id
    if not referee or referee == member_id or not access.exists(uow, referee):
        raise ValidationProblem("referral needs referee_member_id: another, existing member")
    if rule.referee_points > 0:
        other = program.ledger(uow, referee, "points", rules, today)
        source = f"behavior:referred:{member_id}"
        other.add_lot(rule.referee_points, expires, source=source)
        other.stage("earn", rule.referee_points, reason="referred", source=source, event_type="points.earned",
                    event_data={"behavior": "referred", "referrer": member_id}, **stamp)
    return rule.referee_points


__all__ = ["earn", "record_behavior", "LimitReached", "OrderAlreadyEarned"]
