"""The prepaid trial balance projected from every movement's lines: the liability (members'
principal and bonus, gift cards by issuer, merchants' settlements), a day's movements with
opening and closing, the custodian's statement with its reserve, and the issuer's limit; exact
under redelivery. Figures by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.gift_cards import generation
from chalicelib.shared import clock, storage
from tests.integration.test_tiers import deliver

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
RULES = {"bonus_rules": [{"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000,
                          "bonus_fen": 3_000}], "reserve_percent": 40, "issuance_limits_fen": {"m2": 50_000}}


def cards_of(api, issuer, count, invoice, sell=None):
    status, batch = api.call("POST", "/v1/gift-cards/batches", {"name": "m2", "face_value_fen": 10_000, "count": count,
                                                                "valid_until": "2027-12-31",
                                                                "issuer_merchant_id": issuer})
    assert status == 202
    api.run_job("gift-card-batches")
    body = storage.current().get(generation.export_key("default", batch["batch_id"]))
    secrets = dict(row.split(",")[:2] for row in body.decode().splitlines()[1:])
    status, sale = api.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/sales",
                            {"invoice_ref": invoice, "purchaser": "p", **(sell or {})})
    return batch, secrets, status, sale


def test_liability_movements_statement_and_issuance_limit(api):
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": RULES, "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139601")
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 20_000, "payment_ref": "WX-F1",
                                                               "merchant_id": "m1"})
    paid = api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 11_500, "order_id": "F-1",
                                                                       "merchant_id": "m1"})
    assert (paid["principal_fen"], paid["bonus_fen"]) == (10_000, 1_500)
    _, secrets, status, _ = cards_of(api, "m2", 3, "INV-F1", {"price_fen": 28_500})
    assert status == 201
    number = sorted(secrets)[0]
    api.ok("POST", "/v1/gift-cards/payments", {"card_number": number, "secret": secrets[number], "amount_fen": 4_000,
                                               "order_id": "F-2", "merchant_id": "m2"})
    deliver()
    first = api.ok("GET", "/v1/stored-value/liability")
    deliver()                                                               # delivered again: counted once
    again = api.ok("GET", "/v1/stored-value/liability")
    assert {k: v for k, v in again.items() if k != "as_of"} == {k: v for k, v in first.items() if k != "as_of"}
    assert first["members"] == {"principal_fen": 10_000, "bonus_fen": 1_500, "held_principal_fen": 0,
                                "held_bonus_fen": 0}
    assert first["gift_cards_by_issuer"] == {"m2": 26_000}
    assert first["settlement_by_merchant"] == {"m1": 11_500, "m2": 4_000}
    assert first["cash_collected_fen"] == 20_000 + 28_500 and first["lines_balance"]
    assert first["accounts"]["gift_card_discount"] == 1_500 and first["accounts"]["bonus_expense"] == 3_000
    proof = api.ok("GET", "/v1/stored-value/reconciliation")
    assert proof["balanced"] and proof["figures_agree"] and proof["figures"] == {"principal": 10_000, "bonus": 1_500}

    day = api.ok("GET", "/v1/stored-value/movements?day=2026-03-01")
    assert day["balanced"]
    assert day["accounts"]["member:principal"] == {"opening_fen": 0, "debit_fen": 10_000, "credit_fen": 20_000,
                                                   "closing_fen": -10_000}
    statement = {row["issuer"]: row for row in api.ok("GET", "/v1/stored-value/supervision?day=2026-03-01")["issuers"]}
    program = statement["program"]
    assert (program["opening_fen"], program["closing_fen"], program["reserve_fen"],
            program["reserve_change_fen"]) == (0, 10_000, 4_000, 4_000)
    assert (statement["m2"]["closing_fen"], statement["m2"]["reserve_fen"], statement["m2"]["received_fen"],
            statement["m2"]["released_fen"], statement["m2"]["issuance_limit_fen"]) == (26_000, 10_400, 30_000,
                                                                                        4_000, 50_000)

    # The next day: m2 may hold 50,000; it holds 26,000, so three more cards (30,000) are refused.
    clock.freeze(T0 + timedelta(days=1))
    refused, _, status, problem = cards_of(api, "m2", 3, "INV-F2")
    assert status == 409 and problem["type"].endswith("/issuance-limit") and problem["outstanding_fen"] == 26_000
    assert cards_of(api, "m1", 1, "INV-F3")[2] == 201                       # another issuer is not limited
    status, sale = api.call("POST", f"/v1/gift-cards/batches/{refused['batch_id']}/sales",
                            {"invoice_ref": "INV-F4", "purchaser": "p", "first_number": refused["first_number"],
                             "last_number": generation.keys.card_number(2, 2)})
    assert status == 201 and sale["face_fen"] == 20_000                     # 26,000 + 20,000 fits
    deliver()
    next_day = api.ok("GET", "/v1/stored-value/movements?day=2026-03-02")["accounts"]["gift_cards:m2"]
    assert next_day == {"opening_fen": -26_000, "debit_fen": 0, "credit_fen": 20_000, "closing_fen": -46_000}
    before = api.ok("GET", "/v1/stored-value/movements?day=2026-03-01")["accounts"]["gift_cards:m2"]
    assert before["closing_fen"] == -26_000                                 # later days do not change the past
    report = {row["issuer"]: row for row in api.ok("GET", "/v1/stored-value/supervision?day=2026-03-02")["issuers"]}
    assert (report["m2"]["opening_fen"], report["m2"]["closing_fen"], report["m2"]["reserve_change_fen"]) == (
        26_000, 46_000, 18_400 - 10_400)
    # The program as issuer of members' stored value: 10,000 principal held, a limit of 15,000.
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {**RULES, "issuance_limits_fen": {"program": 15_000}},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    status, problem = api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                               {"amount_fen": 5_001, "payment_ref": "WX-F2", "merchant_id": "m1"})
    assert status == 409 and problem["type"].endswith("/issuance-limit")
    assert api.ok("GET", f"/v1/members/{mid}/stored-value")["principal"] == 10_000         # nothing changed
    assert api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                    {"amount_fen": 5_000, "payment_ref": "WX-F3", "merchant_id": "m1"})[0] == 201


def test_the_issued_counter_holds_the_limit_in_the_issuing_transaction_and_equals_the_figures(api):
    """The program may hold 30,000 fen of members' money and m2 20,000 of its cards: the counter
    written with each posting refuses what would pass it (nothing changes), money flowing out
    makes room again, a refund is owed and counted even past the limit, and once the stream has
    caught up every issuer's counter equals the figures. No stream delivery happens in between:
    the limit does not wait for the projection."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {**RULES, "issuance_limits_fen": {"program": 30_000,
                                                                                       "m2": 20_000}},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    a, b, c = (api.member(f"1380013961{i}") for i in range(3))

    def top_up(mid, fen, ref):
        return api.call("POST", f"/v1/members/{mid}/stored-value/top-ups",
                        {"amount_fen": fen, "payment_ref": ref, "merchant_id": "m1"})

    def counter(issuer):
        return api.ok("GET", "/v1/stored-value/reconciliation")["issuance"][issuer]["counter_fen"]

    assert top_up(a, 15_000, "IS-1")[0] == 201 and top_up(b, 15_000, "IS-2")[0] == 201
    status, problem = top_up(c, 15_000, "IS-3")                            # the figures still say 0 here
    assert status == 409 and problem["type"].endswith("/issuance-limit")
    assert (problem["issuer"], problem["outstanding_fen"], problem["limit_fen"]) == ("program", 30_000, 30_000)
    assert api.ok("GET", f"/v1/members/{c}/stored-value")["topped_up"] == 0 and counter("program") == 30_000
    api.ok("POST", f"/v1/members/{a}/stored-value/payments", {"amount_fen": 5_000, "order_id": "IS-O1",
                                                              "merchant_id": "m1"})
    assert counter("program") == 25_000                                     # paid out to m1: room again
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.stored_value import counters
    shards = [counters.total(UnitOfWork(), k) for k in counters.outflow_keys("program")]
    assert counters.total(UnitOfWork(), counters.issued_key("program")) == 30_000 and sorted(shards)[-1] == 5_000
    assert sum(shards) == 5_000                         # a payment touches one outflow shard, never the IN item
    assert top_up(c, 15_000, "IS-3")[0] == 409
    reply = top_up(c, 5_000, "IS-4")[1]
    assert reply["issuer"] == "program" and counter("program") == 30_000
    api.ok("POST", "/v1/stored-value/payments/IS-O1/refunds", {"refund_id": "r", "amount_fen": 5_000,
                                                               "merchant_id": "m1"})
    assert counter("program") == 35_000                                     # owed back: counted, not refused
    assert top_up(c, 1, "IS-5")[0] == 409
    api.ok("POST", f"/v1/members/{a}/stored-value/cash-out", {"reason": "leaving", "refund_ref": "IS-1"})
    assert counter("program") == 20_000

    _, _, status, problem = cards_of(api, "m2", 3, "INV-IS1")              # 30,000 of cards: m2 may hold 20,000
    assert status == 409 and problem["type"].endswith("/issuance-limit") and counter("m2") == 0
    _, secrets, status, _ = cards_of(api, "m2", 2, "INV-IS2")
    assert status == 201 and counter("m2") == 20_000
    first, second = sorted(secrets)
    api.ok("POST", "/v1/gift-cards/payments", {"card_number": first, "secret": secrets[first], "amount_fen": 4_000,
                                               "order_id": "IS-G1", "merchant_id": "m1"})
    assert counter("m2") == 16_000
    redeemed = api.ok("POST", f"/v1/members/{b}/stored-value/gift-cards",   # m2's money becomes the program's
                      {"card_number": second, "secret": secrets[second]})
    assert redeemed["redeemed_fen"] == 10_000 and (counter("m2"), counter("program")) == (6_000, 30_000)
    api.ok("POST", "/v1/gift-cards/payments/IS-G1/refunds", {"card_number": first, "refund_id": "g",
                                                             "amount_fen": 4_000, "merchant_id": "m1"})
    assert counter("m2") == 10_000
    proof = api.ok("GET", "/v1/stored-value/reconciliation")
    assert not proof["issuance_agrees"]                                     # the stream has not run yet
    deliver()
    proof = api.ok("GET", "/v1/stored-value/reconciliation")
    assert proof["issuance_agrees"] and proof["balanced"], proof["issuance"]
    assert {k: (v["counter_fen"], v["figures_fen"]) for k, v in proof["issuance"].items()} == {
        "program": (30_000, 30_000), "m2": (10_000, 10_000)}


