"""Single-use refresh tokens in families: the mechanism behind member logins (``rt_``) and staff
logins (``srt_``).

A login is a **family** (``RFAMILY#<id> / FAMILY``: its owner, the owner's epoch when it began,
active or revoked, and why). Each refresh token of it is ``<prefix><program>.<id>.<secret>``: an
opaque random secret of which only a SHA-256 hash is stored (``RTOKEN#<id> / TOKEN``, active or
used). A refresh uses the token up (conditionally: of two racing refreshes one loses) and hands
out the family's next. A **used token presented again** means someone else has a copy: the whole
family is revoked, so the thief's and the owner's tokens stop together, and the owner logs in
again. Items expire by TTL a day after the last token could be used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.errors import Unauthenticated
from chalicelib.shared.ids import new_id
from chalicelib.shared.principal import PROGRAM_ID


class RefreshFamilyItem(MainModel):
    """``RFAMILY#<id> / FAMILY``: one login."""

    owner = UnicodeAttribute()                       # the member's or staff account's id
    kind = UnicodeAttribute()                        # member | staff
    epoch = NumberAttribute(default=0)               # the owner's epoch when the login began
    status = UnicodeAttribute()                      # active | revoked
    why = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)               # what the owner's kind keeps (JSON)
    started_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)          # TTL

    @staticmethod
    def key(family_id: str) -> tuple[str, str]:
        """The key of a login."""
        return f"RFAMILY#{family_id}", "FAMILY"


class RefreshTokenItem(MainModel):
    """``RTOKEN#<id> / TOKEN``: one refresh token of a family (a hash of its secret)."""

    family_id = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    status = UnicodeAttribute()                      # active | used
    refresh_expires_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)          # TTL

    @staticmethod
    def key(token_id: str) -> tuple[str, str]:
        """The key of a refresh token."""
        return f"RTOKEN#{token_id}", "TOKEN"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Used:
    """A refresh token just used up (staged) and its family, as read."""

    token: RefreshTokenItem
    family: RefreshFamilyItem
    now: datetime


Revoked = Callable[[UnitOfWork, RefreshFamilyItem, str], None]
"""Called in the revoking unit of work with the family and why (to audit it)."""


