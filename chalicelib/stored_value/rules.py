"""Stored value rules ops configure (versioned like the earn rules): top-up bonuses, which
balance a payment spends first, and the limits of the prepaid-card measures. No I/O.

Bonuses ("储值200送30"): ``fixed`` (top up at least ``min_fen``, get ``bonus_fen``), ``stepped``
(the highest step reached), ``percent`` (of the top-up, up to ``max_bonus_fen``); each may be
limited to a window, to a member's first top-up, and to a number of times per member. A
top-up gets the single best bonus among the rules that apply (bonuses never stack).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from chalicelib.db.uow import UnitOfWork
from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared import lazy
from chalicelib.shared.types import Instant, Strict, unique_by

if TYPE_CHECKING:
    from chalicelib.merchants import service as merchants
else:
    merchants = lazy.module("chalicelib.merchants.service")     # read when rules are saved, not at a cold start

Fen = Field(ge=1, le=10**9)
MerchantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$")]       # or "program"
LimitFen = Annotated[StrictInt, Field(ge=0, le=10**12)]


class BonusStep(Strict):
    min_fen: StrictInt = Fen
    bonus_fen: StrictInt = Fen


class BonusRule(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$")
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["fixed", "stepped", "percent"]
    min_fen: StrictInt = Field(1, ge=1, le=10**9, description="the least top-up the rule rewards")
    bonus_fen: StrictInt | None = Field(None, ge=1, le=10**9, description="fixed: the bonus")
    steps: list[BonusStep] = Field([], max_length=20, description="stepped: the highest reached")
    percent: StrictInt | None = Field(None, ge=1, le=100, description="percent: of the top-up")
    max_bonus_fen: StrictInt | None = Field(None, ge=1, le=10**9)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    first_top_up_only: StrictBool = False
    per_member_limit: StrictInt | None = Field(None, ge=1, le=1000, description="times a member gets this bonus")
    valid_days: StrictInt | None = Field(None, ge=1, le=3650, description="the bonus can be used for this many days "
                                         "after the top-up, then expires (omitted: it never expires)")
    coupon_pack: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-.]{1,64}$", description=(
        "储值赠券: a coupon pack (putCouponPacks) granted with the bonus, in the top-up's transaction; a pack that "
        "cannot be issued then (out of stock, paused, a limit) never refuses the paid top-up: it is owed to the "
        "member and issued by the coupon-owed job"))

    @model_validator(mode="after")
    def _shape(self) -> BonusRule:
        need = {"fixed": self.bonus_fen is not None, "stepped": bool(self.steps), "percent": self.percent is not None}
        if not need[self.kind]:
            raise ValueError(f"a {self.kind} bonus needs {'bonus_fen' if self.kind == 'fixed' else self.kind}")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def bonus(self, amount: int, at: datetime) -> int:
        """The bonus this rule gives a top-up of ``amount`` at ``at`` (limits aside)."""
        if amount < self.min_fen or (self.starts_at and at < self.starts_at) or (self.ends_at and at >= self.ends_at):
            return 0
        if self.kind == "fixed":
            return int(self.bonus_fen or 0)
        if self.kind == "stepped":
            return max((s.bonus_fen for s in self.steps if amount >= s.min_fen), default=0)
        bonus = amount * int(self.percent or 0) // 100
        return min(bonus, self.max_bonus_fen) if self.max_bonus_fen else bonus


class StoredValueRules(Strict):
    bonus_rules: list[BonusRule] = Field([], max_length=50)
    spend_order: Literal["proportional", "principal_first", "bonus_first"] = Field(
        "proportional", description="which balance a payment takes first; proportional keeps refunds and "
                                    "cash-outs fair")
    balance_cap_fen: StrictInt = Field(500_000, ge=1, le=10**9, description="principal + bonus a member may "
                                       "hold (¥5,000 for registered members under the prepaid-card measures)")
    single_top_up_max_fen: StrictInt = Field(500_000, ge=1, le=10**9)
    daily_top_up_max_fen: StrictInt | None = Field(None, ge=1, le=10**9, description="a member's top-ups per day")
    merchant_daily_top_up_max_fen: StrictInt | None = Field(
        None, ge=1, le=10**12, description="the top-ups one merchant may take per day (each merchant; omitted: "
        "no limit)")
    merchant_daily_top_up_limits_fen: dict[MerchantId, LimitFen] = Field(
        {}, max_length=500, description="per merchant id: its own daily top-up limit, in place "
        "of merchant_daily_top_up_max_fen")
    key_daily_top_up_max_fen: StrictInt | None = Field(
        None, ge=1, le=10**12, description="the top-ups one merchant API key (a till) may take per day")
    cash_out_approval_above_fen: StrictInt | None = Field(
        None, ge=0, le=10**9, description="a cash-out of more principal than this is held pending until another HQ staff member "
        "approves it")
    cash_out_deducts_spent_bonus: StrictBool = Field(
        True, description="a cash-out pays back the principal less the bonus the member has spent (net of refunds, "
        "not yet deducted by an earlier cash-out), as a prepaid card's refund (退卡) takes back the bonus used; "
        "false: the whole principal goes back and spent bonus is kept")
    reserve_percent: StrictInt = Field(40, ge=0, le=100, description="the share of prepaid money an issuer keeps "
                                       "deposited with the custodian bank (fund supervision)")
    issuance_limits_fen: dict[MerchantId, LimitFen] = Field(
        {}, max_length=500, description="per issuer ('program' for members' stored value and "
        "the program's gift cards, or a merchant id for its gift cards): the most prepaid money it may hold "
        "outstanding; top-ups, gift card sales and redemptions beyond it are refused (409 issuance-limit)")

    @field_validator("bonus_rules")
    @classmethod
    def _unique(cls, rules: list[BonusRule]) -> list[BonusRule]:
        unique_by(rules, "id", "bonus rule ids")
        return rules


def unknown_merchants(uow: UnitOfWork, rules: StoredValueRules) -> list[str]:
    """The merchants the rules name (limits by issuer or merchant) that the program does not have."""
    named = {*rules.issuance_limits_fen, *rules.merchant_daily_top_up_limits_fen} - {"program"}
    return [f"merchant '{m}' does not exist" for m in sorted(named) if not merchants.exists(uow, m)]


def _packs(rules: StoredValueRules) -> list[tuple[str, str]]:
    """The coupon packs the bonus rules grant (an unknown one is refused when the rules are saved)."""
    return [(f"bonus_rules[{i}].coupon_pack", r.coupon_pack) for i, r in enumerate(rules.bonus_rules) if r.coupon_pack]


RULES = VersionedConfig("stored-value-rules", StoredValueRules, StoredValueRules, "stored_value.rules_changed",
                        "program:stored_value", records=unknown_merchants, refers={"coupon_pack": _packs})


def split(amount: int, principal: int, bonus: int, order: str) -> tuple[int, int]:
    """How a payment of ``amount`` (at most principal + bonus) is taken: (principal, bonus)."""
    if order == "principal_first":
        p = min(amount, principal)
        return p, amount - p
    if order == "bonus_first":
        b = min(amount, bonus)
        return amount - b, b
    b = amount * bonus // (principal + bonus) if principal + bonus else 0
    return amount - b, b


def refund_split(paid_principal: int, paid_bonus: int, amount: int, refunded_before: int,
                 refunded_principal: int, refunded_bonus: int, refund: int) -> tuple[int, int]:
    """What a refund of ``refund`` gives back to principal and bonus, so that all refunds of a
    payment together follow its split (cumulative: partial refunds never drift)."""
    after = refunded_before + refund
    bonus_target = paid_bonus * after // amount
    principal_target = after - bonus_target
    return principal_target - refunded_principal, bonus_target - refunded_bonus
