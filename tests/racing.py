"""Staged races on the in-memory fake: another request's write lands between a unit of work's
reads and its commit, exactly where DynamoDB would make the conditional write fail.

    fake = RacingBackend()                      # (the ``racing`` fixture installs one)
    fake.race(GiftCardItem, bump("version"))    # before the next transaction touching a card,
                                                # someone else changes that card
    api.call(...)                               # the service's condition fails: its
                                                # ``on_conflict`` answers (a retry, a 409...)
    assert fake.raced == 1

A race is a function of the stored raw item (DynamoDB's wire form, ``{"version": {"N": "3"}}``)
that changes it in place; :func:`bump` and :func:`put` make the usual ones. Only writes that
reach the backend are raced: a test sees exactly the window production has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.db.backend import Write
from chalicelib.db.memory import MemoryBackend

Raw = dict[str, Any]
Change = Callable[[Raw], None]


def bump(attribute: str = "version", by: int = 1) -> Change:
    """Another writer incremented a number (a version, a failure counter)."""
    def change(raw: Raw) -> None:
        raw[attribute] = {"N": str(int(raw.get(attribute, {"N": "0"})["N"]) + by)}
    return change


def put(attribute: str, wire: dict[str, Any]) -> Change:
    """Another writer set an attribute to a wire value (``{"S": "used"}``, ``{"N": "0"}``)."""
    def change(raw: Raw) -> None:
        raw[attribute] = wire
    return change


def appear(model: Any, **fields: Any) -> Callable[[Write], None]:  # noqa: ANN401
    """Another writer created the very item this write creates (``create`` races)."""
    def create(write: Write) -> None:
        item = type(write.item)(write.item.pk, write.item.sk, **fields) if fields else write.item
        RacingBackend.current.tables[MemoryBackend._table(item)][str(item.pk)][str(item.sk)] = item.serialize()
    return create


class RacingBackend(MemoryBackend):
    """The fake, with races armed per item class: before the next ``times`` transactions that
    write an item of ``model`` (whose key matches ``where``, if given), ``change`` is applied to
    the stored copy of that item (or ``create`` is called with the write, for an item that does
    not exist yet)."""

    current: RacingBackend

    def __init__(self) -> None:
        super().__init__()
        self.armed: list[dict[str, Any]] = []
        self.raced = 0
        RacingBackend.current = self

    def race(self, model: type, change: Change | None = None, *, times: int = 1,
             where: Callable[[str, str], bool] | None = None,
             create: Callable[[Write], None] | None = None) -> None:
        self.armed.append({"model": model, "change": change, "times": times, "where": where, "create": create})

    def write(self, writes: list[Write]) -> None:
        with self._lock:
            for plan in self.armed:
                if plan["times"] <= 0:
                    continue
                for w in writes:
                    if not isinstance(w.item, plan["model"]):
                        continue
                    pk, sk = str(w.item.pk), str(w.item.sk)
                    if plan["where"] is not None and not plan["where"](pk, sk):
                        continue
                    stored = self.tables[self._table(w.item)].get(pk, {}).get(sk)
                    if plan["create"] is not None:
                        plan["create"](w)
                    elif stored is not None and plan["change"] is not None:
                        plan["change"](stored)
                    else:
                        continue
                    plan["times"] -= 1
                    self.raced += 1
                    break
            super().write(writes)
