"""A coupon's arithmetic on a cart, in integer fen, with no I/O: whether it applies, what it takes
off each line, when it is usable.

Rounding. A percentage coupon takes ``floor(eligible × (100 − percent) / 100)`` off, then its cap:
it never takes off more than the exact share (the member pays the odd fen). A saving is spread
over the eligible lines in proportion to what each has left, in whole fen that add up exactly
(``orders.allocate``: largest remainder, ties to the earlier line), so the checkout can refund
per line; in proportion to what is left, no line ever gives more than it has.

Stacking. ``saving(terms, cart, base)`` is one coupon after others: ``base`` is what each line
has left. A coupon ``on: "discounted"`` reads its threshold and percentage from ``base``; one
``on: "original"`` from the original amounts; either way it takes off at most what the eligible
lines have left. Several coupons at once, and the best combination: :mod:`chalicelib.coupons.stacking`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.coupons.terms import WEEKDAYS, Terms, minutes
from chalicelib.orders.service import allocate

CART_LISTS = (("merchants", "merchant", "at merchant"), ("stores", "store", "in store"),
              ("channels", "channel", "on channel"))
ORDER = {"gift_item": 0, "amount_off": 1, "threshold": 1, "no_threshold": 1, "third_party": 1, "percent_off": 2,
         "free_shipping": 3, "parking": 4}


@dataclass(frozen=True)
class Line:
    """A line of the cart: what is bought (for the SKU and category lists) and its price."""

    sku: str | None
    category: str | None
    quantity: int
    unit_price_fen: int

    def __post_init__(self) -> None:
        if self.quantity < 0 or self.unit_price_fen < 0:
            raise ValueError("a line's quantity and unit_price_fen are never negative")

    @property
    def amount_fen(self) -> int:
        """The line's amount: quantity × unit price."""
        return self.quantity * self.unit_price_fen


@dataclass(frozen=True)
class Cart:
    """What a checkout is about to pay: where, through which channel, the lines, the shipping fee
    and the hours a car was parked (a mall's parking coupons)."""

    merchant_id: str | None
    store_id: str | None
    channel: str | None
    lines: tuple[Line, ...]
    shipping_fen: int = 0
    parking_hours: int = 0


@dataclass(frozen=True)
class Saving:
    """What one coupon takes off: ``fen`` off the lines, spread as ``lines`` (line index -> fen,
    nonzero parts only, summing to ``fen``); the shipping fee waived; the parking hours given; the
    SKU given free."""

    fen: int
    lines: dict[int, int] = field(default_factory=dict)
    shipping_fen: int = 0
    parking_hours: int = 0
    gift_sku: str | None = None

    @property
    def total_fen(self) -> int:
        """Money the member does not pay: off the lines and the shipping fee."""
        return self.fen + self.shipping_fen


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, for messages ("50.00")."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


# --- applicability -----------------------------------------------------------------------------

def eligible_lines(terms: Terms, cart: Cart) -> list[int]:
    """The indexes of the lines the coupon's SKU and category lists admit."""
    admits = terms.applicability.admits
    return [i for i, line in enumerate(cart.lines) if admits("skus", line.sku) and admits("categories", line.category)]


def _cart_reason(terms: Terms, cart: Cart) -> str | None:
    values = {"merchants": cart.merchant_id, "stores": cart.store_id, "channels": cart.channel}
    for name, code, where in CART_LISTS:
        value = values[name]
        if not terms.applicability.admits(name, value):
            if value is None:
                return f"{code}: the coupon lists its {name} and the cart names no {code}"
            return f"{code}: not usable {where} '{value}'"
    return None


def _gift_line(terms: Terms, cart: Cart, amounts: Sequence[int], eligible: Sequence[int]) -> int | None:
    """The first eligible line of the gift SKU with something left to give."""
    for i in eligible:
        line = cart.lines[i]
        if line.sku == terms.gift_sku and line.quantity >= 1 and line.unit_price_fen > 0 and amounts[i] > 0:
            return i
    return None


def _threshold_of(terms: Terms) -> int:
    """The least eligible amount with which the coupon takes anything off."""
    if terms.kind == "threshold" and terms.steps:
        return terms.steps[0].threshold_fen
    return terms.min_spend_fen or 0


def _amount_reason(terms: Terms, cart: Cart, amounts: Sequence[int], admitted: Sequence[int]) -> str | None:
    """Why the coupon takes nothing off ``cart`` with its lines at ``amounts`` (``admitted``: the
    lines its lists admit), or None."""
    if terms.kind == "gift_item":
        if _gift_line(terms, cart, amounts, admitted) is None:
            return f"gift_not_in_cart: add '{terms.gift_sku}' to the cart to get one free"
        return None
    eligible = [i for i in admitted if amounts[i] > 0]
    if terms.kind in ("free_shipping", "parking"):
        if terms.kind == "free_shipping" and cart.shipping_fen <= 0:
            return "no_shipping: the cart has no shipping fee"
        if terms.kind == "parking" and cart.parking_hours <= 0:
            return "no_parking: the cart has no parking hours"
        if terms.applicability.names_lines() and not eligible:
            return "no_eligible_line: it needs an item its SKU and category lists admit"
        return None
    if not eligible:
        return "no_eligible_line: no item of the cart is admitted by its SKU and category lists"
    total, need = sum(amounts[i] for i in eligible), _threshold_of(terms)
    if total < need:
        return f"below_threshold: spend {yuan(need - total)} more on eligible items (eligible {yuan(total)}, threshold {yuan(need)})"
    return None