def test_the_custodian_counts_money_received_and_released_not_moves_within_an_issuer(api):
    """Found from outside: 40,000 fen paid in showed received 117,210 / released 80,932, since a
    hold moving principal to held (and its release moving it back) counted as money both received
    and released. By hand: 40,000 topped up; a hold of 10,000 cancelled; a hold of 5,000 confirmed;
    2,000 paid directly: received 40,000, released 7,000, held 33,000 at the close."""
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [], "reserve_percent": 40},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    mid = api.member("13800139631")
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 40_000, "payment_ref": "WX-S1",
                                                               "merchant_id": "m1"})
    holds = [api.ok("POST", f"/v1/members/{mid}/stored-value/holds", {"amount_fen": fen, "order_id": order,
                                                                      "merchant_id": "m1", "ttl_seconds": 600})
             for fen, order in ((10_000, "S-1"), (5_000, "S-2"))]
    api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{holds[0]['hold_id']}/cancel")
    api.ok("POST", f"/v1/members/{mid}/stored-value/holds/{holds[1]['hold_id']}/confirm")
    api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 2_000, "order_id": "S-3",
                                                                "merchant_id": "m1"})
    deliver()
    deliver()                                                               # redelivered: counted once
    program = {r["issuer"]: r for r in api.ok("GET", "/v1/stored-value/supervision?day=2026-03-01")["issuers"]}["program"]
    assert (program["opening_fen"], program["received_fen"], program["released_fen"], program["closing_fen"]) == (
        0, 40_000, 7_000, 33_000)
    assert program["opening_fen"] + program["received_fen"] - program["released_fen"] == program["closing_fen"]
    assert program["reserve_fen"] == 13_200
    clock.freeze(T0 + timedelta(days=1))                # 2 March: money in, none out
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 1_000, "payment_ref": "WX-S2",
                                                               "merchant_id": "m1"})
    deliver()
    for day, flows in (("2026-03-02", (33_000, 1_000, 0, 34_000)), ("2026-03-03", (34_000, 0, 0, 34_000))):
        row = {r["issuer"]: r for r in api.ok("GET", f"/v1/stored-value/supervision?day={day}")["issuers"]}["program"]
        assert (row["opening_fen"], row["received_fen"], row["released_fen"], row["closing_fen"]) == flows, day


