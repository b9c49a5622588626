"""Expiring top-up bonus, with no I/O: a short list of lots ``[{"expires": day, "fen": n}]`` kept on
the account item itself (so no operation reads more to honour it).

* A top-up whose bonus rule sets ``valid_days`` adds a lot that can be used until ``expires``
  (the top-up's program date + ``valid_days``). Bonus of rules without it never expires.
* Bonus spent (a payment, a confirmed hold) comes out of the lots that expire soonest, and out of
  bonus that never expires only when no lot is left: the member keeps the longest-lived bonus.
  What a payment took is kept on the payment, so a refund gives it back to the same lots (a lot
  whose day has passed meanwhile expires on the next run).
* Bonus held by an open checkout is still the member's; the lots cover bonus available and held.
  The expiry job takes what has expired from the bonus available; if a hold has some of it, the
  rest stays due until the hold is confirmed (spent) or cancelled (then expired).
* Lots on one day are one lot; past :data:`MAX_LOTS` the latest two days merge into the later
  one (the member's favour).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

MAX_LOTS = 60
Lots = list[dict[str, Any]]


def load(text: str | None) -> Lots:
    """The lots stored on an account, soonest first."""
    return sorted(json.loads(text or "[]"), key=lambda lot: str(lot["expires"]))


def dump(lots: Lots) -> str | None:
    """The lots as stored (None when there are none)."""
    kept = [lot for lot in lots if int(lot["fen"]) > 0]
    return json.dumps(kept, separators=(",", ":")) if kept else None


def add(lots: Lots, expires: date, fen: int) -> Lots:
    """``fen`` more bonus usable until ``expires``."""
    if fen <= 0:
        return lots
    day = expires.isoformat()
    out = [dict(lot) for lot in lots]
    same = next((lot for lot in out if lot["expires"] == day), None)
    if same is not None:
        same["fen"] = int(same["fen"]) + fen
    else:
        out.append({"expires": day, "fen": fen})
    out.sort(key=lambda lot: str(lot["expires"]))
    while len(out) > MAX_LOTS:
        last, before = out.pop(), out.pop()
        out.append({"expires": last["expires"], "fen": int(last["fen"]) + int(before["fen"])})
    return out


def take(lots: Lots, fen: int) -> tuple[Lots, Lots]:
    """Spend ``fen`` of bonus: (the lots left, what was taken from which lot), soonest first;
    what the lots do not cover is bonus that never expires."""
    out, taken, left = [dict(lot) for lot in lots], [], fen
    for lot in out:
        if left <= 0:
            break
        part = min(int(lot["fen"]), left)
        if part:
            lot["fen"] = int(lot["fen"]) - part
            taken.append({"expires": lot["expires"], "fen": part})
            left -= part
    return [lot for lot in out if int(lot["fen"]) > 0], taken


def give_back(lots: Lots, taken: Lots, fen: int) -> tuple[Lots, Lots]:
    """A refund of ``fen`` of bonus: back to the lots it was taken from, the latest first (what
    was taken beyond them was bonus that never expires); (the lots, what is still taken)."""
    out, still = [dict(lot) for lot in lots], [dict(t) for t in taken]
    left = fen
    for part in sorted(still, key=lambda t: str(t["expires"]), reverse=True):
        if left <= 0:
            break
        back = min(int(part["fen"]), left)
        part["fen"] = int(part["fen"]) - back
        out = add(out, date.fromisoformat(str(part["expires"])), back)
        left -= back
    return out, [t for t in still if int(t["fen"]) > 0]


def expired(lots: Lots, today: date) -> int:
    """The bonus in lots whose last day is before ``today``."""
    return sum(int(lot["fen"]) for lot in lots if str(lot["expires"]) < today.isoformat())


def expire(lots: Lots, today: date, fen: int) -> Lots:
    """Take ``fen`` (at most :func:`expired`) out of the expired lots, oldest first."""
    out, left = [dict(lot) for lot in lots], fen
    for lot in out:
        if left <= 0 or str(lot["expires"]) >= today.isoformat():
            break
        part = min(int(lot["fen"]), left)
        lot["fen"] = int(lot["fen"]) - part
        left -= part
    return [lot for lot in out if int(lot["fen"]) > 0]


def next_due(lots: Lots) -> date | None:
    """The first day some bonus has expired (the day after the soonest lot's last day)."""
    if not lots:
        return None
    return date.fromisoformat(str(lots[0]["expires"])) + timedelta(days=1)
