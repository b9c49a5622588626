"""Request shapes of the tier operations."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from chalicelib.shared.types import Strict
from chalicelib.tiers.ladder import Code


class SetTier(Strict):
    tier: str = Code
    until: date = Field(description="the floor holds through this day (program time zone)")
    reason: str = Field(min_length=1, max_length=200)


class HistoryQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    before: int | None = Field(None, ge=1, description="page: changes numbered below this")
