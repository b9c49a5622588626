"""Gift cards through the app on every backend: batches generated in chunks (safe to rerun after
a crash) with their secrets exported once; sales of ranges against invoices; activation,
redemption into stored value, payment at a till, voiding, each to the fen with balanced lines;
wrong secrets locking the card and the caller; scope, expiry and the caps. Figures by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.gift_cards import generation, keys
from chalicelib.gift_cards import repository as gift_cards_repository
from chalicelib.shared import clock, storage
from tests.outbox import outbox_events

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
FACE = 10_000


@pytest.fixture
def cards(api, monkeypatch):
    """Small chunks, so that ten cards are three chunks."""
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    return api


def make_batch(api, count=10, **more):
    body = {"name": "春节礼品卡", "face_value_fen": FACE, "count": count, "valid_until": "2027-12-31", **more}
    status, batch = api.call("POST", "/v1/gift-cards/batches", body)
    assert status == 202, batch
    assert api.run_job("gift-card-batches")["batches_ready"] == 1
    return api.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}")


def secrets_of(batch) -> dict[str, str]:
    """The exported secrets, read where the export was written (the URL is fetched end to end)."""
    body = storage.current().get(generation.export_key("default", batch["batch_id"]))
    assert body is not None
    lines = body.decode().splitlines()
    assert lines[0] == generation.HEADER.strip()
    return {row.split(",")[0]: row.split(",")[1] for row in lines[1:]}


def events(kind: str) -> list[dict]:
    return [e.data for e in outbox_events(kind=kind)]


def everything_stored() -> str:
    """Every item of both tables, raw."""
    from chalicelib.db import backend
    from chalicelib.db.memory import MemoryBackend
    from chalicelib.db.tables import TABLES
    from chalicelib.shared.config import settings
    current = backend.current()
    if isinstance(current, MemoryBackend):
        return json.dumps(current.tables, default=str)
    import boto3

    from chalicelib.db.items import MainModel
    client = boto3.client("dynamodb", endpoint_url=MainModel.Meta.host)
    pages = [client.get_paginator("scan").paginate(TableName=spec.physical_name(settings())) for spec in TABLES]
    return json.dumps([page["Items"] for p in pages for page in p], default=str)


def test_numbers_and_secrets():
    assert keys.luhn_digit("7992739871") == "3"                      # the textbook example
    number = keys.card_number(12, 345)
    assert number == "9000012" + "00000345" + number[-1] and keys.valid_number(number)
    assert not keys.valid_number(number[:-1] + str((int(number[-1]) + 1) % 10))
    assert (keys.batch_no_of(number), keys.serial_of(number)) == (12, 345)
    secret = keys.new_secret()
    stored = keys.hash_secret(secret)
    assert secret not in stored and stored != keys.hash_secret(secret)         # salted
    assert keys.verify(secret, stored) and not keys.verify("0" * 16, stored) and not keys.verify(secret, None)


def test_batch_is_generated_in_chunks_and_its_secrets_leave_once(cards):
    batch = make_batch(cards)
    assert (batch["status"], batch["chunks"], batch["chunks_done"], batch["count"]) == ("ready", 3, 3, 10)
    exported = secrets_of(batch)
    assert len(exported) == 10 and all(keys.valid_number(n) for n in exported)
    assert len(set(exported.values())) == 10 and all(len(s) == 16 and s.isdigit() for s in exported.values())
    assert sorted(exported) == [keys.card_number(1, s) for s in range(1, 11)]
    from chalicelib.db.uow import UnitOfWork
    uow = UnitOfWork()
    assert all(keys.verify(secret, gift_cards_repository.of(uow).card(n).secret_hash) for n, secret in exported.items())
    assert not any(k.endswith(".csv") and "part-" in k for k in getattr(storage.current(), "objects", {}))
    status, first = cards.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/export")
    assert status == 201 and first["count"] == 10 and [p["cards"] for p in first["parts"]] == [10]
    status, again = cards.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/export")
    assert status == 409 and again["type"].endswith("/export-already-issued")
    assert cards.run_job("gift-card-batches")["exports_purged"] == 0            # its URL is still good
    clock.freeze(T0 + timedelta(minutes=16))
    assert cards.run_job("gift-card-batches")["exports_purged"] == 1
    assert storage.current().get(generation.export_key("default", batch["batch_id"])) is None
    assert cards.run_job("gift-card-batches")["items_read"] == 0                 # nothing left due
    stored = everything_stored()
    assert not any(secret in stored for secret in exported.values())            # only hashes are kept
    assert cards.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}")["export"]["purged"]
    assert cards.call("GET", first["parts"][0]["path"])[1]["type"].endswith("/export-closed")


def _download(api, path):
    headers = {"Authorization": "Bearer " + api.token}
    return api.client.http.get(path, headers=headers)


def test_the_secrets_leave_once_through_the_api_part_by_part(cards, monkeypatch):
    """Issue #20 item 10: the presigned URL served the file again within its 15 minutes, and a
    replay of exportGiftCardSecrets' key returned the URL again (kept 90 days). Now the export's
    reply names parts to download with credentials, each part is served once, the last part
    deletes the file, and nothing stored (replay records included) reaches a secret."""
    monkeypatch.setattr(generation, "PART_ROWS", 4)
    batch = make_batch(cards)
    original = secrets_of(batch)
    bid = batch["batch_id"]
    assert _download(cards, f"/v1/gift-cards/batches/{bid}/export/parts/1").status_code == 409   # not opened
    status, opened = cards.call("POST", f"/v1/gift-cards/batches/{bid}/export", key="open-1")
    assert status == 201 and [p["cards"] for p in opened["parts"]] == [4, 4, 2]
    assert "url" not in opened and all(p["path"].startswith(f"/v1/gift-cards/batches/{bid}/export/parts/")
                                       for p in opened["parts"])
    assert cards.call("POST", f"/v1/gift-cards/batches/{bid}/export", key="open-1") == (201, opened)   # replayed
    got: dict[str, str] = {}
    for p in opened["parts"]:
        r = _download(cards, p["path"])
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
        assert r.headers["Cache-Control"] == "no-store"
        lines = r.body.decode().splitlines()
        assert lines[0] == generation.HEADER.strip() and len(lines) == 1 + p["cards"]
        got.update({row.split(",")[0]: row.split(",")[1] for row in lines[1:]})
        again = _download(cards, p["path"])                                    # the same part: once
        assert again.status_code == 409 and json.loads(again.body)["type"].endswith("/export-part-served")
    assert got == original
    assert storage.current().get(generation.export_key("default", bid)) is None     # the last part deleted it
    assert cards.ok("GET", f"/v1/gift-cards/batches/{bid}")["export"]["purged"]
    assert cards.call("POST", f"/v1/gift-cards/batches/{bid}/export", key="open-1") == (201, opened)
    stored = everything_stored()
    assert not any(secret in stored for secret in original.values())          # no record holds a secret
    assert "X-Amz" not in stored and "memory://" not in stored                  # nor a URL to them
    assert [e["part"] for e in events("gift_card.export_part_served") if e["batch_id"] == bid] == [1, 2, 3]
    for bad in ("0", "4", "x", "-1", "99999"):
        assert _download(cards, f"/v1/gift-cards/batches/{bid}/export/parts/{bad}").status_code == 404


def test_an_export_not_downloaded_within_its_window_is_closed_and_purged(cards):
    batch = make_batch(cards)
    bid = batch["batch_id"]
    opened = cards.ok("POST", f"/v1/gift-cards/batches/{bid}/export")
    clock.freeze(T0 + timedelta(minutes=15))
    r = _download(cards, opened["parts"][0]["path"])
    assert r.status_code == 409 and json.loads(r.body)["type"].endswith("/export-closed")
    assert cards.run_job("gift-card-batches")["exports_purged"] == 1
    assert storage.current().get(generation.export_key("default", bid)) is None


def test_a_chunk_that_crashed_is_finished_with_the_secrets_already_exported(cards, monkeypatch):
    from chalicelib.db.uow import UnitOfWork
    status, batch = cards.call("POST", "/v1/gift-cards/batches", {"name": "crash", "face_value_fen": FACE,
                                                                  "count": 6, "valid_until": "2027-12-31"})
    calls = []

    def crash_once(self, items):
        calls.append(len(items))
        if len(calls) == 1:
            raise RuntimeError("the Lambda stopped")
        return original(self, items)

    original = UnitOfWork.create_many
    monkeypatch.setattr(UnitOfWork, "create_many", crash_once)
    first = cards.run_job("gift-card-batches")
    assert first["batches_ready"] == 0 and first["gave_up"] == 1
    second = cards.run_job("gift-card-batches")                                  # chunk 0's lease still holds
    assert (second["chunks_generated"], second["batches_ready"]) == (1, 0)
    clock.freeze(T0 + timedelta(minutes=16))
    assert cards.run_job("gift-card-batches")["batches_ready"] == 1
    exported = secrets_of(cards.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}"))
    uow = UnitOfWork()
    assert len(exported) == 6
    assert all(keys.verify(secret, gift_cards_repository.of(uow).card(n).secret_hash) for n, secret in exported.items())



def test_a_retried_commit_of_a_done_chunk_counts_it_once(cards, monkeypatch):
    """botocore retries a transaction whose reply timed out after it committed (#24 item 3): the
    chunk's done-and-count transaction reaches the table twice. The chunk counts once, so the
    batch is not finalized before its last chunk."""
    from chalicelib.db import backend
    from chalicelib.gift_cards.tables import GiftCardChunkItem
    status, batch = cards.call("POST", "/v1/gift-cards/batches", {"name": "retry", "face_value_fen": FACE,
                                                                  "count": 10, "valid_until": "2027-12-31"})
    target = backend.current()
    original = target.write
    sent = []

    def committed_then_retried(writes):
        if any(isinstance(w.item, GiftCardChunkItem) and w.item.status == "done" for w in writes):
            sent.append(writes)
            original(writes)                  # committed; its reply is lost
        return original(writes)               # the retry's reply is what the caller sees
    monkeypatch.setattr(target, "write", committed_then_retried)
    chunks = cards.run_job("gift-card-batches")
    assert len(sent) == 3 and chunks["chunks_generated"] == 3 and chunks["batches_ready"] == 1, chunks
    done = cards.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}")
    assert (done["chunks_done"], done["status"]) == (3, "ready")
    assert len(secrets_of(done)) == 10


def test_a_rerun_chunk_creates_only_the_cards_missing_and_keeps_those_written(cards):
    """Cards are created in transactions of up to 100, each only where no card is: a rerun after
    a crash halfway (some transactions written) keeps the cards written and their hashes."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.gift_cards.tables import GiftCardItem

    def card(serial, secret_hash):
        number = keys.card_number(7, serial)
        return GiftCardItem(*GiftCardItem.key(number), number=number, batch_id="B000007", serial=serial,
                            secret_hash=secret_hash, face_value_fen=FACE, used=0, spent=0, redeemed=0,
                            voided_fen=0, state="issued", failures=0, locks=0, version=0)
    uow = UnitOfWork()
    assert uow.create_many([card(s, "first") for s in range(1, 131, 2)]) == 65
    assert uow.create_many([card(s, "second") for s in range(1, 251)]) == 185
    stored = {c.serial: c.secret_hash for c in (uow.get(GiftCardItem, GiftCardItem.key(keys.card_number(7, s)))
                                                 for s in range(1, 251))}
    assert len(stored) == 250
    assert all(stored[s] == ("first" if s % 2 and s < 131 else "second") for s in range(1, 251))

def sell(api, batch, first, last, invoice, **more):
    return api.call("POST", f"/v1/gift-cards/batches/{batch['batch_id']}/sales",
                    {"invoice_ref": invoice, "purchaser": "杭州某某科技有限公司",
                     "first_number": keys.card_number(1, first), "last_number": keys.card_number(1, last), **more})


def pay(api, number, secret, fen, order, merchant="m1"):
    return api.call("POST", "/v1/gift-cards/payments", {"card_number": number, "secret": secret, "amount_fen": fen,
                                                        "order_id": order, "merchant_id": merchant})


def redeem(api, mid, number, secret):
    return api.call("POST", f"/v1/members/{mid}/stored-value/gift-cards", {"card_number": number, "secret": secret})


def test_sale_activation_redemption_payment_and_void_to_the_fen(cards):
    batch = make_batch(cards)
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 11)}
    status, sale = sell(cards, batch, 1, 5, "INV-1", price_fen=47_500, activate=False)     # 5 cards at 95%
    assert status == 201 and (sale["count"], sale["face_fen"], sale["price_fen"]) == (5, 50_000, 47_500)
    assert sorted((e["account"], e["fen"]) for e in sale["entries"]) == sorted(
        [("cash_clearing", 47_500), ("gift_cards:program", -47_500), ("gift_card_discount", 2_500),
         ("gift_cards:program", -2_500)])
    assert sell(cards, batch, 1, 5, "INV-1", price_fen=47_500, activate=False)[1]["already_applied"]
    assert sell(cards, batch, 1, 4, "INV-1")[1]["type"].endswith("/invoice-reused")
    assert sell(cards, batch, 5, 6, "INV-2")[1]["type"].endswith("/gift-card-range-unavailable")
    status, problem = pay(cards, n[1], s[n[1]], 100, "O-0")
    assert status == 409 and problem["state"] == "sold"                          # not activated yet
    assert cards.ok("POST", f"/v1/gift-cards/{n[1]}/activate")["state"] == "activated"
    assert cards.call("POST", f"/v1/gift-cards/{n[1]}/activate")[0] == 409
    mid = cards.member("13800139501")
    status, done = redeem(cards, mid, n[1], s[n[1]])
    assert status == 201 and done["redeemed_fen"] == FACE and done["stored_value"]["principal"] == FACE
    assert redeem(cards, mid, n[1], s[n[1]])[1]["state"] == "redeemed"
    proof = cards.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert proof["balanced"] and proof["account"]["card_redeemed"] == FACE
    cards.ok("POST", f"/v1/gift-cards/{n[2]}/activate")
    status, paid = pay(cards, n[2], s[n[2]], 3_000, "O-1")
    assert status == 201 and (paid["balance_fen"], paid["state"]) == (7_000, "partially_used")
    assert pay(cards, n[2], s[n[2]], 1, "O-1")[0] == 409                        # an order is paid once per card
    status, short = pay(cards, n[2], s[n[2]], 7_001, "O-2")
    assert status == 409 and short["type"].endswith("/insufficient-balance") and short["balance_fen"] == 7_000
    assert pay(cards, n[2], s[n[2]], 7_000, "O-3")[1]["state"] == "exhausted"
    card = cards.ok("GET", f"/v1/gift-cards/{n[2]}")
    assert [p["kind"] for p in card["postings"]] == ["payment", "payment"] and card["balance_fen"] == 0
    assert all(sum(e["fen"] for e in p["entries"]) == 0 for p in card["postings"])
    assert card["postings"][0]["entries"] == [{"account": "gift_cards:program", "fen": 3_000},
                                              {"account": "settlement:m1", "fen": -3_000}]
    assert "secret" not in json.dumps(card) and s[n[2]] not in json.dumps(card)
    voided = cards.ok("POST", f"/v1/gift-cards/{n[6]}/void", {"reason": "damaged in print"})   # unsold
    assert voided["state"] == "voided"
    status, sale2 = sell(cards, batch, 6, 8, "INV-2")                            # card 6 is void: 2 cards
    assert status == 201 and sale2["count"] == 2 and sale2["face_fen"] == 2 * FACE
    cards.ok("POST", f"/v1/gift-cards/{n[3]}/activate")
    out = cards.ok("POST", f"/v1/gift-cards/{n[3]}/void", {"reason": "reported stolen by the buyer"})
    assert (out["state"], out["voided_fen"]) == ("voided", FACE)
    assert redeem(cards, mid, n[3], s[n[3]])[1]["state"] == "voided"
    report = cards.ok("GET", f"/v1/gift-cards/batches/{batch['batch_id']}?counts=true")
    assert report["sold_count"] == 7 and report["sold_fen"] == 70_000
    # sold 1-5, 7-8: 1 redeemed, 2 exhausted, 3 voided, 4 and 5 sold (not activated), 7 and 8 activated
    assert report["cards"]["by_state"] == {"activated": 2, "exhausted": 1, "issued": 2, "redeemed": 1, "sold": 2,
                                           "voided": 2}
    assert report["cards"]["outstanding_fen"] == 4 * FACE
    assert len(events("gift_card.paid")) == 2 and len(events("gift_card.sold")) == 2
    from tests.integration.test_tiers import deliver
    deliver()                                                   # the prepaid figures catch up
    proof = cards.ok("GET", "/v1/gift-cards/reconciliation")
    assert proof["balanced"] and proof["cards_checked"] == 10 and proof["figures_agree"], proof
    assert proof["issuers"] == {"gift_cards:program": {"cards_fen": 4 * FACE, "figures_fen": 4 * FACE, "agree": True},
                                "gift_cards_voided:program": {"cards_fen": FACE, "figures_fen": FACE,  # owed to
                                                              "agree": True}}                         # the buyer
    # a card changed behind the ledger's back is found, and the job announces it
    from chalicelib.db.uow import UnitOfWork
    uow = UnitOfWork()
    tampered = gift_cards_repository.of(uow).card(n[4])
    tampered.used = 1
    uow.put(tampered)
    one = cards.ok("GET", f"/v1/gift-cards/reconciliation?batch_id={batch['batch_id']}")
    assert not one["balanced"] and [m["card_number"] for m in one["mismatches"]] == [n[4]]
    assert cards.run_job("gift-card-reconcile")["failed_programs"] == ["default"]
    assert len(events("gift_card.reconciliation_failed")) == 1


