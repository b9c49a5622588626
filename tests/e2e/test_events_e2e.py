"""An event travels from an HTTP write through the stream pump to a subscriber."""

from datetime import date, timedelta

from tests.e2e.conftest import fresh_phone


def registered_today(api, scope=None):
    today = date.today()
    params = {"start": (today - timedelta(days=1)).isoformat(), "end": (today + timedelta(days=1)).isoformat()}
    if scope:
        params["merchant_id"] = scope
    days = api.call("GET", "/v1/stats/daily", params=params, headers=api.staff()).json()["days"]
    return sum(d["members_registered"] for d in days)


def test_registration_reaches_the_dashboard_counters_exactly_once(api, stack):
    stack.drain()
    before_all, before_demo = registered_today(api), registered_today(api, "demo-merchant")
    for _ in range(3):
        r = api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True)
        assert r.status_code == 201
    stack.drain()
    assert registered_today(api) == before_all + 3
    assert registered_today(api, "demo-merchant") == before_demo + 3


def test_store_staff_see_only_their_merchant(api):
    r = api.call("GET", "/v1/stats/daily", params={"start": "2026-01-01", "end": "2026-01-31", "merchant_id": "other"},
                 headers=api.staff("clerk"))
    assert r.status_code == 403
    r = api.call("GET", "/v1/stats/daily", params={"start": "2026-01-01", "end": "2026-01-31"}, headers=api.staff("clerk"))
    assert r.status_code == 200 and r.json()["scope"] == "demo-merchant"


def test_a_poison_event_is_dead_lettered_and_the_stream_moves_on(api, stack, monkeypatch):
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.events import dispatch
    from chalicelib.shared.events import DomainEvent
    pump = stack.pumps[0]
    monkeypatch.setattr(pump, "backoff", 0)

    def poison(event):
        raise RuntimeError("cannot handle")

    monkeypatch.setitem(dispatch.SUBSCRIBERS, "test.poison", [("poison", poison)])
    stack.drain()
    dead_before = pump.dead_lettered
    uow = UnitOfWork()
    uow.emit(DomainEvent("test.poison", "test:1", {}))
    uow.commit()
    before = registered_today(api)
    api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True)
    stack.drain(timeout=30)
    assert pump.dead_lettered == dead_before + 1
    assert registered_today(api) == before + 1
    sqs = stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert any("DDBStreamBatchInfo" in m["Body"] for m in messages)


def test_a_dead_lettered_record_is_redriven_from_the_stream_and_counted_once(api, stack, monkeypatch):
    """#24 item 5: a record the stream gave up on (only its position reaches the failure queue) is
    read again from the stream by redrive-events, as the stream's role, and counted exactly once."""
    from chalicelib.events import dispatch
    from devstack.lambdas import invoke
    pump = stack.pumps[0]
    monkeypatch.setattr(pump, "backoff", 0)
    stack.drain()
    invoke("app.redrive_events", "redrive-events", {}, "stream", 300)      # earlier tests' messages
    working = dispatch.SUBSCRIBERS["member.registered"]

    def down(event):
        raise RuntimeError("a dependency is down")

    dispatch.SUBSCRIBERS["member.registered"] = [("daily-stats", down)]
    try:
        dead_before, before = pump.dead_lettered, registered_today(api)
        api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True)
        stack.drain(timeout=30)
        assert pump.dead_lettered == dead_before + 1 and registered_today(api) == before
    finally:
        dispatch.SUBSCRIBERS["member.registered"] = working
    done = invoke("app.redrive_events", "redrive-events", {}, "stream", 300)
    assert (done["messages"], done["redriven"], done["failed"], done["expired"]) == (1, 1, 0, 0)
    assert registered_today(api) == before + 1
    again = invoke("app.redrive_events", "redrive-events", {}, "stream", 300)     # the message is gone
    assert again["messages"] == 0 and registered_today(api) == before + 1