class RefreshTokens:
    """The refresh tokens of one kind of login: ``prefix`` (``rt_``), ``kind``, lifetime."""

    def __init__(self, prefix: str, kind: str, days: int, on_revoke: Revoked) -> None:
        self.prefix, self.kind, self.days, self.on_revoke = prefix, kind, days, on_revoke

    def begin(self, uow: UnitOfWork, owner: str, *, epoch: int = 0, data: str | None = None,
              now: datetime | None = None) -> RefreshFamilyItem:
        """Stage a new login of ``owner``."""
        now = now or datetime.now(UTC)                    # credentials live on wall-clock time
        family = RefreshFamilyItem(*RefreshFamilyItem.key(new_id()), owner=owner, kind=self.kind, epoch=epoch,
                                   status="active", data=data, started_at=clock.iso(now),
                                   expires_at=int(now.timestamp()) + (self.days + 1) * 86_400)
        uow.create(family)
        return family

    def issue(self, uow: UnitOfWork, family_id: str, now: datetime) -> dict[str, Any]:
        """Stage the family's next refresh token: ``{refresh_token, refresh_expires_at}``."""
        token_id, secret = new_id(), secrets.token_urlsafe(32)
        ends = now + timedelta(days=self.days)
        uow.create(RefreshTokenItem(*RefreshTokenItem.key(token_id), family_id=family_id, secret_hash=_hash(secret),
                                    status="active", refresh_expires_at=clock.iso(ends),
                                    expires_at=int(ends.timestamp()) + 86_400))
        return {"refresh_token": f"{self.prefix}{uow.program}.{token_id}.{secret}",
                "refresh_expires_at": clock.iso(ends)}

    def parse(self, text: str) -> tuple[str, str, str]:
        """``(program, token id, secret)`` of a token's text; 401 when it is not one of this kind."""
        parts = text.removeprefix(self.prefix).split(".")
        if not text.startswith(self.prefix) or len(parts) != 3 or not PROGRAM_ID.match(parts[0]) \
                or not parts[1].isalnum() or len(parts[1]) > 32:
            raise Unauthenticated(f"not a {self.kind} refresh token")
        return parts[0], parts[1], parts[2]

    def program_of(self, text: str) -> str:
        """The program a token belongs to (the unit of work must be opened there)."""
        return self.parse(text)[0]

    def _read(self, uow: UnitOfWork, text: str) -> tuple[RefreshTokenItem, RefreshFamilyItem]:
        """The active token ``text`` names and its active family; 401 otherwise. A used token
        presented again revokes its family at once (committed whatever the caller does next)."""
        _, token_id, secret = self.parse(text)
        token = uow.get(RefreshTokenItem, RefreshTokenItem.key(token_id), consistent=True)
        if token is None or not hmac.compare_digest(token.secret_hash, _hash(secret)):
            raise Unauthenticated("refresh token not valid")
        family = uow.get(RefreshFamilyItem, RefreshFamilyItem.key(token.family_id), consistent=True)
        if family is None or family.kind != self.kind:
            raise Unauthenticated("refresh token not valid")
        if token.status != "active":
            if family.status == "active":
                self.revoke(uow, family, "a used refresh token was presented again")
            raise Unauthenticated("this refresh token was used already: the login has ended; log in again")
        if family.status != "active":
            raise Unauthenticated("this login has ended; log in again")
        if token.refresh_expires_at <= clock.iso(datetime.now(UTC)):
            raise Unauthenticated("refresh token expired; log in again")
        return token, family

    def use(self, uow: UnitOfWork, text: str) -> Used:
        """Stage the token as used, on condition it still is active and its family too (see
        :meth:`_read` for what is refused)."""
        token, family = self._read(uow, text)
        token.status = "used"
        uow.save(token, RefreshTokenItem.status == "active",
                 on_conflict=lambda: Unauthenticated("refresh token already used"))
        uow.check(family, RefreshFamilyItem.status == "active", on_conflict=lambda: Unauthenticated("this login has ended"))
        return Used(token, family, datetime.now(UTC))

    def end(self, uow: UnitOfWork, text: str, why: str) -> RefreshFamilyItem:
        """Stage the end of the login whose active token ``text`` is (logging out with it)."""
        _, family = self._read(uow, text)
        uow.update(family, [RefreshFamilyItem.status.set("revoked"), RefreshFamilyItem.why.set(why)],
                   RefreshFamilyItem.status == "active", on_conflict=lambda: Unauthenticated("this login has ended"))
        self.on_revoke(uow, family, why)
        return family

    def revoke(self, uow: UnitOfWork, family: RefreshFamilyItem, why: str) -> None:
        """End a login now, in a unit of work of its own (committed even when ``uow`` is not)."""
        work = UnitOfWork(f"{self.kind}:login", uow.correlation_id, program=uow.program)
        work.update(RefreshFamilyItem(*RefreshFamilyItem.key(family_id_of(family))),
                    [RefreshFamilyItem.status.set("revoked"), RefreshFamilyItem.why.set(why)],
                    RefreshFamilyItem.pk.exists())
        self.on_revoke(work, family, why)
        work.commit()

    def holds(self, program: str, owner: str, family_id: str) -> bool:
        """Whether ``owner``'s login ``family_id`` is still active (its access tokens good): an
        eventually consistent read, and a consistent one before refusing (a login begun a moment
        ago may not show yet)."""
        uow = UnitOfWork(f"{self.kind}:check", program=program)
        for consistent in (False, True):
            found = uow.get(RefreshFamilyItem, RefreshFamilyItem.key(family_id), consistent=consistent)
            if found is not None and found.kind == self.kind and found.owner == owner and found.status == "active":
                return True
        return False

    def family(self, uow: UnitOfWork, family_id: str) -> RefreshFamilyItem | None:
        """A login of this kind, consistently read."""
        found = uow.get(RefreshFamilyItem, RefreshFamilyItem.key(family_id), consistent=True)
        return found if found is not None and found.kind == self.kind else None


def family_id_of(family: RefreshFamilyItem) -> str:
    """The id of a family read back (its key is ``RFAMILY#<id>``)."""
    return str(family.pk).rsplit("#", 1)[1]
