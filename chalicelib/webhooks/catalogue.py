"""The webhook event catalogue: every event type the system emits, when it happens and what its
``data`` carries, as ``listWebhookEventTypes`` answers it and the console's subscription form
offers it. ``docs/integrators/webhooks.md`` writes the same table (a test holds the two
together, and :data:`chalicelib.webhooks.domain.EVENT_TYPES`, made from it, against the code that
emits them). A type whose ``ledger`` is set carries that ledger's posting fields
(:data:`LEDGER_FIELDS`) in ``data`` besides its own.

No I/O, no storage: a read of it costs no DynamoDB request.
"""

from __future__ import annotations

Row = tuple[tuple[str, ...], str, str]          # types, when (the description), what ``data`` carries

# What a ledger's postings carry in ``data`` (docs/integrators/webhooks.md, "Ledger events").
LEDGER_FIELDS = {
    "points": ("`member_id`, `point_type`, `kind`, `amount`, `posting_id`, `sequence` (the account's version: "
        "gap-free per member and point type), `balance` (after), `delta` (each bucket's change: `available`, "
        "`pending`, `held`, `debt`), `lots` (the lots touched); `store_id` when a store's till or staff made "
        "the change; growth's postings also `growth_total` (every growth change but tier resets, summed: "
        "a tier period's growth is this less what it was when the period began)"),
    "stored_value": ("`member_id`, `kind`, `amount_fen`, `posting_id`, `sequence`, `principal_delta`, `bonus_delta`, "
        "`principal`, `bonus` (after), `entries` (the journal lines), `ref`; `store_id` when a store's till "
        "or staff made the change"),
    "gift_cards": ("`card_number`, `batch_id`, `kind`, `amount_fen`, `balance_fen` (after), `sequence`, `member_id` "
        "(when a member is involved), `entries`; `store_id` when a store's till or staff made the change"),
}

# The types that are postings of a ledger: their ``data`` holds its fields besides their own.
LEDGER_TYPES = {
    "points": frozenset({
        "points.earned", "points.redeemed", "points.held", "points.hold_confirmed", "points.hold_released",
        "points.refunded", "points.adjusted", "points.expired", "points.unlocked", "growth.earned"}),
    "stored_value": frozenset({
        "stored_value.topped_up", "stored_value.paid", "stored_value.refunded", "stored_value.held",
        "stored_value.hold_released", "stored_value.card_redeemed", "stored_value.card_payment_refunded",
        "stored_value.cashed_out", "stored_value.bonus_expired"}),
    "gift_cards": frozenset({
        "gift_card.redeemed", "gift_card.paid", "gift_card.held", "gift_card.hold_released",
        "gift_card.payment_refunded", "gift_card.payment_refunded_to_member", "gift_card.voided",
        "gift_card.voided_paid_out", "gift_card.extended", "gift_card.breakage"}),
}

