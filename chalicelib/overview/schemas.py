"""The query of the members list (``listMembers``), which this capability answers: the members
capability's listing, with each row's balances when asked (:mod:`chalicelib.overview.members_list`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from chalicelib.shared.types import Strict

BALANCES_PAGE = 50          # members a page with balances holds at most: its batch reads are bounded


class ListMembersQuery(Strict):
    merchant_id: str | None = Field(None, max_length=64, description="the registering merchant: required for "
                                    "staff callers; a merchant's key lists its own members and may leave it out")
    start: date = Field(description="registered on or after this day (the program's calendar day, in its time zone)")
    end: date = Field(description="registered on or before this day (the program's calendar day, in its time zone)")
    store_id: str | None = Field(None, max_length=64)
    stage: Literal["new", "active", "dormant", "churned"] | None = None
    include: Literal["balances"] | None = Field(None, description="balances: each row's tier, points, stored value "
                                                "and spend at the merchant, read by key in batches of 100 (a page "
                                                "of 20 members: one BatchGetItem); without it `balances` is null")
    limit: int = Field(50, ge=1, le=200, description=f"members a page reads (at most {BALANCES_PAGE} with "
                                                     "include=balances)")
    after: str | None = Field(None, max_length=120, description="the `next` of the previous page")

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError("end must not be before start")
        return end

    @field_validator("limit")
    @classmethod
    def _bounded(cls, limit: int, info: ValidationInfo) -> int:
        if info.data.get("include") == "balances" and limit > BALANCES_PAGE:
            raise ValueError(f"at most {BALANCES_PAGE} with include=balances")
        return limit