class as_caller:
    """Send the block's requests with another credential (a till, another HQ user)."""

    def __init__(self, api, subject, role="clerk", merchant_id="m1", store_id="s1"):
        from chalicelib.shared.credentials import mint_token
        self.api, self.token = api, mint_token("staff", subject, 60 * 24 * 400, role=role, merchant_id=merchant_id,
                                               store_id=store_id)

    def __enter__(self):
        self.previous, self.api.token = self.api.token, self.token
        return self.api

    def __exit__(self, *exc):
        self.api.token = self.previous


def test_wrong_secrets_from_several_callers_lock_the_card_longer_each_time(cards):
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    sell(cards, batch, 1, 2, "INV-L")
    mid = cards.member("13800139502")
    wrong = "1" * 16 if s[number] != "1" * 16 else "2" * 16

    def burst(tag):              # five wrong secrets in a row, from two callers: a distributed guess
        answers = []
        for i in range(5):
            with as_caller(cards, f"{tag}-{i % 2}", role="super_admin", store_id=None):
                answers.append(redeem(cards, mid, number, wrong))
        return answers
    answers = burst("a")
    assert {(st, p["type"].rsplit("/", 1)[1]) for st, p in answers} == {(422, "gift-card-rejected")}
    status, locked = redeem(cards, mid, number, s[number])                      # the right secret, too late
    assert status == 423 and locked["type"].endswith("/gift-card-locked")
    assert cards.headers["Retry-After"] == str(locked["retry_after"]) == "1800"   # the lock's 30 minutes
    clock.freeze(T0 + timedelta(minutes=29))
    status, locked = redeem(cards, mid, number, s[number])
    assert status == 423 and cards.headers["Retry-After"] == "60" and locked["retry_after"] == 60
    clock.freeze(T0 + timedelta(minutes=31))
    burst("b")
    clock.freeze(T0 + timedelta(minutes=31 + 59))                               # the second lock is an hour
    assert redeem(cards, mid, number, s[number])[0] == 423
    clock.freeze(T0 + timedelta(minutes=31 + 61))
    assert redeem(cards, mid, number, s[number])[0] == 201
    rejected = events("gift_card.secret_rejected")
    assert len(rejected) == 10 and {e["card_number"] for e in rejected} == {number}
    assert len(events("gift_card.locked")) == 2 and events("gift_card.caller_locked") == []
    stored = everything_stored()
    assert wrong not in stored and s[number] not in stored


