"""The Chalice app: middleware, blueprints and the event handlers. Nothing else lives here."""

import gc
import json
import os

gc.disable()        # while the app loads (chalicelib/shared/coldstart.py)

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware, Cron

from chalicelib import jobs
from chalicelib.api import auth, cors, gateway
from chalicelib.audit.routes import bp as audit_log
from chalicelib.benefits.routes import bp as benefits
from chalicelib.checkout.routes import bp as checkout
from chalicelib.coupons import audience, pack_rules
from chalicelib.coupons.routes import bp as coupons
from chalicelib.db import due, versioned
from chalicelib.db.tables import EVENTS, stream_placeholder
from chalicelib.events import dispatch
from chalicelib.gift_cards.routes import bp as gift_cards
from chalicelib.member_codes.routes import bp as member_codes
from chalicelib.members.routes import bp as members
from chalicelib.merchants.key_routes import bp as merchant_keys
from chalicelib.merchants.routes import bp as merchants
from chalicelib.overview.routes import bp as overview
from chalicelib.points import tiering
from chalicelib.points.routes import bp as points
from chalicelib.pricing.routes import bp as pricing
from chalicelib.programs.routes import bp as programs
from chalicelib.reports import export_hooks
from chalicelib.reports.balance_routes import bp as balance_sheet
from chalicelib.reports.dashboard_routes import bp as dashboard
from chalicelib.reports.export_routes import bp as report_exports
from chalicelib.settlement.routes import bp as settlement
from chalicelib.shared import clock, coldstart, secrets
from chalicelib.shared.observability import logger, metrics, traced, tracer
from chalicelib.staff.routes import bp as staff
from chalicelib.stored_value.routes import bp as stored_value
from chalicelib.system.routes import bp as system
from chalicelib.tasks.routes import bp as tasks
from chalicelib.tiers.routes import bp as tiers
from chalicelib.webhooks.routes import bp as webhooks

# What lower layers ask of capabilities, imported when first asked for.
auth.KEY_FINDER.provided_by("chalicelib.merchants.keys")        # API keys, for signed requests
auth.STAFF_CHECK.provided_by("chalicelib.staff.check")          # staff logins, for their tokens
auth.MEMBER_CHECK.provided_by("chalicelib.members.tokens")      # member logins, for their tokens
tiering.SOURCE.provided_by("chalicelib.benefits.service")       # tiers and multipliers, for earning
clock.ZONES.provided_by("chalicelib.programs.zones")             # each program's time zone, for its calendar
due.PROGRAMS.provided_by("chalicelib.programs.listing")          # every program, for the due work of each
pack_rules.SETTLED["benefit"].provided_by("chalicelib.benefits.service")  # owed packs settle entitlements
audience.TIER_MEMBERS.provided_by("chalicelib.tiers.listing")            # a tier's members, for an issue to it

# What the stream and the schedules run, imported by the first event or job (never by the API):
dispatch.provided_by(
    "chalicelib.points.projection",       # the points figures
    "chalicelib.stored_value.figures",    # the prepaid figures
    "chalicelib.events.stats",            # daily statistics
    "chalicelib.tiers.stream",            # growth moves tiers
    "chalicelib.benefits.stream",         # packs granted on upgrades
    "chalicelib.tasks.stream",            # events counted for tasks
    "chalicelib.coupons.stats",           # each coupon template's figures
    "chalicelib.webhooks.fanout",         # every event to the webhooks queue, per subscription
    "chalicelib.tiers.listing",           # each tier's members, for an issue to a tier
    "chalicelib.reports.balance_history",  # what each day changed, for the balance sheet of a past day
    "chalicelib.reports.dashboard",       # the operations dashboard (#29)
    "chalicelib.orders.spend",            # what each member spent at each merchant (the members list)
)
jobs.provided_by(
    "chalicelib.members.lifecycle", "chalicelib.points.jobs", "chalicelib.tiers.jobs",
    "chalicelib.stored_value.jobs", "chalicelib.stored_value.holds", "chalicelib.gift_cards.jobs",
    "chalicelib.gift_cards.holds", "chalicelib.coupons.jobs", "chalicelib.coupons.holds",
    "chalicelib.coupons.owed", "chalicelib.checkout.completion",
)
jobs.provided_by("chalicelib.reports.exports_job")                 # exports (#29 item 3)
dispatch.provided_by("chalicelib.settlement.projection")           # mall settlement's clearing lines (#29 item 4)
export_hooks.provided_by("chalicelib.settlement.exports")          # ... and their export
versioned.declared_in(                                             # configurations naming others', checked on a save
    "chalicelib.tiers.ladder", "chalicelib.tiers.plans", "chalicelib.pricing.lists", "chalicelib.coupons.pack_rules",
    "chalicelib.points.rules", "chalicelib.tasks.config", "chalicelib.benefits.rules", "chalicelib.stored_value.rules",
)

