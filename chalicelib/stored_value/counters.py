"""Stored value counters, written in the transaction whose money they count: a member's top-ups
today and uses of a bonus rule, a merchant's and a key's top-ups today, and each issuer's
outstanding prepaid money (what the issuance limit bounds).

All of them are the shared counter of :mod:`chalicelib.ledger.counters` (an ``ADD`` bounded by
its limit at commit, as the points caps are). A retry that replays is answered from its
idempotency record and never adds again; a counter needs no read first (the caller may read it
for a friendlier message).

The issuer's counter is the prepaid money it holds: its liability accounts' credit balance
(members' principal, held or not, and the program's gift cards for ``program``; a merchant's
gift cards, and those voided but still owed to their buyer, for the merchant). It moves by the
lines of every posting the prepaid figures fold (so, once the stream has caught up, it equals
the figures exactly; the reconciliation compares them), kept as what flowed in on one item and
what flowed out on shards (:func:`count_issued`): top-ups, sales and redemptions add and
are refused past the limit; payments, cash-outs, card payments and pay-outs take away; a refund
of a payment adds back without a limit (what it restores was issued within the limit, and the
holder is owed it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters as shared
from chalicelib.shared.errors import Conflict, Problem
from chalicelib.stored_value.tables import SvCounterItem


class IssuanceLimit(Conflict):
    slug, title = "issuance-limit", "The issuer's prepaid limit would be exceeded"


PROGRAM_ISSUER = "program"
PROGRAM_ACCOUNTS = ("member:principal", "member:held_principal")


def add(uow: UnitOfWork, key: tuple[str, str], amount: int, limit: int | None,
        refusal: Callable[[], Problem]) -> None:
    """Stage ``amount`` more on the counter at ``key``, within ``limit`` (:func:`shared.add`)."""
    shared.add(uow, SvCounterItem(*key), amount, limit, refusal)


def total(uow: UnitOfWork, key: tuple[str, str]) -> int:
    """A counter's total now (consistent read)."""
    return shared.total(uow, SvCounterItem, key)


def issuer_of(account: str) -> str | None:
    """The issuer whose prepaid money a journal account holds (None: not prepaid money)."""
    if account in PROGRAM_ACCOUNTS:
        return PROGRAM_ISSUER
    for prefix in ("gift_cards:", "gift_cards_voided:", "gift_cards_held:"):
        if account.startswith(prefix):
            return account[len(prefix):]
    return None


OUTFLOW_SHARDS = 8


def issued_key(issuer: str) -> tuple[str, str]:
    """The counter of what flowed into an issuer's prepaid money (top-ups, sales, redemptions, refunds)."""
    return SvCounterItem.of("ISSUER", issuer, "IN")


def outflow_keys(issuer: str) -> list[tuple[str, str]]:
    """The shards of what flowed out of it (payments, cash-outs, card payments, pay-outs)."""
    return [SvCounterItem.of("ISSUER", issuer, f"OUT#{k}") for k in range(OUTFLOW_SHARDS)]


def outstanding(uow: UnitOfWork, issuer: str) -> int:
    """The prepaid money an issuer holds now, by its counters (in minus every outflow shard)."""
    keys = [issued_key(issuer), *outflow_keys(issuer)]
    uow.prefetch([(SvCounterItem, k) for k in keys])
    return total(uow, keys[0]) - sum(total(uow, k) for k in keys[1:])


def count_issued(uow: UnitOfWork, lines: Iterable[dict[str, Any]], limits: dict[str, int], *,
                 limited: bool = True, spread: str = "") -> dict[str, int]:
    """Stage what a posting's ``lines`` change in each issuer's outstanding prepaid money; an
    increase is bounded by the issuer's limit unless ``limited`` is False (a refund). The
    changes, by issuer.

    Money flowing out is the hot path (every payment of the program): it goes to one of
    :data:`OUTFLOW_SHARDS` items chosen by ``spread`` (the member or card), unconditioned, so
    payments never contend on one item. Money flowing in adds to the issuer's one ``IN`` item,
    on the condition that ``IN`` minus the outflow read just before stays within the limit:
    outflows only grow, so one committed meanwhile only makes the check stricter, never lets it
    pass the limit."""
    deltas: dict[str, int] = {}
    for line in lines:
        issuer = issuer_of(line["account"])
        if issuer is not None:
            deltas[issuer] = deltas.get(issuer, 0) - int(line["fen"])      # liabilities are credits
    for issuer, delta in sorted(deltas.items()):
        if delta < 0:
            shard = zlib.crc32(f"{issuer}#{spread}".encode()) % OUTFLOW_SHARDS
            add(uow, outflow_keys(issuer)[shard], -delta, None, _refusal(uow, issuer, delta, None))
            continue
        limit = limits.get(issuer) if limited else None
        if delta == 0:
            continue
        if limit is None:
            add(uow, issued_key(issuer), delta, None, _refusal(uow, issuer, delta, None))
            continue
        shards = outflow_keys(issuer)
        uow.prefetch([(SvCounterItem, k) for k in shards])
        out = sum(total(uow, k) for k in shards)
        add(uow, issued_key(issuer), delta, limit + out, _refusal(uow, issuer, delta, limit))
    return deltas


def _refusal(uow: UnitOfWork, issuer: str, adding: int, limit: int | None) -> Callable[[], Problem]:
    def refuse() -> Problem:
        uow.forget()                                    # read afresh, for the message only
        held = outstanding(uow, issuer)
        return IssuanceLimit(f"{issuer} holds {held} fen of prepaid money; {adding} more would pass its limit of "
                             f"{limit} fen", issuer=issuer, limit_fen=limit, outstanding_fen=held)
    return refuse
