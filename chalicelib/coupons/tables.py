"""Coupon items, in the main table.

* ``COUPONTPL#<template> / HEAD``: a template: its owner (a merchant, or None: the program's
  head office), state (draft | active | paused | ended), the number of its terms' latest version,
  the issuing settings that are not terms (stock, per-member limits, budgets, the refund policy);
  listed on ``gsi1`` (``COUPONTPLS`` / ``<owner>#<template>``: a merchant reads its own, HQ all).
* ``COUPONTPL#<template> / V#<version, 6 digits>``: one version of its terms (never changed): a
  coupon copies the version it was issued under, so a change never alters coupons issued.
* ``COUPONTPL#<template> / BUDGET`` and ``/ BUDGET#<store>#<period>``: the money its write-offs
  took, bounded at commit by the budget (:mod:`chalicelib.ledger.counters`).
* ``STOCK#<template>...``: its stock (:mod:`chalicelib.ledger.stock`, sharded).
* ``MEMBER#<member> / COUPON#<coupon>``: a member's coupon: the terms it was issued under, its
  code, state (unused | used | expired | void), validity and, once used, the use (order, store,
  caller, saving and its cost split). In the member's partition: the member's list is one Query.
* ``MEMBER#<member> / COUPONCOUNT#<template>[#<day>]``: how many of a template the member got
  (in all, and on a day), bounded at commit by the template's limits.
* ``COUPONCODE#<code> / CODE``: the code's coupon (member and id), written with it: a till finds
  a coupon by its code in one read. Codes are CSPRNG digits with a check digit (:mod:`codes`).
* ``COUPONUSE#<coupon> / <at>#<id>``: one write-off or one undo of it, as it happened (the coupon
  item keeps only its latest use): listed under its program day on ``gsi1``
  (``POSTDAY#coupon_uses#<day>#<shard>``, :mod:`chalicelib.ledger.postings`) for the exports of a
  period. One more small item and one index entry per write-off and per undo.
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import DueIndex, Gsi1, MainModel
from chalicelib.ledger.holds import HoldRecord
from chalicelib.ledger.postings import day_keys

LISTING = "COUPONTPLS"
PROGRAM_OWNER = "~"                 # the listing's owner part for the head office's templates


class TemplateItem(MainModel):
    template_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)          # the owner; None: the program's head office
    state = UnicodeAttribute()                         # draft | active | paused | ended
    terms_version = NumberAttribute()
    title = UnicodeAttribute()
    kind = UnicodeAttribute()
    stock = NumberAttribute()                          # the stock created (its level: the stock's items)
    per_member_limit = NumberAttribute(null=True)
    per_member_daily_limit = NumberAttribute(null=True)
    budget_fen = NumberAttribute(null=True)
    store_budget_fen = NumberAttribute(null=True)
    store_budget_period = UnicodeAttribute(null=True)  # day | week | month
    on_refund = UnicodeAttribute()                     # restore | void
    claimable = UnicodeAttribute()                     # "yes" | "no": members may claim it themselves
    version = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)

    @staticmethod
    def key(template_id: str) -> tuple[str, str]:
        return f"COUPONTPL#{template_id}", "HEAD"

    @staticmethod
    def listed(owner: str | None, template_id: str) -> tuple[str, str]:
        return LISTING, f"{owner or PROGRAM_OWNER}#{template_id}"


class TermsItem(MainModel):
    template_id = UnicodeAttribute()
    terms_version = NumberAttribute()
    terms = UnicodeAttribute()                         # JSON of coupons.terms.Terms
    saved_by = UnicodeAttribute(null=True)
    saved_at = UnicodeAttribute()

    @staticmethod
    def key(template_id: str, version: int) -> tuple[str, str]:
        return f"COUPONTPL#{template_id}", f"V#{version:06d}"


class BudgetItem(MainModel):
    total = NumberAttribute(default=0)

    @staticmethod
    def key(template_id: str, store_id: str | None = None, period: str | None = None) -> tuple[str, str]:
        return f"COUPONTPL#{template_id}", "BUDGET" if store_id is None else f"BUDGET#{store_id}#{period}"


class CouponItem(MainModel):
    coupon_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    terms_version = NumberAttribute()
    terms = UnicodeAttribute()                         # JSON: the terms it was issued under
    merchant_id = UnicodeAttribute(null=True)          # the template's owner
    code = UnicodeAttribute()
    state = UnicodeAttribute()                         # unused | locked | used | expired | void
    hold_id = UnicodeAttribute(null=True)              # while locked: the checkout's hold
    source = UnicodeAttribute()                        # claim | issue | pack | points | third_party
    stock_take = UnicodeAttribute(null=True)           # JSON [[shard, units]]: where its stock came from
    valid_from = UnicodeAttribute()
    valid_until = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)
    used_order_id = UnicodeAttribute(null=True)
    used_merchant_id = UnicodeAttribute(null=True)
    used_store_id = UnicodeAttribute(null=True)
    used_by = UnicodeAttribute(null=True)              # the caller (a till's key, a clerk writing off for the member)
    saving_fen = NumberAttribute(null=True)
    order_amount_fen = NumberAttribute(null=True)      # the cart's amount the use came with
    cost = UnicodeAttribute(null=True)                 # JSON {bearer: fen}: who bears the saving
    budget_period = UnicodeAttribute(null=True)        # the store budget's period the use counted in
    undone_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)            # TTL once used, expired or void (kept a while for the member's history)
    duepk = UnicodeAttribute(null=True)                # DUE#coupon-expiry while unused: expires on its last day
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(member_id: str, coupon_id: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"COUPON#{coupon_id}"

    def terms_dict(self) -> dict[str, Any]:
        return json.loads(self.terms)


class CouponUseItem(MainModel):
    """A write-off (``kind`` use) or its undo (``kind`` undo: ``saving_fen`` and ``cost`` negative)."""

    use_id = UnicodeAttribute()
    kind = UnicodeAttribute()                          # use | undo
    coupon_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    owner_merchant_id = UnicodeAttribute(null=True)    # the template's owner (None: the head office)
    member_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)          # where it was written off
    store_id = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    saving_fen = NumberAttribute()
    order_amount_fen = NumberAttribute(default=0)
    cost = UnicodeAttribute()                          # JSON {bearer: fen}
    by = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)               # POSTDAY#coupon_uses#<day>#<shard>
    gsi1sk = UnicodeAttribute(null=True)               # <at>#<use id>
    by_day = Gsi1()

    @staticmethod
    def key(coupon_id: str, at: str, use_id: str) -> tuple[str, str]:
        return f"COUPONUSE#{coupon_id}", f"{at}#{use_id}"

    def list_on(self, day: str) -> None:
        """List it under its program day (exports of a period)."""
        self.gsi1pk, self.gsi1sk = day_keys("coupon_uses", day, self.at, self.use_id)


class CodeItem(MainModel):
    member_id = UnicodeAttribute()
    coupon_id = UnicodeAttribute()

    @staticmethod
    def key(code: str) -> tuple[str, str]:
        return f"COUPONCODE#{code}", "CODE"


class MemberCountItem(MainModel):
    total = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)

    @staticmethod
    def key(member_id: str, template_id: str, day: str | None = None) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"COUPONCOUNT#{template_id}" + (f"#{day}" if day else "")


class IssueItem(MainModel):
    """``COUPONISSUE#<issue> / ISSUE``: a targeted issue of a template to a list of members, worked
    through by the ``coupon-issues`` job a chunk at a time (on the due index while issuing)."""

    issue_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()                        # issuing | done
    tier = UnicodeAttribute(null=True)                 # to a tier's members (its listing), not a list
    total = NumberAttribute()                          # a tier's: the members read so far
    chunks = NumberAttribute()
    chunks_done = NumberAttribute(default=0)
    issued = NumberAttribute(default=0)
    refused_limit = NumberAttribute(default=0)
    refused_stock = NumberAttribute(default=0)
    not_found = NumberAttribute(default=0)
    refused_other = NumberAttribute(default=0)
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()

    @staticmethod
    def key(issue_id: str) -> tuple[str, str]:
        return f"COUPONISSUE#{issue_id}", "ISSUE"


class IssueChunkItem(MainModel):
    """``COUPONISSUE#<issue> / CHUNK#<n>``: up to 500 of the issue's members, and, once worked
    through, what became of them. An issue to a tier has one per shard of the tier's listing,
    with the last member worked through (its cursor) instead of the members."""

    members = UnicodeAttribute(null=True)              # JSON list of member ids (an issue to a list)
    after = UnicodeAttribute(null=True)                # an issue to a tier: the shard's members up to this one are done
    done = NumberAttribute(default=0)                  # 1 once counted into the issue

    @staticmethod
    def key(issue_id: str, n: int) -> tuple[str, str]:
        return f"COUPONISSUE#{issue_id}", f"CHUNK#{n:05d}"


class StatsItem(MainModel):
    """``COUPONSTATS#<template> / ALL | STORE#<store> | BEARER#<bearer>``: a template's figures,
    projected from its events exactly once (:mod:`chalicelib.coupons.stats`)."""

    shards = 2                    # a flash claim's stream batches add to one template's rows at once

    claimed = NumberAttribute(default=0)
    issued = NumberAttribute(default=0)
    used = NumberAttribute(default=0)
    undone = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    saving_fen = NumberAttribute(default=0)
    orders_fen = NumberAttribute(default=0)

    @staticmethod
    def key(template_id: str, row: str = "ALL") -> tuple[str, str]:
        return f"COUPONSTATS#{template_id}", row


class CouponHoldItem(HoldRecord):
    """``COUPONHOLD#<hold> / HOLD``: a coupon locked for a checkout at a till (the coupon ``locked``,
    its saving counted in the budgets) until confirmed (a write-off) or released (cancelled, or
    lapsed on the due index)."""

    due_kind = "coupon-hold"
    code = UnicodeAttribute()
    member_id = UnicodeAttribute()
    coupon_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    saving_fen = NumberAttribute()
    order_amount_fen = NumberAttribute(default=0)
    cost = UnicodeAttribute(null=True)                 # JSON {bearer: fen}
    budget_period = UnicodeAttribute(null=True)
    by = UnicodeAttribute(null=True)

    @staticmethod
    def key(hold_id: str) -> tuple[str, str]:
        return f"COUPONHOLD#{hold_id}", "HOLD"


class OwedPackItem(MainModel):
    """``MEMBER#<member> / OWEDPACK#<owner>#<ref>``: a coupon pack owed to a member because the
    thing that granted it (a benefit's entitlement, a top-up) could not issue its coupons then: on
    the due index while owed, tried by the ``coupon-owed`` job (:mod:`chalicelib.coupons.owed`)."""

    member_id = UnicodeAttribute()
    pack_id = UnicodeAttribute()
    owner = UnicodeAttribute()                         # benefit | top_up: who is told when it settles
    ref = UnicodeAttribute()                           # the owner's key of the grant
    why = UnicodeAttribute()
    status = UnicodeAttribute()                        # owed | issued | expired
    reason = UnicodeAttribute(null=True)               # why it could not be issued, last time
    attempts = NumberAttribute(default=0)
    owed_at = UnicodeAttribute()
    give_up_after = UnicodeAttribute()                 # the last day it is tried (program's calendar)
    settled_at = UnicodeAttribute(null=True)
    coupons = UnicodeAttribute(null=True)              # JSON: the coupon ids, once issued
    version = NumberAttribute(default=0)
    duepk = UnicodeAttribute(null=True)
    duesk = UnicodeAttribute(null=True)
    due = DueIndex()
    gsi1pk = UnicodeAttribute(null=True)               # OWEDPACKS#<member>: the member's owed packs
    gsi1sk = UnicodeAttribute(null=True)               # <owed_at>#<owner>#<ref>: newest first, read backwards
    by_member = Gsi1()

    @staticmethod
    def key(member_id: str, owner: str, ref: str) -> tuple[str, str]:
        return f"MEMBER#{member_id}", f"OWEDPACK#{owner}#{ref}"

    @staticmethod
    def member_listing(member_id: str) -> str:
        return f"OWEDPACKS#{member_id}"

    def list_under_member(self) -> None:
        """Index the owed pack under its member, by when it was owed (listMemberOwedPacks)."""
        self.gsi1pk = self.member_listing(self.member_id)
        self.gsi1sk = f"{self.owed_at}#{self.owner}#{self.ref}"


class PackStatsItem(MainModel):
    """``COUPONSTATS#PACKS / ALL | PACK#<pack>``: the program's owed coupon packs, in all and per
    pack: owed, issued late by the ``coupon-owed`` job, expired unissued; projected from the owed
    packs' events exactly once (:mod:`chalicelib.coupons.stats`). (A template's rows are
    ``COUPONSTATS#<template id>``: a ULID, never ``PACKS``.)"""

    shards = 2                    # as a template's rows: a stock-out owes packs to many members at once

    owed = NumberAttribute(default=0)
    issued_late = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)

    @staticmethod
    def key(pack_id: str | None = None) -> tuple[str, str]:
        return "COUPONSTATS#PACKS", "ALL" if pack_id is None else f"PACK#{pack_id}"
