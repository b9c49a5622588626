"""Proof that gift cards add up to the fen: per card, per batch and per issuer.

For a card: what was used equals the sum of its postings (the shared ledger check: gap-free, one
per version, nothing negative), never more than its face value, and equals spent - refunded +
redeemed + voided + breakage + held (what open holds reserve, which equals its hold postings less
those confirmed or released), and what was paid out of a void never passes it; every posting's lines balance and move exactly what the posting took. For a batch: the
face value of the cards sold equals the sales' face value, and what its sold cards still hold
is its outstanding value. In total, per issuer: the outstanding value of every batch equals
the issuer's liability account in the prepaid figures, and what its voided cards still owe their
buyers its ``gift_cards_voided:<issuer>`` account, and what open holds reserve on its cards its
``gift_cards_held:<issuer>`` account (once the stream has folded the day's
movements in). Reading every card is O(cards): an audit (a job and an HQ endpoint). The index
listings only name the batches and cards: each is read by key, consistently, since an index copy
may lag what the postings already show.

At scale (#24 item 8) no run reads every card: the ``gift-card-reconcile`` job checks the next
page of every ready batch's cards from where the last run stopped (:func:`next_pages`, the
cursor of :mod:`chalicelib.ledger.reconciliation`: one per batch, its shard is the batch
number), so every card listed when a batch's pass starts is checked once in that pass. A batch
read in parts checks its sales against its sale ranges (the serials they hold, less the unsold
cards voided, at the batch's face value) instead of against cards read at different times; the
issuers are compared with the figures only when a run (or the endpoint) read every card of the
program at once (a small program). The endpoint (:func:`everything`) checks the first cards up
to a limit or its deadline, and shows the job's progress.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import cards as C
from chalicelib.gift_cards import repository
from chalicelib.gift_cards.holds import held
from chalicelib.gift_cards.service import liability, voided
from chalicelib.gift_cards.tables import GiftCardBatchItem, GiftCardItem
from chalicelib.ledger import reconciliation
from chalicelib.ledger.account import reconcile
from chalicelib.ledger.journal import balanced
from chalicelib.shared import clock, deadline
from chalicelib.stored_value import service as stored_value

MISMATCHES_REPORTED = 50
LEDGER = "gift_cards"     # the job's cursor: one per batch (its shard is the batch number)
ENDPOINT_CARDS = 5_000    # cards the endpoint checks at most (each is a Query of its postings)
HOLD_KINDS = {"hold": 1, "hold_confirmed": -1, "hold_released": -1}       # what each posting does to ``held``


def card(uow: UnitOfWork, item: GiftCardItem) -> dict[str, Any]:
    """Every check of one card."""
    postings = list(repository.of(uow).postings(item.number))
    state = {"used": int(item.used or 0), "version": int(item.version or 0)}
    ledger = reconcile(state, postings, ("used",))
    lines = [json.loads(p.entries) for p in postings]
    held_fen = int(item.held or 0)
    checks = {**ledger["checks"],
              "used <= face value": state["used"] <= int(item.face_value_fen),
              "used = spent - refunded + redeemed + voided + breakage + held": state["used"] == int(item.spent or 0)
              - int(item.refunded or 0) + int(item.redeemed or 0) + int(item.voided_fen or 0)
              + int(item.breakage or 0) + held_fen,
              "held = holds posted": held_fen == sum(HOLD_KINDS.get(p.kind, 0) * int(p.amount) for p in postings),
              "voided paid out <= voided": 0 <= int(item.voided_paid or 0) <= int(item.voided_fen or 0),
              "every posting balances": all(balanced(x) for x in lines),
              "lines = what was taken": all(sum(int(e["fen"]) for e in x if int(e["fen"]) > 0) == int(p.amount)
                                            for x, p in zip(lines, postings, strict=True))}
    return {"card_number": item.number, "used": state["used"], "balanced": all(checks.values()), "checks": checks}




@dataclass
class _Tally:
    """What the cards of one batch checked so far add up to."""

    batch: GiftCardBatchItem
    ranges: C.Ranges
    unsold_voids: set[int]
    today: date
    checked: int = 0
    outstanding: int = 0
    owed: int = 0
    reserved: int = 0
    sold_face: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, uow: UnitOfWork, b: GiftCardBatchItem) -> _Tally:
        """The batch's sale ranges and unsold voids, read once (consistently) for all its cards."""
        voids = b.legacy_voided() | {int(v.serial) for v in repository.of(uow).voids(b.batch_id)}
        return cls(b, C.Ranges(uow, b), voids, clock.program_date())

    def add(self, uow: UnitOfWork, number: str, item: GiftCardItem | None) -> dict[str, Any]:
        """Check card ``number`` as stored (``item``: None when the listing names a card not stored)."""
        self.checked += 1
        if item is None:
            result = {"card_number": number, "used": 0, "balanced": False, "checks": {"card is stored": False}}
            self.mismatches.append(result)
            return result
        item = self.ranges.resolve(item)
        result = card(uow, item)
        if not result["balanced"]:
            self.mismatches.append(result)
        if self.ranges.covering(int(item.serial)) is not None and int(item.serial) not in self.unsold_voids:
            self.sold_face += int(item.face_value_fen)
            if C.state(item, self.batch, self.today) != "voided":
                self.outstanding += C.balance(item)
        self.owed += int(item.voided_fen or 0) - int(item.voided_paid or 0)
        self.reserved += int(item.held or 0)
        return result

    def sold_by_ranges(self) -> int:
        """The face value the sale ranges sold: their serials, less the unsold cards voided in them."""
        serials = sum(int(s["last"]) - int(s["first"]) + 1 for s in self.ranges.sales)
        skipped = sum(1 for v in self.unsold_voids if self.ranges.covering(v) is not None)
        return (serials - skipped) * int(self.batch.face_value_fen)

    def result(self, whole: bool) -> dict[str, Any]:
        """The batch's proof; its sales against its cards when ``whole`` (every card read here),
        against its sale ranges otherwise."""
        b = self.batch
        sold = self.sold_face if whole else self.sold_by_ranges()
        checks = {"sold cards = sales": sold == int(b.sold_fen or 0), "every card balances": not self.mismatches}
        return {"batch_id": b.batch_id, "issuer": liability(b), "cards_checked": self.checked,
                "outstanding_fen": self.outstanding, "voided_account": voided(b), "voided_owed_fen": self.owed,
                "held_account": held(b), "held_fen": self.reserved, "balanced": all(checks.values()),
                "checks": checks, "mismatches": self.mismatches[:MISMATCHES_REPORTED]}


