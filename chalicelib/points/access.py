"""Whose points and which merchant: the checks every points operation makes of its caller.

Members belong to the program and are shared by its merchants (earn and spend at any of them);
orders, holds and refunds belong to the merchant that made them.
"""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.merchants import service as merchants
from chalicelib.points import repository, tiering
from chalicelib.points.tables import AccountItem, HoldItem, PointsOrderItem
from chalicelib.shared.errors import Forbidden
from chalicelib.shared.principal import Principal


def member(uow: UnitOfWork, member_id: str, by: Principal) -> str:
    """The member acted on: 'me' resolved, others refused to members, merges followed."""
    return members.acting_on(uow, member_id, by).member_id


def member_record(uow: UnitOfWork, member_id: str, by: Principal) -> members.Member:
    """The record of the member acted on (for what earning asks of tiers and benefits)."""
    return members.acting_on(uow, member_id, by)


def spend_reads(uow: UnitOfWork, member_id: str, by: Principal, point_type: str) -> str | None:
    """A spend reads in one request: the account and its first lots in one Query, and the member
    not at all: the unit commits only while the member exists and has not been merged away (a
    condition in its transaction; an order's conditions join it, :func:`.orders.record_spend`). The member's id, or None where that does not
    apply (the member never had this account, or was seen merged): read it the usual way."""
    own = members.own_id(member_id, by)
    if repository.of(uow).account_and_lots(own, point_type) is None or not members.stage_active(uow, own):
        return None
    return own


def prefetch(uow: UnitOfWork, member_id: str, by: Principal, point_types: list[str],
             order: tuple[str, str] | None = None, hold: str | None = None, tier: bool = False) -> None:
    """Read the member, its accounts of ``point_types``, (``(merchant, order_id)``) the order,
    (of the first type) the hold ``hold`` and (``tier``) the member's tier in one request: the
    operation's later reads of them cost no round trip."""
    own, wanted = members.record_key(member_id, by)
    wanted += [(AccountItem, AccountItem.home(own, t)) for t in point_types]
    if order is not None:
        wanted.append((PointsOrderItem, PointsOrderItem.key(*order)))
    if hold is not None:
        wanted.append((HoldItem, HoldItem.key(own, point_types[0], hold)))
    if tier:
        wanted += tiering.keys(own)
    uow.prefetch(wanted)


def exists(uow: UnitOfWork, member_id: str) -> bool:
    """Whether a member is stored under ``member_id``."""
    return members.exists(uow, member_id)


def merchant(uow: UnitOfWork, by: Principal, named: str | None, store_id: str | None = None) -> tuple[str, str | None]:
    """The merchant (and store) an order-linked operation is booked to, checked against the caller."""
    if by.kind == "member":
        raise Forbidden("orders are booked by the merchant's till or staff, not by members")
    chosen, store = merchants.place(uow, by, named, store_id, merchant_required=True)
    assert chosen is not None
    return chosen, store


def preview_place(uow: UnitOfWork, by: Principal, named: str | None,
                  store_id: str | None) -> tuple[str | None, str | None]:
    """Where a previewed order would be booked, checked as :func:`merchant` checks it, except that
    HQ may leave the merchant out (the rules are the program's; only a store's factor needs it)."""
    if by.kind == "member":
        raise Forbidden("orders are booked by the merchant's till or staff, not by members")
    return merchants.place(uow, by, named, store_id)


def owns(by: Principal, merchant_id: str | None, store_id: str | None = None) -> bool:
    """Whether the caller may see and change a record ``merchant_id`` took at ``store_id`` (its
    own, or HQ; a store's caller only its store's: :func:`merchants.acts_for`)."""
    return merchants.acts_for(by, merchant_id, store_id)


def sees_references(by: Principal, merchant_id: str | None, store_id: str | None) -> bool:
    """Whether a ledger entry shows the caller its references (:func:`merchants.sees_references`)."""
    return merchants.sees_references(by, merchant_id, store_id)


def store_scope(by: Principal) -> str | None:
    """The store a caller is confined to (a store-scoped key or store staff), or None."""
    return None if by.is_hq else by.store_id


def order_merchant(uow: UnitOfWork, by: Principal, named: str | None) -> str:
    """The merchant whose order a caller reads: its own, or (HQ) the one it names."""
    return merchant(uow, by, named)[0]
