"""Staff accounts in the main table, inside their program.

``STAFF#<id> / STAFF``            the account: login, role and scope, status, the password's hash,
                                  ``epoch`` (raised by a disable, a role or scope change and a
                                  password change: tokens carry the epoch they were issued at and
                                  die with it), TOTP (sealed), a pending reset code's hash.
                                  Listed under ``gsi1pk = STAFF`` / ``<merchant or ->#<id>``.
``STAFFLOGIN#<login> / LOGIN``    the login name, unique in the program, naming the account.
(a login and its refresh tokens: ``RFAMILY#`` / ``RTOKEN#`` items of :mod:`chalicelib.db.refresh`)
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


class StaffLockItem(MainModel):
    failures = NumberAttribute(default=0)            # wrong passwords in a row
    locks = NumberAttribute(default=0)               # locks earned (each lasts twice the last)
    locked_until = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)          # TTL: a quiet login name is forgotten

    @staticmethod
    def key(login: str) -> tuple[str, str]:
        return f"SLOCK#{login}", "LOCK"