def test_the_issuers_counter_subtracts_every_outflow_shard(api):
    """Outflows are counted on eight shards chosen by the member; a member whose payments land on
    the first shard, by hand: 1,000 topped up, 300 paid, 700 outstanding on the counter."""
    import zlib

    from chalicelib.stored_value.counters import OUTFLOW_SHARDS
    clock.freeze(T0)
    api.ok("PUT", "/v1/stored-value/rules", {"rules": {"bonus_rules": [], "issuance_limits_fen": {"program": 100_000}},
                                             "effective_from": "2026-01-01T00:00:00Z"})
    for n in range(200):
        mid = api.member(f"1380014{n:04d}")
        if zlib.crc32(f"program#{mid}".encode()) % OUTFLOW_SHARDS == 0:
            break
    else:
        pytest.fail("no member on the first shard in 200")
    api.ok("POST", f"/v1/members/{mid}/stored-value/top-ups", {"amount_fen": 1_000, "payment_ref": "WX-O1",
                                                               "merchant_id": "m1"})
    api.ok("POST", f"/v1/members/{mid}/stored-value/payments", {"amount_fen": 300, "order_id": "O-1",
                                                                "merchant_id": "m1"})
    deliver()
    issued = api.ok("GET", "/v1/stored-value/reconciliation")["issuance"]["program"]
    assert (issued["counter_fen"], issued["figures_fen"]) == (700, 700)