# Family by family, as docs/integrators/webhooks.md's tables (a row: the types it describes together).
CATALOGUE: tuple[tuple[str, tuple[Row, ...]], ...] = (
    ("Members", (
        (("member.registered",),
         "a member registered",
         "`member_id`, `channel`, `store_id`, `identity_types`"),
        (("member.updated",),
         "the profile changed",
         "`member_id`, `fields` (the names of the fields changed, not their values)"),
        (("member.identity_bound", "member.identity_unbound"),
         "an identity (OpenID, card number, ...) bound or unbound",
         "`member_id`, `identity_type`"),
        (("member.phone_changed",),
         "the login phone changed",
         "`member_id` (never the number)"),
        (("member.stage_changed",),
         "the lifecycle stage moved (new, active, dormant, churned)",
         "`member_id`, `from`, `to`"),
        (("member.behavior",),
         "a rewarded behavior (check-in, referral, custom)",
         "`member_id`, `behavior`, `kind`, `ref`, `points`"),
    )),
    ("Points, growth and orders", (
        (("points.earned",),
         "points earned for an order, a behavior or a referral",
         "`order_id`, or the behavior's detail (`behavior`, `referrer`)"),
        (("points.redeemed",),
         "points spent",
         "`order_id`, `reward`, `hold_id` (when a hold filled it)"),
        (("points.held",),
         "points set aside at a checkout",
         "`hold_id`, `target`, `filling` (a large spend taken in steps)"),
        (("points.hold_confirmed",),
         "a hold spent",
         "`hold_id`, `order`, `consumed`"),
        (("points.hold_released",),
         "a hold given back (cancelled or timed out)",
         "`hold_id`, `why`, `left`, `expired_on_return` (points whose lot had ended meanwhile: they expire on their "
         "way back)"),
        (("points.refunded",),
         "an order refund clawed points back",
         "`order_id`, `refund_id`, `clawed_back`, `restored`, `debt_added`, `forgiven`, `policy`, "
         "`expired` (lapsed or past their day on the way back)"),
        (("points.adjusted",),
         "HQ adjusted a balance",
         "`points` (signed), `reason`"),
        (("points.expired",),
         "points expired",
         "`expires_on`, or (a tier period's growth reset) `tier_period_end`, the period's last day"),
        (("points.unlocked",),
         "pending points became available (the return window closed)",
         "ledger fields"),
        (("points.expiring",),
         "a reminder: points end soon, one event a last day (the points of every lot ending that day, "
         "`lots` of them; under rolling expiry the member's window ends soon, and `points` are all of "
         "theirs, without `lots`)",
         "`member_id`, `point_type`, `points`, `expires_on`, `days_left`, `lots`"),
        (("points.inflation_warning",),
         "issued points outran redeemed ones",
         "`issued`, `redeemed`, `ratio_percent`, `threshold_percent`, `window_days`, `day`"),
        (("points.rules_changed",),
         "HQ changed the earning rules",
         "`version`, `effective_from`"),
        (("growth.earned",),
         "growth (tier progress) earned with an order",
         "growth ledger fields, `order_id`"),
        (("order.earned",),
         "an order earned",
         "`member_id`, `order_id`, `merchant_id`, `store_id`, `amount_fen`, `paid_at`, `points`, `growth`"),
        (("order.refunded",),
         "an order refunded (its points part)",
         "`member_id`, `order_id`, `merchant_id`, `refund_id`, `amount_fen`, `refunded_fen`, `order_amount_fen`, "
         "`order_earned`"),
    )),
    ("Tiers, paid membership, benefits, tasks", (
        (("tier.upgraded", "tier.downgraded", "tier.retained", "tier.set_manually"),
         "a member's tier changed or was kept",
         "`member_id`, `from`, `to`, `cause` (`crossing`, `retention`, `downgrade`, `manual`, `manual_end`, `refund`,"
         " `task`), `valid_until`, `at`, and the cause's detail (`growth`, `ladder_version`, ...)"),
        (("tier.expiring",),
         "a reminder: the tier's validity ends soon",
         "`member_id`, `tier`, `valid_until`, `days_left`, `period_growth`, `retain_needed`, `growth_needed`, "
         "`ladder_version`"),
        (("tier.ladder_changed",),
         "HQ changed the tier ladder",
         "`version`, `effective_from`"),
        (("membership.purchased", "membership.renewed"),
         "a paid membership bought or extended",
         "`member_id`, `plan`, `until`, `amount_fen`, `payment_ref`, `period`, `trial`, `entries` (the fee: "
         "`cash_clearing` debited, `membership_fees_deferred` credited)"),
        (("membership.cancelled",),
         "cancelled",
         "the same, with `reason`, `refund_fen`, `refund_policy`, `cut_periods` (the paid periods cut: `start`, "
         "`end`, `price_fen`, `kept_fen`: what was not refunded, earned that day), `entries` (the refund: `membership_fees_deferred` debited, `cash_clearing` credited)"),
        (("membership.expired",),
         "ran out",
         "`member_id`, `plan`, `until`, `amount_fen` (0), `payment_ref`"),
        (("membership.plans_changed",),
         "HQ changed the plans",
         "`version`, `effective_from`"),
        (("benefit.granted",),
         "a benefit (coupon pack) granted",
         "`member_id`, `rule`, `kind`, `ref`, `period`, `because`"),
        (("benefit.rules_changed",),
         "HQ changed the benefit rules",
         "`version`, `effective_from`"),
        (("task.completed",),
         "a member completed a task",
         "`member_id`, `task`, `name`, `period`, `reward`"),
        (("task.config_changed",),
         "HQ changed the tasks",
         "`version`, `effective_from`"),
        (("pricing.price_lists_changed",),
         "HQ changed the price lists",
         "`version`, `effective_from`"),
        (("member.settings_changed",),
         "HQ changed the member settings (pay-as-member)",
         "`version`, `effective_from`"),
    )),
    ("Stored value", (
        (("stored_value.topped_up",),
         "a top-up",
         "`bonus_fen`, `bonus_rule`, `bonus_until`, `issuer`"),
        (("stored_value.paid",),
         "a payment (directly, or a hold confirmed)",
         "`order_id`, `principal_fen`, `bonus_fen`, `hold_id` (when a hold filled it)"),
        (("stored_value.refunded",),
         "a payment refunded",
         "`order_id`, `refund_id`, `principal_fen`, `bonus_fen`"),
        (("stored_value.held", "stored_value.hold_released"),
         "a checkout hold taken / given back",
         "`hold_id`, `order_id`, `principal_fen`, `bonus_fen` / `hold_id`, `why`"),
        (("stored_value.card_redeemed",),
         "a gift card's balance moved into the member's stored value",
         "`card_number`"),
        (("stored_value.card_payment_refunded",),
         "a refund of a card payment credited to the member",
         "`card_number`, `refund_id`"),
        (("stored_value.cash_out_requested",),
         "a cash-out waits for a second HQ approval",
         "`cash_out_id`, `principal_fen`, `requested_by`, `approval_above_fen`"),
        (("stored_value.cashed_out",),
         "a cash-out paid",
         "`principal_fen` (paid back), `bonus_forfeited_fen`, `spent_bonus_deducted_fen`, `requested_by`, `approved_by`, `cash_out_id`"),
        (("stored_value.cash_out_rejected",),
         "a cash-out rejected",
         "`cash_out_id`, `requested_by`, `rejected_by`"),
        (("stored_value.bonus_expired",),
         "bonus money expired",
         "`day`"),
        (("stored_value.reconciliation_failed",),
         "the nightly proof did not balance",
         "`day`, `totals`, `accounts`"),
        (("stored_value.rules_changed",),
         "HQ changed the stored value rules",
         "`version`, `effective_from`"),
        (("reports.points_valuation_changed",),
         "HQ saved a points valuation (`putPointsValuation`)",
         "`version`, `effective_from`"),
    )),
    ("Gift cards", (
        (("gift_card.batch_created", "gift_card.batch_ready"),
         "a batch ordered / its cards made",
         "`batch_id`, `count`, `face_value_fen` (and `valid_until`, `channel`, `issuer_merchant_id`)"),
        (("gift_card.export_issued", "gift_card.export_part_served", "gift_card.export_purged"),
         "the secrets' download opened / one part downloaded / the export deleted",
         "`batch_id` and `expires_in_seconds` / `part`, `parts`, `by` / `issued`"),
        (("gift_card.sold",),
         "cards sold",
         "`batch_id`, `invoice_ref`, `purchaser`, `first_number`, `last_number`, `count`, `face_fen`, `price_fen`, "
         "`activated`, `entries`"),
        (("gift_card.activated",),
         "a card activated",
         "`card_number`, `batch_id`"),
        (("gift_card.paid",),
         "a card paid for an order (directly, or a hold confirmed)",
         "`order_id`, `hold_id` (when a hold filled it)"),
        (("gift_card.held", "gift_card.hold_released"),
         "a checkout hold taken / given back",
         "`hold_id`, `order_id` (and `why`)"),
        (("gift_card.payment_refunded",),
         "a card payment refunded to the card",
         "`order_id`, `refund_id`, `payment_refunded_fen`"),
        (("gift_card.payment_refunded_to_member",),
         "a card payment refunded to the member's stored value",
         "`refund_id`, `refunded_fen`, `payment_refunded_fen`"),
        (("gift_card.redeemed",),
         "a card's balance moved into a member's stored value",
         "ledger fields"),
        (("gift_card.voided", "gift_card.voided_paid_out"),
         "a card voided / its balance paid out",
         "`sold`, `voided_fen`, `was` / `paid_out_fen`"),
        (("gift_card.extended", "gift_card.breakage"),
         "validity extended / the balance written off",
         "`valid_until`, `was_until` / `breakage_fen`"),
        (("gift_card.batch_expired",),
         "a batch's validity ended",
         "`batch_id`, `valid_until`, `cards_holding_value`, `outstanding_fen`"),
        (("gift_card.secret_rejected", "gift_card.probe_refused"),
         "a wrong card secret / a guess refused while locked",
         "`card_number`, `caller`, `caller_failures` (and `card_failures`)"),
        (("gift_card.locked", "gift_card.caller_locked"),
         "a card / a caller locked after wrong secrets",
         "`card_number`, `locked_until`, `locks` / `caller`, `locked_until`, `because`"),
        (("gift_card.reconciliation_failed",),
         "the hourly proof (the next page of every batch's cards) did not balance",
         "`day`, `batches`, `cards`"),
    )),
    ("Coupons and checkouts", (
        (("coupon.claimed", "coupon.issued"),
         "a member claimed a coupon / one was issued to them (a pack, a bulk issue, a benefit)",
         "`member_id`, `coupon_id`, `template_id`, `terms_version`, `source`, `valid_until`"),
        (("coupon.used",),
         "a coupon written off at a till or a checkout",
         "`member_id`, `coupon_id`, `template_id`, `order_id`, `store_id`, `saving_fen`, `cost` (fen by bearer), "
         "`by`, `kind`, `order_amount_fen`; the event's `merchant_id` is where it was used"),
        (("coupon.write_off_undone",),
         "a write-off undone (a refund)",
         "as `coupon.used`, and `restored` (back to unused, else void), `reason`, `used_merchant_id` (where it was "
         "used: the event's `merchant_id` too), `owner_merchant_id` (the template's merchant, null for the program's)"),
        (("coupon.locked", "coupon.released"),
         "a checkout held a coupon / gave it back",
         "`member_id`, `coupon_id`, `template_id`, `hold_id`, `order_id`; `store_id`, `saving_fen` / `why`"),
        (("coupon.expiring", "coupon.expired"),
         "a reminder before a coupon's last day / it lapsed unused",
         "the coupon's ids; `days_left`"),
        (("coupon.pack_granted",),
         "a coupon pack granted",
         "`member_id`, `pack_id`, `coupons`, `why`"),
        (("coupon.pack_owed", "coupon.pack_owed_issued", "coupon.pack_owed_expired"),
         "a pack that could not be issued in full is owed / issued later / given up",
         "`member_id`, `pack_id`, `owner`, `ref`; `reason`, `give_up_after` / `coupons` / `attempts`"),
        (("coupon.issue_started", "coupon.issue_finished"),
         "a bulk issue to an audience began / ended",
         "`issue_id`, `template_id`; `total`, `tier`"),
        (("coupon.template_created", "coupon.template_updated", "coupon.template_state_changed"),
         "a template made / changed / activated, paused or ended",
         "`template_id`; `kind`, `stock`, `state` / `terms_version`, `changed` / `from`, `to`"),
        (("coupon.codes_imported",),
         "third-party codes imported into a template",
         "`template_id`, `batch`, `imported`, `duplicates`"),
        (("coupon.packs_changed",),
         "HQ changed the coupon packs",
         "`version`, `effective_from`"),
        (("coupon.reconciliation_failed",),
         "the nightly proof of the coupon stock did not balance",
         "`day`, `templates`"),
        (("checkout.committed", "checkout.completed", "checkout.cancelled", "checkout.failed"),
         "a checkout's holds taken / paid / given back / failed",
         "`checkout_id`, `order_id`, `member_id` (null for a walk-in customer: the subject is then `checkout:<id>`), "
         "`store_id`, `channel`, `guide_id`, `totals`"),
        (("checkout.refunded",),
         "(part of) a checkout refunded",
         "as above, and `refund_id`, `reason`, `checkout_status`, `amount_fen`, `points_fen`, `stored_value_fen`, "
         "`gift_cards_fen`, `cash_fen`, `coupons_restored`"),
    )),
    ("The program and the webhooks themselves", (
        (("program.created", "merchant.created", "store.created"),
         "one created",
         "`program_id`, `name` / `merchant_id` / `merchant_id`, `store_id`"),
        (("program.updated", "merchant.updated", "store.updated"),
         "`updateProgram` / `updateMerchant` / `updateStore` changed something",
         "`program_id` / `merchant_id` / `merchant_id`, `store_id`; `version` (after); `changes`: each changed "
         "field's `{\"before\", \"after\"}`, "
         "the merchant's `contact_name` and `contact_phone` only `\"changed\"`; a time "
         "zone change also `timezone_from` (nothing before it is reckoned anew)"),
        (("api_key.created", "api_key.revoked"),
         "a merchant's API key created / revoked",
         "`merchant_id`, `key_id` (and `store_id`, `capabilities`; never the secret)"),
        (("api_key.rotated",),
         "a merchant's API key replaced by a new one",
         "`merchant_id`, `store_id`, `key_id` (the old key), `new_key_id`, `retires_at`, `capabilities` (never a "
         "secret)"),
        (("webhook.subscription_disabled",),
         "a subscription was disabled after repeated exhaustion (sent to the program's other subscriptions)",
         "`subscription_id`, `reason`"),
        (("webhook.test",),
         "`sendTestWebhook`: to that subscription only",
         "`subscription_id`, `note`"),
    )),
    ("Staff", (
        (("staff.created", "staff.updated", "staff.role_changed"),
         "an account created / changed / its role or scope changed (its logins end)",
         "`staff_id`, `role`, `store_id` (never the login name or a secret)"),
        (("staff.disabled", "staff.enabled"),
         "an account disabled / enabled",
         "`staff_id`, `role`, `store_id`"),
        (("staff.password_reset", "staff.password_set", "staff.password_changed"),
         "a password reset (a one-time code issued) / set with that code / changed by its owner",
         "`staff_id`, `role`, `store_id`"),
        (("staff.totp_enrolled",),
         "an account enrolled its TOTP",
         "`staff_id`, `role`, `store_id`"),
        (("staff.locked", "staff.unlocked"),
         "a login locked after wrong passwords / released by an administrator",
         "`staff_id` (null: no such account), `locked_until` / `staff_id`, `role`, `store_id`, `was_locked_until`"),
        (("staff.policy_changed",),
         "a super admin changed the staff policy (TOTP by role)",
         "`version`, `effective_from`"),
    )),
)


def ledger_of(event_type: str) -> str | None:
    """The ledger whose posting fields the type's ``data`` carries (None: its own fields only)."""
    return next((ledger for ledger, types in LEDGER_TYPES.items() if event_type in types), None)


def event_types() -> list[dict[str, str | None]]:
    """Every type, as ``listWebhookEventTypes`` answers it, family by family."""
    return [{"type": t, "family": family, "description": when, "data": data, "ledger": ledger_of(t)}
            for family, rows in CATALOGUE for types, when, data in rows for t in types]


def types() -> frozenset[str]:
    """Every event type the catalogue names."""
    return frozenset(t for _, rows in CATALOGUE for types, _, _ in rows for t in types)
