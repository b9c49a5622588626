"""The load model's monthly cost is the benchmark's units times the calls times the prices."""

import pytest

from bench import cost


def _results(**extra):
    row = lambda op, wcu, rcu, ms=10.0, **more: {"operation": op, "wcu_per_call": wcu, "rcu_per_call": rcu,  # noqa: E731
                                                   "p50_ms": ms, **more}
    return {"when": "2026-12-03T00:00:00Z", "machine": "test",
            "api": [row("findMember (signed POS)", 1, 1), row("registerMember", 8, 0)],
            "points": [row("earnPoints", 20, 2, **extra), row("redeemPoints (1 lot)", 10, 1)],
            "stored_value": [row("payWithStoredValue", 12, 2)]}


def test_the_write_units_are_each_operations_units_times_its_calls():
    m = cost.monthly(_results())
    orders, flash = 3_000_000, 12_000_000
    earns = orders + 0.4 * flash
    by_hand = (orders + 0.4 * flash) * 1 + earns * 20 + (0.3 * orders + 0.1 * flash) * 12 \
        + (0.1 * orders + 0.1 * flash) * 10 + orders / 80 * 8
    assert m["write_units"] == round(by_hand)
    assert m["dollars"]["DynamoDB writes"] == round(by_hand / 1e6 * 0.625, 2)
    assert m["requests"] == round(orders * (1 + 1 + 0.3 + 0.1 + 1 / 80) + flash)


def test_index_and_consumer_units_count_when_measured():
    plain = cost.monthly(_results())
    more = cost.monthly(_results(wcu_index_per_call=4, consumer_wcu_per_call=6))
    assert more["write_units"] - plain["write_units"] == round((3_000_000 + 0.4 * 12_000_000) * 10)


def test_a_missing_operation_stops_it_rather_than_costing_nothing():
    results = _results()
    results["stored_value"] = []
    with pytest.raises(SystemExit, match="payWithStoredValue"):
        cost.monthly(results)


def test_the_doc_is_rewritten_only_between_its_markers():
    text = "head\n<!-- cost:start -->\nold\n<!-- cost:end -->\ntail\n"
    assert cost.update_doc(text, "new") == "head\n<!-- cost:start -->\nnew\n<!-- cost:end -->\ntail\n"
