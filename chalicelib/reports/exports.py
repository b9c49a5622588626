"""Exports by presigned URL (#29 item 3): createExport queues one, the ``exports`` job writes it to
the reports bucket a part at a time (:mod:`chalicelib.reports.exports_job`), getExport reports its
progress and, once done, hands out a download URL that expires (a fresh one at each call, each
audited), listExports lists the caller's.

Who: HQ and the program's readers any of the program's; a merchant admin and a merchant key with
the ``reports`` capability their own merchant's (a store's key, its store's). A merchant's export
holds only its own records (the job filters every row by the export's merchant and store), and
an export another merchant's caller names is not found (404).

Audited: each export made (``export.created``), each URL issued, and each request refused
(``export.refused``: an unbounded, too long or future period, too many rows, another merchant's
filter or export), the refusal on a unit of its own since the request's unit is thrown away.
The kinds and their sources: :mod:`chalicelib.reports.exports_registry`.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from chalicelib.db import audit
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_keys
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import service as merchants
from chalicelib.reports.exports_registry import MERCHANT_REQUIRED, NO_STORE, source
from chalicelib.reports.exports_schemas import CreateExport
from chalicelib.reports.exports_sources import Asked
from chalicelib.reports.exports_tables import LISTING, ExportItem
from chalicelib.shared import clock, storage
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ConcurrentUpdate, NotFound, Problem, ValidationProblem
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import Principal

URL_SECONDS = 900             # a download URL works 15 minutes
MAX_DAYS = 366
XLSX_MAX_ROWS = 1_048_575     # a worksheet's rows, less the header
READ_BUDGET = 1_000          # listExports reads at most this many exports a page
SHORT_URL_STAGES = ("local", "test")       # where a test may ask for a URL that expires sooner
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def max_rows() -> int:
    """The most rows an export may hold (``EXPORT_MAX_ROWS``, read at each use)."""
    return int(os.environ.get("EXPORT_MAX_ROWS") or 2_000_000)


class TooManyRows(ValidationProblem):
    slug, title = "export-too-large", "The export would hold more rows than allowed"


def object_key(program: str, export_id: str, fmt: str) -> str:
    """Where an export's file is kept (the bucket's lifecycle rule deletes ``exports/`` objects)."""
    return f"{storage.PREFIX}reports/{program}/{export_id}.{fmt}"


def create(cmd: CreateExport, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Check the period, the caller's reach and the size; queue the export for the job. A refusal
    changes nothing but the audit log, which records it as it records an export made."""
    try:
        return _create(cmd, by, uow)
    except ConcurrentUpdate:              # lost a race: the request is tried again, not refused
        raise
    except Problem as refused:
        _audit_refused(uow, by, f"createExport {cmd.kind} {cmd.start or '-'}..{cmd.end or '-'} {cmd.format}"
                                f"{' merchant ' + cmd.merchant_id if cmd.merchant_id else ''}"
                                f"{' store ' + cmd.store_id if cmd.store_id else ''}", refused)
        raise


