"""The clearing rules, pure: which events make clearing lines, between whom, for how much, and the
periods they fall in (issue #29 item 4).

A *party* is the program (``program``: the mall or the brand) or a merchant (its id). A line says
``payer`` owes ``payee`` ``fen`` (negative: a refund or an undo gives back what an earlier line
owed). A redemption where payer = payee makes no line.

* ``coupon.used``: the coupon's cost is shared by its bearers (``cost``: ``{bearer: fen}``, the
  template's shares split on the write-off). ``brand`` and ``mall`` are the program; ``merchant``
  is the template's owner, and a program template's ``merchant`` share is the merchant where it was
  used (a merchant's template is used at that merchant only). Each bearer other than the merchant
  where the coupon was used owes that merchant its share. ``coupon.write_off_undone`` reverses it.
* ``points.redeemed`` / ``points.hold_confirmed`` at a merchant: the program (which issues every
  point) owes the merchant the points at the value in force at the redemption (``rate``: fen a
  point, :mod:`chalicelib.reports.valuation`), rounded half up to the fen on each line.
  ``points.refunded`` gives the restored points back at the value the redemption was cleared at
  (read from its reference, below), cumulatively (all the points given back so far, valued and
  rounded once, less what the earlier refunds gave back), so a redemption refunded in full, in one
  part or many, nets to zero whatever the valuation did meanwhile. Coupon undos and stored value
  and gift card refunds round nothing (fen from the use's cost and the journal): they net as they are.
* Stored value and gift cards: every movement carries its journal lines (``entries``). Money put
  on ``settlement:<merchant>`` is owed to that merchant by whoever issued the money taken off:
  members' stored value (``member:*``) by the program, a gift card (``gift_cards*:<issuer>``) by
  its issuer. A merchant's own cards spent at its own tills make no line (``self_fen``).

Corrections. A refund or an undo (:data:`CORRECTIONS`) corrects the lines of the order's original
redemption, payment or write-off (:data:`ORIGINALS`), tied by a *reference* (:func:`reference`:
the kind of money, the merchant and the order; a coupon's own id). The original's lines leave a
memo under it (its period, and for points the rate it was cleared at). A correction is placed by
its own day like any line; when the original belongs to an earlier period, it is an adjustment
of that period (``original_period``), wherever it lands: "later corrections are adjustment lines
in the next period", closed or not, and the reference names the order they correct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PROGRAM = "program"                  # the program as a party (the stored value journal's issuer name too)
KINDS = ("points", "coupon", "stored_value", "gift_card")
POINT_TYPE = "points"                # the points that are money ("growth" earns tiers, not goods)
COUPON_TYPES = ("coupon.used", "coupon.write_off_undone")
POINTS_TYPES = ("points.redeemed", "points.hold_confirmed", "points.refunded")
SETTLEMENT = "settlement:"
CARD_ACCOUNTS = ("gift_cards:", "gift_cards_held:", "gift_cards_voided:")
PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")     # ASCII digits: \d takes full-width ones (found from outside)


ORIGINALS = {"points.redeemed": "points", "points.hold_confirmed": "points", "coupon.used": "coupon",
             "stored_value.paid": "prepaid", "gift_card.paid": "prepaid"}
CORRECTIONS = {"points.refunded": "points", "coupon.write_off_undone": "coupon", "stored_value.refunded": "prepaid",
               "gift_card.payment_refunded": "prepaid", "gift_card.payment_refunded_to_member": "prepaid"}


@dataclass(frozen=True)
class Clearing:
    """One line before it is placed in a period: ``payer`` owes ``payee`` ``fen`` (signed)."""

    kind: str
    payer: str
    payee: str
    fen: int
    merchant_id: str                 # where it was redeemed (the payee, or the payer of a give-back)
    store_id: str | None = None
    points: int | None = None        # points lines: how many, and at what rate (fen a point, as text)
    rate: str | None = None


@dataclass
class Tally:
    """What one movement put on a merchant's ``settlement:`` journal account, and of it what the
    merchant owes itself (its own cards spent at its own tills: no line)."""

    journal_fen: int = 0
    self_fen: int = 0


@dataclass
class Cleared:
    """An event's clearing: its lines and its stored value journal tallies by merchant."""

    lines: list[Clearing] = field(default_factory=list)
    tallies: dict[str, Tally] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.lines or self.tallies)


# --- parties and pairs ----------------------------------------------------------------------------
def pair(x: str, y: str) -> tuple[str, str]:
    """The pair's parties in their one order (a statement is per unordered pair)."""
    return (x, y) if x <= y else (y, x)


def pair_key(a: str, b: str) -> str:
    """The pair's key: ``a~b`` with ``a`` < ``b``."""
    a, b = pair(a, b)
    return f"{a}~{b}"


