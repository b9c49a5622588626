"""How member codes are kept in the main table.

``MEMBER#<id> / MCODE``     the member's handle and sealed TOTP secret (read by getMemberCode)
``MCODE#<handle> / MCODE``  the handle's member, the same sealed secret, and the last step a code
                            resolved at (``used_step``): read by resolveMemberCode in one get

Both are created together on the member's first code, each only if absent. The secret is sealed
(:mod:`chalicelib.shared.sealing`, info ``loyalty member code secrets``, the program and the
member as associated data): whoever reads the table cannot derive a code.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel


class MemberCodeItem(MainModel):
    handle = UnicodeAttribute()
    master = UnicodeAttribute()             # the master version the secret was sealed under
    sealed = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key(member_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", "MCODE"


class HandleItem(MainModel):
    member_id = UnicodeAttribute()
    master = UnicodeAttribute()
    sealed = UnicodeAttribute()
    created_at = UnicodeAttribute()
    used_step = NumberAttribute(default=0)   # codes of this step and earlier resolve no more

    @staticmethod
    def key(handle: str) -> tuple[str, str]:
        return f"MCODE#{handle}", "MCODE"
