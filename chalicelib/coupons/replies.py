"""What the coupon operations answer: the OpenAPI response schemas. Amounts are integer fen."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.coupons.terms import Terms
from chalicelib.shared.types import Reply

CouponState = Literal["unused", "locked", "used", "expired", "void"]


class StockLevel(Reply):
    """A stock's level now."""

    total: int = Field(description="coupons the stock was made with, plus what was added, less what was removed")
    left: int = Field(description="coupons still to issue")
    taken: int = Field(description="coupons issued (claimed or issued) from it")


class TemplateOut(Reply):
    """A coupon template: its terms in force, stock, limits and budgets."""

    template_id: str
    merchant_id: str | None = Field(description="the merchant it belongs to; null: the program's head office")
    state: Literal["draft", "active", "paused", "ended"] = Field(
        description="draft (not yet claimable), active, paused (no claims; issued coupons stay usable), ended")
    terms_version: int = Field(description="the version of its terms that coupons issued now carry")
    terms: Terms
    stock: StockLevel | None = Field(description="its stock now (null in listings)")
    per_member_limit: int | None
    per_member_daily_limit: int | None
    budget_fen: int | None = Field(description="the most its write-offs may take off in all")
    budget_used_fen: int | None = Field(description="what its write-offs have taken off so far, undone ones given "
                                                    "back (null in listings, or with no budget)")
    store_budget_fen: int | None = Field(description="the most per store per period")
    store_budget_period: str | None
    on_refund: Literal["restore", "void"]
    claimable: bool = Field(description="members may claim it themselves")
    created_at: str
    updated_at: str | None


class TemplatesOut(Reply):
    """A page of coupon templates."""

    templates: list[TemplateOut]
    next: str | None = Field(description="pass as ?after= for the next page; null: no more")


class CouponOut(Reply):
    """A member's coupon, with the terms it was issued under."""

    coupon_id: str
    member_id: str
    template_id: str
    terms_version: int = Field(description="the template's terms version it was issued under (a later change "
                                           "of the template never alters it)")
    terms: Terms
    code: str | None = Field(description="18 digits for its QR code or barcode (null: shown to the member, HQ and "
                                         "the template's merchant only)")
    state: CouponState
    source: Literal["claim", "issue", "pack", "points", "third_party"] = Field(
        description="how the member got it (third_party: a platform's code written off here)")
    valid_from: str
    valid_until: str | None = Field(description="the end of its validity (null: none)")
    claimed_at: str
    usable_now: bool = Field(description="unused, valid now and inside its time window (the cart aside)")
    why_not: str | None = Field(description="why it is not usable now: a code (used, expired, void, not_yet_valid, "
                                            "weekday, time_of_day...) and words")
    used_at: str | None
    used_order_id: str | None
    used_merchant_id: str | None
    used_store_id: str | None
    saving_fen: int | None = Field(description="what its use took off")
    cost: dict[str, int] | None = Field(description="who bears the saving, in fen: brand, mall, merchant")
    merchant_id: str | None = Field(description="the template's merchant (null: the program's)")


class MemberCouponsOut(Reply):
    """The member's coupons, usable first."""

    member_id: str
    coupons: list[CouponOut] = Field(description="usable ones first (soonest to end first), then the rest with why "
                                                 "not; used, expired and void ones are kept 90 days")
    usable: int = Field(description="how many are usable now")


class LineSaving(Reply):
    """The saving on one cart line."""

    line: int = Field(description="the cart line's index (from 0)")
    fen: int = Field(description="taken off that line")


class SavingOut(Reply):
    """What a coupon takes off an order."""

    fen: int = Field(description="what the coupon takes off the order, in fen (percentages rounded down; a "
                                 "free-shipping coupon's: the shipping fee it waives): what the budgets, the cost "
                                 "split and the statistics count")
    lines: list[LineSaving] = Field(description="the saving spread over the eligible lines in proportion to their "
                                                "amounts (summing exactly to fen less shipping_fen): what a refund "
                                                "of a line gives back")
    shipping_fen: int = Field(description="shipping waived (free-shipping coupons), part of fen")
    parking_hours: int = Field(description="free parking hours (parking coupons)")
    gift_sku: str | None = Field(description="the SKU given free (gift coupons)")


class ValidationOut(Reply):
    """Whether a coupon applies to a cart now."""

    usable: bool
    why_not: str | None = Field(description="why not: a code and words")
    saving: SavingOut | None
    coupon: CouponOut


class WriteOffOut(Reply):
    """A coupon written off on an order."""

    written_off: bool
    saving: SavingOut | None
    coupon: CouponOut


class UndoOut(Reply):
    """A write-off undone."""

    restored: bool = Field(description="true: the coupon is unused again; false: it is void (the template's policy, "
                                       "or it has expired)")
    coupon: CouponOut


class PackGrantedOut(Reply):
    """A coupon pack granted: the coupons it issued."""

    member_id: str
    pack_id: str
    coupons: list[CouponOut] = Field(description="every coupon of the pack, issued together")


class IssueRefusals(Reply):
    """Members the template refused, by reason."""

    limit: int = Field(description="the member had as many as the template allows")
    stock: int = Field(description="the stock was gone")
    not_found: int = Field(description="no such member (or merged away into one that had it)")
    other: int = Field(description="any other refusal")


