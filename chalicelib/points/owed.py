"""Debt a refund recorded against the lots of its order (an account's ``owed_lots``): points it
found gone from a lot (held by a hold, or spent) are owed; when they come back to that lot (the
hold cancelled or lapsed, the spend's order refunded) they repay that debt first, whether or not
the lot has ended meanwhile, so a member never owes for points that came back unspent."""

from __future__ import annotations

import json
from typing import Any


def _read(owed_lots: str | None) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(owed_lots or "{}").items()}


def _write(owed: dict[str, int]) -> str | None:
    return json.dumps(owed, separators=(",", ":"), sort_keys=True) if owed else None


def note(owed_lots: str | None, lots: list[dict[str, Any]], points: int) -> str | None:
    """``owed_lots`` with ``points`` owed against the order's ``lots``, at most what each earned."""
    owed = _read(owed_lots)
    for lot in lots:
        part = min(int(lot["points"]), points)
        if part > 0:
            owed[lot["lot_id"]] = owed.get(lot["lot_id"], 0) + part
            points -= part
    return _write(owed)


def repay(owed_lots: str | None, lot_id: str, points: int, debt: int) -> tuple[int, str | None]:
    """What of ``points`` coming back to ``lot_id`` repays the debt owed against it (at most
    ``debt``, what the account still owes), and ``owed_lots`` after (nothing once no debt is left:
    earnings repaid the rest)."""
    owed = _read(owed_lots)
    paid = max(min(points, owed.get(lot_id, 0), debt), 0)
    owed[lot_id] = owed.get(lot_id, 0) - paid
    if owed[lot_id] <= 0:
        del owed[lot_id]
    return paid, _write(owed) if debt - paid > 0 else None
