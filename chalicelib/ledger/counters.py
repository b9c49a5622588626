"""Counters written in the transaction whose change they count, bounded by a limit: a member's
points earned today or this month and uses of a behaviour, stored value top-ups today, uses of
a bonus rule, an issuer's outstanding prepaid money.

One mechanism for every money store: an ``ADD`` on the counter item, conditioned (when the
counter has a limit and the amount adds to it) on the total still leaving room for the amount.
The store checks the condition at commit, so a burst of concurrent requests cannot pass a limit
that each of them alone respects: exactly the room is used, and every later one gets
``refusal`` (a refused request changes nothing: its whole transaction fails). A counter needs no
read first. A caller that decided from what it read (points clamp what an order earns to what
the cap leaves) adds on the condition that the total is still what it read: any change meanwhile
is its ``refusal``, a :class:`~chalicelib.shared.errors.ConcurrentUpdate` that makes the
endpoint read it afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import Problem


def add(uow: UnitOfWork, counter: Any, amount: int, limit: int | None, refusal: Callable[[], Problem],
        also: Sequence[Action] = (), read: int | None = None) -> None:
    """Stage ``amount`` more on ``counter`` (an item with a numeric ``total``, at its key; created
    by the first add) and the actions ``also``; when ``limit`` is set and ``amount`` adds, on the
    condition that the total stays within it, or, given ``read``, that the total is still what was
    read (else ``refusal`` at commit)."""
    model: Any = type(counter)
    absent = model._hash_key_attribute().does_not_exist()
    if read is None and limit is not None and amount > limit:
        raise refusal()

    def condition(sums: dict[str, int]) -> Any:
        if read is not None:
            return model.total == read if read else absent
        added = sums["total"]
        if limit is not None and added > 0:
            if added > limit:                  # with what this unit added before: refused at once
                raise refusal()
            return absent | (model.total <= limit - added)
        return None
    uow.add(counter, {"total": amount}, condition, also, on_conflict=refusal)


def total(uow: UnitOfWork, model: Any, key: tuple[str, str]) -> int:
    """A counter's total now (consistent read; 0 when never added to)."""
    item = uow.get(model, key, consistent=True)
    return int(item.total or 0) if item is not None else 0
