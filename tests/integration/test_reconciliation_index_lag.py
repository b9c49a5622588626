"""What a reconciliation compares is read by key, never from an index copy (#24 item 8):
DynamoDB's global secondary indexes are eventually consistent, and the fake and the emulators
update them at once, so the fake is made to lag them here (``MemoryBackend.lag_indexes``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def lagging_cards(memory, monkeypatch):
    from chalicelib.gift_cards import generation
    from tests.integration.conftest import AppClient
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    yield AppClient(), memory
    clock.freeze(None)


def test_the_gift_card_proof_passes_while_the_index_lags(lagging_cards):
    """A card paid with after the index last caught up: its index copy still shows what it had
    used before, its postings (read consistently) the new payment. The proof reads each card by
    key, so it balances; the old one compared the index copy and failed."""
    from tests.integration.test_gift_cards import make_batch, pay, secrets_of, sell
    from tests.integration.test_tiers import deliver
    api, fake = lagging_cards
    batch = make_batch(api, count=4)
    secrets = secrets_of(batch)
    assert sell(api, batch, 1, 2, "INV-L")[0] == 201
    from chalicelib.gift_cards import keys
    number = keys.card_number(1, 1)
    assert pay(api, number, secrets[number], 1_000, "O-L1")[0] == 201
    deliver()
    fake.lag_indexes()
    assert pay(api, number, secrets[number], 2_000, "O-L2")[0] == 201
    proof = api.ok("GET", "/v1/gift-cards/reconciliation")
    assert proof["balanced"] and proof["cards_checked"] == 4, proof
    one = api.ok("GET", f"/v1/gift-cards/reconciliation?batch_id={batch['batch_id']}")
    assert one["balanced"], one
    assert api.run_job("gift-card-reconcile")["failed_programs"] == []
    fake.lag_indexes(False)
    deliver()
    proof = api.ok("GET", "/v1/gift-cards/reconciliation")
    assert proof["balanced"] and proof["figures_agree"], proof