# --- references -----------------------------------------------------------------------------------
def reference(event_type: str, data: dict[str, Any], merchant_id: str | None) -> str | None:
    """What ties a correction to its original: ``<kind>:<merchant>:<order>`` (a coupon:
    ``coupon:<coupon id>:<order>``); None for an event that is neither, or names no order."""
    family = ORIGINALS.get(event_type) or CORRECTIONS.get(event_type)
    order = data.get("order_id") or data.get("order")
    if family is None or not order:
        return None
    if family == "coupon":
        return f"coupon:{data.get('coupon_id')}:{order}" if data.get("coupon_id") else None
    if event_type == "points.hold_confirmed" and ":" in str(order):
        merchant_id, _, order = str(order).partition(":")         # a hold names <merchant>:<order id>
    return f"{family}:{merchant_id}:{order}" if merchant_id else None


def is_correction(event_type: str) -> bool:
    """Whether the event corrects an earlier original's lines (a refund, an undo)."""
    return event_type in CORRECTIONS


def corrected_period(own: str, memo_period: str | None) -> str:
    """The period a correction's lines belong to: the original's when it is earlier than the
    correction's own, else its own."""
    return memo_period if memo_period is not None and memo_period < own else own


# --- periods --------------------------------------------------------------------------------------
def period_of(day: date) -> str:
    """The calendar month (``YYYY-MM``) holding the program day ``day``."""
    return day.strftime("%Y-%m")


def parse_period(text: str) -> date | None:
    """The first day of the period ``YYYY-MM`` (from 2000 on, as every report's period), or None
    if it is not one: a well-formed month to come is a period, refused as not ended (409), not as
    malformed (found from outside: 2100-01 was 409, 9999-12 422)."""
    found = PERIOD.match(text or "")
    if found is None or int(found.group(1)) < 2000:
        return None
    return date(int(found.group(1)), int(found.group(2)), 1)


def next_period(period: str) -> str:
    """The month after ``period``."""
    first = parse_period(period)
    assert first is not None
    return period_of((first + timedelta(days=32)).replace(day=1))


def last_day(period: str) -> date:
    """The last program day of ``period``."""
    first = parse_period(period)
    assert first is not None
    if first.month == 12:
        return first.replace(day=31)              # (9999-12 has no month after it)
    return first.replace(month=first.month + 1) - timedelta(days=1)


def has_ended(period: str, today: date) -> bool:
    """Whether every day of ``period`` is over on the program day ``today``."""
    return last_day(period) < today


