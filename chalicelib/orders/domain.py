"""The order's arithmetic: its lines, a part's spread over them, and how much of each part the
refunds so far reverse. Pure functions of integers and exact fractions, so a refund is rounded
once, at the end, and partial refunds never drift."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from pydantic import Field, StrictInt

from chalicelib.shared.types import Strict


class OrderLine(Strict):
    """A line of an order: what was sold (for the rules' SKU and category factors) and its amount."""

    sku: str | None = Field(None, max_length=64)
    category: str | None = Field(None, max_length=64)
    amount_fen: StrictInt = Field(ge=0, le=10**11)


def allocate(total: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """``total`` spread over ``weights`` (never negative) in proportion, in whole units that add up
    to ``total`` (largest remainder; ties go to the earlier line). All weights zero: all on the first."""
    if not weights:
        return []
    exact = [Fraction(w) for w in weights]
    whole = sum(exact, Fraction(0))
    if whole <= 0:
        return [total] + [0] * (len(weights) - 1)
    shares = [total * w / whole for w in exact]
    spread = [int(s) for s in shares]           # floor: shares are never negative here
    short = total - sum(spread)
    for i in sorted(range(len(shares)), key=lambda i: (-(shares[i] - spread[i]), i))[:short]:
        spread[i] += 1
    return spread


class RefundLine(Strict):
    """A line refunded: its position in the order's lines (from 0) and the fen given back for it."""

    line: StrictInt = Field(ge=0, lt=200)
    amount_fen: StrictInt = Field(gt=0, le=10**11)


def dump_lines(lines: Sequence[OrderLine]) -> str | None:
    """The lines as the order item stores them (None: no lines)."""
    return json.dumps([line.model_dump(exclude_none=True) for line in lines], separators=(",", ":")) if lines else None


def load_lines(stored: str | None) -> list[OrderLine]:
    """The lines an order item stores."""
    return [OrderLine(**line) for line in json.loads(stored)] if stored else []


@dataclass(frozen=True)
class Refunded:
    """What the refunds of an order have taken back so far, per line, exactly: ``lines`` the line
    amounts (one line of the whole amount for an order without lines), ``taken`` the fen of each
    refunded (a fraction where an amount was spread over lines)."""

    lines: tuple[int, ...]
    taken: tuple[Fraction, ...]

    @classmethod
    def of(cls, amount: int, lines: Sequence[OrderLine], stored: str | None, refunded_fen: int) -> Refunded:
        """The order's state: per line if refunds kept it, else its refunded total spread in
        proportion (every refund so far was of an amount)."""
        widths = tuple(line.amount_fen for line in lines) or (amount,)
        if stored:
            return cls(widths, tuple(Fraction(t) for t in json.loads(stored)))
        return cls(widths, tuple(Fraction(w * refunded_fen, amount) if amount else Fraction(0) for w in widths))

    def dump(self) -> str:
        """As the order item stores it: each line's refunded fen as an exact fraction."""
        return json.dumps([str(t) for t in self.taken], separators=(",", ":"))

    def plus_amount(self, fen: int) -> Refunded:
        """After a refund of ``fen`` not naming lines: spread over what each line has left, in
        proportion (so amount refunds alone are the order's share on every line)."""
        left = [Fraction(w) - t for w, t in zip(self.lines, self.taken, strict=True)]
        remaining = sum(left, Fraction(0))
        if fen > remaining:
            raise ValueError("refund exceeds what the order has left")
        return Refunded(self.lines, tuple(t + (fen * r / remaining if remaining else 0)
                                          for t, r in zip(self.taken, left, strict=True)))

    def plus_lines(self, by_line: dict[int, int]) -> Refunded:
        """After a refund naming ``{line index: fen}``; no line gives back more than it had left."""
        taken = list(self.taken)
        for i, fen in by_line.items():
            if not 0 <= i < len(self.lines):
                raise ValueError(f"the order has no line {i} (it has {len(self.lines)})")
            if taken[i] + fen > self.lines[i]:
                raise ValueError(f"line {i} has {int(self.lines[i] - taken[i])} fen left to refund")
            taken[i] += fen
        return Refunded(self.lines, tuple(taken))

    def by_line(self) -> list[int]:
        """What each line has had refunded, in whole fen (rounded down)."""
        return [int(t) for t in self.taken]

    def reversed_of(self, total: int, by_line: Sequence[int] | None = None) -> int:
        """How much of a part of ``total`` (spread ``by_line``; in proportion to the lines if
        not given) the refunds so far reverse, rounded down once: each line gives back its part
        in the share of the line refunded. Cumulative: the caller subtracts what it reversed before."""
        spread = list(by_line) if by_line is not None else allocate(total, self.lines)
        back = sum((Fraction(p) * t / w for p, t, w in zip(spread, self.taken, self.lines, strict=True) if w),
                   Fraction(0))
        return min(int(back), total)
