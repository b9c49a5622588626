"""A quote's arithmetic, in integer fen, with no I/O: the points offset and every line's parts.

Every line's **list total** (``unit_price_fen × quantity``) is split into parts that add up to it
exactly, to the fen:

    list_total = member_discount + Σ coupons' parts + points part + to_pay

* the member discount is pricing's (price list or tier discount, never both);
* each chosen coupon's saving is spread over its eligible lines by the coupons' own arithmetic
  (in proportion to what each line has left, largest remainder);
* the points offset is spread over the lines in proportion to what each has left after the
  coupons (``orders.allocate``: largest remainder, ties to the earlier line), so no line gives
  more than it has and none goes below 0;
* ``to_pay`` is what is left: cash, stored value or a gift card (the commit decides).

Points. The most the member may offset is the rules' share cap (``max_share_percent`` of what the
order comes to after its coupons: ``points.rules.redeem_limit_points``) and the member's available
points, in whole points. Points are worth ``floor(points × 100 / points_per_yuan)`` fen (rounded
down: the member is never paid a fraction of a fen); of those the quote takes **the fewest points
worth the same fen** (``ceil(fen × points_per_yuan / 100)``), so no point is spent for nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chalicelib.orders.service import allocate


@dataclass(frozen=True)
class Offset:
    """The points offset: the most the rules and the balance allow, and what the quote takes."""

    limit_points: int          # the share cap in points on the amount after coupons
    available_points: int      # the member's points available now (never below 0)
    points: int                # the most the quote may take: the fewest points worth ``fen``
    fen: int                   # what those points pay


def points_offset(available: int, limit_points: int, value_fen: Callable[[int], int], points_per_yuan: int) -> Offset:
    """The most the member may offset: at most ``min(available, limit_points)`` points
    (``value_fen``: the rules' ``points_value_fen``), their worth in fen rounded down, paid with
    the fewest points worth it."""
    available = max(0, available)
    most = min(available, max(0, limit_points))
    fen = value_fen(most)
    points = -(-fen * points_per_yuan // 100)         # ceil: the fewest points worth ``fen``
    assert points <= most and value_fen(points) == fen
    return Offset(max(0, limit_points), available, points, fen)


@dataclass(frozen=True)
class CouponPart:
    """A chosen coupon's saving and its parts per line (line index -> fen)."""

    coupon_id: str
    fen: int
    lines: dict[int, int]


@dataclass(frozen=True)
class LineParts:
    """One line's parts (each ≥ 0), adding up to its list total."""

    line: int
    list_total_fen: int
    member_total_fen: int
    member_discount_fen: int
    coupons: dict[str, int] = field(default_factory=dict)     # coupon id -> fen off this line
    points_fen: int = 0
    to_pay_fen: int = 0

    @property
    def coupons_fen(self) -> int:
        """What the coupons take off this line."""
        return sum(self.coupons.values())


@dataclass(frozen=True)
class Settled:
    """Every line's parts and the totals (each the sum of its lines)."""

    lines: list[LineParts]

    def total(self, name: str) -> int:
        """The sum over the lines of the part ``name`` (e.g. ``to_pay_fen``)."""
        return sum(getattr(p, name) for p in self.lines)


def settle(member_totals: Sequence[tuple[int, int]], coupons: Sequence[CouponPart], points_fen: int) -> Settled:
    """The lines' parts: ``member_totals`` (list total, member total) per line, the chosen
    coupons' parts and the points offset spread over what the coupons left. Refuses (ValueError)
    parts that do not fit: a coupon taking more than a line has, points more than is left."""
    left = [member for _, member in member_totals]
    if any(member < 0 or member > listed for listed, member in member_totals):
        raise ValueError("a line's member total is between 0 and its list total")
    per_line: list[dict[str, int]] = [{} for _ in member_totals]
    for c in coupons:
        if sum(c.lines.values()) != c.fen:
            raise ValueError(f"coupon {c.coupon_id}'s parts do not add up to its saving")
        for i, fen in c.lines.items():
            if fen < 0 or fen > left[i]:
                raise ValueError(f"coupon {c.coupon_id} takes {fen} fen off line {i}, which has {left[i]} left")
            left[i] -= fen
            per_line[i][c.coupon_id] = per_line[i].get(c.coupon_id, 0) + fen
    if not 0 <= points_fen <= sum(left):
        raise ValueError(f"points pay {points_fen} fen of {sum(left)} left")
    points = allocate(points_fen, left) if member_totals else []
    lines = []
    for i, (listed, member) in enumerate(member_totals):
        lines.append(LineParts(i, listed, member, listed - member, per_line[i], points[i], left[i] - points[i]))
    return Settled(lines)


def after_coupons(member_total_fen: int, coupons: Sequence[CouponPart]) -> int:
    """What the order comes to after its coupons (the amount the points share cap reads)."""
    return member_total_fen - sum(c.fen for c in coupons)


def cart_hash(lines: Sequence[tuple[str, str | None, int, int]]) -> str:
    """A digest of the cart as the till sent it (sku, category, quantity, unit price, in order):
    the commit recomputes it and refuses a cart that changed."""
    canonical = json.dumps([list(line) for line in lines], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def tenders(to_pay: Sequence[int], paid: Sequence[tuple[str, int]]) -> tuple[list[dict[str, int]], list[int]]:
    """What pays each line's ``to_pay``: each tender of ``paid`` (name, fen; stored value, then
    each gift card) spread over what the lines have left in proportion (largest remainder, ties to
    the earlier line), in turn; the rest of each line is cash. Per line: {tender: fen}, and the
    cash per line. Refuses (ValueError) tenders paying more than the lines come to."""
    left = list(to_pay)
    if sum(fen for _, fen in paid) > sum(left) or any(fen < 0 for _, fen in paid):
        raise ValueError(f"the tenders pay {sum(fen for _, fen in paid)} fen of {sum(left)} to pay")
    per_line: list[dict[str, int]] = [{} for _ in left]
    for name, fen in paid:
        if not fen:
            continue
        for i, part in enumerate(allocate(fen, left)):
            if part:
                per_line[i][name] = part
                left[i] -= part
    return per_line, left