# --- valuing points -------------------------------------------------------------------------------
def points_fen(points: int, rate: Decimal) -> int:
    """``points`` at ``rate`` fen a point, rounded half up to a whole fen (per line: the same
    line always rounds the same way, whatever else is on its statement)."""
    return int((Decimal(points) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- the rules ------------------------------------------------------------------------------------
def coupon_lines(event_type: str, data: dict[str, Any], merchant_id: str | None) -> list[Clearing]:
    """A coupon's write-off (or its undo, negative): each bearer other than the merchant where it
    was used owes that merchant its share. ``merchant_id`` is the event's: the merchant where it
    was used (an undo names it in ``used_merchant_id`` too, and the template's owner in
    ``owner_merchant_id``, null for the program's; an undo written before that named the owner as
    its ``merchant_id``)."""
    used = event_type == "coupon.used"
    at = merchant_id if used else (data.get("used_merchant_id") or merchant_id)
    if not at:
        return []
    if "owner_merchant_id" in data:
        owner = data["owner_merchant_id"] or at
    else:
        owner = (None if used else merchant_id) or at
    owed: dict[str, int] = {}
    for bearer, fen in (data.get("cost") or {}).items():
        party = owner if bearer == "merchant" else PROGRAM
        if party != at and int(fen):
            owed[party] = owed.get(party, 0) + int(fen)
    sign = 1 if used else -1
    return [Clearing("coupon", payer, at, sign * fen, at, data.get("store_id")) for payer, fen in sorted(owed.items())]


@dataclass(frozen=True)
class Corrected:
    """What the points corrections of one original gave back so far (its memo's running figure),
    and what its originals cleared (``cleared``: (points, fen); None for a memo from before)."""

    points: int = 0
    fen: int = 0
    cleared: tuple[int, int] | None = None


def correction_fen(rate: Decimal, before: Corrected, points: int) -> int:
    """What a points correction of ``points`` gives back, in fen: the value at the original's
    ``rate`` of everything given back so far, rounded once, less what the earlier corrections gave
    back; never more than the originals cleared, and all of it once all their points are back.
    Whatever the parts, the last of a full refund brings the total to the originals' lines exactly
    (found from outside: each part rounded on its own, three thirds of 333 points at 0.3 fen gave
    back 3 x 33 of a line of 100), also for an order that redeemed twice, at two rates."""
    given = before.points + points
    target = points_fen(given, rate)
    if before.cleared is not None and given <= before.cleared[0]:     # (more back than counted: a memo
        cleared_points, cleared_fen = before.cleared                    # begun before the count, read as is)
        target = cleared_fen if given == cleared_points else min(target, cleared_fen)
    return target - before.fen


def points_lines(event_type: str, data: dict[str, Any], merchant_id: str | None, rate: Decimal,
                 corrected: Corrected | None = None) -> list[Clearing]:
    """Points spent at a merchant (or given back by a refund, negative): the program owes it their
    value at ``rate``. A refund of an original that left a memo (``corrected``: what its earlier
    refunds gave back) is valued cumulatively (:func:`correction_fen`), and its line is kept when
    that comes to 0 fen: it carries its points, which the running figure counts."""
    if not merchant_id or data.get("point_type") != POINT_TYPE or merchant_id == PROGRAM:
        return []
    if event_type == "points.refunded":
        points, sign = int(data.get("restored") or 0), -1
    else:
        points, sign = int(data.get("amount") or 0), 1
    if not points:
        return []
    if sign < 0 and corrected is not None:
        return [Clearing("points", PROGRAM, merchant_id, -correction_fen(rate, corrected, points), merchant_id,
                         data.get("store_id"), points=-points, rate=str(rate))]
    fen = points_fen(points, rate)
    if not fen:
        return []
    return [Clearing("points", PROGRAM, merchant_id, sign * fen, merchant_id, data.get("store_id"),
                     points=sign * points, rate=str(rate))]


def issuer_of(account: str) -> tuple[str, str] | None:
    """Whose prepaid money a journal account holds and of which kind: members' stored value
    (principal and bonus, held or not) is the program's; a gift card account its issuer's."""
    if account.startswith("member:"):
        return PROGRAM, "stored_value"
    for prefix in CARD_ACCOUNTS:
        if account.startswith(prefix):
            return account[len(prefix):], "gift_card"
    return None


def prepaid_lines(entries: list[dict[str, Any]], store_id: str | None, merchant_id: str | None = None) -> Cleared:
    """A stored value or gift card movement's journal lines: what went onto (or came off) each
    merchant's settlement account, owed by the issuers of the money on the other side. A movement
    onto no settlement account that takes one issuer's money and makes it another's (a merchant's
    gift card redeemed into a member's stored value, which the program issues) is a line too: the
    issuer whose liability it ended owes the one that took it on (found from outside: the card's
    issuer was never billed)."""
    cleared = Cleared()
    owed: dict[str, int] = {}
    issued: dict[tuple[str, str], int] = {}
    for line in entries:
        account, fen = line["account"], int(line["fen"])
        if account.startswith(SETTLEMENT):
            merchant = account[len(SETTLEMENT):]
            owed[merchant] = owed.get(merchant, 0) - fen            # a credit: owed to the merchant
        elif (found := issuer_of(account)) is not None:
            issued[found] = issued.get(found, 0) + fen               # a debit: the issuer's money paid out
    if not owed:
        return _transfer(issued, merchant_id, store_id)
    if len(owed) != 1:
        # (no movement puts money on two merchants' settlements)
        for merchant, fen in owed.items():
            cleared.tallies[merchant] = Tally(journal_fen=fen)
        return cleared
    [(merchant, fen)] = owed.items()
    tally = cleared.tallies[merchant] = Tally(journal_fen=fen)
    for (issuer, kind), amount in sorted(issued.items()):
        if not amount:
            continue
        if issuer == merchant:
            tally.self_fen += amount
        else:
            cleared.lines.append(Clearing(kind, issuer, merchant, amount, merchant, store_id))
    return cleared


def _transfer(issued: dict[tuple[str, str], int], merchant_id: str | None, store_id: str | None) -> Cleared:
    """Money moved from one issuer's liability to another's (debited: the issuer it left, +;
    credited: the one that took it on, −): the first owes the second. Within one issuer (a hold,
    a void kept for the card's issuer): nothing."""
    by_issuer: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for (issuer, kind), fen in issued.items():
        by_issuer[issuer] = by_issuer.get(issuer, 0) + fen
        kinds.setdefault(issuer, kind)
    left = [(i, fen) for i, fen in sorted(by_issuer.items()) if fen > 0]
    took = [(i, fen) for i, fen in sorted(by_issuer.items()) if fen < 0]
    if len(left) != 1 or len(took) != 1 or left[0][1] != -took[0][1]:
        return Cleared()                       # (no transfer between two issuers, or not one this rule reads)
    (payer, fen), (payee, _) = left[0], took[0]
    return Cleared([Clearing(kinds[payer], payer, payee, fen, merchant_id or payee, store_id)])


def clearing(event_type: str, data: dict[str, Any], merchant_id: str | None, rate: Decimal | None,
             prepaid_types: frozenset[str], corrected: Corrected | None = None) -> Cleared:
    """An event's lines and tallies (``rate``: the value of a point at the event, for points events;
    ``corrected``: a points refund's original's corrections so far)."""
    if event_type in COUPON_TYPES:
        return Cleared(coupon_lines(event_type, data, merchant_id))
    if event_type in POINTS_TYPES:
        return Cleared(points_lines(event_type, data, merchant_id, rate or Decimal(0), corrected))
    if event_type in prepaid_types:
        return prepaid_lines(data.get("entries") or [], data.get("store_id"), merchant_id)
    return Cleared()
