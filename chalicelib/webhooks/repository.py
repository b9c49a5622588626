"""Reads of webhook subscriptions and deliveries: ``repository.of(uow)``."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.db.backend import SortKey
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.cache import TtlCache
from chalicelib.webhooks.tables import LISTING, SHARDS, DeliveryItem, SubscriptionItem, day_partition

# The fan-out reads a program's subscriptions at most once a second per container (a stream batch
# of 100 events is one read, not 100; a flash of thousands of events a second, one read a second):
# a new, changed or disabled subscription takes effect for events written about a second later.
# The deliverer reads the subscription itself before each delivery.
SUBSCRIPTIONS_SECONDS = 1.0
_ENABLED: TtlCache[list[SubscriptionItem]] = TtlCache(SUBSCRIPTIONS_SECONDS)
# The deliverer reads whether an endpoint is paused at most once a second per container (a dead
# endpoint's backlog of thousands of messages: one read a second, not one a message).
_PAUSES: TtlCache[tuple[str, int] | None] = TtlCache(SUBSCRIPTIONS_SECONDS)


class WebhooksRepository:
    """Subscriptions and their deliveries."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def subscription(self, subscription_id: str, consistent: bool = False) -> SubscriptionItem | None:
        """A subscription (deleted ones too), or None."""
        if len(subscription_id) > 64:
            return None
        return self.uow.get(SubscriptionItem, SubscriptionItem.key(subscription_id), consistent)

    def subscriptions(self) -> list[SubscriptionItem]:
        """Every subscription of the program that is not deleted (at most a few dozen)."""
        return list(self.uow.query(SubscriptionItem, LISTING, None, index="gsi1"))

    def enabled(self) -> list[SubscriptionItem]:
        """The program's enabled subscriptions, as of at most :data:`SUBSCRIPTIONS_SECONDS` ago."""
        return _ENABLED.get(self.uow.program, lambda: [s for s in self.subscriptions() if s.status == "enabled"])

    def pause(self, subscription_id: str) -> tuple[str, int] | None:
        """(paused until, posts failed in a row) of an enabled subscription with a pause set, as of
        at most :data:`SUBSCRIPTIONS_SECONDS` ago; None if it has none."""
        def load() -> tuple[str, int] | None:
            s = self.subscription(subscription_id)
            if s is None or s.status != "enabled" or not s.paused_until:
                return None
            return s.paused_until, int(s.failures or 0)
        return _PAUSES.get((self.uow.program, subscription_id), load)

    def paused(self, subscription_id: str, until: str, failures: int) -> None:
        """This process has just paused the endpoint (its next deliveries see it at once)."""
        _PAUSES.put((self.uow.program, subscription_id), (until, failures))

    def delivery(self, subscription_id: str, event_id: str, consistent: bool = True) -> DeliveryItem | None:
        """An event's delivery to a subscription, or None."""
        return self.uow.get(DeliveryItem, DeliveryItem.key(subscription_id, event_id), consistent)

    def day(self, subscription_id: str, day: str, after: str | None = None) -> Iterator[DeliveryItem]:
        """A day's deliveries and attempts of a subscription, shard after shard (each in event id
        order), from after the event id ``after``."""
        for shard in range(SHARDS):
            sort = SortKey.above(after) if after else None
            yield from self.uow.query(DeliveryItem, day_partition(subscription_id, day, shard), sort)


def of(uow: UnitOfWork) -> WebhooksRepository:
    """The unit's webhooks repository."""
    return uow.repo(WebhooksRepository)


def forget_cached() -> None:
    """Drop the cached subscriptions (a test that changes them and fans out at once)."""
    _ENABLED.clear()
    _PAUSES.clear()