def test_one_caller_guessing_one_card_locks_itself_not_the_card(cards):
    """Issue #20 item 11: five wrong secrets from any one till key locked the card for everyone
    (anyone with a key could lock the cards of a mall). One caller's five in a row lock the
    caller instead, for as long as the card would have been, doubling the same way: the card gets
    no more guesses than before, and its holder can still pay."""
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    number = keys.card_number(1, 1)
    sell(cards, batch, 1, 2, "INV-C")
    wrong = "1" * 16 if s[number] != "1" * 16 else "2" * 16
    with as_caller(cards, "eve"):
        answers = [pay(cards, number, wrong, 1, f"eve-{i}")[0] for i in range(5)]
        assert answers == [422] * 5
        locked = pay(cards, number, s[number], 1, "eve-right")
        assert locked[0] == 429 and locked[1]["type"].endswith("/too-many-wrong-secrets")
        assert locked[1]["locked_until"] == clock.iso(T0 + timedelta(minutes=30))
        clock.freeze(T0 + timedelta(minutes=10, seconds=0.5))
        raw = cards.client.http.post("/v1/gift-cards/payments", headers={
            "Authorization": "Bearer " + cards.token, "Content-Type": "application/json", "Idempotency-Key": "eve-when"},
            body=json.dumps({"card_number": number, "secret": s[number], "amount_fen": 1, "order_id": "eve-when",
                             "merchant_id": "m1"}))
        assert raw.status_code == 429 and raw.headers["Retry-After"] == "1200"       # the whole seconds left
        assert json.loads(raw.body)["retry_after"] == 1200
        clock.freeze(T0 + timedelta(minutes=30) - timedelta(milliseconds=1))
        assert pay(cards, number, s[number], 1, "eve-last")[1]["retry_after"] == 1        # at least 1
        clock.freeze(T0)
        assert pay(cards, keys.card_number(1, 2), s[keys.card_number(1, 2)], 1, "eve-other")[0] == 429
    with as_caller(cards, "holder"):                                             # another till: the card works
        status, paid = pay(cards, number, s[number], 100, "holder-1")
        assert status == 201 and paid["balance_fen"] == FACE - 100
    card = cards.ok("GET", f"/v1/gift-cards/{number}")
    assert card["locked_until"] is None and card["failures"] == 0
    assert events("gift_card.locked") == []
    [lock] = events("gift_card.caller_locked")
    assert lock["because"] == "card" and lock["locked_until"] == clock.iso(T0 + timedelta(minutes=30))
    clock.freeze(T0 + timedelta(minutes=31))                                     # unlocked; next time an hour
    with as_caller(cards, "eve"):
        assert [pay(cards, number, wrong, 1, f"eve2-{i}")[0] for i in range(5)] == [422] * 5
        clock.freeze(T0 + timedelta(minutes=31 + 59))
        assert pay(cards, number, s[number], 1, "eve-late")[0] == 429
        clock.freeze(T0 + timedelta(minutes=31 + 61))
        assert pay(cards, number, s[number], 1, "eve-late2")[0] == 201
    assert [e["because"] for e in events("gift_card.caller_locked")] == ["card", "card"]


