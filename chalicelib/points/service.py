"""Points operations. Each reads what it needs, stages its writes on the unit of work, and
returns the reply; the endpoint wrapper commits everything (and the idempotency record) at once."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.api.auth import Principal
from chalicelib.members import service as member_service
from chalicelib.members import store as members
from chalicelib.points import rules as R
from chalicelib.points.ledger import Ledger
from chalicelib.points.schemas import Adjust, EarnForOrder, Hold, Redeem, Refund, RecordBehavior
from chalicelib.points.store import AccountItem, CounterItem, HoldItem, LotItem, OrderItem, PostingItem, RefundItem, RulesItem
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.events.model import DomainEvent
from chalicelib.store.models import due_keys, expiry_in
from chalicelib.store.uow import UnitOfWork


class OrderAlreadyEarned(Conflict):
    slug, title = "order-already-earned", "This order has already earned points"


class RefundExceedsOrder(Conflict):
    slug, title = "refund-exceeds-order", "Refunds would exceed the order amount"


class LimitReached(Conflict):
    slug, title = "limit-reached", "The rule's limit for this period is reached"


class HoldNotOpen(Conflict):
    slug, title = "hold-not-open", "The hold is no longer open"


# --- rules ---------------------------------------------------------------------------------------

RULES_PK = "CONFIG#points-rules"
_rules_cache: tuple[float, list[tuple[str, int, R.ProgramRules]]] | None = None
RULES_TTL = 30.0


def _versions() -> list[tuple[str, int, R.ProgramRules]]:
    global _rules_cache
    if _rules_cache and _rules_cache[0] > time.monotonic():
        return _rules_cache[1]
    items = [(i.effective_from, int(i.version), R.ProgramRules.model_validate_json(i.body))
             for i in RulesItem.query(RULES_PK, consistent_read=True)]
    items.sort(key=lambda x: (x[0], x[1]))
    _rules_cache = (time.monotonic() + RULES_TTL, items)
    return items


def rules_at(at: datetime) -> tuple[int, R.ProgramRules]:
    """The version in force at ``at`` (version 0 = the defaults, before any was saved)."""
    stamp = clock.iso(at)
    current = (0, R.ProgramRules())
    for effective_from, version, rules in _versions():
        if effective_from <= stamp:
            current = (version, rules)
    return current


def put_rules(rules: R.ProgramRules, effective_from: datetime | None, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    global _rules_cache
    _rules_cache = None
    versions = _versions()
    version = (max(v for _, v, _ in versions) if versions else 0) + 1
    start = clock.iso(effective_from or clock.now())
    uow.create(RulesItem(RULES_PK, f"FROM#{start}#{version:06d}", version=version, effective_from=start,
                         body=rules.model_dump_json(), created_by=by.ref, created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict("another rules version was saved at the same time; retry"))
    uow.emit(DomainEvent("points.rules_changed", "program:points", {"version": version, "effective_from": start}))
    _rules_cache = None
    return {"version": version, "effective_from": start, "rules": rules.model_dump(mode="json")}


def get_rules(at: datetime | None) -> dict[str, Any]:
    version, rules = rules_at(at or clock.now())
    return {"version": version, "rules": rules.model_dump(mode="json"),
            "versions": [{"version": v, "effective_from": f} for f, v, _ in _versions()]}


# --- helpers -------------------------------------------------------------------------------------

def _today(at: datetime | None = None) -> date:
    return clock.local_date(at or clock.now(), settings().timezone)


def _member(member_id: str, by: Principal) -> str:
    return member_service.target(member_id, by)


def _merchant(by: Principal, named: str | None) -> str:
    if by.kind == "merchant":
        if named and named != by.merchant_id:
            raise Forbidden("this API key belongs to another merchant")
        return by.merchant_id or ""
    if by.merchant_id and named and named != by.merchant_id:
        raise Forbidden("your staff account belongs to another merchant")
    merchant = named or by.merchant_id
    if not merchant:
        raise ValidationProblem("merchant_id is required for staff callers")
    return merchant


def _type_config(rules: R.ProgramRules, point_type: str) -> R.PointType:
    try:
        return rules.type_config(point_type)
    except KeyError:
        raise ValidationProblem(f"unknown point type '{point_type}'") from None


def _ledger(member_id: str, point_type: str, uow: UnitOfWork, rules: R.ProgramRules, today: date) -> Ledger:
    return Ledger(member_id, point_type, uow, today, rules.reminder_days)


def _cap_left(member_id: str, key: str, cap: int | None) -> tuple[int | None, CounterItem | None, int]:
    if cap is None:
        return None, None, 0
    try:
        item = CounterItem.get(f"MEMBER#{member_id}", key, consistent_read=True)
        used = int(item.total or 0)
    except CounterItem.DoesNotExist:
        item, used = CounterItem(f"MEMBER#{member_id}", key), 0
    return max(0, cap - used), item, used


def _count(uow: UnitOfWork, item: CounterItem, used: int, add: int, days: int = 400) -> None:
    item.total = used + add
    condition = CounterItem.total == used if used else CounterItem.pk.does_not_exist()
    item.expires_at = expiry_in(days)
    uow.save(item, condition, on_conflict=lambda: Conflict("a concurrent change used the same limit; retry"))


# --- earn ---------------------------------------------------------------------------------------

def earn(member_id: str, cmd: EarnForOrder, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id = _member(member_id, by)
    merchant = _merchant(by, cmd.merchant_id)
    store_id = cmd.store_id or by.store_id
    if by.kind == "merchant" and by.store_id and cmd.store_id and cmd.store_id != by.store_id:
        raise Forbidden("this API key is scoped to another store")
    at = cmd.occurred_at or clock.now()
    version, rules = rules_at(at)
    points, growth, why = R.order_points(rules, paid_fen=cmd.amount_fen, points_paid_fen=cmd.paid_with_points_fen,
                                         bonus_paid_fen=cmd.paid_with_stored_value_bonus_fen, lines=cmd.lines,
                                         store_id=store_id, tier=None, at=at)
    order = OrderItem.find(merchant, cmd.order_id)
    if order and order.earned_at:
        raise OrderAlreadyEarned(f"order {cmd.order_id} earned points already")
    if order and order.member_id != member_id:
        raise Conflict(f"order {cmd.order_id} belongs to another member")
    today = _today(at)
    for period, cap in (("D#" + today.isoformat(), rules.caps.per_day), ("M#" + today.strftime("%Y-%m"), rules.caps.per_month)):
        left, counter, used = _cap_left(member_id, f"PTS#points#CAP#{period}", cap)
        if counter is not None:
            if points > left:
                why.append(f"capped by {period[0] == 'D' and 'day' or 'month'} limit to {left}")
                points = left
            if points:
                _count(uow, counter, used, points)
    source = f"order:{merchant}:{cmd.order_id}"
    earned: dict[str, list] = {}
    reply: dict[str, Any] = {"member_id": member_id, "order_id": cmd.order_id, "rules_version": version,
                             "points": points, "growth": growth, "explanation": why}
    if points > 0:
        ledger = _ledger(member_id, "points", uow, rules, today)
        pending = rules.pending_days > 0
        lot = ledger.add_lot(points, R.expiry_date(rules.expiry, today), pending=pending,
                             unlock_on=today + timedelta(days=rules.pending_days) if pending else None, source=source)
        if rules.expiry.policy == "rolling":
            # Every purchase pushes the expiry of all the member's points out again.
            until = today + timedelta(days=rules.expiry.days)
            ledger.account.rolling_until = until.isoformat()
            ledger.account.duepk, ledger.account.duesk = due_keys(
                "points-rolling", until + timedelta(days=1), f"{member_id}#points")
        earned["points"] = [lot]
        posting = ledger.stage("earn", points, reason="order", source=source, actor=by.ref, idempotency_key=key,
                               event_type="points.earned", event_data={"order_id": cmd.order_id}, merchant_id=merchant)
        reply.update(pending=pending, expires_on=lot["expires_on"], posting_id=posting.posting_id,
                     balance=int(posting.balance_after))
    if growth > 0:
        g = _ledger(member_id, "growth", uow, rules, today)
        earned["growth"] = [g.add_lot(growth, None, source=source)]
        g.stage("earn", growth, reason="order", source=source, actor=by.ref, idempotency_key=key,
                event_type="growth.earned", event_data={"order_id": cmd.order_id}, merchant_id=merchant)
    o = order or OrderItem(*OrderItem.key(merchant, cmd.order_id), merchant_id=merchant, order_id=cmd.order_id,
                           member_id=member_id, version=0)
    read_version = int(o.version or 0)
    o.amount_fen, o.earned_at, o.earned, o.version = cmd.amount_fen, clock.iso(at), json.dumps(earned), read_version + 1
    uow.save(o, OrderItem.version == read_version if order else OrderItem.pk.does_not_exist(),
             on_conflict=lambda: OrderAlreadyEarned(f"order {cmd.order_id} changed concurrently; retry"))
    return reply


# --- behaviours ---------------------------------------------------------------------------------

def record_behavior(member_id: str, cmd: RecordBehavior, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id = _member(member_id, by)
    if by.kind == "member" and cmd.behavior != "check_in":
        raise Forbidden("members may record only their own check-in; other behaviours come from trusted systems")
    at = clock.now()
    version, rules = rules_at(at)
    name = cmd.custom_event if cmd.behavior == "custom" else cmd.behavior
    if not name:
        raise ValidationProblem("custom behaviours need custom_event")
    rule = (rules.custom_events if cmd.behavior == "custom" else rules.behaviors).get(name)
    if rule is None:
        raise ValidationProblem(f"no rule rewards '{name}'; configure it with putEarnRules")
    today = _today(at)
    points = rule.points
    detail: dict[str, Any] = {"behavior": name, "ref": cmd.ref}
    # Rewarded once per ref (a review id, a referee): the marker is part of the transaction.
    marker_pk = f"REFERRAL#{cmd.referee_member_id}" if cmd.behavior == "referral" else f"MEMBER#{member_id}"
    uow.create(CounterItem(marker_pk, f"PTS#BEHREF#{name}#{cmd.ref if cmd.behavior != 'referral' else 'REFERRED'}", total=1),
               on_conflict=lambda: Conflict(f"'{name}' was already rewarded for {cmd.ref}"))
    limits = [("D#" + today.isoformat(), rule.per_day), ("M#" + today.strftime("%Y-%m"), rule.per_month),
              ("ONCE", 1 if rule.once or cmd.behavior == "profile_completion" else None)]
    for period, limit in limits:
        left, counter, used = _cap_left(member_id, f"PTS#BEH#{name}#{period}", limit)
        if counter is not None:
            if left <= 0:
                raise LimitReached(f"'{name}' is limited to {limit} per {period.split('#')[0].lower()}")
            _count(uow, counter, used, 1)
    if cmd.behavior == "check_in":
        try:
            streak_item = CounterItem.get(f"MEMBER#{member_id}", "PTS#CHECKIN", consistent_read=True)
        except CounterItem.DoesNotExist:
            streak_item = CounterItem(f"MEMBER#{member_id}", "PTS#CHECKIN", total=0, streak=0)
        last = streak_item.last_day
        if last == today.isoformat():
            raise LimitReached("already checked in today")
        streak = int(streak_item.streak or 0) + 1 if last == (today - timedelta(days=1)).isoformat() else 1
        bonus = rule.streak_bonus.get(streak, 0)
        points += bonus
        detail.update(streak=streak, streak_bonus=bonus)
        previous = last
        streak_item.last_day, streak_item.streak = today.isoformat(), streak
        uow.save(streak_item, CounterItem.last_day == previous if previous else CounterItem.pk.does_not_exist(),
                 on_conflict=lambda: LimitReached("already checked in today"))
    source = f"behavior:{name}:{cmd.ref}"
    expires = R.expiry_date(rules.expiry, today)
    reply: dict[str, Any] = {"member_id": member_id, "points": points, "rules_version": version, **detail}
    if points > 0:
        ledger = _ledger(member_id, "points", uow, rules, today)
        ledger.add_lot(points, expires, source=source)
        posting = ledger.stage("earn", points, reason=name, source=source, actor=by.ref, idempotency_key=key,
                               event_type="points.earned", event_data=detail, merchant_id=by.merchant_id)
        reply["balance"] = int(posting.balance_after)
    if cmd.behavior == "referral":
        referee = cmd.referee_member_id
        if not referee or referee == member_id or members.load(referee) is None:
            raise ValidationProblem("referral needs referee_member_id: another, existing member")
        if rule.referee_points > 0:
            other = _ledger(referee, "points", uow, rules, today)
            other.add_lot(rule.referee_points, expires, source=f"behavior:referred:{member_id}")
            other.stage("earn", rule.referee_points, reason="referred", source=f"behavior:referred:{member_id}",
                        actor=by.ref, idempotency_key=key, event_type="points.earned",
                        event_data={"behavior": "referred", "referrer": member_id}, merchant_id=by.merchant_id)
        reply["referee_points"] = rule.referee_points
    return reply


# --- spend --------------------------------------------------------------------------------------

def _check_share(rules: R.ProgramRules, points: int, order_amount_fen: int | None) -> None:
    if order_amount_fen is not None and points > R.redeem_limit_points(rules, order_amount_fen):
        raise ValidationProblem(
            f"at most {rules.redeem.max_share_percent}% of an order may be paid with points: "
            f"{R.redeem_limit_points(rules, order_amount_fen)} points for {order_amount_fen} fen")


def _record_spend(uow: UnitOfWork, merchant: str, order_id: str, member_id: str, taken: list[dict]) -> None:
    order = OrderItem.find(merchant, order_id)
    if order and order.member_id != member_id:
        raise Conflict(f"order {order_id} belongs to another member")
    o = order or OrderItem(*OrderItem.key(merchant, order_id), merchant_id=merchant, order_id=order_id,
                           member_id=member_id, version=0)
    read_version = int(o.version or 0)
    o.spent = json.dumps(json.loads(o.spent or "[]") + taken)
    o.version = read_version + 1
    uow.save(o, OrderItem.version == read_version if order else OrderItem.pk.does_not_exist(),
             on_conflict=lambda: Conflict(f"order {order_id} changed concurrently; retry"))


def _spend(member_id: str, cmd: Redeem | Hold, by: Principal, uow: UnitOfWork):
    """What every spend does first: whose points, under which rules, taken from which lots."""
    member_id = _member(member_id, by)
    _, rules = rules_at(clock.now())
    if not _type_config(rules, cmd.point_type).redeemable:
        raise ValidationProblem(f"'{cmd.point_type}' cannot be spent")
    _check_share(rules, cmd.points, cmd.order_amount_fen)
    ledger = _ledger(member_id, cmd.point_type, uow, rules, _today())
    return member_id, rules, ledger, ledger.take(cmd.points)


def redeem(member_id: str, cmd: Redeem, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id, rules, ledger, taken = _spend(member_id, cmd, by, uow)
    merchant = None
    if cmd.order_id:
        merchant = _merchant(by, cmd.merchant_id) if by.kind != "member" else (cmd.merchant_id or "")
        if not merchant:
            raise ValidationProblem("merchant_id is required with order_id")
        _record_spend(uow, merchant, cmd.order_id, member_id, taken)
    source = f"order:{merchant}:{cmd.order_id}" if cmd.order_id else (f"reward:{cmd.reward}" if cmd.reward else "redeem")
    posting = ledger.stage("redeem", cmd.points, reason=cmd.reason or cmd.reward, source=source, actor=by.ref,
                           idempotency_key=key, event_type="points.redeemed",
                           event_data={"order_id": cmd.order_id, "reward": cmd.reward}, merchant_id=merchant)
    return {"member_id": member_id, "points": cmd.points, "value_fen": R.points_value_fen(rules, cmd.points),
            "lots": taken, "posting_id": posting.posting_id, "balance": int(posting.balance_after)}


def hold(member_id: str, cmd: Hold, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id, rules, ledger, taken = _spend(member_id, cmd, by, uow)
    ledger.delta["held"] += cmd.points
    hold_id = new_id()
    expires = clock.now() + timedelta(seconds=cmd.ttl_seconds)
    merchant = by.merchant_id
    h = HoldItem(*HoldItem.key(member_id, cmd.point_type, hold_id), hold_id=hold_id, member_id=member_id,
                 point_type=cmd.point_type, points=cmd.points, lots=json.dumps(taken), status="open",
                 hold_expires_at=clock.iso(expires), created_at=clock.iso(clock.now()),
                 order=f"{merchant}:{cmd.order_id}" if cmd.order_id and merchant else None)
    h.duepk, h.duesk = due_keys("points-hold", _today(expires), f"{clock.iso(expires)}#{member_id}#{h.sk}")
    uow.create(h)
    posting = ledger.stage("hold", cmd.points, reason="checkout hold", source=f"hold:{hold_id}", actor=by.ref,
                           idempotency_key=key, event_type="points.held", event_data={"hold_id": hold_id},
                           merchant_id=merchant)
    return {"hold_id": hold_id, "member_id": member_id, "points": cmd.points, "status": "open",
            "expires_at": clock.iso(expires), "balance": int(posting.balance_after)}


def _open_hold(member_id: str, point_type: str, hold_id: str) -> HoldItem:
    try:
        h = HoldItem.get(*HoldItem.key(member_id, point_type, hold_id), consistent_read=True)
    except HoldItem.DoesNotExist:
        raise NotFound(f"no hold {hold_id[:64]}") from None
    return h


def confirm_hold(member_id: str, hold_id: str, point_type: str, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id = _member(member_id, by)
    h = _open_hold(member_id, point_type, hold_id)
    if h.status != "open" or h.hold_expires_at <= clock.iso(clock.now()):
        raise HoldNotOpen(f"hold {hold_id} is {h.status if h.status != 'open' else 'expired'}")
    _, rules = rules_at(clock.now())
    ledger = _ledger(member_id, point_type, uow, rules, _today())
    points = int(h.points)
    ledger.delta["held"] -= points
    h.status, h.duepk, h.duesk = "confirmed", None, None
    uow.save(h, HoldItem.status == "open", on_conflict=lambda: HoldNotOpen(f"hold {hold_id} changed"))
    if h.order:
        merchant, order_id = h.order.split(":", 1)
        _record_spend(uow, merchant, order_id, member_id, json.loads(h.lots))
    posting = ledger.stage("hold_confirmed", points, reason="checkout", source=f"hold:{hold_id}", actor=by.ref,
                           idempotency_key=key, event_type="points.hold_confirmed",
                           event_data={"hold_id": hold_id, "order": h.order, "consumed": json.loads(h.lots)},
                           merchant_id=by.merchant_id)
    return {"hold_id": hold_id, "status": "confirmed", "points": points, "balance": int(posting.balance_after)}


def release_hold(member_id: str, hold_id: str, point_type: str, by: Principal | None, uow: UnitOfWork,
                 key: str | None, why: str = "cancelled") -> dict[str, Any]:
    if by is not None:
        member_id = _member(member_id, by)
    h = _open_hold(member_id, point_type, hold_id)
    if h.status != "open":
        raise HoldNotOpen(f"hold {hold_id} is {h.status}")
    _, rules = rules_at(clock.now())
    ledger = _ledger(member_id, point_type, uow, rules, _today())
    for lot in json.loads(h.lots):
        ledger.put_back(lot, int(lot["points"]))
    ledger.delta["held"] -= int(h.points)
    h.status, h.duepk, h.duesk = "released", None, None
    uow.save(h, HoldItem.status == "open", on_conflict=lambda: HoldNotOpen(f"hold {hold_id} changed"))
    posting = ledger.stage("hold_released", int(h.points), reason=why, source=f"hold:{hold_id}",
                           actor=by.ref if by else "job:points-holds", idempotency_key=key,
                           event_type="points.hold_released", event_data={"hold_id": hold_id, "why": why})
    return {"hold_id": hold_id, "status": "released", "points": int(h.points), "balance": int(posting.balance_after)}


# --- refunds ------------------------------------------------------------------------------------

def refund(order_id: str, cmd: Refund, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    """Claw back earned points and give back spent ones, in proportion to the refunded share."""
    merchant = _merchant(by, cmd.merchant_id)
    order = OrderItem.find(merchant, order_id)
    if order is None:
        raise NotFound(f"no order {order_id} at merchant {merchant}")
    if not order.amount_fen:
        raise Conflict("this order has no recorded amount (it earned nothing); nothing to refund in proportion")
    amount = int(order.amount_fen)
    before = int(order.refunded_fen or 0)
    after = before + cmd.amount_fen
    if after > amount:
        raise RefundExceedsOrder(f"refunds would total {after} fen of a {amount} fen order", refunded_fen=before)
    uow.create(RefundItem(f"REFUND#{merchant}#{order_id}#{cmd.refund_id}", "REFUND", amount_fen=cmd.amount_fen,
                          created_at=clock.iso(clock.now())),
               on_conflict=lambda: Conflict(f"refund {cmd.refund_id} was applied already"))
    _, rules = rules_at(clock.now())
    today = _today()
    member_id = order.member_id
    earned = json.loads(order.earned or "{}")
    clawed = json.loads(order.clawed or "{}")
    reply: dict[str, Any] = {"order_id": order_id, "refund_id": cmd.refund_id, "refunded_fen": after,
                             "clawed_back": {}, "restored": 0, "restored_expired": 0, "shortfall": 0}
    spent = json.loads(order.spent or "[]")
    spent_total = sum(int(s["points"]) for s in spent)
    restore = spent_total * after // amount - int(order.restored or 0)
    for point_type in sorted(set(earned) | ({"points"} if restore else set())):
        lots = earned.get(point_type, [])
        total = sum(int(x["points"]) for x in lots)
        target = total * after // amount          # cumulative, so partial refunds never drift
        claw = target - int(clawed.get(point_type, 0))
        if claw <= 0 and not (point_type == "points" and restore > 0):
            continue
        ledger = _ledger(member_id, point_type, uow, rules, today)
        got = 0
        for lot in lots:
            if got < claw:
                got += ledger.take_from(lot, claw - got)
        short = claw - got
        if short > 0:
            if rules.negative_balance == "debt":
                ledger.owe(short)
            reply["shortfall"] += short
        if point_type == "points" and restore > 0:
            _give_back(ledger, spent, restore)
            reply["restored"] = restore
            reply["restored_expired"] = ledger.expired_on_return      # their lot's last day had passed
        clawed[point_type] = int(clawed.get(point_type, 0)) + max(claw, 0)
        reply["clawed_back"][point_type] = max(claw, 0)
        ledger.stage("refund", max(claw, 0), reason=f"refund {cmd.refund_id}", source=f"order:{merchant}:{order_id}",
                     actor=by.ref, idempotency_key=key, event_type="points.refunded",
                     event_data={"order_id": order_id, "refund_id": cmd.refund_id, "clawed_back": max(claw, 0),
                                 "restored": restore if point_type == "points" else 0, "shortfall": max(short, 0),
                                 "policy": rules.negative_balance}, merchant_id=merchant)
    read_version = int(order.version or 0)
    order.refunded_fen, order.clawed = after, json.dumps(clawed)
    order.restored = int(order.restored or 0) + max(restore, 0)
    order.shortfall = int(order.shortfall or 0) + reply["shortfall"]
    order.version = read_version + 1
    uow.save(order, OrderItem.version == read_version,
             on_conflict=lambda: Conflict(f"order {order_id} changed concurrently; retry"))
    return reply


def _give_back(ledger: Ledger, spent: list[dict], points: int) -> None:
    """Restore spent points to their lots, latest expiry first (the member keeps them longest)."""
    # Collapse repeated entries of one lot; the order may have spent from it in two steps.
    by_lot: dict[tuple, int] = {}
    for s in spent:
        k = (s["lot_id"], s.get("expires_on"))
        by_lot[k] = by_lot.get(k, 0) + int(s["points"])
    left = points
    for (lot_id, exp), n in sorted(by_lot.items(), key=lambda kv: kv[0][1] or "9999", reverse=True):
        part = min(n, left)
        if part:
            ledger.put_back({"lot_id": lot_id, "expires_on": exp}, part)
            left -= part


# --- adjustments and reads ----------------------------------------------------------------------

def adjust(member_id: str, cmd: Adjust, by: Principal, uow: UnitOfWork, key: str | None) -> dict[str, Any]:
    member_id = _member(member_id, by)
    _, rules = rules_at(clock.now())
    config = _type_config(rules, cmd.point_type)
    today = _today()
    ledger = _ledger(member_id, cmd.point_type, uow, rules, today)
    if cmd.points > 0:
        ledger.add_lot(cmd.points, R.expiry_date(config.expiry, today), source="adjustment")
    else:
        ledger.take(-cmd.points)
    posting = ledger.stage("adjust", abs(cmd.points), reason=cmd.reason, source="adjustment", actor=by.ref,
                           idempotency_key=key, event_type="points.adjusted",
                           event_data={"points": cmd.points, "reason": cmd.reason})
    return {"member_id": member_id, "points": cmd.points, "posting_id": posting.posting_id,
            "balance": int(posting.balance_after)}


def account(member_id: str, by: Principal) -> dict[str, Any]:
    member_id = _member(member_id, by)
    _, rules = rules_at(clock.now())
    today = _today()
    soon = (today + timedelta(days=30)).isoformat()
    types = ["points", "growth", *rules.point_types]
    out: dict[str, Any] = {"member_id": member_id, "accounts": {}}
    for point_type in types:
        a = AccountItem.load(member_id, point_type)
        view = a.view()
        view["balance"] = view["available"] - view["debt"]
        if point_type != "growth":
            expiring = list(LotItem.query(f"MEMBER#{member_id}",
                                          LotItem.sk.between(f"PTS#{point_type}#LOT#", f"PTS#{point_type}#LOT#{soon}~")))
            view["expiring_soon"] = [{"expires_on": lot.expires_on, "points": int(lot.remaining)} for lot in expiring]
            view["next_lots"] = [{"expires_on": lot.expires_on, "points": int(lot.remaining)} for lot in
                                 LotItem.query(f"MEMBER#{member_id}", LotItem.sk.startswith(f"PTS#{point_type}#LOT#"),
                                               limit=5)]
            view["value_fen"] = R.points_value_fen(rules, max(0, view["available"]))
        out["accounts"][point_type] = view
    return out


def ledger_page(member_id: str, point_type: str, limit: int, before: int | None, by: Principal) -> dict[str, Any]:
    member_id = _member(member_id, by)
    upper = f"PTS#{point_type}#POST#{before:012d}" if before else f"PTS#{point_type}#POST#~"
    items = list(PostingItem.query(PostingItem.partition(member_id),
                                   PostingItem.sk.between(f"PTS#{point_type}#POST#", upper),
                                   scan_index_forward=False, limit=limit + 1))
    items = [i for i in items if i.sk != upper][:limit]
    page = [i.view() for i in items]
    return {"member_id": member_id, "point_type": point_type, "postings": page,
            "next_before": page[-1]["sequence"] if len(page) == limit and page[-1]["sequence"] > 1 else None}
