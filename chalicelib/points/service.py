"""The points capability's service API: what its routes, its jobs and other capabilities call.

Each operation reads through ``uow.points``, stages its writes on the unit of work and returns
the reply; the endpoint wrapper commits everything (and the idempotency record) at once. The
work is done in modules by responsibility: ``program`` (rules), ``earning``, ``spending``,
``refunds``, ``accounts``; this module only names the public operations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.points.access import order_merchant
    from chalicelib.points.accounts import (
        account,
        adjust,
        balance,
        balance_keys,
        growth_total,
        ledger_page,
        reset_growth,
    )
    from chalicelib.points.earning import LimitReached, earn, record_behavior
    from chalicelib.points.orders import OrderAlreadyEarned
    from chalicelib.points.orders import of_member as list_orders
    from chalicelib.points.orders import view as get_order
    from chalicelib.points.preview import preview as preview_earn
    from chalicelib.points.program import get_rules, put_rules, rules_at
    from chalicelib.points.projection import figures as points_figures
    from chalicelib.points.projection import project as points_figures_fold
    from chalicelib.points.refunds import RefundExceedsOrder, refund
    from chalicelib.points.reports import liability, reconciliation
    from chalicelib.points.rules import points_value_fen, redeem_limit_points
    from chalicelib.points.schemas import Adjust, EarnForOrder, Hold, Refund
    from chalicelib.points.spending import (
        HoldNotOpen,
        confirm_hold,
        get_hold,
        hold,
        hold_status,
        order_refunded,
        redeem,
        release_hold,
    )
    from chalicelib.points.tables import carried_fields as carried_posting
    from chalicelib.points.tiering import TierAt, TierSource
    from chalicelib.points.tiering import use as use_tiers

# Where each name lives: a request imports the module of the operation it runs, not all of them.
_WHERE = {
    "order_merchant": "access", "LimitReached": "earning", "earn": "earning", "record_behavior": "earning",
    "OrderAlreadyEarned": "orders", "list_orders": "orders:of_member", "get_order": "orders:view",
    "preview_earn": "preview:preview", "get_rules": "program", "put_rules": "program", "rules_at": "program", "points_figures": "projection:figures",
    "points_figures_fold": "projection:project", "RefundExceedsOrder": "refunds",
    "refund": "refunds", "points_value_fen": "rules", "redeem_limit_points": "rules", "liability": "reports", "reconciliation": "reports", "Adjust": "schemas",
    "EarnForOrder": "schemas", "Hold": "schemas", "Refund": "schemas",
    "TierAt": "tiering", "TierSource": "tiering", "use_tiers": "tiering:use", "carried_posting": "tables:carried_fields",
    **dict.fromkeys(("account", "adjust", "balance", "balance_keys", "reset_growth", "growth_total", "ledger_page"), "accounts"),
    **dict.fromkeys(("HoldNotOpen", "confirm_hold", "get_hold", "hold", "hold_status", "order_refunded", "redeem",
                    "release_hold"),
                   "spending"),
}


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """A public name of the points capability, imported from its module on first use."""
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib
    module, _, attribute = _WHERE[name].partition(":")
    value = getattr(importlib.import_module(f"chalicelib.points.{module}"), attribute or name)
    globals()[name] = value
    return value


__all__ = ["Adjust", "account", "adjust", "balance", "balance_keys", "reset_growth", "growth_total", "TierAt", "TierSource", "use_tiers", "ledger_page", "earn", "record_behavior", "get_rules", "put_rules", "rules_at", "preview_earn",
           "liability", "reconciliation", "refund", "confirm_hold", "get_hold", "get_order", "list_orders",
           "order_merchant", "hold", "redeem", "release_hold", "HoldNotOpen", "LimitReached",
           "OrderAlreadyEarned", "RefundExceedsOrder", "points_value_fen", "redeem_limit_points", "points_figures", "points_figures_fold", "EarnForOrder",
           "Hold", "hold_status", "order_refunded", "Refund", "carried_posting"]