def test_a_till_cannot_map_card_numbers_by_activating_them(cards):
    """Issue #20 item 11: activateGiftCard told a till 404 for an unknown number and 409 for an
    unsold card, so sequential numbers could be mapped. To a till every card it may not activate
    now is the same 404, and nothing changes; HQ still sees the state."""
    batch = make_batch(cards, count=6)
    other = make_batch(cards, count=1, issuer_merchant_id="m2")                 # merchant m2's card
    sell(cards, batch, 1, 3, "INV-M", activate=False)                           # 1-3 sold, 4-6 unsold
    cards.ok("POST", f"/v1/gift-cards/batches/{other['batch_id']}/sales",
             {"invoice_ref": "INV-M2", "purchaser": "p", "activate": False})
    cards.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 2)}/activate")        # HQ activated card 2
    cards.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 3)}/void", {"reason": "lost"})
    probes = {"unknown": keys.card_number(1, 99), "unsold": keys.card_number(1, 4),
              "activated": keys.card_number(1, 2), "voided": keys.card_number(1, 3),
              "another merchant's": keys.card_number(2, 1), "no such batch": keys.card_number(77, 1)}
    before = {n: cards.call("GET", f"/v1/gift-cards/{n}")[1] for n in probes.values()}
    with as_caller(cards, "mapper"):
        answers = {what: cards.call("POST", f"/v1/gift-cards/{n}/activate") for what, n in probes.items()}
        assert {(st, p["type"], p["detail"]) for st, p in answers.values()} == {
            (404, "https://loyalty.example/problems/not-found", "no sold card with this number that you may activate")}
        assert all(set(p) == {"type", "title", "status", "detail", "instance"} for _, p in answers.values())
        assert cards.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 1)}/activate")["state"] == "activated"
    assert {n: cards.call("GET", f"/v1/gift-cards/{n}")[1] for n in probes.values()} == before
    status, problem = cards.call("POST", f"/v1/gift-cards/{keys.card_number(1, 4)}/activate")    # HQ is told
    assert status == 409 and problem["state"] == "issued"