def applies_to(terms: Terms, cart: Cart) -> str | None:
    """None if the coupon takes something off ``cart``, else why not: a stable code, a colon and
    words (``merchant``, ``store``, ``channel``, ``no_eligible_line``, ``below_threshold``,
    ``gift_not_in_cart``, ``no_shipping``, ``no_parking``). Time is :func:`in_window`'s and
    validity's business, not this."""
    return _cart_reason(terms, cart) or _amount_reason(terms, cart, [line.amount_fen for line in cart.lines],
                                                       eligible_lines(terms, cart))


# --- time --------------------------------------------------------------------------------------

def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("an instant needs a time zone (a naive one would read the server's)")
    return at


def in_window(terms: Terms, at: datetime, tz: str) -> str | None:
    """None if ``at`` falls in the coupon's weekday and time-of-day window in the program's zone
    ``tz`` (from included, to excluded), else ``"weekday: ..."`` or ``"time_of_day: ..."``."""
    window = terms.window
    if window is None:
        return None
    local = _aware(at).astimezone(ZoneInfo(tz))
    if window.weekdays is not None and local.isoweekday() not in window.weekdays:
        days = ", ".join(WEEKDAYS[d - 1] for d in window.weekdays)
        return f"weekday: usable on {days} only (it is {WEEKDAYS[local.isoweekday() - 1]} in {tz})"
    if window.from_time is not None and window.to_time is not None:
        now = local.hour * 60 + local.minute
        if not minutes(window.from_time) <= now < minutes(window.to_time):
            return f"time_of_day: usable {window.from_time}-{window.to_time} only (it is {local:%H:%M} in {tz})"
    return None


def valid_from(terms: Terms, claimed_at: datetime) -> datetime:
    """When a coupon claimed at ``claimed_at`` becomes usable: its claim, or the template's
    ``starts_at`` if later (UTC)."""
    start, claimed_at = terms.validity.starts_at, _aware(claimed_at)
    return max(claimed_at, start).astimezone(UTC) if start is not None else claimed_at.astimezone(UTC)


def valid_until(terms: Terms, claimed_at: datetime, tz: str) -> datetime | None:
    """When the coupon stops being usable (excluded), UTC: the fixed ``ends_at``; or, with
    ``days_after_claim`` N, midnight in ``tz`` at the end of the N-th local day, the day it
    becomes usable (:func:`valid_from`) being the first: N = 1 is "the day of the claim only"
    (领取当日起 N 天内有效), so a coupon claimed at 23:00 with N = 3 ends two days and one hour later.
    Never None for valid terms (the type leaves room for a template with no end)."""
    if terms.validity.ends_at is not None:
        return terms.validity.ends_at.astimezone(UTC)
    days = terms.validity.days_after_claim
    if days is None:
        return None
    zone = ZoneInfo(tz)
    last = valid_from(terms, claimed_at).astimezone(zone).date() + timedelta(days=days)
    return datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC)


# --- one coupon --------------------------------------------------------------------------------

def _off(terms: Terms, eligible: int) -> int:
    """What the coupon takes off an eligible amount it applies to, before what is left caps it."""
    if terms.kind == "threshold":
        return max((s.off_fen for s in terms.steps or () if s.threshold_fen <= eligible), default=0)
    if terms.kind == "percent_off" and terms.percent is not None:
        off = eligible * (100 - terms.percent) // 100          # floor: never more than the exact share
        return min(off, terms.cap_fen) if terms.cap_fen is not None else off
    return min(terms.amount_off_fen or 0, eligible)


def _left(cart: Cart, base: dict[int, int] | None) -> list[int]:
    original = [line.amount_fen for line in cart.lines]
    if base is None:
        return original
    return [max(0, min(base.get(i, amount), amount)) for i, amount in enumerate(original)]


def saving(terms: Terms, cart: Cart, base: dict[int, int] | None = None) -> Saving:
    """What one coupon takes off ``cart`` (nothing if it does not apply). ``base``: each line's
    amount left after the coupons applied before (default, and for a line it leaves out: the
    original amount); the coupon reads its threshold and percentage from it when ``stacking.on``
    is ``discounted``, from the original amounts when ``original``, and never takes off more than
    the eligible lines have left.

    amount_off: its amount if the eligible total reaches min_spend; threshold: the off of the
    highest step reached; percent_off: floor(eligible × (100 − percent) / 100), capped;
    no_threshold and third_party: its amount; gift_item: one unit of the gift's line; all these
    at most the eligible amount. free_shipping: the shipping fee (no line); parking: its hours,
    at most the cart's (no fen)."""
    left = _left(cart, base)
    amounts = left if terms.stacking.on == "discounted" else [line.amount_fen for line in cart.lines]
    eligible = eligible_lines(terms, cart)
    if _cart_reason(terms, cart) or _amount_reason(terms, cart, amounts, eligible):
        return Saving(0)
    if terms.kind == "free_shipping":
        return Saving(0, shipping_fen=cart.shipping_fen)
    if terms.kind == "parking":
        return Saving(0, parking_hours=min(terms.parking_hours or 0, cart.parking_hours))
    if terms.kind == "gift_item":
        i = _gift_line(terms, cart, left, eligible)
        if i is None:
            return Saving(0)
        fen = min(cart.lines[i].unit_price_fen, left[i])
        return Saving(fen, {i: fen}, gift_sku=terms.gift_sku)
    off = min(_off(terms, sum(amounts[i] for i in eligible)), sum(left[i] for i in eligible))
    spread = allocate(off, [left[i] for i in eligible])
    return Saving(off, {i: part for i, part in zip(eligible, spread, strict=True) if part})