def batch(uow: UnitOfWork, b: GiftCardBatchItem) -> dict[str, Any]:
    """Every card of a batch, and the batch's sales against its cards."""
    tally = _Tally.of(uow, b)
    for number, item in _stored(uow, repository.of(uow).cards_of(b.batch_id)):
        tally.add(uow, number, item)
    return tally.result(whole=True)


def everything(uow: UnitOfWork, limit: int = ENDPOINT_CARDS) -> dict[str, Any]:
    """The first ``limit`` cards of the ready batches, newest batch first (the endpoint: it stops
    earlier at its deadline), each issuer against the figures when that was every card, and where
    the job's pass is."""
    batches, read, checked = _ready(uow), [], 0
    for b in sorted(batches.values(), key=lambda b: -int(b.batch_no)):
        tally, complete = _Tally.of(uow, b), True
        for number, item in _stored(uow, repository.of(uow).cards_of(b.batch_id)):
            if checked >= limit or deadline.left() <= 0:
                complete = False
                break
            tally.add(uow, number, item)
            checked += 1
        if tally.checked or complete:
            read.append((tally, complete))
        if not complete:
            return _proof(uow, read, False, batches)
    return _proof(uow, read, True, batches)


def next_pages(uow: UnitOfWork, page: int | None = None) -> dict[str, Any]:
    """The job: the next ``page`` cards of every ready batch from where the last run stopped
    (every card within a period, :mod:`chalicelib.ledger.reconciliation`); each issuer against
    the figures when the run read every card of the program."""
    batches, tallies = _ready(uow), {}
    repo = repository.of(uow)

    def listing(shard: int, after: str | None, n: int) -> list[tuple[str, tuple[int, str, GiftCardItem | None]]]:
        listed = list(repo.cards_of(batches[shard].batch_id, after, n))
        stored = dict(_stored(uow, iter(listed)))
        return [(str(c.gsi1sk), (shard, c.number, stored.get(c.number))) for c in listed]

    def check(entry: tuple[int, str, GiftCardItem | None]) -> dict[str, Any]:
        shard, number, item = entry
        if shard not in tallies:
            tallies[shard] = _Tally.of(uow, batches[shard])
        return tallies[shard].add(uow, number, item)

    run = reconciliation.next_pages(uow, LEDGER, sorted(batches), listing, check, page)
    return _proof(uow, [(t, False) for t in tallies.values()], run.whole, batches)