def test_a_caller_guessing_many_cards_is_locked_and_a_wrong_number_looks_like_a_wrong_secret(cards):
    from chalicelib.shared.credentials import mint_token
    batch = make_batch(cards, count=1)
    number = keys.card_number(1, 1)
    secret = secrets_of(batch)[number]
    sell(cards, batch, 1, 1, "INV-G")
    mid = cards.member("13800139503")
    guesses = [keys.card_number(1, 100 + i) for i in range(20)]                  # valid numbers, no such cards
    answers = [redeem(cards, mid, g, "0" * 16) for g in guesses]
    real_wrong = redeem(cards, mid, number, "0" * 16 if secret != "0" * 16 else "1" * 16)
    assert {(st, p["type"], p["detail"]) for st, p in answers[:19]} == {
        (422, "https://loyalty.example/problems/gift-card-rejected", "the card number or its secret is wrong")}
    assert answers[19][0] == 422 and real_wrong[0] == 429                       # the 20th locked the caller
    assert redeem(cards, mid, number, secret)[0] == 429                          # even with the right secret
    other = cards.token
    cards.token = mint_token("staff", "ops-2", 60, role="super_admin", merchant_id="m1")
    try:
        assert redeem(cards, mid, number, secret)[0] == 201                      # another till is not locked
    finally:
        cards.token = other
    assert len(events("gift_card.caller_locked")) == 1


