"""A versioned account: one item whose ``version`` is the lock of every change to a balance.

A change reads the account, adds deltas to its buckets, and stages the account (on the condition
that the version is unchanged), one posting numbered ``version + 1`` and one event, in the unit
of work. So an account's changes are serialised, its postings are gap-free, and a request that
lost the race starts again from fresh state. Points, stored value and gift cards use it, each
with its own buckets and item classes; :class:`JournalAccount` is the one way they say what a
posting records (kind, amount, lines, who and under which key), so a new money store (coupons)
writes only its own fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pynamodb.models import Model

from chalicelib.db.items import TableItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger.journal import Journal
from chalicelib.ledger.postings import day_keys
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.ids import new_id

P = TypeVar("P", bound=TableItem)


class VersionedAccount:
    """Deltas staged against one account item read at version ``read_version``.

    ``buckets`` are the balances (each posting records a ``<bucket>_delta``); ``totals`` are
    running counters kept on the account (earned, redeemed...) that postings need not carry.
    """

    def __init__(self, uow: UnitOfWork, item: Any, buckets: Sequence[str], totals: Sequence[str] = (),
                 on_conflict: Callable[[], ConcurrentUpdate] = changed("the account"),
                 stored: bool = False) -> None:
        """``stored``: the item exists even at version 0 (created before its first posting, as
        a gift card is); otherwise version 0 means an account not yet written."""
        self.uow, self.item, self.on_conflict, self.stored = uow, item, on_conflict, stored
        self.read_version = int(getattr(item, "version", 0) or 0)
        self.read = {name: int(getattr(item, name) or 0) for name in buckets}    # what the deltas add to
        self.delta: dict[str, int] = dict.fromkeys(buckets, 0)
        self.totals: dict[str, int] = dict.fromkeys(totals, 0)
        self.staged = False

    @property
    def next_version(self) -> int:
        """The version this change commits, and so the sequence number of its posting."""
        return self.read_version + 1

    def move(self, bucket: str, amount: int) -> None:
        """Add ``amount`` (negative to take) to ``bucket``."""
        self.delta[bucket] += amount

    def count(self, total: str, amount: int) -> None:
        """Add ``amount`` to the running ``total``."""
        self.totals[total] += amount

    def balance(self, bucket: str) -> int:
        """The bucket as this change leaves it: as read plus the deltas (the same before and after
        :meth:`stage`, which writes the deltas onto the item)."""
        return self.read[bucket] + self.delta[bucket]

    def stage(self, posting: TableItem, event: DomainEvent) -> None:
        """Apply the deltas to the account and stage it, ``posting`` and ``event`` on the unit."""
        if self.staged:
            raise RuntimeError("an account is staged once per unit of work")
        self.staged = True
        item = self.item
        for name, d in (*self.delta.items(), *self.totals.items()):
            setattr(item, name, int(getattr(item, name) or 0) + d)
        item.updated_at = clock.iso(clock.now())
        self.put()
        self.record(posting)
        self.uow.emit(event)

    def record(self, posting: TableItem) -> None:
        """Stage the posting, an item of its own (points and growth of one change share one:
        points/folded.py)."""
        self.uow.create(posting, on_conflict=self.on_conflict)

    def put(self) -> None:
        """Stage the account item as the next version (a store whose item holds two accounts
        says how it is locked: points/folded.py)."""
        self.uow.save_versioned(self.item, self.read_version, self.on_conflict, stored=self.stored)


class JournalAccount(VersionedAccount):
    """A versioned account whose every change is one posting and one event, said the same way
    by every money store: a kind, an amount, the double-entry lines of :attr:`journal` (stored
    value, gift cards; points record their lots instead), a reason, the merchant and store whose
    business it is, and the event's type and data. Who acted and under which Idempotency-Key
    are the unit of work's (:attr:`UnitOfWork.actor`, :attr:`UnitOfWork.idempotency_key`), so a
    posting and its event always name the same actor. The capability adds the fields of its own
    posting item (its key, lots or lines, its reference)."""

    def __init__(self, uow: UnitOfWork, item: Any, buckets: Sequence[str], totals: Sequence[str] = (),
                 on_conflict: Callable[[], ConcurrentUpdate] = changed("the account"),
                 stored: bool = False) -> None:
        super().__init__(uow, item, buckets, totals, on_conflict, stored)
        self.journal = Journal()
        self.posting_id = new_id()          # known before staging: the event that reports it names it

    def post(self, model: type[P], key: tuple[str, str], kind: str, amount: int, *, balance_after: int,
             event_type: str, subject: str, data: dict[str, Any], reason: str | None = None,
             merchant_id: str | None = None, store_id: str | None = None, **fields: Any) -> P:
        """Stage the account, one posting of ``model`` at ``key`` (the common fields, each
        bucket's ``<bucket>_delta`` and the capability's ``fields``) and one event of
        ``event_type`` on ``subject`` with ``data``; the posting."""
        make: Any = model
        posting: P = make(*key, posting_id=self.posting_id, kind=kind, amount=amount, balance_after=balance_after,
                     **{f"{bucket}_delta": d for bucket, d in self.delta.items()}, reason=reason,
                     actor=self.uow.actor, idempotency_key=self.uow.idempotency_key, merchant_id=merchant_id,
                     store_id=store_id, created_at=clock.iso(clock.now()), **fields)
        ledger = getattr(model, "day_ledger", None)
        if ledger:          # listed under its day, for exports of a period (ledger/postings.py)
            p: Any = posting
            p.gsi1pk, p.gsi1sk = day_keys(ledger, clock.program_date().isoformat(), p.created_at, self.posting_id)
        if store_id is not None and "store_id" not in data:     # the till's store, for whoever reads the event
            data = {**data, "store_id": store_id}
        self.stage(posting, DomainEvent(event_type, subject, data, merchant_id=merchant_id))
        return posting


def reconcile(state: Mapping[str, int], postings: Iterable[Model], buckets: Sequence[str]) -> dict[str, Any]:
    """Check an account against its postings: each bucket equals the sum of its deltas, the
    postings are gap-free (one per version) and no bucket is negative."""
    sums = dict.fromkeys(buckets, 0)
    count = 0
    for posting in postings:
        count += 1
        for bucket in buckets:
            sums[bucket] += int(getattr(posting, f"{bucket}_delta"))
    checks = {f"{b} = postings": state[b] == sums[b] for b in buckets}
    checks["postings are gap-free"] = count == state["version"]
    checks["nothing negative"] = min(state[b] for b in buckets) >= 0
    return {"sums": sums, "postings": count, "checks": checks}
