"""What the dashboard's operations answer (the OpenAPI response schemas). Every metric is defined
in docs/operators/reports.md (## Dashboard)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from chalicelib.shared.types import Reply


class PeriodOut(Reply):
    kind: str = Field(description="day, week (Monday to Sunday), month (calendar) or range")
    start: str = Field(description="its first day (YYYY-MM-DD, the program's calendar)")
    end: str = Field(description="its last day")
    days: int = Field(description="how many days it has")


class MetricOut(Reply):
    value: float | None = Field(description="the period's value (null: not defined for this scope or period)")
    previous: float | None = Field(description="the previous period's value")
    change: float | None = Field(description="value - previous (null when either is null)")
    change_percent: float | None = Field(description="the change in % of previous (null when previous is 0 or null)")


class DashboardOut(Reply):
    """The dashboard of a period: each metric beside the previous period's."""

    merchant_id: str | None = Field(description="whose figures: a merchant (null: the whole program)")
    store_id: str | None = Field(description="one store of the merchant (null: every store)")
    period: PeriodOut
    previous_period: PeriodOut
    as_of: str = Field(description="when read; the figures trail the events by the stream's delay")
    metrics: dict[str, MetricOut] = Field(description=(
        "by name: new_members, members_total, active_members, active_share, paid_members, points_issued, "
        "points_redeemed, points_expired, points_redemption_rate, sv_topped_up_fen, sv_bonus_fen, sv_spent_fen, "
        "sv_refunded_fen, sv_balance_fen, coupons_issued, coupons_used, coupon_usage_rate, checkouts, gmv_fen, "
        "refunds, refunded_fen, member_orders, member_amount_fen, member_aov_fen, walk_in_orders, "
        "walk_in_amount_fen, walk_in_aov_fen, aov_fen, buyers, repeat_buyers, repurchase_rate_90d"))


class DashboardSeriesOut(Reply):
    """Daily values of chosen metrics, one entry per day of the range."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    merchant_id: str | None = Field(description="whose figures: a merchant (null: the whole program)")
    store_id: str | None = Field(description="one store of the merchant (null: every store)")
    start: str = Field(description="the range's first day")
    end: str = Field(description="the range's last day")
    metrics: list[str] = Field(description="the metrics given for each day")
    days: list[dict[str, str | int | None]] = Field(description="each day of the range, oldest first: `day` and "
                                                                "each metric's value that day (0 when nothing happened; "
                                                                "null for a metric a store's scope does not keep)")