def test_scope_expiry_caps_and_bad_input_change_nothing(cards):
    batch = make_batch(cards, count=3, merchant_ids=["m2"], valid_until="2026-03-10")
    s = secrets_of(batch)
    n1, n2 = keys.card_number(1, 1), keys.card_number(1, 2)
    sell(cards, batch, 1, 3, "INV-S")
    mid = cards.member("13800139504")
    assert pay(cards, n1, s[n1], 100, "O-S")[1]["type"].endswith("/gift-card-not-accepted")
    assert redeem(cards, mid, n1, s[n1])[1]["type"].endswith("/gift-card-not-accepted")
    assert pay(cards, n1, s[n1], 100, "O-S", merchant="m2")[0] == 201
    clock.freeze(datetime(2026, 3, 10, 15, 59, tzinfo=UTC))                      # 23:59 on the last day
    assert pay(cards, n2, s[n2], 100, "O-S2", merchant="m2")[0] == 201
    clock.freeze(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))                       # the next day, in Shanghai
    assert pay(cards, n2, s[n2], 100, "O-S3", merchant="m2")[1]["state"] == "expired"
    clock.freeze(T0)
    for body, status in [({"name": "x", "face_value_fen": 100_001, "count": 1, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 0, "count": 1, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 100, "count": 100_001, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 100, "count": 1, "valid_until": "2026-03-01"}, 422),
                         ({"name": "x", "face_value_fen": -100, "count": 1, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 100.5, "count": 1, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 100, "count": -1, "valid_until": "2027-01-01"}, 422),
                         ({"name": "x", "face_value_fen": 100, "count": 1, "valid_until": "2027-01-01",
                           "merchant_ids": ["nowhere"]}, 404)]:
        assert cards.call("POST", "/v1/gift-cards/batches", body)[0] == status, body
    listed = len(cards.ok("GET", "/v1/gift-cards/batches")["batches"])
    sold = cards.ok("GET", "/v1/gift-cards/batches/B000001")["sold_count"]
    for price in (-1, 1.5, 10**11 + 1, "100"):                               # a sale's price: nothing sold
        status, problem = sell(cards, {"batch_id": "B000001"}, 5, 5, f"INV-P{price}", price_fen=price)
        assert status == 422, (price, problem)
    assert len(cards.ok("GET", "/v1/gift-cards/batches")["batches"]) == listed
    assert cards.ok("GET", "/v1/gift-cards/batches/B000001")["sold_count"] == sold
    status, problem = cards.call("POST", "/v1/gift-cards/payments", {"card_number": n1, "secret": "12345-secret-x",
                                                                     "amount_fen": 1, "order_id": "o"})
    assert status == 422 and "12345-secret-x" not in json.dumps(problem)
    bad_luhn = n1[:-1] + str((int(n1[-1]) + 1) % 10)
    assert redeem(cards, mid, bad_luhn, s[n1])[1]["type"].endswith("/gift-card-rejected")
    assert cards.call("GET", "/v1/gift-cards/batches/B999999")[0] == 404
    assert cards.call("GET", f"/v1/gift-cards/{keys.card_number(9, 9)}")[0] == 404
    # the member cap: a full account refuses the card and nothing changes
    cards.ok("PUT", "/v1/stored-value/rules", {"rules": {"balance_cap_fen": 15_000},
                                               "effective_from": "2026-01-01T00:00:00Z"})
    plain = make_batch(cards, count=2)
    ps = secrets_of(plain)
    cards.call("POST", f"/v1/gift-cards/batches/{plain['batch_id']}/sales", {"invoice_ref": "INV-P", "purchaser": "p"})
    p1, p2 = keys.card_number(2, 1), keys.card_number(2, 2)
    assert redeem(cards, mid, p1, ps[p1])[0] == 201
    status, problem = redeem(cards, mid, p2, ps[p2])
    assert status == 409 and problem["type"].endswith("/stored-value-limit")
    assert cards.ok("GET", f"/v1/gift-cards/{p2}")["balance_fen"] == FACE
    assert cards.ok("GET", f"/v1/members/{mid}/stored-value")["principal"] == FACE
    # the first batch's last day was 03-10: once its unfetched export is purged (after 7 days), its
    # expiry is announced with what its cards still held: 9,900 + 9,900 + 10,000
    clock.freeze(datetime(2026, 3, 8, 4, 0, tzinfo=UTC))
    assert cards.run_job("gift-card-batches")["exports_purged"] == 2
    clock.freeze(datetime(2026, 3, 11, 4, 0, tzinfo=UTC))
    assert cards.run_job("gift-card-batches")["batches_expired"] == 1
    assert cards.run_job("gift-card-batches")["items_read"] == 0
    [expired] = events("gift_card.batch_expired")
    assert (expired["batch_id"], expired["cards_holding_value"], expired["outstanding_fen"]) == (
        batch["batch_id"], 3, 29_800)


def test_the_smallest_batches_are_generated_first(cards, monkeypatch):
    big = cards.call("POST", "/v1/gift-cards/batches", {"name": "big", "face_value_fen": FACE, "count": 9,
                                                        "valid_until": "2027-12-31"})[1]
    small = cards.call("POST", "/v1/gift-cards/batches", {"name": "small", "face_value_fen": FACE, "count": 2,
                                                          "valid_until": "2027-12-31"})[1]
    order = []
    original = generation.generate_chunk

    def recorded(uow, batch, n, chunk):
        order.append(batch.batch_id)
        return original(uow, batch, n, chunk)

    monkeypatch.setattr(generation, "generate_chunk", recorded)
    assert cards.run_job("gift-card-batches")["batches_ready"] == 2
    assert order == [small["batch_id"]] + [big["batch_id"]] * 3
    monkeypatch.setenv("JOB_BUDGET_SECONDS", "0.000001")       # a run out of time starts nothing
    cards.call("POST", "/v1/gift-cards/batches", {"name": "late", "face_value_fen": FACE, "count": 2,
                                                  "valid_until": "2027-12-31"})
    run = cards.run_job("gift-card-batches")
    assert (run["chunks_generated"], run["stopped_at_deadline"]) == (0, True)


def refund(api, number, order, fen, refund_id, merchant="m1", **more):
    return api.call("POST", f"/v1/gift-cards/payments/{order}/refunds",
                    {"card_number": number, "refund_id": refund_id, "amount_fen": fen, "merchant_id": merchant, **more})


