"""What every staff request checks of its token: the account still active at the token's epoch,
and the login (its refresh-token family) not ended. Kept apart from the login code so that the
check costs no import of the password hasher (wired into ``api.auth`` by app.py, on first need)."""

from __future__ import annotations

from typing import Any

from chalicelib.api import auth
from chalicelib.db.refresh import RefreshFamilyItem
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import lazy
from chalicelib.staff.tables import StaffItem

merchants = lazy.module("chalicelib.merchants.service")


def login_holds_item(item: StaffItem | None, family: RefreshFamilyItem | None, epoch: int | None) -> bool:
    """Whether a login of ``item`` in ``family`` is still good: both active, and the account not
    changed since the family began (nor since the token was issued, at ``epoch``)."""
    if item is None or family is None or item.status != "active" or family.status != "active" \
            or family.kind != "staff":
        return False
    return (family.owner == item.staff_id and int(family.epoch or 0) == int(item.epoch)
            and (epoch is None or epoch == int(item.epoch)))


def login_holds(program: str, staff_id: str, epoch: int, family_id: str, merchant_id: str | None = None,
                store_id: str | None = None) -> bool:
    """One request of eventually consistent reads (1 RCU, 2 with a merchant's or store's item),
    and a consistent one before refusing: a change shows within about a second, and the cache of
    :data:`chalicelib.api.auth.STAFF_CACHE_SECONDS` adds to it. Merchant staff stop with their
    merchant or store suspended."""
    uow = UnitOfWork("staff:check", program=program)
    wanted: list[tuple[Any, str, str]] = [(StaffItem, uow.index_key(StaffItem.key(staff_id)[0]), "STAFF"),
                                          (RefreshFamilyItem, uow.index_key(RefreshFamilyItem.key(family_id)[0]), "FAMILY")]
    wanted += [(model, uow.index_key(pk), sk) for model, (pk, sk) in merchants.standing_keys(merchant_id, store_id)]
    for consistent in (False, True):
        # an eventually consistent read may not see a login made a moment ago (or the account as
        # it changed since): a refusal is made only on what a consistent read shows
        item, family, *where = uow.backend.batch_get(wanted, consistent=consistent)
        if login_holds_item(item, family, epoch) and not merchants.suspended(where):  # type: ignore[arg-type]
            return True
    return False


auth.use_staff_check(login_holds)
