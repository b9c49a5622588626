"""A checkout refund's arithmetic, in integer fen, with no I/O: what each part of each line gives back.

A completed checkout keeps every line's parts (``member_discount_fen``, ``coupons`` {id: fen},
``points_fen``, ``stored_value_fen``, ``gift_cards`` {number: fen}, ``cash_fen``). Its refunds
are kept as each line's **refunded share** (an exact fraction, 0 to 1): ``n`` units of a line of
``quantity`` add ``n / quantity`` (up to 1: a unit partly given back by an amount is still there to
return); an amount is spread over the lines in proportion to what each has left to give back. Each part's refunded total is ``floor(part × share)``, **cumulatively**: a
refund gives back the difference between the totals after it and before it. So rounding never
drifts (what one refund rounds off comes back with a later one), no part ever gives back more than
it had, and a share of 1 gives back exactly every part.

The **paid** parts of a line are ``points_fen + stored_value_fen + Σ gift_cards + cash_fen``: the
order's amount (what the points rules earn on and ``refundOrder`` refunds a share of). The member
discount and the coupons are not paid: their shares are shown, and a coupon comes back (by its
template's policy) only once every line it discounted is refunded in full.

The **points** the member gets back follow the points part (:func:`points_back`): once the
refunds' points parts come to ``f`` fen, the refunds have given back the fewest points worth
``f`` at the rate the points were spent at, all of them with the last fen. The points refund
gives back exactly that (the ledger's own share of the order would round elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

PARTS = ("member_discount_fen", "points_fen", "stored_value_fen", "cash_fen")
SPLIT = ("coupons", "gift_cards")                 # parts kept per coupon / per card
Line = Mapping[str, Any]                          # a plan line: quantity and its parts


class BeyondPaid(ValueError):
    """The refund asks for more than the checkout has left to give back."""


def at(line: Line, share: Fraction) -> dict[str, Any]:
    """Every part of ``line`` refunded at ``share`` (cumulative): each ``floor(part × share)``."""
    out: dict[str, Any] = {name: int(line[name] * share) for name in PARTS}
    for name in SPLIT:
        out[name] = {k: int(v * share) for k, v in line[name].items()}
    out["fen"] = paid(out)
    return out


def paid(parts: Mapping[str, Any]) -> int:
    """What was paid of these parts: points, stored value, gift cards and cash (not discounts)."""
    return int(parts["points_fen"] + parts["stored_value_fen"] + sum(parts["gift_cards"].values()) + parts["cash_fen"])


def minus(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    """Part by part, ``after - before`` (what one refund gives back)."""
    out: dict[str, Any] = {name: after[name] - before[name] for name in (*PARTS, "fen")}
    for name in SPLIT:
        out[name] = {k: v - before[name].get(k, 0) for k, v in after[name].items()}
    return out


def by_lines(lines: Sequence[Line], shares: Sequence[Fraction], asked: Mapping[int, int]) -> list[Fraction]:
    """The shares after refunding ``asked`` ({line index: units}): each unit ``1 / quantity`` of the
    line, at most what it has left (a unit partly given back by an amount refund is still there to
    return: the units left are rounded up, and the line's share stops at 1). Refuses
    (:class:`BeyondPaid`) more units than a line has left, and a line the checkout does not have
    (ValueError)."""
    after = list(shares)
    for i, units in asked.items():
        if not 0 <= i < len(lines):
            raise ValueError(f"the checkout has no line {i} (it has {len(lines)})")
        quantity = int(lines[i]["quantity"])
        left = math.ceil((1 - shares[i]) * quantity)
        if units > left:
            raise BeyondPaid(f"line {i} has {left} of {quantity} units left to refund; {units} asked")
        after[i] = min(Fraction(1), shares[i] + Fraction(units, quantity))
    return after


def left_fen(lines: Sequence[Line], shares: Sequence[Fraction]) -> list[int]:
    """What each line has still to give back of what was paid, in fen."""
    return [paid(line) - at(line, s)["fen"] for line, s in zip(lines, shares, strict=True)]


def by_amount(lines: Sequence[Line], shares: Sequence[Fraction], amount_fen: int) -> list[Fraction]:
    """The shares after refunding ``amount_fen`` of what was paid, spread over the lines in
    proportion to what each has left: every line's unrefunded share shrinks by one factor (a line
    that paid nothing keeps its share, unless everything left is refunded: then every line is
    refunded in full). The factor starts at ``amount / left`` and moves to the nearest point where
    the parts, each rounded down, give back ``amount_fen`` (never more; less only where two parts
    cross a fen at once). Refuses (:class:`BeyondPaid`) more than is left."""
    left = sum(left_fen(lines, shares))
    if amount_fen <= 0 or amount_fen > left:
        raise BeyondPaid(f"the checkout has {left} fen left to refund; {amount_fen} asked")
    if amount_fen == left:
        return [Fraction(1)] * len(lines)
    paid_parts = [(i, p) for i, line in enumerate(lines) if paid(line) and shares[i] < 1 for p in _paid_parts(line)]
    before = sum(at(line, s)["fen"] for line, s in zip(lines, shares, strict=True))

    def grown(f: Fraction) -> list[Fraction]:
        return [s + (1 - s) * f if paid(line) else s for line, s in zip(lines, shares, strict=True)]

    def gives(f: Fraction) -> int:
        return sum(at(line, s)["fen"] for line, s in zip(lines, grown(f), strict=True)) - before

    def crossing(i: int, p: int, fen: int) -> Fraction:     # the factor at which part p of line i reaches fen
        return (Fraction(fen, p) - shares[i]) / (1 - shares[i])

    f = Fraction(amount_fen, left)
    while gives(f) > amount_fen:                 # rounding carried from earlier refunds: step down
        now = [(i, p, int(p * grown(f)[i]), int(p * shares[i])) for i, p in paid_parts]
        last = max(crossing(i, p, v) for i, p, v, v0 in now if v > v0)
        f = max([Fraction(0)] + [c for i, p, v, v0 in now if v > v0
                                 for c in (crossing(i, p, v), crossing(i, p, v - 1) if v - 1 > v0 else Fraction(0))
                                 if c < last])
    while True:                                  # each part rounded down: step up to the next fen
        t = grown(f)
        ahead = [c for i, p in paid_parts if (c := crossing(i, p, int(p * t[i]) + 1)) <= 1]
        if not ahead or gives(min(ahead)) > amount_fen:
            return grown(f)
        f = min(ahead)


def _paid_parts(line: Line) -> list[int]:
    return [int(p) for p in (line["points_fen"], line["stored_value_fen"], *line["gift_cards"].values(),
                             line["cash_fen"]) if p]


def points_back(points: int, fen: int, fen_back: int, points_per_yuan: int | None) -> int:
    """The points the refunds give back once their points parts come to ``fen_back`` of the
    ``fen`` that ``points`` paid (cumulative): the fewest points worth ``fen_back`` at
    ``points_per_yuan`` (worth ``floor(points × 100 / points_per_yuan)`` fen, as the quote counts
    them), all ``points`` once every fen is back, never more. Where no whole number of points is
    worth exactly ``fen_back`` (a point worth more than a fen), the most worth less: the rest comes
    back with a later refund. ``points_per_yuan`` None (a checkout committed before the rate was
    kept): ``points`` in proportion, rounded down."""
    if fen_back >= fen:
        return points
    if not points_per_yuan:
        return points * fen_back // fen
    n = -(-fen_back * points_per_yuan // 100)
    if n * 100 // points_per_yuan > fen_back:
        n -= 1
    return min(n, points)


def coupons_freed(lines: Sequence[Line], shares: Sequence[Fraction]) -> set[str]:
    """The coupons every line of which (every line they discounted) is refunded in full."""
    touched: dict[str, bool] = {}
    for line, s in zip(lines, shares, strict=True):
        for coupon_id, fen in line["coupons"].items():
            if fen:
                touched[coupon_id] = touched.get(coupon_id, True) and s == 1
    return {c for c, whole in touched.items() if whole}
