"""The points capability's service API: what its routes, its jobs and other capabilities call.

Each operation reads through ``uow.points``, stages its writes on the unit of work and returns
the reply; the endpoint wrapper commits everything (and the idempotency record) at once. The
work is done in modules by responsibility: ``program`` (rules), ``earning``, ``spending``,
``refunds``, ``accounts``; this module only names the public operations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.points.access import order_merchant
from chalicelib.points.accounts import account, adjust, balance, balance_keys, expire_lots, ledger_page
from chalicelib.points.earning import LimitReached, earn, record_behavior
from chalicelib.points.orders import OrderAlreadyEarned
from chalicelib.points.orders import of_member as list_orders
from chalicelib.points.orders import view as get_order
from chalicelib.points.program import get_rules, put_rules, rules_at
from chalicelib.points.refunds import RefundExceedsOrder, refund
from chalicelib.points.spending import HoldNotOpen, confirm_hold, get_hold, hold, redeem, release_hold
from chalicelib.points.tiering import TierAt, TierSource
from chalicelib.points.tiering import use as use_tiers

if TYPE_CHECKING:
    from chalicelib.points.reports import liability, reconciliation
    from chalicelib.points.schemas import Adjust

_LATER = {"Adjust": "chalicelib.points.schemas", "liability": "chalicelib.points.reports",
          "reconciliation": "chalicelib.points.reports"}


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """What a points request seldom needs (reports, the adjustment model), imported on first use."""
    if name in _LATER:
        import importlib
        return getattr(importlib.import_module(_LATER[name]), name)
    raise AttributeError(name)

__all__ = ["Adjust", "account", "adjust", "balance", "balance_keys", "expire_lots", "TierAt", "TierSource", "use_tiers", "ledger_page", "earn", "record_behavior", "get_rules", "put_rules", "rules_at",
           "liability", "reconciliation", "refund", "confirm_hold", "get_hold", "get_order", "list_orders",
           "order_merchant", "hold", "redeem", "release_hold", "HoldNotOpen", "LimitReached",
           "OrderAlreadyEarned", "RefundExceedsOrder"]
