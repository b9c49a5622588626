"""A cart's member prices, with no I/O: what checkout's quote and ``priceCart`` answer.

Each line is priced on its own. Its list total is ``unit_price_fen × quantity``. The member may
have two benefits that lower it (the benefits engine picks one of each per member): a **price
list** (SKU → member unit price, fen) and a **tier discount** (``discount_percent`` off). They
never stack: the line takes whichever leaves **the lower total for the customer**, the usual
retail rule (a member price is already the member's deal; a percentage on top of it would give
away what the price list was set to protect). On a tie the price list wins (the price HQ set for
that SKU is what the receipt should name). Neither applies when it would not lower the line:
a list price above the till's price is ignored, so a member never pays more than the list.

Rounding, in fen: a percentage takes ``floor(list_total × percent / 100)`` off the line total
(the discount rounds down, per line, never per unit); a price list's total is its unit price ×
quantity, exact. No line goes below 0 and the cart's totals are the sums of its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

RuleName = Literal["price_list", "discount_percent", "list_price"]


@dataclass(frozen=True)
class Line:
    """A cart line as the till sends it."""

    sku: str
    quantity: int
    unit_price_fen: int
    category: str | None = None


@dataclass(frozen=True)
class MemberTerms:
    """The member's pricing benefits in force: the price list (its id, the rule that gave it and
    its prices) and the deepest discount (percent and rule). Nothing: a walk-in customer."""

    price_list: str | None = None
    price_list_rule: str | None = None
    prices: Mapping[str, int] = field(default_factory=dict)
    discount_percent: int | None = None
    discount_rule: str | None = None


@dataclass(frozen=True)
class PricedLine:
    """One line priced: what it lists at, what the member pays, and which rule set it."""

    line: int
    sku: str
    category: str | None
    quantity: int
    unit_price_fen: int
    list_total_fen: int
    member_total_fen: int
    discount_fen: int
    rule: RuleName
    benefit_rule: str | None          # the benefit rule that gave the price list or discount
    price_list: str | None            # the list whose price was taken

    @property
    def member_unit_price_fen(self) -> int | None:
        """The member's price of one unit, when every unit costs the same (a percentage rounded
        on the line total may leave a fen that no unit price expresses: then None)."""
        whole, left = divmod(self.member_total_fen, self.quantity)
        return None if left else whole


@dataclass(frozen=True)
class PricedCart:
    """Every line priced and the totals (each the sum of its lines)."""

    lines: list[PricedLine]

    @property
    def list_total_fen(self) -> int:
        """What the cart lists at."""
        return sum(p.list_total_fen for p in self.lines)

    @property
    def member_total_fen(self) -> int:
        """What the member pays."""
        return sum(p.member_total_fen for p in self.lines)

    @property
    def discount_fen(self) -> int:
        """What the member saves."""
        return sum(p.discount_fen for p in self.lines)


def price_line(index: int, line: Line, terms: MemberTerms) -> PricedLine:
    """The line at the lower of its price-list total and its discounted total, never stacked,
    never above its list total (see the module's rule)."""
    list_total = line.unit_price_fen * line.quantity
    # (total, preference, rule, benefit rule, list): the lowest total wins, the price list on a tie
    best: tuple[int, int, RuleName, str | None, str | None] = (list_total, 2, "list_price", None, None)
    listed = terms.prices.get(line.sku) if terms.price_list is not None else None
    if listed is not None and listed * line.quantity < list_total:
        best = min(best, (listed * line.quantity, 0, "price_list", terms.price_list_rule, terms.price_list))
    if terms.discount_percent:
        off = list_total * terms.discount_percent // 100
        if off > 0:
            best = min(best, (list_total - off, 1, "discount_percent", terms.discount_rule, None))
    total, _, rule, benefit_rule, price_list = best
    return PricedLine(index, line.sku, line.category, line.quantity, line.unit_price_fen, list_total, total,
                      list_total - total, rule, benefit_rule, price_list)


def price_cart(lines: Sequence[Line], terms: MemberTerms) -> PricedCart:
    """Every line of the cart at the member's price, in the cart's order."""
    return PricedCart([price_line(i, line, terms) for i, line in enumerate(lines)])