def test_a_payment_is_refunded_onto_its_card_to_the_fen(cards):
    """A till refunds what a card paid for an order back onto the card: in parts, never more than
    was paid, each refund once; an exhausted card is usable again; the lines reverse the payment's;
    a card that can no longer be used takes no refund; nothing refused changes anything."""
    batch = make_batch(cards)
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 11)}
    assert sell(cards, batch, 1, 4, "INV-R")[0] == 201                      # sold and activated
    assert pay(cards, n[1], s[n[1]], 3_000, "R-1")[0] == 201
    assert pay(cards, n[1], s[n[1]], 7_000, "R-2")[1]["state"] == "exhausted"
    status, back = refund(cards, n[1], "R-2", 2_500, "rf-1")
    assert status == 201, back
    assert (back["balance_fen"], back["state"], back["payment_refunded_fen"]) == (2_500, "partially_used", 2_500)
    assert refund(cards, n[1], "R-2", 1, "rf-1")[1]["detail"] == "refund rf-1 was applied already"
    status, over = refund(cards, n[1], "R-2", 4_501, "rf-2")
    assert status == 409 and over["type"].endswith("/refund-exceeds-payment") and over["refunded_fen"] == 2_500
    assert refund(cards, n[1], "R-2", 4_500, "rf-2")[1]["payment_refunded_fen"] == 7_000   # all of it, in two
    assert refund(cards, n[1], "R-2", 1, "rf-3")[0] == 409
    assert refund(cards, n[1], "R-404", 1, "rf-4")[0] == 404                 # no such payment
    assert refund(cards, n[2], "R-1", 1, "rf-5")[0] == 404                   # another card paid nothing there
    assert refund(cards, n[1], "R-1", 1, "rf-6", merchant="m2")[0] in (403, 404)   # another merchant's order
    card = cards.ok("GET", f"/v1/gift-cards/{n[1]}")
    assert card["balance_fen"] == 7_000 and card["state"] == "partially_used"
    assert [p["kind"] for p in card["postings"]] == ["payment", "payment", "payment_refund", "payment_refund"]
    assert card["postings"][2]["entries"] == [{"account": "settlement:m1", "fen": 2_500},
                                              {"account": "gift_cards:program", "fen": -2_500}]
    assert pay(cards, n[1], s[n[1]], 7_000, "R-3")[1]["state"] == "exhausted"   # usable again, to the fen
    # a voided card takes no refund; a card past its last day does (its balance is still owed)
    assert pay(cards, n[3], s[n[3]], 1_000, "R-4")[0] == 201
    cards.ok("POST", f"/v1/gift-cards/{n[3]}/void", {"reason": "reported stolen by the buyer"})
    status, problem = refund(cards, n[3], "R-4", 1_000, "rf-7")
    assert status == 409 and problem["state"] == "voided"
    assert pay(cards, n[4], s[n[4]], FACE, "R-5")[1]["state"] == "exhausted"
    clock.freeze(datetime(2028, 1, 2, 4, 0, tzinfo=UTC))
    status, back = refund(cards, n[4], "R-5", 1_000, "rf-8")
    assert status == 201 and (back["balance_fen"], cards.ok("GET", f"/v1/gift-cards/{n[4]}")["state"]) == (
        1_000, "expired")
    clock.freeze(T0)
    assert cards.ok("GET", f"/v1/gift-cards/{n[4]}")["balance_fen"] == 1_000
    assert len(events("gift_card.payment_refunded")) == 3
    from tests.integration.test_tiers import deliver
    deliver()                                                   # the prepaid figures catch up
    proof = cards.ok("GET", "/v1/gift-cards/reconciliation")
    # outstanding: card 2 whole; card 1 spent 10,000 + 7,000, got 7,000 back: 0; 3 voided; 4 spent
    assert proof["balanced"] and proof["figures_agree"], proof
    assert proof["issuers"]["gift_cards:program"]["cards_fen"] == FACE + 1_000
    assert proof["issuers"]["gift_cards_voided:program"]["cards_fen"] == FACE - 1_000


def test_a_card_payment_and_its_refund_are_two_requests_each(memory, monkeypatch):
    """One batch read (the card, its batch and the payment; the guard too when a secret is shown),
    then one transaction. (Counted on the fake, which counts each backend call as DynamoDB would.)"""
    from tests.integration.conftest import AppClient
    clock.freeze(T0)
    monkeypatch.setattr(generation, "CHUNK", 4)
    api = AppClient()
    batch = make_batch(api, count=4)
    s = secrets_of(batch)
    n1 = keys.card_number(1, 1)
    assert sell(api, batch, 1, 2, "INV-C")[0] == 201
    assert pay(api, n1, s[n1], 100, "C-0")[0] == 201                  # the merchant and rules are cached after this
    before = memory.requests
    assert pay(api, n1, s[n1], 3_000, "C-1")[0] == 201
    assert memory.requests - before == 2
    before = memory.requests
    assert refund(api, n1, "C-1", 1_000, "rf")[0] == 201
    assert memory.requests - before == 2


def test_value_a_card_can_no_longer_be_used_for_is_owed_held_and_settled_by_explicit_postings(cards):
    """A voided sold card's balance is still held (owed to its buyer) until paid out, once; a
    refund of a payment whose card was since redeemed goes to the member's principal; an expired
    card's balance is still held until the issuer extends the card or recognises breakage; the
    liability, the custodian's statement, the issuance counter and both reconciliations say it."""
    from tests.integration.test_tiers import deliver
    batch = make_batch(cards)
    s = secrets_of(batch)
    n = {i: keys.card_number(1, i) for i in range(1, 11)}
    assert sell(cards, batch, 1, 4, "INV-V")[0] == 201                      # 40,000 held for the program

    def held():
        deliver()
        rows = cards.ok("GET", "/v1/stored-value/supervision?day=2026-03-01")["issuers"]
        return next(r["closing_fen"] for r in rows if r["issuer"] == "program")

    # card 1: 3,000 paid, then redeemed (7,000); a refund of the payment reaches the member
    mid = cards.member("13800139520")
    assert pay(cards, n[1], s[n[1]], 3_000, "V-1")[0] == 201
    assert redeem(cards, mid, n[1], s[n[1]])[1]["redeemed_fen"] == 7_000
    status, back = refund(cards, n[1], "V-1", 2_000, "vr-1")
    assert status == 201 and back["state"] == "redeemed" and back["refunded_to"]["principal"] == 9_000, back
    assert refund(cards, n[1], "V-1", 1_001, "vr-2")[1]["type"].endswith("/refund-exceeds-payment")
    account = cards.ok("GET", f"/v1/stored-value/reconciliation?member_id={mid}")
    assert account["balanced"] and account["account"]["refunded_principal"] == 2_000
    assert cards.ok("GET", f"/v1/gift-cards/{n[1]}")["postings"][-1]["kind"] == "payment_refund_to_member"
    assert held() == 30_000 + 9_000                                         # cards 2-4 and the member's principal

    # card 2: voided, still owed to the buyer (held) until paid back, once
    assert cards.ok("POST", f"/v1/gift-cards/{n[2]}/void", {"reason": "lost by the buyer"})["voided_fen"] == FACE
    assert held() == 39_000
    liability = cards.ok("GET", "/v1/stored-value/liability")
    assert liability["gift_cards_voided_by_issuer"] == {"program": FACE} and liability["gift_cards_by_issuer"] == {
        "program": 2 * FACE}
    status, problem = cards.call("POST", f"/v1/gift-cards/{n[3]}/void/payout", {"refund_ref": "BANK-0",
                                                                                "reason": "not void"})
    assert status == 409 and problem["type"].endswith("/nothing-owed")
    out = cards.ok("POST", f"/v1/gift-cards/{n[2]}/void/payout", {"refund_ref": "BANK-1", "reason": "paid back"})
    assert out["paid_out_fen"] == FACE
    assert cards.call("POST", f"/v1/gift-cards/{n[2]}/void/payout", {"refund_ref": "BANK-2",
                                                                     "reason": "again"})[0] == 409
    assert held() == 29_000

    # cards 3 and 4 expire with their balance: still held; no breakage before the last day
    breakage = {"reason": "holder offered an extension on 2027-11-01, no reply"}
    assert cards.call("POST", f"/v1/gift-cards/{n[4]}/breakage", breakage)[0] == 409
    clock.freeze(datetime(2028, 1, 2, 4, 0, tzinfo=UTC))
    assert cards.ok("GET", f"/v1/gift-cards/{n[3]}")["state"] == "expired"
    assert pay(cards, n[3], s[n[3]], 100, "V-2")[1]["state"] == "expired"
    assert cards.call("POST", f"/v1/gift-cards/{n[3]}/extend", {"valid_until": "2027-12-31",
                                                                "reason": "asked"})[0] == 422
    extended = cards.ok("POST", f"/v1/gift-cards/{n[3]}/extend", {"valid_until": "2028-06-30",
                                                                  "reason": "the holder asked at the counter"})
    assert (extended["state"], extended["valid_until"]) == ("activated", "2028-06-30")
    assert pay(cards, n[3], s[n[3]], 4_000, "V-3")[0] == 201                 # usable again
    done = cards.ok("POST", f"/v1/gift-cards/{n[4]}/breakage", breakage)
    assert done["breakage_fen"] == FACE and done["balance_fen"] == 0
    assert cards.call("POST", f"/v1/gift-cards/{n[4]}/breakage", breakage)[0] == 409
    deliver()
    liability = cards.ok("GET", "/v1/stored-value/liability")
    assert liability["gift_cards_by_issuer"] == {"program": 6_000} and liability["breakage_fen"] == FACE
    assert liability["gift_cards_voided_by_issuer"] == {"program": 0} and liability["lines_balance"]
    proof = cards.ok("GET", "/v1/gift-cards/reconciliation")
    assert proof["balanced"] and proof["figures_agree"], proof
    issued = cards.ok("GET", "/v1/stored-value/reconciliation")
    assert issued["issuance_agrees"] and issued["issuance"]["program"]["counter_fen"] == 6_000 + 9_000


