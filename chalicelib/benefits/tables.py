"""Entitlements: coupon packs a member was granted by a benefit rule, recorded with their coupons
(``issued``) or, when the coupons could not be issued then, with the pack owed (``granted``: the
coupons' ``coupon-owed`` job issues it later, or gives up: ``expired``).

``MEMBER#<id> / ENTITLE#<rule>#<pack>#<period>``: one per rule, pack and period (the month, the
birthday's year, or the upgrade), so a grant is made once however often it is asked for.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.db.items import MainModel


class EntitlementItem(MainModel):
    member_id = UnicodeAttribute()
    rule = UnicodeAttribute()
    kind = UnicodeAttribute()                        # coupon_pack
    ref = UnicodeAttribute()                         # the pack
    period = UnicodeAttribute()                      # 2026-11 | birthday:2026 | upgrade:V3:2026-11-24
    granted_at = UnicodeAttribute()
    status = UnicodeAttribute()                      # issued | granted (its pack owed) | expired (never issued)
    actor = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)             # why its coupons are owed (or expired)

    @staticmethod
    def key(member_id: str, rule: str, ref: str, period: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"ENTITLE#{rule}#{ref}#{period}"
