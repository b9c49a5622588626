"""A versioned account: one item whose ``version`` is the lock of every change to a balance.

A change reads the account, adds deltas to its buckets, and stages the account (on the condition
that the version is unchanged), one posting numbered ``version + 1`` and one event, in the unit
of work. So an account's changes are serialised, its postings are gap-free, and a request that
lost the race starts again from fresh state. Points use it today; stored value, gift cards and
coupon stock use the same class with their own buckets and item classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pynamodb.models import Model

from chalicelib.db.items import TableItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent


def _changed() -> ConcurrentUpdate:
    return ConcurrentUpdate("the account changed while the request ran; retry")


class VersionedAccount:
    """Deltas staged against one account item read at version ``read_version``.

    ``buckets`` are the balances (each posting records a ``<bucket>_delta``); ``totals`` are
    running counters kept on the account (earned, redeemed...) that postings need not carry.
    """

    def __init__(self, uow: UnitOfWork, item: Any, buckets: Sequence[str], totals: Sequence[str] = (),
                 on_conflict: Callable[[], ConcurrentUpdate] = _changed, stored: bool = False) -> None:
        """``stored``: the item exists even at version 0 (created before its first posting, as
        a gift card is); otherwise version 0 means an account not yet written."""
        self.uow, self.item, self.on_conflict, self.stored = uow, item, on_conflict, stored
        self.read_version = int(getattr(item, "version", 0) or 0)
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
        """The bucket as this change leaves it."""
        return int(getattr(self.item, bucket) or 0) + self.delta[bucket]

    def stage(self, posting: TableItem, event: DomainEvent) -> None:
        """Apply the deltas to the account and stage it, ``posting`` and ``event`` on the unit."""
        if self.staged:
            raise RuntimeError("an account is staged once per unit of work")
        self.staged = True
        item = self.item
        for name, d in (*self.delta.items(), *self.totals.items()):
            setattr(item, name, int(getattr(item, name) or 0) + d)
        item.version, item.updated_at = self.next_version, clock.iso(clock.now())
        model: Any = type(item)
        condition = (model.version == self.read_version if self.read_version or self.stored
                     else model._hash_key_attribute().does_not_exist())
        self.uow.save(item, condition, on_conflict=self.on_conflict)
        self.uow.create(posting, on_conflict=self.on_conflict)
        self.uow.emit(event)


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