# The API refuses to start on a deployed stage without strong secrets (shared/secrets.py).
if os.environ.get("REQUIRE_SECRETS") == "true":
    secrets.current()

app = Chalice(app_name="loyalty")
app.register_middleware(coldstart.first_request, "http")
app.register_middleware(cors.middleware(app.routes), "http")      # the console's origin (api/cors.py)
app.register_middleware(gateway.as_problem, "http")
app.register_middleware(ConvertToMiddleware(
    logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)), "all")
app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")
if tracer is not None:
    app.register_middleware(ConvertToMiddleware(traced(tracer)), "all")

for blueprint in (system, programs, members, merchants, points, tiers, benefits, tasks, overview,
                  stored_value, gift_cards, coupons, webhooks, pricing):
    app.register_blueprint(blueprint)
app.register_blueprint(member_codes)
app.register_blueprint(checkout)
app.register_blueprint(staff)
app.register_blueprint(merchant_keys)
app.register_blueprint(audit_log)
app.register_blueprint(balance_sheet)
app.register_blueprint(dashboard)
app.register_blueprint(report_exports)
app.register_blueprint(settlement)
# After every route: an OPTIONS on each path, for the gateway's methods (chalice package) and chalice
# local to hand preflights to the app. The function itself needs none (cors.middleware answers every
# OPTIONS before routing), so the Lambda spares its cold start the 158 registrations (about 2 ms).
if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    cors.add_preflights(app)

# Chalice needs a stream ARN string at import time. It names the events table; the deployed
# template replaces it with the table's real StreamArn (infra/build.py), and the local stream
# pump resolves it to the emulator's stream by the table name.
EVENTS_STREAM_ARN = os.environ.get("EVENTS_STREAM_ARN") or stream_placeholder(EVENTS)


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON")
def dispatch_domain_events(event):
    """Deliver outbox events to their subscribers; report the first failure for a retry from there."""
    return dispatch.handle_records(record for record in event.to_dict()["Records"])


@app.lambda_function(name="redrive-events")
def redrive_events(event, context):
    """Replay the stream records of the failure queue from the stream (hourly: infra/stream.py)."""
    from chalicelib.events import redrive
    return redrive.run(context.get_remaining_time_in_millis() if context is not None else None)


def _remaining_ms(event) -> float | None:
    """The Lambda's remaining time (None without a Lambda context): a job's deadline."""
    context = getattr(event, "context", None)
    return context.get_remaining_time_in_millis() if context is not None else None


def _job(name: str):
    def run(event):
        return jobs.run(name, clock.now(), _remaining_ms(event))
    run.__name__ = name.replace("-", "_")
    return run


# A job that stops at its deadline puts its continuation on the jobs queue (chalicelib/jobs.py);
# this runs it, one message at a time. The deployed template points the source at its JobsQueue
# (infra/build.py) in place of this placeholder ARN; the local stack polls the same queue on the
# emulator (devstack/queues.py).
JOBS_QUEUE_ARN = os.environ.get("JOBS_QUEUE_ARN") or "arn:aws:sqs:cn-north-1:000000000000:loyalty-jobs"


@app.on_sqs_message(queue_arn=JOBS_QUEUE_ARN, batch_size=1, name="continue-job")
def continue_job(event):
    """Carry on a job from where its last part stopped."""
    return [jobs.resume(json.loads(record.body), _remaining_ms(event)) for record in event]


# Webhook deliveries (chalicelib/webhooks/delivery.py): the stream's fan-out puts one message per
# event and subscription on the webhooks queue; this posts them, ten at a time side by side, and
# reports the ones to try again (their visibility already set to the retry schedule's wait).
# The deployed template points the source at its WebhooksQueue (infra/build.py) with
# ReportBatchItemFailures; the local stack polls the same queue on the emulator (devstack/queues.py).
WEBHOOKS_QUEUE_ARN = os.environ.get("WEBHOOKS_QUEUE_ARN") or "arn:aws:sqs:cn-north-1:000000000000:loyalty-webhooks"


