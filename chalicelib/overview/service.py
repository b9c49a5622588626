"""One read for the member's screen (and the staff's member page): the items every part needs
are fetched in one batch, then tiers, benefits and tasks each answer from what was read. And the
members list with each row's balances: the page's items read by key, in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.benefits import service as benefits
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.orders import service as orders
from chalicelib.points import service as points
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as stored_value
from chalicelib.tasks import service as tasks
from chalicelib.tiers import service as tiers

if TYPE_CHECKING:
    from chalicelib.overview.schemas import ListMembersQuery

BATCH = 100          # keys in one BatchGetItem (DynamoDB's limit)


def overview(uow: UnitOfWork, member_id: str, by: Principal) -> dict[str, Any]:
    """Tier and plan (validity, growth, what the next tier and keeping this one need), the tasks
    with their progress, and the benefits with the best of each kind: one DynamoDB request."""
    own, wanted = members.record_key(member_id, by)
    uow.prefetch([*wanted, *tiers.member_keys(own), *tasks.progress_keys(uow, own)])
    tier = tiers.member_tier(uow, member_id, by)
    perks = benefits.member_benefits(uow, member_id, by)
    goals = tasks.member_tasks(uow, member_id, by)
    return {"member_id": tier["member_id"], "tier": tier, "benefits": {k: perks[k] for k in
            ("benefits", "best", "next_tier", "rules_version")}, "tasks": goals["tasks"]}


def members_page(uow: UnitOfWork, by: Principal, q: ListMembersQuery) -> dict[str, Any]:
    """The members a merchant registered in the period (``members.listing``: the caller sees only
    what it may list), and with ``include=balances`` each row's tier, points, stored value and spend
    at the merchant. Those are four items a member, read by key in batches of :data:`BATCH` (a page
    of at most 50 members: at most two BatchGetItems), whatever the members' histories, eventually
    consistent (half a unit an item: a list shown, as the listing's own index reads are)."""
    page = members.listing(uow, by, q.merchant_id, q.start, q.end, q.after, q.limit, q.store_id, q.stage)
    rows = [{**m, "balances": None} for m in page["members"]]
    if q.include == "balances":
        merchant = page["merchant_id"]
        active = [row for row in rows if row["status"] == "active"]       # a member merged away holds nothing
        wanted = [key for row in active for key in _balance_keys(row["member_id"], merchant)]
        for start in range(0, len(wanted), BATCH):          # eventually consistent: a list shown, half the units
            uow.prefetch(wanted[start:start + BATCH], consistent=False)
        for row in active:
            row["balances"] = _balances(uow, row["member_id"], merchant)
    return {**page, "members": rows}


def _balance_keys(member_id: str, merchant_id: str) -> list[tuple[Any, tuple[str, str]]]:
    return [*tiers.held_keys(member_id), *points.balance_keys(member_id, "points"),
            stored_value.account_key(member_id), orders.spend_key(member_id, merchant_id)]


def _balances(uow: UnitOfWork, member_id: str, merchant_id: str) -> dict[str, Any]:
    """A member's row figures, from what the batches read (no request of its own)."""
    return {"tier": tiers.held_tier(uow, member_id), "points": points.balance(uow, member_id, "points"),
            "stored_value_fen": stored_value.account(uow, member_id)["balance_fen"],
            "spend_fen": orders.spent_at(uow, member_id, merchant_id)}
