"""Expiring top-up bonus, with no I/O: a short list of lots ``[{"expires": day, "fen": n}]`` kept on
the account item itself (so no operation reads more to honour it), and what a payment took from
them kept on the payment. This module is their stored form; the arithmetic is the shared lot
mechanism's (``ledger/lots.py``, :class:`~chalicelib.ledger.lots.KeptLot`).

* A top-up whose bonus rule sets ``valid_days`` adds a lot that can be used until ``expires``
  (the top-up's program date + ``valid_days``). Bonus of rules without it never expires.
* A lot is the member's through its last day. From the next day it has lapsed: a payment or a
  hold never takes it, and the bonus every read shows leaves it out (:func:`lapse`), whether or
  not the expiry job has run; the job only makes it permanent.
* Bonus spent (a payment, a confirmed hold) comes out of the lots still valid that expire
  soonest, then out of bonus that never expires: the member keeps the longest-lived bonus. What
  a payment took is kept on the payment, so a refund gives it back to the same lots (a lot whose
  day has passed meanwhile has lapsed again at once).
* Bonus held by an open checkout is still the member's; the lots cover bonus available and held.
  What has lapsed is taken from the bonus available only (``lots.lapsing``); if a hold has some
  of it, that waits until the hold is confirmed (spent: a hold taken while the lot was valid may
  spend it) or cancelled (then it lapses).
* Lots on one day are one lot; past :data:`MAX_LOTS` the latest two days merge into the later
  one (the member's favour).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from chalicelib.ledger import lots as L

MAX_LOTS = 60
Lots = list[dict[str, Any]]


def load(text: str | None) -> Lots:
    """The lots stored on an account, soonest first."""
    return sorted(json.loads(text or "[]"), key=lambda lot: str(lot["expires"]))


def dump(lots: Lots) -> str | None:
    """The lots as stored (None when there are none)."""
    kept = [lot for lot in lots if int(lot["fen"]) > 0]
    return json.dumps(kept, separators=(",", ":")) if kept else None


def _kept(lots: Lots) -> list[L.KeptLot]:
    return [L.KeptLot(str(lot["expires"]), int(lot["fen"])) for lot in lots]


def _stored(lots: list[L.KeptLot]) -> Lots:
    return [{"expires": lot.expires_on, "fen": lot.remaining} for lot in lots]


def add(lots: Lots, expires: date, fen: int) -> Lots:
    """``fen`` more bonus usable until ``expires``."""
    return _stored(L.keep(_kept(lots), expires.isoformat(), fen, MAX_LOTS)) if fen > 0 else lots


def take(lots: Lots, fen: int, today: date | None = None, unlotted: int = 0) -> tuple[Lots, Lots]:
    """Spend ``fen`` of bonus: (the lots left, what was taken from which lot). The lots still valid
    ``today`` go first, soonest first, then ``unlotted`` (bonus that never expires), then lapsed
    lots (``lots.take_kept``: only what a hold reserved while they were valid reaches them)."""
    left, taken = L.take_kept(_kept(lots), fen, today, unlotted)
    return _stored(left), _stored(taken)


def give_back(lots: Lots, taken: Lots, fen: int) -> tuple[Lots, Lots]:
    """A refund of ``fen`` of bonus: back to the lots it was taken from, the latest first (what
    was taken beyond them was bonus that never expires); (the lots, what is still taken)."""
    out, still = L.give_back_kept(_kept(lots), _kept(taken), fen, MAX_LOTS)
    return _stored(out), _stored(still)


def expired(lots: Lots, today: date) -> int:
    """The bonus in lots whose last day is before ``today``."""
    return L.expired_in(_kept(lots), today)


def expire(lots: Lots, today: date, fen: int) -> Lots:
    """Take ``fen`` (at most :func:`expired`) out of the expired lots, oldest first."""
    return _stored(L.expire_kept(_kept(lots), today, fen))


def lapse(lots: Lots, today: date, bonus: int) -> tuple[int, Lots]:
    """What of ``bonus`` (the bonus available) has lapsed by ``today``, and the lots as the expiry
    job would leave them: what a read shows, whatever the job has done."""
    fen = L.lapsing(expired(lots, today), bonus)
    return fen, expire(lots, today, fen)


def next_due(lots: Lots) -> date | None:
    """The first day some bonus has expired (the day after the soonest lot's last day)."""
    return L.next_due(_kept(lots))