def _ready(uow: UnitOfWork) -> dict[int, GiftCardBatchItem]:
    """The program's batches whose cards are all generated, by batch number, each read by key (the
    listing names them)."""
    repo = repository.of(uow)
    stored = (repo.batch(listed.batch_id) for listed in repo.batches(None))
    return {int(b.batch_no): b for b in stored if b is not None and b.status == "ready"}


def _stored(uow: UnitOfWork, listed: Iterator[GiftCardItem]) -> Iterator[tuple[str, GiftCardItem | None]]:
    """Each listed card (an index copy: it names the card) as stored, read by key a page at a time
    (a consistent BatchGetItem), so an index that lags is never what is compared."""
    while page := list(islice(listed, repository.BATCH_READ)):
        found = {c.number: c for c in uow.get_many(GiftCardItem, [GiftCardItem.key(i.number) for i in page]) if c}
        yield from ((i.number, found.get(i.number)) for i in page)


def _proof(uow: UnitOfWork, tallies: list[tuple[_Tally, bool]], whole: bool,
           batches: dict[int, GiftCardBatchItem]) -> dict[str, Any]:
    """The batches' proofs and, when ``whole`` (every card of the program read), each issuer's
    accounts against the prepaid figures; where the job's pass is."""
    results = [t.result(read_whole) for t, read_whole in tallies]
    by_issuer: dict[str, int] = {}
    for result in results:
        by_issuer[result["issuer"]] = by_issuer.get(result["issuer"], 0) + result["outstanding_fen"]
        if result["voided_owed_fen"]:                # voided cards' balances still owed to their buyers
            by_issuer[result["voided_account"]] = by_issuer.get(result["voided_account"], 0) + result["voided_owed_fen"]
        if result["held_fen"]:                       # reserved by open holds
            by_issuer[result["held_account"]] = by_issuer.get(result["held_account"], 0) + result["held_fen"]
    issuers: dict[str, dict[str, Any]] = {}
    if whole:                                        # a part of the cards says nothing of the totals
        figures = stored_value.figure_balances(uow)
        issuers = {account: {"cards_fen": fen, "figures_fen": -figures.get(account, 0),
                             "agree": fen == -figures.get(account, 0)} for account, fen in sorted(by_issuer.items())}
    return {"batches_checked": len(results), "cards_checked": sum(r["cards_checked"] for r in results),
            "cards_mismatched": sum(len(t.mismatches) for t, _ in tallies),
            "balanced": all(r["balanced"] for r in results), "issuers": issuers,
            "figures_agree": whole and all(i["agree"] for i in issuers.values()), "whole": whole,
            "mismatches": [r for r in results if not r["balanced"]][:MISMATCHES_REPORTED],
            "progress": reconciliation.progress(uow, LEDGER, sorted(batches))}
