"""#24 item 6 (hot partitions), gift card batches: the batch item grew by every sale (its `sales`
list) and every unsold void, past DynamoDB's 400 KB after a few thousand single-card sales, and
every card use read it consistently (the sales were there). Now a sale is a range item, an unsold
void an item of its own, the batch item keeps only counters, and a card use reads the batch's
metadata from the container's cache and never writes it."""

from __future__ import annotations

import json

import pytest

from chalicelib.db import backend
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards import generation, keys, service
from chalicelib.gift_cards.schemas import SellCards
from chalicelib.gift_cards.tables import GiftCardBatchItem
from chalicelib.shared.principal import Principal
from tests.integration.test_gift_cards import T0, make_batch, pay, refund, secrets_of, sell

HQ = Principal("staff", "ops", role="super_admin", merchant_id="m1")


@pytest.fixture
def cheap_secrets(monkeypatch):
    """scrypt at its smallest cost, so thousands of cards are generated in seconds (the cost is
    stored with each hash, so verifying follows it)."""
    from chalicelib.shared import clock
    clock.freeze(T0)
    monkeypatch.setattr(keys, "N", 2)
    monkeypatch.setattr(generation, "CHUNK", 500)


class Touches:
    """Every read and write of the batch key ``GCBATCH#<batch> / BATCH`` made through the backend."""

    def __init__(self, monkeypatch, batch_id: str) -> None:
        self.reads, self.writes = 0, 0
        self.pk = f"GCBATCH#{batch_id}"
        current = backend.current()
        get, batch_get, query, write = current.get, current.batch_get, current.query, current.write

        def ours(pk, sk) -> bool:
            return str(pk).endswith(self.pk) and sk == "BATCH"

        def counted_get(model, pk, sk, consistent=False):
            self.reads += ours(pk, sk)
            return get(model, pk, sk, consistent)

        def counted_batch_get(wanted, consistent=False):
            self.reads += sum(ours(pk, sk) for _, pk, sk in wanted)
            return batch_get(wanted, consistent)

        def counted_query(model, pk, sort=None, **options):
            self.reads += str(pk).endswith(self.pk) and (sort is None or sort.matches("BATCH"))
            return query(model, pk, sort, **options)

        def counted_write(writes):
            self.writes += sum(ours(w.item.pk, w.item.sk) for w in writes)
            return write(writes)

        monkeypatch.setattr(current, "get", counted_get)
        monkeypatch.setattr(current, "batch_get", counted_batch_get)
        monkeypatch.setattr(current, "query", counted_query)
        monkeypatch.setattr(current, "write", counted_write)


def test_card_payments_holds_and_refunds_neither_write_nor_reread_the_batch(db, cheap_secrets, monkeypatch):
    from tests.integration.conftest import AppClient
    api = AppClient()
    batch = make_batch(api, count=12)
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 13)}
    assert sell(api, batch, 1, 10, "INV-1")[0] == 201
    touches = Touches(monkeypatch, batch["batch_id"])
    for i in range(1, 11):
        status, paid = pay(api, n[i], s[n[i]], 1_000 * i, f"O-{i}")
        assert status == 201 and paid["balance_fen"] == 10_000 - 1_000 * i, paid
        assert pay(api, n[i], s[n[i]], 1, f"O-{i}")[0] == 409                   # checked, refused: no write
    assert refund(api, n[3], "O-3", 500, "rf-3")[0] == 201
    status, held = api.call("POST", "/v1/gift-cards/holds", {"card_number": n[4], "secret": s[n[4]],
                                                              "amount_fen": 100, "order_id": "H-1", "merchant_id": "m1"})
    assert status == 201, held
    assert api.ok("POST", f"/v1/gift-cards/holds/{held['hold_id']}/confirm")["status"] == "confirmed"
    assert pay(api, n[11], s[n[11]], 100, "O-11")[1]["state"] == "issued"      # unsold: refused
    assert touches.writes == 0
    assert touches.reads <= 1           # the container's first look at the batch's metadata, then its cache
    assert api.ok("GET", f"/v1/gift-cards/{n[3]}")["balance_fen"] == 10_000 - 3_000 + 500


