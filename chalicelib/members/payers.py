"""Pay-as-member (支付即会员): the payer a till's payment names (a WeChat or Alipay payer id, or a
phone the customer gives) found among the members, or, where the program's member settings
enable it, registered as one in the request that names them.

Registration is :func:`chalicelib.members.service.register` (the identity index entries, the
member, ``member.registered``: what every registration writes and emits), staged on the caller's
unit of work, so it happens with the caller's change or not at all. The identity's index entry
is created only if absent: two requests racing for one new payer let one in; the other's unit
fails as a lost race (409 ``concurrent-update``, which the endpoint retries from fresh state) and
its retry finds the winner's member.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository, service
from chalicelib.members.domain import Identity, Member, normalise
from chalicelib.members.schemas import IdentityIn, RegisterMember
from chalicelib.members.settings import MEMBER_SETTINGS
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ConcurrentUpdate, Problem
from chalicelib.shared.principal import Principal

PAYER_TYPES = ("wechat_openid", "alipay_user_id", "phone")


def identity(kind: str, value: str) -> Identity:
    """The identity a payment names, normalised and checked as registration does (422 if it is
    not one: a phone that is not a valid number)."""
    return normalise(kind, value, settings().phone_region)


def member_of(uow: UnitOfWork, payer: Identity) -> str | None:
    """The member id the payer belongs to, read consistently (a retry after a lost race finds
    the winner's member)."""
    return repository.of(uow).resolve(payer, consistent=True)


def enabled(uow: UnitOfWork) -> bool:
    """Whether the program registers a payer no member has (the member settings now)."""
    return MEMBER_SETTINGS.at(uow, clock.now())[1].pay_as_member


def register(uow: UnitOfWork, payer: Identity, merchant_id: str, store_id: str | None, by: Principal) -> Member:
    """Stage the payer's registration at the till's merchant and store, channel ``pos``."""
    cmd = RegisterMember(identities=[IdentityIn(type=payer.type, value=payer.value)],
                         merchant_id=merchant_id, store_id=store_id, channel="pos")
    return service.register(cmd, by, uow, on_taken=_raced)


def _raced(payer: Identity) -> Callable[[], Problem]:
    return lambda: ConcurrentUpdate(f"{payer.type} {payer.masked().value} was registered by another request "
                                    "meanwhile; retry")