def test_when_a_guesser_is_locked_tells_nothing_about_which_numbers_exist(cards):
    """Five wrong secrets at a number lock the caller whether a card has that number or not, and
    interleaving numbers does not help; the right secret ends a caller's run at a card."""
    batch = make_batch(cards, count=2)
    s = secrets_of(batch)
    real, missing = keys.card_number(1, 1), keys.card_number(1, 500)
    sell(cards, batch, 1, 2, "INV-E")
    wrong = "1" * 16 if s[real] != "1" * 16 else "2" * 16
    replies = {}
    for number in (real, missing):
        with as_caller(cards, f"probe-{number}"):
            for i in range(4):                                                   # interleaved with another number
                pay(cards, number, wrong, 1, f"p-{number}-{i}")
                pay(cards, keys.card_number(1, 600 + i), wrong, 1, f"q-{number}-{i}")
            replies[number] = [pay(cards, number, wrong, 1, f"p-{number}-4"), pay(cards, number, wrong, 1, "p-5")]
    assert [(st, p["type"]) for st, p in replies[real]] == [(st, p["type"]) for st, p in replies[missing]]
    assert [st for st, _ in replies[real]] == [422, 429]
    with as_caller(cards, "holder"):                                             # a holder who mistypes
        for i in range(4):
            assert pay(cards, keys.card_number(1, 2), wrong, 1, f"h-{i}")[0] == 422
        assert pay(cards, keys.card_number(1, 2), s[keys.card_number(1, 2)], 1, "h-ok")[0] == 201
        assert pay(cards, keys.card_number(1, 2), wrong, 1, "h-5")[0] == 422      # a new run, not the fifth
        assert pay(cards, keys.card_number(1, 2), s[keys.card_number(1, 2)], 1, "h-ok2")[0] == 201


def test_probing_numbers_by_activation_is_counted_like_guessing(cards):
    """Found from outside (issue #20 item 11): a fresh till key probed 60 sequential numbers of a
    batch with activateGiftCard and activated the 9 sold but not yet active; nothing was counted.
    Each refused activation is now a wrong try of the till's credential: the 20th within 15
    minutes locks it (429) for 30 minutes, before it can reach a card, and nothing else changes."""
    batch = make_batch(cards, count=30)
    sell(cards, batch, 25, 30, "INV-P", activate=False)                         # 25-30 sold, not active
    with as_caller(cards, "prober"):
        answers = [cards.call("POST", f"/v1/gift-cards/{keys.card_number(1, serial)}/activate")[0]
                   for serial in range(1, 21)]                                  # 20 probes, none activatable
        assert answers == [404] * 20
        status, problem = cards.call("POST", f"/v1/gift-cards/{keys.card_number(1, 25)}/activate")
        assert status == 429 and problem["type"].endswith("/too-many-wrong-secrets"), problem
    assert cards.ok("GET", f"/v1/gift-cards/{keys.card_number(1, 25)}")["state"] == "sold"       # not activated
    with as_caller(cards, "a till with the card in hand"):                      # other credentials are not held up
        assert cards.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 25)}/activate")["state"] == "activated"
    clock.freeze(clock.now() + timedelta(minutes=31))
    with as_caller(cards, "prober"):                                             # the lock ends
        assert cards.ok("POST", f"/v1/gift-cards/{keys.card_number(1, 26)}/activate")["state"] == "activated"
