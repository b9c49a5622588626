"""Where a posting files owed points in the liability by expiry month, with no I/O: read by the
projection (``projection.py``) and by the ledger, which keeps on the account what it has filed
under the account's rolling date (``rolling_owed``) so that a purchase moving the date moves
them with it, without reading the lots.

Lots with a last day of their own are filed under its month. Lots without one are filed under
``never``, or, when the posting names the account's rolling window (``rolling_until`` in its
data), under that window's month; when the posting moved the window (from ``rolling_from``), the
points filed before (``rolling_owed``) move from the old month to the new one.
"""

from __future__ import annotations

from typing import Any

NEVER = "never"


def by_own_expiry(data: dict[str, Any]) -> dict[str, int]:
    """Change in owed points per expiry month of each lot (``never`` for lots without a last day).
    Held points stay owed until confirmed."""
    kind = data["kind"]
    months: dict[str, int] = {}
    if kind in ("hold", "unlock"):       # unlock: pending -> available, still owed, same expiry
        return months
    lots: list[dict[str, Any]]
    if kind == "hold_released":
        # The held points stayed owed; only those that expired on their way back stop being owed.
        lots = [lot for lot in data["lots"] if lot.get("expired")]
    else:
        lots = (data.get("consumed") if kind == "hold_confirmed" else data["lots"]) or []
    for lot in lots:
        delta = -int(lot.get("points", 0)) if kind == "hold_confirmed" else int(lot["delta"])
        month = (lot.get("expires_on") or NEVER)[:7]
        months[month] = months.get(month, 0) + delta
    return months


def by_month(data: dict[str, Any]) -> dict[str, int]:
    """Change in owed points per expiry month, rolling windows included (see the module)."""
    months = by_own_expiry(data)
    if "rolling_until" in data:
        undated = months.pop(NEVER, 0)
        before, after = (data.get("rolling_from") or NEVER)[:7], (data["rolling_until"] or NEVER)[:7]
        moved = int(data.get("rolling_owed") or 0) if before != after else 0
        for month, delta in ((before, -moved), (after, moved + undated)):
            months[month] = months.get(month, 0) + delta
    return {m: v for m, v in months.items() if v}
