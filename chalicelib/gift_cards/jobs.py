"""Scheduled gift card work.

* ``gift-card-batches`` (every 5 minutes): generates the chunks of batches being generated, until
  the run's deadline (:func:`chalicelib.jobs.budget`; its continuation carries on), and deletes exports of secrets whose URL
  has expired or that nobody fetched in time, and announces a batch's expiry the day after its
  last day (``gift_card.batch_expired``). It reads only the batches that are due.
* ``gift-card-reconcile`` (hourly): the next page of every ready batch's cards against their
  postings and lines, from where the last run stopped (every card within a period, whatever the
  program's size: :func:`chalicelib.gift_cards.reconcile.next_pages`), each batch's sales against
  its sale ranges, and per issuer against the prepaid figures when a run read every card; a card
  or batch that does not add up emits ``gift_card.reconciliation_failed``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from chalicelib.db import backend
from chalicelib.db.due import current_slice, due_items, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import generation, reconcile, repository
from chalicelib.gift_cards.tables import GiftCardBatchItem
from chalicelib.jobs import job
from chalicelib.ledger import reconciliation
from chalicelib.programs.service import served
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent

ACTOR = "job:gift-card-batches"


@job("gift-card-batches")
def batches(as_of: datetime) -> dict[str, Any]:
    """Generate what is pending, the smallest batches first (a store waiting for a few cards is not
    held up by a batch of 100,000), purge expired exports and announce expired batches."""
    work = current_slice()
    due = sorted(due_items(backend.current(), GiftCardBatchItem, "gc-batch", as_of),
                 key=lambda d: (d[1].status != "generating", int(d[1].chunks) - int(d[1].chunks_done or 0)))
    run = run_due(due,
                  lambda due, _: _handle(due[0], due[1], as_of, work.ends_at), lambda due: f"{due[0]}/{due[1].batch_id}",
                  "gift-card-batches")
    if work.stopped or run.counts["stopped_at_deadline"]:
        work.again("gc-batch")          # the items were read to be sorted, not all handled: read them again
    return {"items_read": run.items_read, "chunks_generated": run.counts["chunks"],
            "batches_ready": run.counts["batches_ready"], "exports_purged": run.counts["purged"],
            "batches_expired": run.counts["expired"],
            "stopped_at_deadline": work.stopped, **run.give_ups()}


def _handle(program_id: str, due: GiftCardBatchItem, as_of: datetime, deadline: float) -> Counter:
    uow = UnitOfWork(ACTOR, program=program_id)
    batch = repository.of(uow).batch(due.batch_id)
    if batch is None:
        return Counter()
    if batch.status == "generating":
        return generation.progress(uow, batch, deadline)
    if not batch.export_purged:
        return Counter(purged=1) if generation.purge_export(uow, batch, as_of) else Counter()
    if generation.announce_expiry(uow, batch, clock.program_date(as_of)):
        return Counter(expired=1)
    return Counter()


@job("gift-card-reconcile")
def reconcile_all(as_of: datetime) -> dict[str, Any]:
    """Prove the next page of every batch of every program; report (and announce) any difference."""
    actor = "job:gift-card-reconcile"
    return reconciliation.every_program(
        actor, served(UnitOfWork(actor)), reconcile.next_pages, "cards_checked",
        lambda result: DomainEvent("gift_card.reconciliation_failed", "program:gift_cards", {
            "day": clock.program_date(as_of).isoformat(),
            "batches": [m["batch_id"] for m in result["mismatches"]],
            "cards": [c["card_number"] for m in result["mismatches"] for c in m["mismatches"]]}),
        mismatched="cards_mismatched")
