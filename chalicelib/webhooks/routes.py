"""Webhook subscriptions, their delivery log, replays and test deliveries (HQ staff, or a
merchant's API key with the ``webhooks`` capability for its own merchant)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field, StrictBool, StrictInt

from chalicelib.api.auth import HQ, key_with
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Instant, Strict

if TYPE_CHECKING:
    from chalicelib.webhooks import deliveries, service
else:
    service = lazy.module("chalicelib.webhooks.service")
    deliveries = lazy.module("chalicelib.webhooks.deliveries")

bp = Blueprint(__name__)
TAGS = ("webhooks",)
OWNERS = (HQ, key_with("webhooks"))
R = "chalicelib.webhooks.replies:"
BASE = "/v1/webhooks/subscriptions"
ULID = r"^[0-9A-HJKMNP-TV-Z]{26}$"          # an event id
Filters = Field(min_length=1, max_length=20, description="event types, with * wildcards: [\"points.*\"], [\"*\"]")


class CreateSubscription(Strict):
    url: str = Field(min_length=8, max_length=2048, description="https (http on the local stage only)")
    filters: list[str] = Filters
    merchant_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9\-]{1,39}$",
                                    description="only this merchant's events (a merchant's key: its own, always)")
    description: str | None = Field(None, max_length=200)


class UpdateSubscription(Strict):
    url: str | None = Field(None, min_length=8, max_length=2048)
    filters: list[str] | None = Field(None, min_length=1, max_length=20)
    description: str | None = Field(None, max_length=200)
    enabled: StrictBool | None = Field(None, description="false: deliver nothing; true: deliver again (and forget the "
                                                   "streak of exhausted deliveries)")


class RotateSecret(Strict):
    overlap_hours: StrictInt = Field(24, ge=0, le=168, description="hours the current secret keeps signing beside the new")


class DeliveriesQuery(Strict):
    since: Instant | None = Field(None, description="deliveries of events since then (default: 24 hours ago; "
                                                    "at most 30 days)")
    after: str | None = Field(None, pattern=ULID, description="the page after this event id")
    status: str | None = Field(None, pattern=r"^(queued|sent|delivering|retrying|delivered|exhausted|dropped|failed)$")
    limit: int = Field(50, ge=1, le=200)          # (a query string: digits are its only form)


class Replay(Strict):
    event_id: str | None = Field(None, pattern=ULID, description="one event")
    since: Instant | None = Field(None, description="every event delivered since then (at most 30 days ago)")
    after: str | None = Field(None, pattern=ULID, description="carry on after this event id")


@endpoint(bp, "/v1/webhooks/event-types", "GET", "listWebhookEventTypes", tags=TAGS,
          summary="The event catalogue: every type a subscription may filter on, when it happens and what its data "
          "carries", allow=OWNERS, response=R + "EventTypesOut")
def list_event_types(call: Call):
    return service.event_types()


@endpoint(bp, BASE, "POST", "createWebhookSubscription", status=201, tags=TAGS, errors=(403, 404, 409),
          summary="Subscribe a URL to events (the signing secret is shown once)", allow=OWNERS,
          body=CreateSubscription, response=R + "SubscriptionCreatedOut",
          secret=(lambda reply: service.without_secret(reply), lambda uow, kept: service.with_secret(uow, kept)))
def create_subscription(call: Call):
    return service.create(call.body, call.caller, call.uow)


@endpoint(bp, BASE, "GET", "listWebhookSubscriptions", tags=TAGS, summary="The program's subscriptions "
          "(a merchant's key: its merchant's)", allow=OWNERS, response=R + "SubscriptionsOut")
def list_subscriptions(call: Call):
    return service.listing(call.uow, call.caller)


@endpoint(bp, BASE + "/{subscription_id}", "GET", "getWebhookSubscription", tags=TAGS, errors=(404,),
          summary="One subscription", allow=OWNERS, response=R + "SubscriptionOut")
def get_subscription(call: Call):
    return service.get(call.uow, call.params["subscription_id"], call.caller)


@endpoint(bp, BASE + "/{subscription_id}", "PATCH", "updateWebhookSubscription", tags=TAGS, errors=(404, 409),
          summary="Change the URL, filters or description; disable or enable", allow=OWNERS,
          body=UpdateSubscription, response=R + "SubscriptionOut")
def update_subscription(call: Call):
    return service.update(call.uow, call.params["subscription_id"], call.body, call.caller)


@endpoint(bp, BASE + "/{subscription_id}", "DELETE", "deleteWebhookSubscription", tags=TAGS, errors=(404, 409),
          summary="Delete a subscription: nothing more is delivered", allow=OWNERS,
          response=R + "SubscriptionDeletedOut")
def delete_subscription(call: Call):
    return service.delete(call.uow, call.params["subscription_id"], call.caller)


@endpoint(bp, BASE + "/{subscription_id}/secret/rotate", "POST", "rotateWebhookSecret", tags=TAGS,
          errors=(404, 409), summary="A new signing secret (shown once); the old one signs beside it for the overlap",
          allow=OWNERS, body=RotateSecret, response=R + "SecretRotatedOut",
          secret=(lambda reply: service.without_secret(reply), lambda uow, kept: service.with_secret(uow, kept)))
def rotate_secret(call: Call):
    return service.rotate(call.uow, call.params["subscription_id"], call.body.overlap_hours, call.caller)


@endpoint(bp, BASE + "/{subscription_id}/deliveries", "GET", "listWebhookDeliveries", tags=TAGS, errors=(404,),
          summary="The delivery log: each event's delivery and attempts (kept 30 days)", allow=OWNERS,
          query=DeliveriesQuery, response=R + "DeliveriesOut")
def list_deliveries(call: Call):
    q: DeliveriesQuery = call.query
    return deliveries.log(call.uow, call.params["subscription_id"], call.caller, q.since, q.after, q.status, q.limit)


@endpoint(bp, BASE + "/{subscription_id}/replays", "POST", "replayWebhookEvents", tags=TAGS, errors=(404,),
          summary="Deliver one event, or every event since a moment, again (same webhook-id)", allow=OWNERS,
          body=Replay, response=R + "ReplayOut", external=True)
def replay(call: Call):
    b: Replay = call.body
    return deliveries.replay(call.uow, call.params["subscription_id"], call.caller, b.event_id, b.since, b.after)


@endpoint(bp, BASE + "/{subscription_id}/test", "POST", "sendTestWebhook", tags=TAGS, errors=(404,),
          summary="Post a webhook.test event now and answer its outcome", allow=OWNERS,
          response=R + "WebhookTestOut", external=True)
def send_test(call: Call):
    return deliveries.send_test(call.uow, call.params["subscription_id"], call.caller)
