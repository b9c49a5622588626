"""The reports capability's service API for other capabilities: what a point is worth in fen
(the points valuation, :mod:`chalicelib.reports.valuation`), which the mall settlement uses to
clear points issued by the program and redeemed at a merchant."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.db.uow import UnitOfWork
from chalicelib.reports import valuation

if TYPE_CHECKING:
    from chalicelib.reports.exports_sources import Asked as Asked  # what an export asks (an export kind's source)


def points_value_at(uow: UnitOfWork, when: datetime) -> Decimal:
    """Fen one point is worth under the valuation in force at ``when`` (an exact decimal)."""
    return valuation.in_force(uow, when)[1]
