"""Entitlements: coupon packs a member was granted by a benefit rule, recorded now and issued as
coupons once the coupons capability exists.

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
    status = UnicodeAttribute()                      # granted (issued: when coupons exist)
    actor = UnicodeAttribute(null=True)

    @staticmethod
    def key(member_id: str, rule: str, ref: str, period: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"ENTITLE#{rule}#{ref}#{period}"