class IssueOut(Reply):
    """A targeted issue and its progress."""

    issue_id: str
    template_id: str
    status: Literal["issuing", "done"]
    tier: str | None = Field(description="an issue to a tier's members: the tier (None: to a list)")
    total: int = Field(description="members listed; for a tier, the members read from its listing so far")
    total_final: bool = Field(description="whether total is final: false while a tier's listing is still being read")
    done: int = Field(description="members worked through so far (issued or refused)")
    issued: int
    refused: IssueRefusals
    created_at: str
    finished_at: str | None


class StoreStats(Reply):
    """One store's uses of the template."""

    store_id: str
    claimed: int
    issued: int
    used: int = Field(description="write-offs at the store (less those undone)")
    undone: int
    expired: int
    saving_fen: int = Field(description="the discount given at the store, undone ones taken back")
    orders_fen: int = Field(description="the order amounts those write-offs came with")


class StatsReconciled(Reply):
    """How the figures square with the template's own counts (true once the stream has caught up)."""

    stock_taken_is_claimed_and_issued: bool
    budget_used_is_discount_given: bool


class CouponStatsOut(Reply):
    """A template's figures, projected from its events exactly once (a second or so behind)."""

    template_id: str
    claimed: int = Field(description="coupons members claimed")
    issued: int = Field(description="coupons issued to members by staff, tills, packs and targeted issues")
    used: int = Field(description="write-offs")
    undone: int = Field(description="write-offs undone")
    expired: int
    saving_fen: int = Field(description="the discount given (the coupons' cost), undone ones taken back")
    orders_fen: int = Field(description="the order amounts the write-offs came with (the GMV they drove)")
    usage_rate: float | None = Field(description="(used - undone) / (claimed + issued)")
    stores: list[StoreStats]
    bearers: dict[str, int] = Field(description="the discount each cost bearer bore, in fen")
    stock: StockLevel
    budget_fen: int | None
    budget_used_fen: int | None
    reconciled: StatsReconciled


class TemplateProof(Reply):
    """One template's proof."""

    template_id: str
    balanced: bool = Field(description="its stock adds up: every shard there, none negative, left + taken = total")
    problems: list[str]
    figures_agree: bool = Field(description="its projected figures agree with its counts (a second or so behind)")
    stock_taken_is_claimed_and_issued: bool
    budget_used_is_discount_given: bool


class CouponReconciliationOut(Reply):
    """The program's coupons proved."""

    templates_checked: int
    balanced: bool
    figures_agree: bool
    mismatches: list[TemplateProof] = Field(description="the templates that do not add up or agree (at most 20)")


class CouponHoldOut(Reply):
    """A coupon locked for a checkout."""

    hold_id: str
    coupon_id: str
    member_id: str
    order_id: str
    merchant_id: str | None
    store_id: str | None
    saving_fen: int = Field(description="what the coupon takes off the order (counted in the budgets while locked)")
    status: Literal["open", "confirmed", "released"]
    expires_at: str = Field(description="when an open lock lapses by itself")
    created_at: str
    saving: SavingOut | None = Field(None, description="the saving per line (when the lock is taken)")
    coupon: CouponOut | None = Field(None, description="the coupon as the lock leaves it")


class CodesImportedOut(Reply):
    """A batch of third-party codes imported (or, replayed under its key, the first answer)."""

    template_id: str
    batch: str = Field(description="the import's id (the same for a retry under the same Idempotency-Key)")
    imported: int = Field(description="codes of this batch now stored (as keyed hashes, never in clear)")
    duplicates: int = Field(description="codes repeated in the batch or stored already: counted, not imported")
    stock: StockLevel = Field(description="the template's stock after the import")


class OwedPackOut(Reply):
    """A coupon pack owed to the member: granted (a tier's upgrade, a benefit, a top-up) when its
    coupons could not be issued, tried again daily until issued or given up."""

    pack_id: str
    owner: Literal["benefit", "top_up"] = Field(description="what granted it: a benefit's entitlement, or a top-up")
    ref: str = Field(description="the grant's key (the entitlement's, the top-up's payment_ref)")
    status: Literal["owed", "issued", "expired"] = Field(
        description="owed (tried again daily), issued (late, by the coupon-owed job), expired (given up unissued)")
    reason: str | None = Field(description="why its coupons could not be issued, at the last try")
    attempts: int = Field(description="tries by the coupon-owed job so far (the grant's own not counted)")
    next_try: str | None = Field(description="the day (program's calendar) of the next try; null once settled")
    owed_at: str
    give_up_after: str = Field(description="the last day it is tried: refused then, it expires")
    settled_at: str | None = Field(description="when it was issued or expired")
    coupons: list[str] = Field(description="the coupon ids issued for it, once issued")


class OwedPacksOut(Reply):
    """A page of the member's owed coupon packs, newest first."""

    member_id: str
    owed_packs: list[OwedPackOut] = Field(description="newest first (a merchant's caller: packs of its own "
                                                      "templates only)")
    next_before: str | None = Field(description="pass as `before` for the next page; null on the last")


class PackFigures(Reply):
    """Owed coupon packs counted (a second or so behind the writes)."""

    owed: int = Field(description="packs owed: granted (a tier's upgrade, a benefit, a top-up) when their coupons "
                                  "could not be issued")
    issued_late: int = Field(description="of them, issued later by the coupon-owed job")
    expired: int = Field(description="of them, given up unissued after the days allowed")
    owing: int = Field(description="still owed: owed - issued_late - expired")


class PackStatsRow(PackFigures):
    """One pack's owed figures."""

    pack_id: str


class PackStatsOut(PackFigures):
    """The program's owed coupon packs: in all, and per pack (each pack that was ever owed)."""

    packs: list[PackStatsRow]