def _create(cmd: CreateExport, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    start, end = _period(cmd)
    if cmd.url_expires_in_seconds is not None and settings().stage not in SHORT_URL_STAGES:
        raise ValidationProblem("url_expires_in_seconds is for the local and test stages only")
    if by.is_hq and cmd.merchant_id is None and cmd.store_id is None and cmd.kind not in MERCHANT_REQUIRED:
        merchant, store = None, None            # HQ naming no merchant: the program's (whatever its own)
    else:
        merchant, store = merchants.place(uow, by, cmd.merchant_id, cmd.store_id,
                                          merchant_required=cmd.kind in MERCHANT_REQUIRED)
    if store and cmd.kind in NO_STORE:
        raise ValidationProblem(f"{cmd.kind} belong to a merchant, not a store: ask without store_id, "
                                f"as the merchant")
    asked = Asked(cmd.kind, start, end, merchant, store, reveal=cmd.kind == "members" and by.may_reveal_pii())
    estimate = source(cmd.kind, uow.program).estimate(uow, asked)
    ceiling = min(max_rows(), XLSX_MAX_ROWS) if cmd.format == "xlsx" else max_rows()
    if estimate is not None and estimate > ceiling:
        raise TooManyRows(f"about {estimate} rows, over the {ceiling} an export may hold: ask for a shorter period")
    export_id, now = new_id(), clock.iso(clock.now())
    item = ExportItem(*ExportItem.key(export_id), export_id=export_id, kind=cmd.kind, format=cmd.format,
                      start=start.isoformat(), end=end.isoformat(), merchant_id=merchant, store_id=store,
                      reveal=asked.reveal, status="queued", rows_done=0, rows_estimated=estimate,
                      object_key=object_key(uow.program, export_id, cmd.format),
                      url_seconds=cmd.url_expires_in_seconds or URL_SECONDS, runs=0, created_by=by.ref,
                      created_at=now, version=0, gsi1pk=LISTING, gsi1sk=f"{now}#{export_id}")
    item.duepk, item.duesk = due_keys("export", clock.program_date(), export_id)
    uow.create(item)
    audit.record(uow, "export.created", by.ref, merchant_id=merchant,
                 detail=f"export {export_id}: {cmd.kind} {start}..{end} {cmd.format}"
                        f"{' store ' + store if store else ''}{', personal data revealed' if asked.reveal else ''}")
    return view(item)


def _period(cmd: CreateExport) -> tuple[date, date]:
    """The period asked: bounded, its end not before its start, not after today, at most MAX_DAYS."""
    if cmd.start is None or cmd.end is None:
        raise ValidationProblem("an export covers a bounded period: give start and end")
    if cmd.end < cmd.start:
        raise ValidationProblem("end is before start")
    clock.not_after_today(cmd.end, "end", "the period reaches into the future")
    if (cmd.end - cmd.start).days + 1 > MAX_DAYS:
        raise ValidationProblem(f"an export covers at most {MAX_DAYS} days")
    return cmd.start, cmd.end


def _audit_refused(uow: UnitOfWork, by: Principal, asked: str, refused: Problem) -> None:
    audit.refused(uow, "export.refused", by.ref, refused, merchant_id=by.merchant_id,
                  detail=f"{asked}: {refused.status} {refused.slug}: {refused.detail}")


def find(uow: UnitOfWork, by: Principal, export_id: str) -> ExportItem:
    """The export, if the caller may see it (another merchant's or store's: not found, and the
    attempt audited)."""
    item = uow.get(ExportItem, ExportItem.key(export_id), consistent=True)
    if item is None or not _visible(by, item):
        missing = NotFound(f"no export {export_id[:40]}")
        _audit_refused(uow, by, f"getExport {export_id[:40]}", missing)
        raise missing
    return item


def _visible(by: Principal, item: ExportItem) -> bool:
    if item.reveal and not by.may_reveal_pii():
        return False            # unmasked personal data: only for those who may see it (found from outside)
    if by.is_hq:
        return True
    if not by.merchant_id or item.merchant_id != by.merchant_id:
        return False
    return not by.store_id or item.store_id == by.store_id


def get(uow: UnitOfWork, by: Principal, export_id: str) -> dict[str, Any]:
    """The export's progress; once done, a new download URL (audited)."""
    item = find(uow, by, export_id)
    shown = view(item)
    if item.status == "done":
        seconds = int(item.url_seconds)
        shown["url"] = storage.current().presign(item.object_key, seconds,
                                                 filename=f"{item.kind}-{item.start}-{item.end}.{item.format}")
        shown["url_expires_at"] = clock.iso(clock.now() + timedelta(seconds=seconds))
        audit.record(uow, "export.url_issued", by.ref, merchant_id=item.merchant_id,
                     detail=f"export {export_id}: {item.kind}, {int(item.rows_done)} rows, URL for {seconds} s")
    return shown


def listing(uow: UnitOfWork, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """The exports the caller may see, newest first."""
    sort = SortKey.below(before) if before else None
    found: list[ExportItem] = []
    last, read, more = None, 0, False
    for item in uow.query(ExportItem, LISTING, sort, index="gsi1", forward=False, page_size=limit + 1):
        if len(found) == limit or read == READ_BUDGET:      # a merchant's page skips the others' exports
            more = True
            break
        last, read = item.gsi1sk, read + 1
        if _visible(by, item):
            found.append(item)
    return {"exports": [view(i) for i in found], "next": last if more else None}


def view(item: ExportItem) -> dict[str, Any]:
    """An export as the API shows it (no URL)."""
    return {"export_id": item.export_id, "kind": item.kind, "format": item.format, "start": item.start,
            "end": item.end, "merchant_id": item.merchant_id, "store_id": item.store_id,
            "personal_data": "revealed" if item.reveal else "masked", "status": item.status,
            "rows_done": int(item.rows_done or 0),
            "rows_estimated": int(item.rows_estimated) if item.rows_estimated is not None else None,
            "size_bytes": int(item.size_bytes) if item.size_bytes is not None else None, "error": item.error,
            "created_by": item.created_by, "created_at": item.created_at, "finished_at": item.finished_at}
