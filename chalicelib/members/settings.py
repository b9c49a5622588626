"""The program's member settings as HQ saves them (``putMemberSettings``): a versioned
configuration (:mod:`chalicelib.db.versioned`, ``CONFIG#member-settings``), read where a request
decides how a member joins. Version 0 (nothing saved) is every default: pay-as-member off."""

from __future__ import annotations

from pydantic import Field, StrictBool

from chalicelib.db.versioned import VersionedConfig
from chalicelib.shared.types import Strict


class MemberSettings(Strict):
    pay_as_member: StrictBool = Field(False, description="支付即会员: a quote naming a payer (a WeChat or Alipay "
                                      "payer id, or a phone) that no member has registers one, at the quote's "
                                      "store, channel pos (default: off; the payer is quoted as a walk-in)")


MEMBER_SETTINGS = VersionedConfig("member-settings", MemberSettings, MemberSettings, "member.settings_changed",
                                  "program:members")
