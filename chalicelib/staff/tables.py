"""Staff accounts in the main table, inside their program.

``STAFF#<id> / STAFF``            the account: login, role and scope, status, the password's hash,
                                  ``epoch`` (raised by a disable, a role or scope change and a
                                  password change: tokens carry the epoch they were issued at and
                                  die with it), TOTP (sealed), a pending reset code's hash.
                                  Listed under ``gsi1pk = STAFF`` / ``<merchant or ->#<id>``.
``STAFFLOGIN#<login> / LOGIN``    the login name, unique in the program, naming the account.
``SFAMILY#<id> / FAMILY``         one login's refresh tokens (a family): revoked as a whole when
                                  one of them is used twice, or at logout.
``SREFRESH#<id> / REFRESH``       one refresh token of a family: a hash of its secret, single use.
``SLOCK#<login> / LOCK``          wrong passwords in a row at one login name (whether or not an
                                  account has it), and the lock they earned.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db.items import Gsi1, MainModel

LISTING = "STAFF"


class StaffItem(MainModel):
    staff_id = UnicodeAttribute()
    login = UnicodeAttribute()
    display_name = UnicodeAttribute()
    role = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()                      # active | disabled
    password_hash = UnicodeAttribute(null=True)      # None: set by a reset code first
    epoch = NumberAttribute(default=1)
    version = NumberAttribute(default=0)
    totp = JSONAttribute(null=True)                  # the sealed TOTP secret
    totp_enrolled = BooleanAttribute(default=False)
    totp_last_step = NumberAttribute(default=0)      # the last code's time step: a code is good once
    reset_hash = UnicodeAttribute(null=True)
    reset_expires_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    last_login_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    listing = Gsi1()

    @staticmethod
    def key(staff_id: str) -> tuple[str, str]:
        return f"STAFF#{staff_id}", "STAFF"


class StaffLoginItem(MainModel):
    staff_id = UnicodeAttribute()

    @staticmethod
    def key(login: str) -> tuple[str, str]:
        return f"STAFFLOGIN#{login}", "LOGIN"


class StaffFamilyItem(MainModel):
    staff_id = UnicodeAttribute()
    epoch = NumberAttribute(default=0)               # the account's epoch when the login began
    status = UnicodeAttribute()                      # active | revoked
    why = UnicodeAttribute(null=True)
    started_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)          # TTL

    @staticmethod
    def key(family_id: str) -> tuple[str, str]:
        return f"SFAMILY#{family_id}", "FAMILY"


class StaffRefreshItem(MainModel):
    staff_id = UnicodeAttribute()
    family_id = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    status = UnicodeAttribute()                      # active | used
    refresh_expires_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)          # TTL

    @staticmethod
    def key(token_id: str) -> tuple[str, str]:
        return f"SREFRESH#{token_id}", "REFRESH"


class StaffLockItem(MainModel):
    failures = NumberAttribute(default=0)            # wrong passwords in a row
    locks = NumberAttribute(default=0)               # locks earned (each lasts twice the last)
    locked_until = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)          # TTL: a quiet login name is forgotten

    @staticmethod
    def key(login: str) -> tuple[str, str]:
        return f"SLOCK#{login}", "LOCK"

