"""Why the events stream's ``ParallelizationFactor`` stays 1 (#24 item 7, docs/scale.md): the
per-member consumers need a member's events in the order they were written, and above 1 Lambda
keeps the order of a DynamoDB stream shard only per item (partition and sort key), while each
transaction's events of a member are an outbox item of their own (``pk`` the member, ``sk`` the
first event's id). Two batches of one shard handled at once can apply a member's refund before the
earn it takes back: until 2026-12-06 the member kept the tier the refund took away. The tiers
consumer now leaves out a posting older than the one that last wrote the member's tier item
(``growth_seq``): here the refund, handled first, makes the member's first tier item, and the earn
changes nothing. A posting that wrote nothing (no tier moved) guards nothing, so an older one
handled after it still applies its stale balance: the factor stays 1 (docs/scale.md)."""

from __future__ import annotations

from chalicelib.db.outbox import EventItem
from chalicelib.events import dispatch
from chalicelib.shared.events import DomainEvent
from tests.integration.conftest import scan
from tests.integration.test_tiers import history, ladder, tier  # noqa: F401  (ladder: a fixture)
from tests.outbox import outbox_events


def _events_of(mid: str) -> list[DomainEvent]:
    """The member's events as the outbox holds them, in the order they were written."""
    events = outbox_events(None)
    return sorted((e for e in events if e.subject == f"member:{mid}"), key=lambda e: (e.occurred_at, e.id))


def _earn_then_refund(api, phone: str, order: str) -> str:
    mid = api.member(phone)
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": order, "amount_fen": 120_000, "merchant_id": "m1"})
    api.ok("POST", f"/v1/orders/{order}/refunds", {"refund_id": "r1", "amount_fen": 60_000, "merchant_id": "m1"})
    return mid


def test_a_members_refund_handled_before_its_earn_leaves_the_tier_it_took_back(api, ladder):  # noqa: F811
    ladder(downgrade_on_refund=True)
    in_order = _earn_then_refund(api, "13800139101", "so1")
    crossed = _earn_then_refund(api, "13800139102", "so2")
    events = _events_of(in_order)
    keys = {(item.pk, item.sk) for item in scan(EventItem, program=None) if item.pk.endswith(f"member:{in_order}")}
    assert len(keys) == 3 < len(events)                      # the member's partition, an item per transaction
    for event in events:                                     # one batch after the other: stream order
        dispatch.dispatch(event)
    for event in reversed(_events_of(crossed)):              # two batches at once: the refund's first
        dispatch.dispatch(event)
    assert tier(api, in_order)["tier"]["code"] == "V1"       # Silver, then taken back by the refund
    assert [c["cause"] for c in history(api, in_order)] == ["refund", "crossing"]
    assert tier(api, crossed)["tier"]["code"] == "V1"        # the refund's balance; the earn, older, moves nothing
    assert history(api, crossed) == []
