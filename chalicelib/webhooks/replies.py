"""What the webhook operations answer: the OpenAPI response schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.shared.types import Reply

Status = Literal["enabled", "disabled"]
DeliveryStatus = Literal["queued", "sent", "delivering", "retrying", "delivered", "exhausted", "dropped", "failed"]


class SecretOut(Reply):
    """A live signing secret (never its value)."""

    secret_id: str
    created_at: str
    retire_at: str | None = Field(description="when it stops signing (null: the current secret)")


class SubscriptionOut(Reply):
    """A webhook subscription."""

    subscription_id: str
    url: str
    filters: list[str] = Field(description="event types it receives, with * wildcards")
    merchant_id: str | None = Field(description="the merchant it is scoped to (null: the whole program)")
    description: str | None
    status: Status
    created_at: str
    updated_at: str | None
    disabled_at: str | None
    disabled_reason: str | None
    secrets: list[SecretOut] = Field(description="the secrets that sign deliveries now (two during a rotation)")
    exhausted_since: str | None = Field(description="the first delivery that exhausted its retries since the "
                                                    "last success")
    exhausted_count: int
    failures_in_a_row: int = Field(description="posts that failed in a row (5 pause the endpoint)")
    paused_until: str | None = Field(description="no post before then: deliveries due fail at once and follow "
                                                 "their schedule (the circuit breaker)")


class SubscriptionCreatedOut(SubscriptionOut):
    """The new subscription with its signing secret: shown this once."""

    secret: str = Field(description="whsec_ + base64: verify deliveries with it (Standard Webhooks)")


class SecretRotatedOut(SubscriptionOut):
    """The subscription with its new secret: shown this once. The old one signs beside it until
    its retire_at."""

    secret_id: str
    secret: str


class SubscriptionsOut(Reply):
    """The subscriptions the caller sees."""

    subscriptions: list[SubscriptionOut]


class SubscriptionDeletedOut(Reply):
    """The deleted subscription."""

    subscription_id: str
    status: Literal["deleted"]
    deleted_at: str


class AttemptOut(Reply):
    """One attempt to post a delivery."""

    at: str
    status_code: int | None = Field(description="null: no answer (refused, timed out)")
    latency_ms: int
    response: str | None = Field(description="the first 1 KB of the answer")
    error: str | None


class DeliveryOut(Reply):
    """One event's delivery to the subscription, with its attempts."""

    event_id: str = Field(description="the webhook-id header: the same on every attempt and replay")
    event_type: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    replayed_at: str | None
    last_status_code: int | None
    last_error: str | None
    log: list[AttemptOut] = Field(description="every attempt, oldest first")


class DeliveriesOut(Reply):
    """A page of the subscription's delivery log."""

    subscription_id: str
    since: str
    deliveries: list[DeliveryOut]
    next_after: str | None = Field(description="pass as after for the next page (null: no more)")


class ReplayOut(Reply):
    """The deliveries queued again."""

    subscription_id: str
    replayed: int
    event_ids: list[str] = Field(description="the first 100 events queued again")
    next_after: str | None = Field(description="more to replay: call again with after set to this")


class WebhookTestOut(Reply):
    """The outcome of the test delivery."""

    subscription_id: str
    event_id: str
    delivered: bool
    status_code: int | None
    latency_ms: int
    response: str = Field(description="the first 1 KB of the answer")
    error: str | None


class EventTypeOut(Reply):
    """One event type of the catalogue."""

    type: str = Field(description="the type, as events carry it and filters name it (`points.earned`)")
    family: str = Field(description="the group it is listed in (Members; Points, growth and orders; ...)")
    description: str = Field(description="when it happens (a row describing several types together names each in "
                                         "turn, separated by /)")
    data: str = Field(description="what its `data` carries (field names in backticks; a row describing several "
                                  "types names each one's fields in turn, separated by /)")
    ledger: Literal["points", "stored_value", "gift_cards"] | None = Field(
        description="a posting of this ledger: `data` also carries the ledger's fields (`ledger_fields`); null: "
                    "only its own")


class EventTypesOut(Reply):
    """Every event type the system emits: what a subscription's filters may name."""

    event_types: list[EventTypeOut] = Field(description="family by family")
    ledger_fields: dict[str, str] = Field(description="what each ledger's postings carry in `data`, by ledger")
