"""What createExport and listExports are asked."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, StrictInt, field_validator

from chalicelib.reports import exports_registry as registry
from chalicelib.shared.types import Strict

ID = r"^[a-z0-9][a-z0-9\-]{1,39}$"


def _kinds_schema(schema: dict[str, Any]) -> None:
    """The kinds as the document's enum, listed when the document is built (found in review: a
    ``Literal`` built at import missed a kind the app named after this module was imported)."""
    known = registry.kinds()
    schema["enum"] = list(known)
    schema["description"] = "what to export: " + "; ".join(f"`{k}`: {about}" for k, about in known.items())


class CreateExport(Strict):
    kind: str = Field(max_length=40, description="what to export", json_schema_extra=_kinds_schema)
    format: Literal["csv", "xlsx"] = Field("csv", description="CSV (UTF-8 with a BOM, Excel opens it) or XLSX")
    start: date | None = Field(None, description="the period's first day (the program's calendar). Required: "
                               "an export without a bounded period is refused (422, audited)")
    end: date | None = Field(None, description="its last day, included: at most 366 days after start, not after "
                             "today. Required, as start")
    merchant_id: str | None = Field(None, pattern=ID, description="one merchant's records only (a merchant's "
                                    "caller: its own, always)")
    store_id: str | None = Field(None, pattern=ID, description="one store's records only (a store's key: its own, "
                                 "always)")
    url_expires_in_seconds: StrictInt | None = Field(None, ge=1, le=3600, description="how long each download URL "
                                               "works (local and test stages only; 900 elsewhere)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        known = registry.kinds()
        if value not in known:
            raise ValueError(f"Input should be one of {', '.join(repr(k) for k in known)}")
        return value


class ExportsQuery(Strict):
    limit: int = Field(50, ge=1, le=200)
    before: str | None = Field(None, max_length=200,
                               pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z#[0-9A-Z]{26}$",
                               description="the `next` of the previous page")
