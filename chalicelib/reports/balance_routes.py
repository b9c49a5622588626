"""The member balance sheet and the points valuation over HTTP."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import HQ, staff
from chalicelib.api.configs import config_endpoints
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.reports.valuation import VALUATION, PointsValuation
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.merchants import service as merchants
    from chalicelib.reports import balance
else:
    merchants = lazy.module("chalicelib.merchants.service")
    balance = lazy.module("chalicelib.reports.balance")

bp = Blueprint(__name__)
TAGS = ("reports",)


class BalanceSheetQuery(Strict):
    as_of: date | None = Field(None, description="the program day whose close the figures are at (default: today, "
                                                 "as it stands now); not in the future")
    merchant_id: str | None = Field(None, min_length=1, max_length=64, description="one merchant's lines (the gift "
                                    "cards it issued, the coupons it owns); a merchant's admin: its own only")


config_endpoints(bp, "/v1/points/valuation", VALUATION, "valuation", PointsValuation, put_id="putPointsValuation",
                 get_id="getPointsValuation", noun="the points valuation: fen per point and the expected redemption",
                 tags=TAGS, put_allow=(HQ,), get_allow=(HQ,))


@endpoint(bp, "/v1/balance-sheet", "GET", "getBalanceSheet", tags=TAGS, errors=(403, 404),
          summary="What the program owes its members at a day's close, to the fen: points, stored value, gift cards, "
                  "coupons, deferred membership fees; each line beside its reconciliation's latest result",
          allow=(staff("super_admin", "ops_manager", "merchant_admin"),), query=BalanceSheetQuery,
          response="chalicelib.reports.balance_replies:BalanceSheetOut", audit_refusals=True)
def get_balance_sheet(call: Call):
    """``getBalanceSheet``."""
    if call.query.merchant_id and call.caller.is_hq:
        merchants.place(call.uow, call.caller, call.query.merchant_id)      # a merchant of the program (404)
    return balance.sheet(call.uow, call.query.as_of, call.query.merchant_id, call.caller)
