"""Applied once per reference: an external payment (a top-up's, a membership purchase's) moves
money once, whatever number of requests name it.

The record of a reference is created in the transaction of the change it pays for, on the
condition that it does not exist, so two requests with one reference cannot both apply it: the
loser's retry reads the record and answers as a replay. A reference named again with other
facts (another member, amount or plan) is refused: a payment reference is not reusable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chalicelib.db.items import TableItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import ConcurrentUpdate, Problem

R = TypeVar("R", bound=TableItem)


def applied(uow: UnitOfWork, model: type[R], key: tuple[str, str], facts: Mapping[str, Any],
            reused: Callable[[], Problem]) -> R | None:
    """The record of the reference at ``key`` if it was applied already with these ``facts``
    (a replay: the caller answers what it did), None if never; ``reused()`` is raised when it
    was applied with other facts."""
    seen = uow.get(model, key, consistent=True)
    if seen is None:
        return None
    if any(_plain(getattr(seen, name), value) != value for name, value in facts.items()):
        raise reused()
    return seen


def apply(uow: UnitOfWork, record: TableItem, ref: str, taken: Callable[[], Problem] | None = None) -> None:
    """Stage the record of ``ref`` with the change it pays for: created once. A concurrent
    request that applied it first makes this one retry, and replay; with ``taken``, a reference
    that may not be named twice (a behaviour rewarded once per ref) is refused instead."""
    uow.create(record, on_conflict=taken or (lambda: ConcurrentUpdate(f"payment {ref} was just applied; retry")))


def _plain(stored: Any, like: Any) -> Any:
    """A stored number as the type of the fact it is compared with."""
    return int(stored) if isinstance(like, int) and stored is not None else stored
