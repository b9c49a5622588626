"""What createExport, getExport and listExports answer."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class ExportOut(Reply):
    """An export: what was asked, its progress, and once done (getExport) a download URL that expires."""

    export_id: str = Field(description="the export's id (a ULID)")
    kind: str = Field(description="members | points_ledger | stored_value_ledger")
    format: str = Field(description="csv | xlsx")
    start: str = Field(description="the period's first day")
    end: str = Field(description="its last day, included")
    merchant_id: str | None = Field(description="the merchant whose records it holds (null: the program's)")
    store_id: str | None = Field(description="the store whose records it holds, if one")
    personal_data: str = Field(description="`masked` or `revealed` (members; the header row says so too)")
    status: str = Field(description="queued | running | done | failed")
    rows_done: int = Field(description="rows written so far (counted as each part of the file is stored)")
    rows_estimated: int | None = Field(description="rows expected, when known before reading them")
    size_bytes: int | None = Field(description="the file's size, once done")
    error: str | None = Field(description="why it failed, if it did")
    created_by: str = Field(description="who asked for it")
    created_at: str = Field(description="when (ISO 8601)")
    finished_at: str | None = Field(description="when it was done or failed")
    url: str | None = Field(None, description="getExport of a done export: a download URL, new at each call")
    url_expires_at: str | None = Field(None, description="when that URL stops working")


class ExportsPage(Reply):
    """A page of the exports the caller may see, newest first."""

    exports: list[ExportOut] = Field(description="newest first (no download URLs: getExport issues them)")
    next: str | None = Field(description="pass as `before` for the next page; null on the last")
