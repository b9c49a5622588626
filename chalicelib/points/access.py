"""Whose points and which merchant: the checks every points operation makes of its caller."""

from __future__ import annotations

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.shared.errors import Forbidden, ValidationProblem
from chalicelib.shared.principal import Principal


def member(uow: UnitOfWork, member_id: str, by: Principal) -> str:
    """The member acted on: 'me' resolved, others refused to members, merges followed."""
    return members.target(uow, member_id, by)


def merchant(by: Principal, named: str | None) -> str:
    """The merchant an operation is booked to: the caller's own, or the one staff name."""
    if by.kind == "merchant":
        if named and named != by.merchant_id:
            raise Forbidden("this API key belongs to another merchant")
        return by.merchant_id or ""
    if by.merchant_id and named and named != by.merchant_id:
        raise Forbidden("your staff account belongs to another merchant")
    chosen = named or by.merchant_id
    if not chosen:
        raise ValidationProblem("merchant_id is required for staff callers")
    return chosen


def store(by: Principal, named: str | None) -> str | None:
    """The store an operation is booked to; a store-scoped key acts only for its store."""
    if by.kind == "merchant" and by.store_id and named and named != by.store_id:
        raise Forbidden("this API key is scoped to another store")
    return named or by.store_id


def exists(uow: UnitOfWork, member_id: str) -> bool:
    """Whether a member is stored under ``member_id``."""
    return members.exists(uow, member_id)
