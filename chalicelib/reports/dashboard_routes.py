"""The operations dashboard: ``getDashboard`` and ``getDashboardSeries`` (issue #29 item 1).

Who sees what: HQ and the read-only roles the whole program or any merchant or store; a merchant
admin (or a ``reports`` key of a merchant) its own merchant and its stores; store staff (store
manager, clerk, or a key of one store) their own store only, never the merchant's figures (other
stores' sales are not theirs to see). Another program's figures are never reachable: the rows are
the caller's program's.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib.api.auth import ANY_STAFF, key_with
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.db.uow import UnitOfWork
from chalicelib.reports.dashboard_tables import DISTINCT, FOLDED
from chalicelib.shared import clock, lazy
from chalicelib.shared.errors import Forbidden, ValidationProblem
from chalicelib.shared.principal import Principal
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.merchants import service as merchants
    from chalicelib.reports import dashboard_read as read
else:
    merchants = lazy.module("chalicelib.merchants.service")
    read = lazy.module("chalicelib.reports.dashboard_read")

bp = Blueprint(__name__)
R = "chalicelib.reports.dashboard_replies:"
ALLOW = (ANY_STAFF, key_with("reports"))
ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
MAX_DAYS = 366
FIRST_DAY = date(2000, 1, 1)          # before any program: a period's previous period stays on the calendar
METRICS = (*FOLDED, *DISTINCT)


class Scoped(Strict):
    merchant_id: str | None = Field(None, pattern=ID, description="one merchant's figures (default: the program's)")
    store_id: str | None = Field(None, pattern=ID, description="one store's figures (with its merchant_id)")


class DashboardQuery(Scoped):
    period: Literal["day", "week", "month", "range"] = "day"
    start: date | None = Field(None, ge=FIRST_DAY, description="the day, a day of the week or month (default: "
                               "today), or the range's first day; not in the future (a period may run on past "
                               "today: its days to come are 0)")
    end: date | None = Field(None, ge=FIRST_DAY, description="a range's last day (period=range only)")

    @model_validator(mode="after")
    def _range(self) -> DashboardQuery:
        if self.period == "range":
            if self.start is None or self.end is None:
                raise ValueError("period=range needs start and end")
            if self.end < self.start or (self.end - self.start).days + 1 > MAX_DAYS:
                raise ValueError(f"end must be on or after start, at most {MAX_DAYS} days in all")
        elif self.end is not None:
            raise ValueError("end is for period=range only")
        return self


class SeriesQuery(Scoped):
    start: date = Field(ge=FIRST_DAY)
    end: date = Field(ge=FIRST_DAY)
    metrics: str = Field(description="comma-separated metric names: " + ", ".join(METRICS), max_length=600)

    @model_validator(mode="after")
    def _valid(self) -> SeriesQuery:
        if self.end < self.start or (self.end - self.start).days + 1 > MAX_DAYS:
            raise ValueError(f"end must be on or after start, at most {MAX_DAYS} days in all")
        unknown = [m for m in self.names() if m not in METRICS]
        if unknown or not self.names():
            raise ValueError(f"unknown metric(s) {', '.join(unknown)[:200]}; known: {', '.join(METRICS)}")
        return self

    def names(self) -> list[str]:
        """The metrics asked for, each once, in the order given."""
        return list(dict.fromkeys(m.strip() for m in self.metrics.split(",") if m.strip()))


def not_future(start: date | None) -> None:
    """Refuse a period that has not begun (its figures cannot exist yet). One that runs on past
    today is answered, its days to come at zero: a chart of this month or year."""
    clock.not_after_today(start, "start", "the period starts in the future")


def checked_scope(uow: UnitOfWork, p: Principal, merchant_id: str | None,
                  store_id: str | None) -> tuple[str, str | None, str | None]:
    """:func:`scope_for`, its merchant and store known in the program (404 otherwise, as
    everywhere: zeros for a merchant that does not exist would say it sold nothing)."""
    scope, merchant, store = scope_for(p, merchant_id, store_id)
    if merchant is not None:
        merchants.place(uow, p, merchant, store)
    return scope, merchant, store


def scope_for(p: Principal, merchant_id: str | None, store_id: str | None) -> tuple[str, str | None, str | None]:
    """The rows' scope the caller may read: HQ any, a merchant its own, a store its own."""
    from chalicelib.reports.dashboard import ALL, merchant_scope, store_scope
    if store_id and not merchant_id:
        if p.is_hq or not p.merchant_id:
            raise ValidationProblem("store_id needs its merchant_id")
        merchant_id = p.merchant_id
    if not p.is_hq:
        if not p.merchant_id or (merchant_id and merchant_id != p.merchant_id):
            raise Forbidden("merchant staff and keys see only their own merchant's dashboard")
        merchant_id = p.merchant_id
        if p.store_id:
            if store_id and store_id != p.store_id:
                raise Forbidden("store staff see only their own store's dashboard")
            store_id = p.store_id
    if merchant_id is None:
        return ALL, None, None
    if store_id is None:
        return merchant_scope(merchant_id), merchant_id, None
    return store_scope(merchant_id, store_id), merchant_id, store_id


@endpoint(bp, "/v1/dashboard", "GET", "getDashboard", tags=("dashboard",), query=DashboardQuery,
          summary="The operations dashboard for a day, week, month or range: each metric, its previous period's "
          "value and the change", allow=ALLOW, errors=(404,), response=R + "DashboardOut", audit_refusals=True)
def get_dashboard(call: Call):
    """The period's metrics, the previous period's and the change."""
    q: DashboardQuery = call.query
    not_future(q.start)
    scope, merchant, store = checked_scope(call.uow, call.caller, q.merchant_id, q.store_id)
    return {"merchant_id": merchant, "store_id": store,
            **read.dashboard(call.uow, scope, q.period, q.start, q.end)}


@endpoint(bp, "/v1/dashboard/series", "GET", "getDashboardSeries", tags=("dashboard",), query=SeriesQuery,
          summary="The daily values of chosen dashboard metrics over a range (for charts)", allow=ALLOW,
          errors=(404,), response=R + "DashboardSeriesOut", audit_refusals=True)
def get_series(call: Call):
    """Each day's values of the chosen metrics."""
    q: SeriesQuery = call.query
    not_future(q.start)
    scope, merchant, store = checked_scope(call.uow, call.caller, q.merchant_id, q.store_id)
    return {"merchant_id": merchant, "store_id": store, **read.series(call.uow, scope, q.start, q.end, q.names())}
