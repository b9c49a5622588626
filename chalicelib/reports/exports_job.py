"""The ``exports`` job (every minute, and carried on by its continuations): writes each queued or
running export to the reports bucket, to the run's deadline.

CSV, a part at a time: rows stream from the kind's source (:mod:`chalicelib.reports.exports_sources`)
into a multipart upload (:meth:`chalicelib.shared.storage.Storage.open_writer`); each time a part
is stored, the export records, in one conditional update, the source's cursor after the last row in
that part, the rows done and the upload's parts. A run that ends (its deadline, a crash) loses at
most the rows buffered since the last part, and the next run reads on from the recorded cursor and
uploads the next part: no row is written twice or left out. UTF-8 with a BOM, a header row;
cells that a spreadsheet would take for a formula are quoted with a leading apostrophe.

XLSX (``xlsxwriter`` in ``constant_memory`` mode, a temporary file) is written whole within one
run, then streamed up in parts: a workbook is a zip finished at its end, so it cannot be carried
across invocations (a run that runs out of time starts it again; 1,048,575 rows at most).

Every run of an export first claims it (its version + 1): a run that finds the version moved on
was overtaken by another and stops.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from typing import Any

from chalicelib.db import audit, backend
from chalicelib.db.due import current_slice, due_items, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.reports import exports
from chalicelib.reports.exports_registry import source
from chalicelib.reports.exports_sources import Asked, dumps
from chalicelib.reports.exports_tables import ExportItem
from chalicelib.shared import clock, storage
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.observability import logger

ACTOR = "job:exports"
KIND = "export"
BOM = "\ufeff".encode()
CHECK_EVERY = 1_000           # rows between looks at the clock
END = "end"                   # a cursor: every row is in the upload's parts, which are not yet one object
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@job("exports")
def run(as_of: datetime) -> dict[str, Any]:
    """Work every queued or running export to the run's deadline."""
    work = current_slice()
    outcome = run_due(due_items(backend.current(), ExportItem, KIND, as_of),
                      lambda due, _: progress(due[0], due[1].export_id, work.ends_at),
                      lambda due: f"{due[0]}/{due[1].export_id}", "exports", attempts=1)
    if outcome.counts["stopped_at_deadline"]:
        work.again(KIND)            # read them again in the continuation
    return {"items_read": outcome.items_read, "exports_done": outcome.counts["done"],
            "exports_failed": outcome.counts["failed"], "parts": outcome.counts["parts"],
            "rows": outcome.counts["rows"], "stopped_at_deadline": work.stopped, **outcome.give_ups()}


def progress(program: str, export_id: str, deadline: float) -> Counter:
    """Carry the export on until ``deadline`` (``time.monotonic``)."""
    uow = UnitOfWork(ACTOR, program=program)
    item = uow.get(ExportItem, ExportItem.key(export_id), consistent=True)
    if item is None:
        return Counter()
    if item.status in ("done", "failed"):
        _update(uow, item, [ExportItem.duepk.remove(), ExportItem.duesk.remove()])
        return Counter()
    item = _claim(uow, item)
    if item is None:
        return Counter(overtaken=1)
    try:
        if item.format == "xlsx":
            return _xlsx(uow, item, deadline)
        return _csv(uow, item, deadline)
    except exports.TooManyRows as refused:
        return _fail(uow, item, refused.detail)


def _claim(uow: UnitOfWork, item: ExportItem) -> ExportItem | None:
    """This run works the export now (the version moves on: an older run's next record fails)."""
    actions = [ExportItem.runs.add(1), ExportItem.status.set("running")]
    if not item.started_at:
        actions.append(ExportItem.started_at.set(clock.iso(clock.now())))
    try:
        _update(uow, item, actions)
    except ConcurrentUpdate:
        return None
    return _fresh(uow).get(ExportItem, ExportItem.key(item.export_id), consistent=True)


def _update(uow: UnitOfWork, item: ExportItem, actions: list[Any]) -> None:
    """``actions`` and the version + 1, if no other run moved the version on since ``item`` was read."""
    work, read = _fresh(uow), int(item.version)
    work.update(item, [*actions, ExportItem.version.add(1)], ExportItem.version == read,
                on_conflict=lambda: ConcurrentUpdate("another run works this export"))
    work.commit()
    item.version = read + 1         # (the DynamoDB backend's update refreshes the item; the fake's does not)


def _fresh(uow: UnitOfWork) -> UnitOfWork:
    return UnitOfWork(uow.actor, uow.correlation_id, program=uow.program)


def _asked(item: ExportItem) -> Asked:
    return Asked(item.kind, date.fromisoformat(item.start), date.fromisoformat(item.end), item.merchant_id,
                 item.store_id, bool(item.reveal))


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, quoted (a signed number, a phone number in
    international form, is left as it is)."""
    if not isinstance(value, str) or not value.startswith(FORMULA):
        return value
    if value[0] in "+-" and value[1:].replace(".", "", 1).isdigit():
        return value
    return "'" + value


class _Line:
    """One CSV row's bytes (one buffer, reused)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.out = csv.writer(self.buffer, lineterminator="\r\n")

    def __call__(self, row: list[Any]) -> bytes:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.out.writerow([_cell(v) for v in row])
        return self.buffer.getvalue().encode()