def test_three_thousand_single_card_sales_leave_the_batch_item_as_small_as_one(memory, cheap_secrets):
    from tests.integration.conftest import AppClient
    api = AppClient()
    cards = 3_000
    batch = make_batch(api, count=cards)
    bid = batch["batch_id"]

    def stored_size() -> int:
        raw = next(part["BATCH"] for pk, part in memory.tables[GiftCardBatchItem.Meta.table_name].items()
                   if pk.endswith(f"GCBATCH#{bid}"))
        return len(json.dumps(raw))

    voided = (7, 1_500, 2_999)
    for serial in voided:                                   # unsold cards voided: items of their own
        assert api.ok("POST", f"/v1/gift-cards/{keys.card_number(1, serial)}/void", {"reason": "misprint"})[
            "state"] == "voided"
    assert sell(api, batch, 1, 1, "INV-00001", activate=False)[0] == 201        # through the API once
    one_sale = stored_size()
    for serial in range(2, cards + 1):                      # then the service itself (the same code, faster)
        uow = UnitOfWork("test")
        number = keys.card_number(1, serial)
        cmd = SellCards(invoice_ref=f"INV-{serial:05d}", purchaser="p", first_number=number, last_number=number,
                        activate=serial % 2 == 0)
        if serial in voided:
            with pytest.raises(service.RangeUnavailable):
                service.sell(bid, cmd, HQ, uow)
            continue
        service.sell(bid, cmd, HQ, uow)
        uow.commit()
    assert stored_size() - one_sale < 16          # only the counters' digits and the version: not a byte per sale
    assert stored_size() < 2_000
    shown = api.ok("GET", f"/v1/gift-cards/batches/{bid}?counts=true")
    assert (shown["sold_count"], shown["sold_fen"]) == (cards - 3, (cards - 3) * 10_000)
    assert len(shown["sales"]) == cards - 3 and shown["sales"][1]["first"] == 2 and shown["sales"][1]["activated"]
    assert shown["cards"]["by_state"] == {"activated": 1_499, "sold": 1_498, "voided": 3}    # odd serials: not
    s = secrets_of(batch)
    for serial, state in ((1, "sold"), (2, "activated"), (7, "voided"), (1_499, "sold"), (3_000, "activated")):
        assert api.ok("GET", f"/v1/gift-cards/{keys.card_number(1, serial)}")["state"] == state
    n = keys.card_number(1, 2_998)
    assert pay(api, n, s[n], 2_500, "O-1")[1]["balance_fen"] == 7_500
    assert sell(api, batch, 2_998, 2_998, "INV-again")[1]["type"].endswith("/gift-card-range-unavailable")
    proof = api.ok("GET", f"/v1/gift-cards/reconciliation?batch_id={bid}")
    assert proof["balanced"] and proof["cards_checked"] == cards, proof["checks"]


def test_a_range_sale_skips_the_unsold_voids_inside_it_and_overlaps_are_refused(db, cheap_secrets):
    from tests.integration.conftest import AppClient
    api = AppClient()
    batch = make_batch(api, count=40)
    for serial in (12, 13, 30):
        api.ok("POST", f"/v1/gift-cards/{keys.card_number(1, serial)}/void", {"reason": "misprint"})
    status, sale = sell(api, batch, 10, 29, "INV-A", activate=False)
    assert status == 201 and sale["count"] == 18
    for first, last in ((1, 10), (29, 35), (5, 40), (15, 16)):
        assert sell(api, batch, first, last, f"INV-{first}")[1]["type"].endswith("/gift-card-range-unavailable")
    assert sell(api, batch, 30, 30, "INV-30")[1]["type"].endswith("/gift-card-range-unavailable")   # void only
    assert sell(api, batch, 1, 9, "INV-B")[1]["count"] == 9
    assert sell(api, batch, 31, 40, "INV-C")[1]["count"] == 10
    shown = api.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}?counts=true")
    assert shown["sold_count"] == 37 and [(r["first"], r["last"]) for r in shown["sales"]] == [(1, 9), (10, 29),
                                                                                               (31, 40)]
    assert shown["cards"]["by_state"] == {"activated": 19, "sold": 18, "voided": 3}
    for serial, state in ((9, "activated"), (10, "sold"), (12, "voided"), (29, "sold"), (30, "voided")):
        assert api.ok("GET", f"/v1/gift-cards/{keys.card_number(1, serial)}")["state"] == state
    assert api.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 11)}/activate")["state"] == "activated"


def test_a_batch_sold_before_the_change_keeps_its_sales_and_voids(db, cheap_secrets):
    """A batch item written with `sales` and `voided_unsold` lists (before #24 item 6) answers as
    before: its lists are read as they are (nothing appends to them any more)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.gift_cards import repository
    from tests.integration.conftest import AppClient
    api = AppClient()
    batch = make_batch(api, count=20)
    s = secrets_of(batch)
    uow = UnitOfWork()
    stored = repository.of(uow).batch(batch["batch_id"])
    stored.sales = json.dumps([{"first": 1, "last": 5, "invoice": "OLD-1", "activated": True, "at": "2026-02-01"},
                               {"first": 8, "last": 10, "invoice": "OLD-2", "activated": False, "at": "2026-02-02"}])
    stored.voided_unsold, stored.sold_count, stored.sold_fen = json.dumps([7]), 8, 80_000
    uow.put(stored)
    card7 = repository.of(uow).card(keys.card_number(1, 7))
    card7.state = "voided"
    uow.put(card7)
    from chalicelib.shared import cache
    cache.clear_all()                                          # a container started after the write
    n = {i: keys.card_number(1, i) for i in range(1, 21)}
    assert pay(api, n[2], s[n[2]], 1_000, "O-1")[1]["balance_fen"] == 9_000
    assert api.ok("GET", f"/v1/gift-cards/{n[9]}")["state"] == "sold"
    assert api.ok("GET", f"/v1/gift-cards/{n[6]}")["state"] == "issued"
    for first, last in ((5, 6), (6, 8), (10, 12)):
        assert sell(api, batch, first, last, f"INV-{first}")[1]["type"].endswith("/gift-card-range-unavailable")
    assert sell(api, batch, 6, 7, "INV-6")[1]["count"] == 1                # 7 was voided unsold
    shown = api.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}?counts=true")
    assert shown["sold_count"] == 9 and [r["invoice"] for r in shown["sales"]] == ["OLD-1", "INV-6", "OLD-2"]
    assert shown["cards"]["by_state"] == {"activated": 5, "issued": 10, "partially_used": 1, "sold": 3, "voided": 1}