@app.on_sqs_message(queue_arn=WEBHOOKS_QUEUE_ARN, batch_size=10, name="deliver-webhooks")
def deliver_webhooks(event):
    """Post each message's event to its subscriber; report the failed ones for a later retry."""
    from chalicelib.webhooks import delivery
    return delivery.handle(event.to_dict()["Records"], _remaining_ms(event))


# Work that falls due at a program's midnight runs every hour (programs keep their calendars in
# their own time zones, and each item waits for its program's day): :10 expire and unlock, :15
# expired top-up bonus, :20 tier reviews, :25 memberships, :30 lifecycle stages. 10:00 and 10:05
# Asia/Shanghai: points and tier reminders (a civil hour for notifications); every 5 minutes:
# lapsed checkout holds, lapsed checkouts and targeted coupon issues; :35 coupon reminders and expiry; 01:00: inflation check; 03:50: coupons'; :40, :45 and :50 every
# hour: the next page of the gift card, points and stored value reconciliations (every card and account within a week at
# 1.2 million members: chalicelib/ledger/reconciliation.py). Lambda finds each handler as an
# attribute of this module, hence the names.
member_lifecycle = app.schedule(Cron(30, "*", "*", "*", "?", "*"), name="member-lifecycle")(_job("member-lifecycle"))
points_expiry = app.schedule(Cron(10, "*", "*", "*", "?", "*"), name="points-expiry")(_job("points-expiry"))
points_reminders = app.schedule(Cron(0, 2, "*", "*", "?", "*"), name="points-reminders")(_job("points-reminders"))
points_holds = app.schedule("rate(5 minutes)", name="points-holds")(_job("points-holds"))
points_inflation = app.schedule(Cron(0, 17, "*", "*", "?", "*"), name="points-inflation")(_job("points-inflation"))
tier_review = app.schedule(Cron(20, "*", "*", "*", "?", "*"), name="tier-review")(_job("tier-review"))
membership_expiry = app.schedule(Cron(25, "*", "*", "*", "?", "*"), name="membership-expiry")(
    _job("membership-expiry"))
tier_reminders = app.schedule(Cron(5, 2, "*", "*", "?", "*"), name="tier-reminders")(_job("tier-reminders"))
points_reconcile = app.schedule(Cron(45, "*", "*", "*", "?", "*"), name="points-reconcile")(_job("points-reconcile"))
stored_value_holds = app.schedule("rate(5 minutes)", name="stored-value-holds")(_job("stored-value-holds"))
stored_value_reconcile = app.schedule(Cron(50, "*", "*", "*", "?", "*"), name="stored-value-reconcile")(
    _job("stored-value-reconcile"))
stored_value_bonus_expiry = app.schedule(Cron(15, "*", "*", "*", "?", "*"), name="stored-value-bonus-expiry")(
    _job("stored-value-bonus-expiry"))
gift_card_reconcile = app.schedule(Cron(40, "*", "*", "*", "?", "*"), name="gift-card-reconcile")(
    _job("gift-card-reconcile"))
gift_card_batches = app.schedule("rate(5 minutes)", name="gift-card-batches")(_job("gift-card-batches"))
gift_card_holds = app.schedule("rate(5 minutes)", name="gift-card-holds")(_job("gift-card-holds"))
coupon_holds = app.schedule("rate(5 minutes)", name="coupon-holds")(_job("coupon-holds"))
checkout_lapse = app.schedule("rate(5 minutes)", name="checkout-lapse")(_job("checkout-lapse"))
coupon_issues = app.schedule("rate(5 minutes)", name="coupon-issues")(_job("coupon-issues"))
coupon_reconcile = app.schedule(Cron(50, 19, "*", "*", "?", "*"), name="coupon-reconcile")(
    _job("coupon-reconcile"))
coupon_expiry = app.schedule(Cron(35, "*", "*", "*", "?", "*"), name="coupon-expiry")(_job("coupon-expiry"))
coupon_owed = app.schedule(Cron(55, 1, "*", "*", "?", "*"), name="coupon-owed")(_job("coupon-owed"))

# Exports (#29 item 3): queued exports are written every minute, and carried on by continuations.
exports = app.schedule("rate(1 minute)", name="exports")(_job("exports"))

coldstart.loaded()
