"""The outbox packs a unit's events of one subject into one item (#24 "Cost", docs/scale.md): an
earn's three events are one write, the stream handler and the redrive dispatch each event of a
packed item once (the markers are per event), a huge unit's events go over several items in
order, and items of the old shape (one event each) are still read."""

from __future__ import annotations

import base64
import json
import os

import pytest

from chalicelib.db import backend as backends
from chalicelib.db.items import expiry_in
from chalicelib.db.outbox import EventItem, events_from_image, events_of
from chalicelib.db.uow import UnitOfWork
from chalicelib.events import dispatch, redrive
from chalicelib.shared.config import settings
from chalicelib.shared.events import DomainEvent
from devstack.capacity import item_size
from devstack.pump import StreamReader
from tests.aws import client as aws_client
from tests.outbox import outbox_events


def _items(subject: str) -> list[EventItem]:
    return list(UnitOfWork().query(EventItem, subject))


def test_an_earns_three_events_are_one_outbox_item_of_one_write_unit(api):
    mid = api.member("13800139301")
    before = len(_items(f"member:{mid}"))
    api.ok("POST", f"/v1/members/{mid}/points/earn", {"order_id": "pk1", "amount_fen": 29_900, "merchant_id": "m1"})
    items = _items(f"member:{mid}")
    assert len(items) == before + 1                               # was three: an item per event
    earned = [item for item in items if len(item.events()) > 1]
    assert [e.type for e in earned[0].events()] == ["points.earned", "growth.earned", "order.earned"]
    assert earned[0].sk == earned[0].events()[0].id and earned[0].expires_at
    raw = backends.current().scan(EventItem)                      # the stored size, keys and all
    size = max(item_size(_wire(i)) for i in raw if i.sk == earned[0].sk)
    assert size <= 1024, size                                     # one write unit (two in its transaction)


def _wire(item: EventItem) -> dict:
    data = item.serialize()
    return {k: ({"B": base64.b64encode(v["B"]).decode()} if "B" in v else v) for k, v in data.items()}


def test_a_units_events_are_one_item_per_subject_in_staging_order(db):
    uow = UnitOfWork("test")
    staged = [DomainEvent("test.a", "member:a", {"n": 1}), DomainEvent("test.b", "member:b", {"n": 2}),
              DomainEvent("test.a", "member:a", {"n": 3})]
    for event in staged:
        uow.emit(event)
    uow.commit()
    assert [e.data["n"] for e in events_of(_items("member:a"))] == [1, 3]
    assert [e.data["n"] for e in events_of(_items("member:b"))] == [2]
    assert [e.data["n"] for e in outbox_events(kind="test.a")] == [1, 3]


def test_a_huge_units_events_go_over_several_items_in_order_each_under_400_kb(db):
    uow = UnitOfWork("test")
    for n in range(60):                     # 60 x 10 KB that hardly compresses: 600 KB of events
        uow.emit(DomainEvent("test.bulk", "program:bulk", {"n": n, "blob": base64.b64encode(os.urandom(7_500)).decode()}))
    uow.commit()
    items = _items("program:bulk")
    assert len(items) >= 2
    assert [e.data["n"] for e in events_of(items)] == list(range(60))          # sk order is staging order
    assert all(item_size(_wire(i)) < 400 * 1024 for i in items)


def _record(n: int, image: dict) -> dict:
    return {"eventName": "INSERT", "dynamodb": {"SequenceNumber": f"{n:021d}", "NewImage": image}}


def _packed_image(events: list[DomainEvent], lambda_shape: bool = True) -> dict:
    """A packed item's NewImage: as a Lambda event holds it (binary as base64 text), or as the
    Streams API returns it (bytes)."""
    (item,) = EventItem.pack(events)
    wire = item.serialize()
    if lambda_shape:
        wire["events"] = {"B": base64.b64encode(wire["events"]["B"]).decode()}
    return wire


def _old_image(event: DomainEvent) -> dict:
    return {"pk": {"S": event.subject}, "sk": {"S": event.id}, "type": {"S": event.type},
            "payload": {"S": json.dumps(event.as_dict())}, "expires_at": {"N": str(expiry_in(1))}}


def test_the_stream_handler_dispatches_each_event_of_a_packed_record_once(aws, monkeypatch):
    applied: list[tuple[str, int]] = []
    fail = {"n": 2}

    def step(event):
        if event.data["n"] == fail["n"]:
            fail["n"] = -1
            raise RuntimeError("down")
        uow = UnitOfWork("stream")
        if dispatch.apply_once("steps", event, uow):
            applied.append((event.subject, event.data["n"]))

    monkeypatch.setattr(dispatch, "SUBSCRIBERS", {"test.step": [("steps", step)]})
    monkeypatch.setattr(dispatch.PROVIDERS, "load", lambda: None)
    old = DomainEvent("test.step", "member:x", {"n": 0}, program_id="default")
    packed = [DomainEvent("test.step", "member:x", {"n": n}, program_id="default") for n in (1, 2, 3)]
    other = [DomainEvent("test.step", "member:y", {"n": n}, program_id="default") for n in (10, 11)]
    records = [_record(1, _old_image(old)), _record(2, _packed_image(packed)),
               _record(3, _packed_image(other, lambda_shape=False))]
    result = dispatch.handle_records(records)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert ("member:x", 1) in applied and ("member:x", 3) not in applied      # stopped at its second event
    assert dispatch.handle_records(records[1:]) == {"batchItemFailures": []}   # retried from that record
    assert sorted(applied) == [("member:x", 0), ("member:x", 1), ("member:x", 2), ("member:x", 3),
                               ("member:y", 10), ("member:y", 11)]            # each once, the first again dropped


def test_the_redrive_dispatches_a_packed_records_events(aws, monkeypatch):
    seen: list[int] = []
    monkeypatch.setattr(dispatch, "SUBSCRIBERS", {"test.step": [("steps", lambda e: seen.append(e.data["n"]))]})
    monkeypatch.setattr(dispatch.PROVIDERS, "load", lambda: None)
    packed = [DomainEvent("test.step", "member:x", {"n": n}, program_id="default") for n in (1, 2, 3)]
    records = [_record(7, _packed_image(packed, lambda_shape=False)), _record(8, _old_image(packed[0]))]
    monkeypatch.setattr(redrive, "read_range", lambda *args: records)
    assert redrive.redrive(None, {"streamArn": "a", "shardId": "s", "startSequenceNumber": "7",
                                  "endSequenceNumber": "8"}) == ("redriven", 4)
    assert seen == [1, 2, 3, 1]


def test_a_units_stream_record_holds_its_events_in_order(aws):
    uow = UnitOfWork("test")
    for n in range(3):
        uow.emit(DomainEvent("test.step", "member:z", {"n": n}))
    uow.commit()
    arn = aws_client("dynamodb").describe_table(TableName=settings().events_table)["Table"]["LatestStreamArn"]
    records = [r for r in StreamReader(aws_client("dynamodbstreams"), arn, "cn-north-1")(100)
               if r["dynamodb"]["Keys"]["pk"]["S"].endswith("member:z")]
    assert len(records) == 1
    assert [e.data["n"] for e in events_from_image(records[0]["dynamodb"]["NewImage"])] == [0, 1, 2]


@pytest.mark.parametrize("shape", ["old", "packed"])
def test_an_outbox_items_events_read_back_whatever_its_shape(shape):
    event = DomainEvent("test.step", "member:q", {"n": 1, "fen": 2 ** 53 + 1})
    image = _old_image(event) if shape == "old" else _packed_image([event])
    assert events_from_image(image) == [event]
