"""Stored value counters, written in the transaction whose money they count: a member's top-ups
today and uses of a bonus rule, a merchant's and a key's top-ups today, and each issuer's
outstanding prepaid money (what the issuance limit bounds).

One mechanism for all of them: an ``ADD`` on the counter item, conditioned (when the counter
has a limit and the amount adds to it) on the total still leaving room for the amount. The
condition is checked by the store at commit, so a burst of concurrent requests cannot pass a
limit that each of them alone respects: exactly the room is used, every later one is refused,
and a refused request changes nothing (its whole transaction fails). A retry that replays is
answered from its idempotency record and never adds again; a counter needs no read first (the
caller may read it for a friendlier message).

The issuer's counter is the prepaid money it holds: its liability accounts' credit balance
(members' principal, held or not, and the program's gift cards for ``program``; a merchant's
gift cards, and those voided but still owed to their buyer, for the merchant). It moves by the
lines of every posting the prepaid figures fold (so, once the stream has caught up, it equals
the figures exactly; the reconciliation compares them): top-ups, sales and redemptions add and
are refused past the limit; payments, cash-outs, card payments and pay-outs take away; a refund
of a payment adds back without a limit (what it restores was issued within the limit, and the
holder is owed it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.errors import Conflict, Problem
from chalicelib.stored_value.tables import SvCounterItem


class IssuanceLimit(Conflict):
    slug, title = "issuance-limit", "The issuer's prepaid limit would be exceeded"


PROGRAM_ISSUER = "program"
PROGRAM_ACCOUNTS = ("member:principal", "member:held_principal")


def add(uow: UnitOfWork, key: tuple[str, str], amount: int, limit: int | None,
        refusal: Callable[[], Problem]) -> None:
    """Stage ``amount`` more on the counter at ``key``; when ``limit`` is set and ``amount`` adds,
    on the condition that the total stays within it (else ``refusal`` at commit)."""
    condition = None
    if limit is not None and amount > 0:
        if amount > limit:
            raise refusal()
        condition = SvCounterItem.pk.does_not_exist() | (SvCounterItem.total <= limit - amount)
    uow.update(SvCounterItem(*key), [SvCounterItem.total.add(amount)], condition, on_conflict=refusal)


def total(uow: UnitOfWork, key: tuple[str, str]) -> int:
    """A counter's total now (consistent read)."""
    item = uow.get(SvCounterItem, key, consistent=True)
    return int(item.total or 0) if item is not None else 0


def issuer_of(account: str) -> str | None:
    """The issuer whose prepaid money a journal account holds (None: not prepaid money)."""
    if account in PROGRAM_ACCOUNTS:
        return PROGRAM_ISSUER
    for prefix in ("gift_cards:", "gift_cards_voided:"):
        if account.startswith(prefix):
            return account[len(prefix):]
    return None


def issued_key(issuer: str) -> tuple[str, str]:
    """The counter of an issuer's outstanding prepaid money."""
    return SvCounterItem.of("ISSUER", issuer, "OUTSTANDING")


def count_issued(uow: UnitOfWork, lines: Iterable[dict[str, Any]], limits: dict[str, int], *,
                 limited: bool = True) -> dict[str, int]:
    """Stage what a posting's ``lines`` change in each issuer's outstanding prepaid money; an
    increase is bounded by the issuer's limit unless ``limited`` is False (a refund). The
    changes, by issuer."""
    deltas: dict[str, int] = {}
    for line in lines:
        issuer = issuer_of(line["account"])
        if issuer is not None:
            deltas[issuer] = deltas.get(issuer, 0) - int(line["fen"])      # liabilities are credits
    for issuer, delta in sorted(deltas.items()):
        if delta == 0:
            continue
        limit = limits.get(issuer) if limited else None
        add(uow, issued_key(issuer), delta, limit, _refusal(uow, issuer, delta, limit))
    return deltas


def _refusal(uow: UnitOfWork, issuer: str, adding: int, limit: int | None) -> Callable[[], Problem]:
    def refuse() -> Problem:
        held = total(uow, issued_key(issuer))           # read only when refusing, for the message
        return IssuanceLimit(f"{issuer} holds {held} fen of prepaid money; {adding} more would pass its limit of "
                             f"{limit} fen", issuer=issuer, limit_fen=limit, outstanding_fen=held)
    return refuse
