"""The gift card reconciliation at a real program's scale (#24 item 8): each run of
``gift-card-reconcile`` checks the next page of every ready batch's cards from where the last run
stopped (the ledgers' cursor, :mod:`chalicelib.ledger.reconciliation`), reading each card by key
from its batch's listing, so successive runs prove every card once per pass whatever the
program's size, and a card that does not add up is found on the pass that reaches it."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import generation, keys
from chalicelib.shared import clock
from tests.integration.test_gift_cards import FACE, make_batch, pay, secrets_of, sell

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
PAGE = 5


@pytest.fixture
def program(api, monkeypatch):
    """Batch 1: 12 cards, 1-8 sold and 9-12 sold later around an unsold card voided (10), two of
    them paid with; batch 2: 5 cards, unsold. 17 cards: more than a page of 5 in each batch."""
    from chalicelib.ledger import reconciliation
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    monkeypatch.setattr(reconciliation, "PAGE", PAGE)          # the job's page, as a deployment's 1,000
    first = make_batch(api, count=12)
    make_batch(api, count=5)
    secrets = secrets_of(first)
    assert sell(api, first, 1, 8, "INV-1")[0] == 201
    api.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 10)}/void", {"reason": "damaged in print"})
    assert sell(api, first, 9, 12, "INV-2")[0] == 201             # skips the voided card
    for serial, order in ((2, "O-1"), (11, "O-2")):
        number = keys.card_number(1, serial)
        assert pay(api, number, secrets[number], 1_000, order)[0] == 201
    from tests.integration.test_tiers import deliver
    deliver()                                                     # the prepaid figures catch up
    yield api
    clock.freeze(None)


def _run():
    from chalicelib.gift_cards import reconcile
    return reconcile.next_pages(UnitOfWork("job:gift-card-reconcile", program="default"))


def test_successive_runs_prove_every_card_once_per_pass_a_page_of_each_batch_at_a_time(program, monkeypatch):
    from chalicelib.gift_cards import reconcile
    checked: dict[str, list[int]] = defaultdict(list)
    real = reconcile.card
    monkeypatch.setattr(reconcile, "card", lambda uow, item: (
        checked[item.batch_id].append(int(item.serial)), real(uow, item))[1])
    runs = []
    for _ in range(3):     # batch 1: 5, 5, 2; batch 2: 5, its listing's end, then its next pass
        before = {b: len(v) for b, v in checked.items()}
        result = _run()
        runs.append(result)
        assert result["balanced"], result
        assert all(len(v) - before.get(b, 0) <= PAGE for b, v in checked.items())
        assert not result["whole"] and result["issuers"] == {} and not result["figures_agree"]
    batch_1, batch_2 = sorted(checked, key=lambda b: len(checked[b]), reverse=True)
    assert checked[batch_1] == list(range(1, 13))                    # in order, once a pass
    assert checked[batch_2] == [1, 2, 3, 4, 5] * 2                   # each batch wraps on its own
    assert [r["cards_checked"] for r in runs] == [10, 5, 7]
    full = runs[-1]["progress"]["last_full_pass"]
    assert full is not None and full["checked"] == 17, runs[-1]["progress"]
    assert [s["shard"] for s in runs[-1]["progress"]["shards"]] == [1, 2]      # a shard per batch, by number
    # a run that reads every batch from its first card to its last compares the issuers with the
    # figures (batch 2's pass was under way: the first such run ends it, the second reads it whole)
    assert not reconcile.next_pages(UnitOfWork("test", program="default"), page=100)["whole"]
    batch_result = reconcile.next_pages(UnitOfWork("test", program="default"), page=100)
    assert batch_result["whole"] and batch_result["balanced"] and batch_result["figures_agree"], batch_result
    assert batch_result["issuers"]["gift_cards:program"]["cards_fen"] == 11 * FACE - 2_000
    assert checked[batch_1][12:] == list(range(1, 13)) * 2      # the next passes start again from the first card


def test_a_card_that_disagrees_with_its_postings_is_found_on_the_pass_that_reaches_it(program, monkeypatch):
    """Card 11 of batch 1 (the third page of its listing) is changed behind the ledger's back:
    the first two runs of the pass do not reach it and balance; the third finds it once, the job
    announces it and counts it for the alarm; the next pass finds it again when it reaches it."""
    from chalicelib.gift_cards import repository
    from chalicelib.ledger import reconciliation
    from tests.integration.test_gift_cards import events
    found: list[int] = []
    monkeypatch.setattr(reconciliation, "count", lambda metric, n=1: found.append(n))
    uow = UnitOfWork()
    tampered = repository.of(uow).card(keys.card_number(1, 11))
    tampered.used = int(tampered.used) + 500                   # no posting says so: the balance is wrong
    uow.put(tampered)
    results = [program.run_job("gift-card-reconcile") for _ in range(3)]
    assert [r["failed_programs"] for r in results] == [[], [], ["default"]]
    assert [r["figures_disagree"] for r in results] == [[], [], []]     # partial runs compare no figures
    assert [r["cards_checked"] for r in results] == [10, 5, 7]
    assert found == [0, 0, 1]                                   # report_mismatches: the card, once
    announced = events("gift_card.reconciliation_failed")
    assert len(announced) == 1 and announced[0]["cards"] == [keys.card_number(1, 11)]
    assert [program.run_job("gift-card-reconcile")["failed_programs"] for _ in range(3)] == [[], [], ["default"]]
    proof = program.ok("GET", "/v1/gift-cards/reconciliation")     # the endpoint: every card, at once
    assert not proof["balanced"] and proof["cards_mismatched"] == 1 and proof["whole"], proof
    assert [c["card_number"] for c in proof["mismatches"][0]["mismatches"]] == [keys.card_number(1, 11)]
    assert proof["progress"]["last_full_pass"]["checked"] == 17


def test_the_endpoint_stops_at_its_limit_and_then_compares_no_issuer(program):
    from chalicelib.gift_cards import reconcile
    part = reconcile.everything(UnitOfWork("test", program="default"), limit=7)
    assert part["cards_checked"] == 7 and not part["whole"] and part["issuers"] == {} and not part["figures_agree"]
    assert part["balanced"], part                       # batch 2 (newest) whole, batch 1 in part: by its ranges
    whole = program.ok("GET", "/v1/gift-cards/reconciliation")
    assert whole["whole"] and whole["balanced"] and whole["figures_agree"] and whole["cards_checked"] == 17, whole


def test_a_batch_read_in_parts_checks_its_sales_against_its_sale_ranges(program, monkeypatch):
    """No card is wrong, but the batch's sold value is: the run that reads a page of it says so
    (its sales against its ranges, not against cards read over several runs), counted once."""
    from chalicelib.gift_cards import repository
    from chalicelib.ledger import reconciliation
    found: list[int] = []
    monkeypatch.setattr(reconciliation, "count", lambda metric, n=1: found.append(n))
    uow = UnitOfWork()
    b = repository.of(uow).batch(repository.of(uow).card(keys.card_number(1, 1)).batch_id)
    b.sold_fen = int(b.sold_fen) + FACE
    uow.put(b)
    result = _run()
    assert result["cards_mismatched"] == 0 and not result["balanced"]
    assert [(m["checks"]["sold cards = sales"], m["cards_checked"]) for m in result["mismatches"]] == [(False, 5)]
    assert program.run_job("gift-card-reconcile")["failed_programs"] == ["default"] and found == [1]
