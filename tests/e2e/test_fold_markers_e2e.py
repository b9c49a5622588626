"""#24 "Cost" over the local stack: an earn's folding consumers (points figures, balance sheet
history, dashboard, members' spend) fold its stream record (its points, growth and order events)
under one marker, ``APPLIED#fold-record#<first event>``; a batch the stream delivers again changes
nothing, and a batch that failed in one consumer, was dead-lettered and redriven is folded once in
every consumer."""

from __future__ import annotations

from tests.e2e.conftest import fresh_phone


def _figures(api) -> tuple[int, int]:
    """Today's points issued on the program's dashboard, and the points outstanding."""
    dash = api.call("GET", "/v1/dashboard", headers=api.staff(), params={"period": "day"})
    assert dash.status_code == 200, dash.text
    liability = api.call("GET", "/v1/points/liability", headers=api.staff(), params={"point_type": "points"})
    assert liability.status_code == 200, liability.text
    return int(dash.json()["metrics"]["points_issued"]["value"] or 0), liability.json()["outstanding_points"]


def _earn(api, amount_fen: int) -> tuple[str, int]:
    member = api.call("POST", "/v1/members", {"phone": fresh_phone()}, key=fresh_phone(), pos=True)
    assert member.status_code == 201, member.text
    mid = member.json()["member_id"]
    earned = api.call("POST", f"/v1/members/{mid}/points/earn", {
        "order_id": f"fold-{fresh_phone()}", "amount_fen": amount_fen, "merchant_id": "demo-merchant"},
        headers=api.staff(), key=fresh_phone())
    assert earned.status_code == 201, earned.text
    assert earned.json()["points"] > 0
    return mid, earned.json()["points"]


def _markers(mid: str) -> dict[str, list[str]]:
    """The applied markers of the member's ``points.earned`` events (each its earn's record's first
    event), by the marker's scope: the record's, the per-event and the per-consumer ones of before."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.events import cutover, folding
    from chalicelib.events.dispatch import AppliedMarker
    from tests.outbox import outbox_events
    events = [e for e in outbox_events(None) if e.subject == f"member:{mid}" and e.type == "points.earned"]
    assert events
    uow = UnitOfWork()
    found: dict[str, list[str]] = {}
    for scope in (folding.FOLDED, cutover.EVENT_FOLDS, "points-figures", "balance-sheet-history", "dashboard"):
        markers = uow.get_many(AppliedMarker, [AppliedMarker.key(scope, e.id) for e in events])
        found[scope] = [e.id for e, m in zip(events, markers, strict=True) if m is not None]
    return found


def test_a_redelivered_batch_and_a_redriven_half_failed_one_fold_each_earn_once(api, stack, monkeypatch):
    from chalicelib.reports import dashboard
    from devstack.lambdas import invoke
    pump = stack.pumps[0]
    monkeypatch.setattr(pump, "backoff", 0)
    stack.drain()
    invoke("app.redrive_events", "redrive-events", {}, "stream", 300)      # earlier tests' messages
    delivered: list[dict] = []
    original = pump.invoke
    monkeypatch.setattr(pump, "invoke", lambda event: (delivered.append(event), original(event))[1])
    issued, outstanding = _figures(api)
    mid, points = _earn(api, 12_300)
    stack.drain(timeout=30)
    assert _figures(api) == (issued + points, outstanding + points)
    markers = _markers(mid)
    assert len(markers["fold-record"]) == 1                            # one marker for its record's consumers
    assert markers["folds"] == markers["points-figures"] == markers["balance-sheet-history"] == []
    assert markers["dashboard"] == []

    for event in list(delivered):                                     # the stream delivers it again, twice
        original(event)
        original(event)
    assert _figures(api) == (issued + points, outstanding + points)

    # The dashboard's fold fails for the next earn: its batch is retried, then dead-lettered, and
    # none of its consumers has folded it (all or none); redriven, each folds it once.
    real = dashboard.fold.fold
    monkeypatch.setattr(dashboard.fold, "fold", lambda event: (_ for _ in ()).throw(RuntimeError("down")))
    dead = pump.dead_lettered
    other, more = _earn(api, 45_600)
    stack.drain(timeout=30)
    assert pump.dead_lettered > dead
    assert _figures(api) == (issued + points, outstanding + points)
    assert _markers(other)["fold-record"] == []
    monkeypatch.setattr(dashboard.fold, "fold", real)
    done = invoke("app.redrive_events", "redrive-events", {}, "stream", 300)
    assert done["failed"] == 0 and done["redriven"] >= 1
    assert _figures(api) == (issued + points + more, outstanding + points + more)
    for event in list(delivered):                                     # and the first batch once more
        original(event)
    assert _figures(api) == (issued + points + more, outstanding + points + more)