def _csv(uow: UnitOfWork, item: ExportItem, deadline: float) -> Counter:
    done: Counter = Counter()
    store, asked, line = storage.current(), _asked(item), _Line()
    upload = item.stored_upload()
    if item.cursor == dumps(END):
        return _finish(uow, item, store, upload, done)
    writer = store.open_writer(item.object_key, exports.CONTENT_TYPES["csv"], upload)
    if upload is None:
        writer.write(BOM + line(source(item.kind, uow.program).header(asked)))
    stored, pending, ceiling = int(item.rows_done or 0), 0, exports.max_rows()
    for row, position in source(item.kind, uow.program).rows(uow, asked, item.position()):
        if stored + pending >= ceiling:
            writer.abort()
            raise exports.TooManyRows(f"the export reached the {ceiling} rows an export may hold: "
                                      f"ask for a shorter period")
        pending += 1
        if writer.write(line(row)):
            stored, pending = _record(uow, item, stored + pending, position, writer, done), 0
        if pending % CHECK_EVERY == 0 and time.monotonic() >= deadline:
            if writer.buffered() >= _min_part(store):        # a part S3 takes: keep what was read
                writer.flush()
                _record(uow, item, stored + pending, position, writer, done)
            done["stopped_at_deadline"] += 1
            return done
    writer.flush()
    _record(uow, item, stored + pending, END, writer, done)
    return _finish(uow, item, store, writer.upload, done)


def _min_part(store: storage.Storage) -> int:
    return int(getattr(store, "min_part", storage.S3_MIN_PART))


def _record(uow: UnitOfWork, item: ExportItem, rows: int, position: Any, writer: storage.Writer,
            done: Counter) -> int:
    """The part just stored, the rows it completes and where the source stands, in one update."""
    before = int(item.rows_done or 0)
    _update(uow, item, [ExportItem.rows_done.set(rows), ExportItem.cursor.set(dumps(position)),
                        ExportItem.upload.set(json.dumps(writer.upload.dump()))])
    done["parts"] += 1
    done["rows"] += rows - before
    item.rows_done, item.cursor = rows, dumps(position)
    return rows


def _finish(uow: UnitOfWork, item: ExportItem, store: storage.Storage, upload: storage.Upload | None,
            done: Counter) -> Counter:
    """Every row is in the parts: make them one object (again, if a run before stopped after it
    did) and mark the export done."""
    if upload is None:
        raise RuntimeError(f"export {item.export_id} has no upload to complete")
    if not store.exists(item.object_key):
        store.complete_upload(upload)
    _update(uow, item, [ExportItem.status.set("done"), ExportItem.size_bytes.set(upload.size),
                        ExportItem.finished_at.set(clock.iso(clock.now())), ExportItem.duepk.remove(),
                        ExportItem.duesk.remove()])
    done["done"] += 1
    return done


def _fail(uow: UnitOfWork, item: ExportItem, why: str) -> Counter:
    """The export failed (the ceiling reached as the rows came): marked, and audited as a refusal is."""
    logger.info("export failed", extra={"export": item.export_id, "why": why[:200]})
    work, read = _fresh(uow), int(item.version)
    work.update(item, [ExportItem.status.set("failed"), ExportItem.error.set(why[:500]),
                       ExportItem.finished_at.set(clock.iso(clock.now())), ExportItem.duepk.remove(),
                       ExportItem.duesk.remove(), ExportItem.version.add(1)], ExportItem.version == read,
                on_conflict=lambda: ConcurrentUpdate("another run works this export"))
    audit.record(work, "export.failed", ACTOR, merchant_id=item.merchant_id,
                 detail=f"export {item.export_id}: {item.kind} {item.start}..{item.end} asked by {item.created_by}: "
                        f"{why}"[:audit.MAX_DETAIL])
    work.commit()
    return Counter(failed=1)


def _xlsx(uow: UnitOfWork, item: ExportItem, deadline: float) -> Counter:
    """The whole workbook in this run (to a temporary file, rows flushed as written), then up in parts."""
    import xlsxwriter
    done: Counter = Counter()
    store, asked = storage.current(), _asked(item)
    if item.cursor == dumps(END):
        return _finish(uow, item, store, item.stored_upload(), done)
    ceiling = min(exports.max_rows(), exports.XLSX_MAX_ROWS)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "export.xlsx")
        book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": folder, "strings_to_formulas": False,
                                          "strings_to_urls": False})
        sheet = book.add_worksheet(item.kind[:31])
        sheet.write_row(0, 0, source(item.kind, uow.program).header(asked))
        rows = 0
        for row, _ in source(item.kind, uow.program).rows(uow, asked, None):
            if rows >= ceiling:
                book.close()
                raise exports.TooManyRows(f"the export reached the {ceiling} rows an XLSX export may hold")
            rows += 1
            sheet.write_row(rows, 0, row)
            if rows % CHECK_EVERY == 0 and time.monotonic() >= deadline:
                book.close()
                done["stopped_at_deadline"] += 1        # started again by the next run
                return done
        book.close()
        writer = store.open_writer(item.object_key, exports.CONTENT_TYPES["xlsx"])
        with open(path, "rb") as workbook:
            while chunk := workbook.read(1024 * 1024):
                writer.write(chunk)
        writer.flush()
    _update(uow, item, [ExportItem.rows_done.set(rows), ExportItem.cursor.set(dumps(END)),
                        ExportItem.upload.set(json.dumps(writer.upload.dump()))])
    done["rows"] += rows
    return _finish(uow, item, store, writer.upload, done)
