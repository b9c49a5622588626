"""What a point is worth in fen, per program: versioned configuration (``putPointsValuation``),
each version in force from its ``effective_from``, never edited.

``fen_per_point`` is a decimal written as text ("1" = ¥0.01 a point, "0.5" = half a fen: fractions
stay exact, never a float). ``expected_redemption_percent`` is the share of outstanding points the
program expects to be redeemed (100 less the expected breakage). The balance sheet's points line
(:mod:`chalicelib.reports.balance`) values outstanding points with the version in force at the
close of the day asked for; the mall settlement's clearing of points issued by one party and
redeemed at another is to value them with the version in force at the redemption. Version 0
(nothing saved) values a point at the points program's redemption rate (100 fen /
``points_per_yuan``) with 100 % expected: the figure ``getPointsLiability`` shows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field, StrictInt, field_validator

from chalicelib.db.uow import UnitOfWork
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import DecimalText, Strict

MAX_FEN_PER_POINT = Decimal(10_000)        # ¥100 a point: more than any program gives


class PointsValuation(Strict):
    """The value of one point, and how much of the outstanding points is expected to be redeemed."""

    fen_per_point: DecimalText | None = Field(None, description="fen one point is worth, a decimal as text "
                                              "(\"1\": ¥0.01; \"0.5\": half a fen); omitted: the points program's "
                                              "redemption rate (100 / points_per_yuan)")
    expected_redemption_percent: StrictInt = Field(100, ge=0, le=100, description="the share of outstanding points "
                                                   "expected to be redeemed (100 less the expected breakage): the "
                                                   "liability is their value times this share")

    @field_validator("fen_per_point")
    @classmethod
    def _in_range(cls, v: str | None) -> str | None:
        if v is not None and not Decimal(0) <= Decimal(v) <= MAX_FEN_PER_POINT:
            raise ValueError(f"fen_per_point is from 0 to {MAX_FEN_PER_POINT}, not {v}")
        return v


VALUATION = VersionedConfig("points-valuation", PointsValuation, PointsValuation, "reports.points_valuation_changed",
                            "program:reports")


def in_force(uow: UnitOfWork, when: datetime) -> tuple[int, Decimal, int]:
    """The version in force at ``when``, its fen per point and its expected redemption percent."""
    version, body = VALUATION.at(uow, when)
    if body.fen_per_point is not None:
        return version, Decimal(body.fen_per_point), body.expected_redemption_percent
    # the default: the points program's redemption rate
    from chalicelib.points import service as points
    _, rules = points.rules_at(uow, when)
    return version, Decimal(100) / Decimal(rules.redeem.points_per_yuan), body.expected_redemption_percent


def value_fen(points: int, rate: Decimal, percent: int) -> tuple[int, int]:
    """``points`` at ``rate`` fen a point: their face value and the liability expected (``percent``
    of the face value), each rounded half up to the fen."""
    face = Decimal(points) * rate
    return fen(face), fen(face * percent / 100)


def fen(amount: Decimal) -> int:
    """``amount`` rounded half up to a whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
