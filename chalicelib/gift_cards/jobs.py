"""Scheduled gift card work.

* ``gift-card-batches`` (every 5 minutes): generates the chunks of batches being generated, until
  its time budget is spent (the next run carries on), and deletes exports of secrets whose URL
  has expired or that nobody fetched in time. It reads only the batches that are due.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime
from typing import Any

from chalicelib.db import backend
from chalicelib.db.due import due_items, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import generation
from chalicelib.gift_cards.tables import GiftCardBatchItem
from chalicelib.jobs import job
from chalicelib.shared import clock

ACTOR = "job:gift-card-batches"
BUDGET_SECONDS = float(os.environ.get("GIFT_CARD_JOB_BUDGET_SECONDS", "600"))   # of a 900 s Lambda


@job("gift-card-batches")
def batches(as_of: datetime) -> dict[str, Any]:
    """Generate what is pending and purge expired exports."""
    deadline = time.monotonic() + BUDGET_SECONDS
    run = run_due(due_items(backend.current(), GiftCardBatchItem, "gc-batch", clock.program_date(as_of)),
                  lambda due, _: _handle(due[0], due[1], as_of, deadline), lambda due: f"{due[0]}/{due[1].batch_id}",
                  "gift-card-batches")
    return {"items_read": run.items_read, "chunks_generated": run.counts["chunks"],
            "batches_ready": run.counts["batches_ready"], "exports_purged": run.counts["purged"],
            "stopped_at_deadline": run.counts["stopped_at_deadline"] > 0, **run.give_ups()}


def _handle(program_id: str, due: GiftCardBatchItem, as_of: datetime, deadline: float) -> Counter:
    uow = UnitOfWork(ACTOR, program=program_id)
    batch = uow.gift_cards.batch(due.batch_id)
    if batch is None:
        return Counter()
    if batch.status == "generating":
        return generation.progress(uow, batch, deadline)
    if not batch.export_purged and generation.purge_export(uow, batch, as_of):
        return Counter(purged=1)
    return Counter()
