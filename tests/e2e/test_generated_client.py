"""A client generated from the served document by a tool nobody here wrote (openapi-python-client,
pinned in requirements-dev.txt) drives the flows of an HQ operator, a POS till, a member app, and
stored value with gift cards, through the client only, asserting typed fields computed by hand
from the rules it puts in force. The merchant signature is the hook documented in
docs/integrators/signing.md, taken from that page as it is written."""

from __future__ import annotations

import csv
import importlib
import io
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from devstack.credentials import staff_token

ROOT = Path(__file__).resolve().parents[2]
PROGRAM, MERCHANT, STORE = "gen-client", "shop", "shop-1"


@pytest.fixture(scope="module")
def client(api, tmp_path_factory) -> Any:
    """The ``loyalty_client`` package, generated now from the served /openapi.json."""
    out = tmp_path_factory.mktemp("generated")
    (out / "openapi.json").write_text(requests.get(api.url + "/openapi.json", timeout=30).text)
    (out / "config.yaml").write_text("post_hooks: []\n")      # (its formatting hooks want ruff on PATH)
    tool = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run([str(tool), "generate", "--path", str(out / "openapi.json"), "--meta", "none",
                           "--output-path", str(out / "loyalty_client"), "--config", str(out / "config.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout          # every operation and schema was generated
    sys.path.insert(0, str(out))
    try:
        package = importlib.import_module("loyalty_client")
        importlib.import_module("loyalty_client.models")
        importlib.import_module("loyalty_client.api")
        yield package
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "loyalty_client" or n.startswith("loyalty_client.")]:
            del sys.modules[name]


def signing_hook(key_id: str, secret: str):
    """The hook of docs/integrators/signing.md, as the page has it."""
    page = (ROOT / "docs" / "integrators" / "signing.md").read_text()
    [code] = [block for block in re.findall(r"```python\n(.*?)```", page, re.S) if "def signing_hook" in block]
    scope: dict[str, Any] = {}
    exec(compile(code, "signing.md", "exec"), scope)
    return scope["signing_hook"](key_id, secret)


def op(name: str) -> Any:
    """An operation's module of the generated client, by operationId (``earnPoints``)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    for package in Path(sys.modules["loyalty_client.api"].__file__).parent.iterdir():
        if (package / f"{snake}.py").exists():
            return importlib.import_module(f"loyalty_client.api.{package.name}.{snake}")
    raise LookupError(name)


def ok(response: Any, model: str, status: int | None = None) -> Any:
    """The typed reply of a 2xx response, checked to be the generated ``model``."""
    assert 200 <= response.status_code < 300, (response.status_code, response.content[:500])
    assert status is None or response.status_code == status, response.status_code
    parsed = response.parsed
    assert type(parsed).__name__ == model, (type(parsed).__name__, response.content[:300])
    return parsed


_keys = iter(range(10**6))


def key(tag: str) -> str:
    return f"gen-{tag}-{next(_keys)}"


@pytest.fixture(scope="module")
def world(client, api, stack) -> SimpleNamespace:
    """HQ sets up a program through the client: a merchant, a store, a POS key (its secret shown
    once), then the earn rules, the tier ladder and the top-up bonus rules."""
    M = client.models
    url = api.url
    platform = client.AuthenticatedClient(base_url=url, token=stack.credentials["staff_tokens"]["platform_admin"])
    hq = client.AuthenticatedClient(base_url=url, token=staff_token("super_admin", "gen-hq", program_id=PROGRAM))
    created = op("createProgram").sync_detailed(
        client=platform, body=M.CreateProgram(program_id=PROGRAM, name="生成客户端", timezone="Asia/Shanghai"),
        idempotency_key=key("program"))
    assert ok(created, "ProgramOut", 201).program_id == PROGRAM
    listed = ok(op("listPrograms").sync_detailed(client=platform), "ProgramListOut")
    assert PROGRAM in [p.program_id for p in listed.programs]
    shop = op("createMerchant").sync_detailed(client=hq, body=M.CreateMerchant(merchant_id=MERCHANT, name="一号店"),
                                               idempotency_key=key("merchant"))
    assert ok(shop, "MerchantCreatedOut", 201).merchant_id == MERCHANT
    store = op("createStore").sync_detailed(MERCHANT, client=hq, body=M.CreateStore(store_id=STORE, name="南京西路"),
                                             idempotency_key=key("store"))
    assert ok(store, "StoreCreatedOut", 201).store_id == STORE
    creation = key("api-key")
    made = op("createApiKey").sync_detailed(MERCHANT, client=hq, body=M.CreateApiKey.from_dict({"store_id": STORE}),
                                             idempotency_key=creation)
    assert ok(made, "ApiKeyCreatedOut", 201).secret
    again = op("createApiKey").sync_detailed(MERCHANT, client=hq, body=M.CreateApiKey.from_dict({"store_id": STORE}),
                                              idempotency_key=creation)      # a retry: the same key
    assert (again.parsed.key_id, again.parsed.secret) == (made.parsed.key_id, made.parsed.secret)
    pos = client.Client(base_url=url, httpx_args={"event_hooks": {"request": [
        signing_hook(made.parsed.key_id, made.parsed.secret)]}})

    rules = ok(op("putEarnRules").sync_detailed(client=hq, body=M.PutRules.from_dict({"rules": {
        "points_per_yuan": "1", "pending_days": 0, "redeem": {"points_per_yuan": 100, "max_share_percent": 50}}}),
        idempotency_key=key("rules")), "EarnRulesSaved", 201)
    assert rules.version == 1 and rules.rules.redeem.max_share_percent == 50
    ladder = ok(op("putTierLadder").sync_detailed(client=hq, body=M.PutTierLadder.from_dict({"ladder": {"tiers": [
        {"code": "V1", "name": "普通会员", "threshold": 0},
        {"code": "V2", "name": "白银会员", "threshold": 1000, "validity_months": 12}]}}),
        idempotency_key=key("ladder")), "TierLadderSaved", 201)
    assert [t.code for t in ladder.ladder.tiers] == ["V1", "V2"]
    bonus = ok(op("putTopUpBonusRules").sync_detailed(client=hq, body=M.PutTopUpBonusRules.from_dict({"rules": {
        "bonus_rules": [{"id": "200-30", "name": "储值200送30", "kind": "fixed", "min_fen": 20000, "bonus_fen": 3000}],
        "spend_order": "proportional"}}), idempotency_key=key("bonus")), "TopUpBonusRulesSaved", 201)
    assert bonus.rules.bonus_rules[0].bonus_fen == 3000
    in_force = ok(op("getEarnRules").sync_detailed(client=hq), "EarnRulesInForce")
    assert in_force.version == 1 and [v.version for v in in_force.versions] == [1]
    return SimpleNamespace(M=M, hq=hq, pos=pos, platform=platform, url=url, client=client)


def register(w: SimpleNamespace, phone: str) -> str:
    member = ok(op("registerMember").sync_detailed(client=w.pos, body=w.M.RegisterMember(phone=phone),
                                                   idempotency_key=key("register")), "MemberOut", 201)
    assert member.phone == f"{phone[:3]}****{phone[-4:]}" and member.pii_masked is True
    assert member.merchant_id == MERCHANT and member.store_id == STORE        # the key's store registered them
    return member.member_id


def test_a_pos_till_registers_finds_earns_redeems_and_refunds(world):
    w, M = world, world.M
    member_id = register(w, "13700001111")
    found = ok(op("findMember").sync_detailed(client=w.pos, body=M.IdentityIn(type_=M.IdentityInType.PHONE,
                                                                               value="13700001111")), "MemberOut")
    assert found.member_id == member_id
    # ¥299.00 at 1 point per yuan: 299 points (and 299 growth), spendable at once (pending_days 0)
    earned = ok(op("earnPoints").sync_detailed(member_id, client=w.pos, body=M.EarnForOrder.from_dict(
        {"order_id": "POS:O1", "amount_fen": 29_900}), idempotency_key=key("earn")), "EarnOut")
    assert (earned.points, earned.growth, earned.balance) == (299, 299, 299)
    # 100 points are worth ¥1 (100 points per yuan) on an order of ¥100 (at most half may be points)
    spent = ok(op("redeemPoints").sync_detailed(member_id, client=w.pos, body=M.Redeem.from_dict(
        {"points": 100, "order_id": "O2", "order_amount_fen": 10_000}), idempotency_key=key("redeem")), "RedeemOut")
    assert (spent.points, spent.value_fen, sum(lot.points for lot in spent.lots)) == (100, 100, 100)
    # a third of POS:O1 refunded (¥99 of ¥299): 299 × 9,900 / 29,900 = 99 points back
    refund = ok(op("refundOrder").sync_detailed("POS:O1", client=w.pos, body=M.Refund.from_dict(
        {"refund_id": "R1", "amount_fen": 9_900}), idempotency_key=key("refund")), "RefundOut")
    assert refund.refund_id == "R1"
    account = ok(op("getPointsAccount").sync_detailed(member_id, client=w.pos), "AccountOut")
    points = account.accounts["points"]
    assert (points.available, points.debt, points.balance, points.earned, points.clawed_back, points.redeemed) == \
        (100, 0, 100, 299, 99, 100)
    order = ok(op("getOrder").sync_detailed("POS:O1", client=w.pos), "OrderOut")    # sent as POS%3AO1
    assert order.order_id == "POS:O1" and order.member_id == member_id and order.refunded_fen == 9_900
    assert [lot.points for lot in order.earned["points"]] == [299]


def test_hq_lists_members_and_reads_the_liability(world):
    w = world
    member_id = register(w, "13700002222")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()          # the program's day
    page = ok(op("listMembers").sync_detailed(client=w.hq, merchant_id=MERCHANT, start=today, end=today),
              "MembersPage")
    assert member_id in [m.member_id for m in page.members] and all(m.pii_masked for m in page.members)
    liability = ok(op("getPointsLiability").sync_detailed(client=w.hq), "PointsLiabilityOut")
    assert liability.to_dict()                      # typed, and every figure documented (checked elsewhere)


def test_a_member_app_reads_its_own_profile_tier_benefits_ledger_and_stored_value(world):
    w, M = world, world.M
    member_id = register(w, "13700003333")
    ok(op("earnPoints").sync_detailed(member_id, client=w.pos, body=M.EarnForOrder.from_dict(
        {"order_id": "O3", "amount_fen": 120_000}), idempotency_key=key("earn")), "EarnOut")
    minted = ok(op("issueMemberToken").sync_detailed(client=w.hq, body=M.MemberTokenRequest.from_dict(
        {"member_id": member_id, "verified_by": "sms_otp"})), "MemberTokenOut", 201)
    app = w.client.AuthenticatedClient(base_url=w.url, token=minted.token)
    me = ok(op("getMember").sync_detailed("me", client=app), "MemberOut")
    assert me.member_id == member_id and me.phone == "+8613700003333" and me.pii_masked is False   # their own, unmasked
    for _ in range(100):                      # the stream moves the member up, within a second or so
        tier = ok(op("getMemberTier").sync_detailed("me", client=app), "MemberTierOut")
        if tier.tier.code == "V2":
            break
        time.sleep(0.1)
    assert tier.tier.code == "V2" and tier.growth == 1_200                     # ¥1,200: 1,200 growth ≥ 1,000
    benefits = ok(op("getMemberBenefits").sync_detailed("me", client=app), "MemberBenefitsOut")
    assert benefits.member_id == member_id
    ledger = ok(op("listPointsLedger").sync_detailed("me", client=app), "PointsLedgerOut")
    assert [(p.kind, p.amount) for p in ledger.postings] == [("earn", 1_200)]
    wallet = ok(op("getStoredValueAccount").sync_detailed("me", client=app), "StoredValueAccountOut")
    assert wallet.balance_fen == 0


def test_stored_value_and_gift_cards_through_the_client(world):
    w, M = world, world.M
    member_id = register(w, "13700004444")
    # ¥200 top-up earns the ¥30 bonus; ¥115 paid proportionally: ¥100 principal, ¥15 bonus
    top_up = ok(op("topUpStoredValue").sync_detailed(member_id, client=w.pos, body=M.TopUp.from_dict(
        {"amount_fen": 20_000, "payment_ref": "WX-GEN-1"}), idempotency_key=key("top-up")), "SvTopUpOut", 201)
    assert (top_up.principal, top_up.bonus, top_up.balance_fen) == (20_000, 3_000, 23_000)
    paid = ok(op("payWithStoredValue").sync_detailed(member_id, client=w.pos, body=M.Pay.from_dict(
        {"amount_fen": 11_500, "order_id": "S1"}), idempotency_key=key("pay")), "SvPaymentOut", 201)
    assert (paid.principal_fen, paid.bonus_fen, paid.balance_fen) == (10_000, 1_500, 11_500)
    # ¥23 of it refunded: ¥20 principal and ¥3 bonus back, in the payment's proportion
    back = ok(op("refundStoredValuePayment").sync_detailed("S1", client=w.pos, body=M.RefundPayment.from_dict(
        {"refund_id": "SR1", "amount_fen": 2_300}), idempotency_key=key("sv-refund")), "SvRefundOut", 201)
    assert (back.principal_fen, back.bonus_fen) == (2_000, 300)

    # HQ: a batch of two ¥200 cards, generated by its job, secrets exported once, sold
    batch = ok(op("createGiftCardBatch").sync_detailed(client=w.hq, body=M.CreateBatch.from_dict(
        {"name": "中秋卡", "face_value_fen": 20_000, "count": 2, "valid_until": "2099-12-31"}),
        idempotency_key=key("batch")), "GiftCardBatchOut", 202)
    run = op("runJob").sync_detailed("gift-card-batches", client=w.platform, body=M.RunJob.from_dict({}))
    assert ok(run, "JobRunOut").result.to_dict()["batches_ready"] >= 1
    ready = ok(op("getGiftCardBatch").sync_detailed(batch.batch_id, client=w.hq), "GiftCardBatchDetailOut")
    assert ready.status == "ready" and ready.count == 2
    export = ok(op("exportGiftCardSecrets").sync_detailed(batch.batch_id, client=w.hq,
                                                          idempotency_key=key("export")), "GiftCardExportOut", 201)
    part = op("downloadGiftCardSecrets").sync_detailed(batch.batch_id, export.parts[0].part, client=w.hq)
    assert part.status_code == 200
    cards = list(csv.DictReader(io.StringIO(part.content.decode())))
    assert [c["card_number"] for c in cards] == [ready.first_number, cards[1]["card_number"]]
    sold = ok(op("sellGiftCards").sync_detailed(batch.batch_id, client=w.hq, body=M.SellCards.from_dict(
        {"invoice_ref": "INV-GEN", "purchaser": "上海某某有限公司", "first_number": cards[0]["card_number"],
         "last_number": cards[1]["card_number"]}), idempotency_key=key("sale")), "GiftCardSaleOut", 201)
    assert sold.count == 2
    # a till takes ¥50 with the first card; the member redeems the second into stored value
    with_card = ok(op("payWithGiftCard").sync_detailed(client=w.pos, body=M.PayWithCard.from_dict(
        {"card_number": cards[0]["card_number"], "secret": cards[0]["secret"], "amount_fen": 5_000,
         "order_id": "G1"}), idempotency_key=key("gc-pay")), "GiftCardPaymentOut", 201)
    assert (with_card.amount_fen, with_card.balance_fen) == (5_000, 15_000)
    ok(op("redeemGiftCard").sync_detailed(member_id, client=w.pos, body=M.CardSecret.from_dict(
        {"card_number": cards[1]["card_number"], "secret": cards[1]["secret"]}), idempotency_key=key("gc-redeem")),
        "GiftCardRedeemOut", 201)
    wallet = ok(op("getStoredValueAccount").sync_detailed(member_id, client=w.pos), "StoredValueAccountOut")
    # 23,000 − 11,500 + 2,300 + 20,000 (the card's balance, as principal)
    assert (wallet.principal, wallet.bonus, wallet.balance_fen) == (32_000, 1_800, 33_800)
    # the reconciliation: either shape is typed (every batch's without batch_id, the batch's with it)
    checked = ok(op("getGiftCardReconciliation").sync_detailed(client=w.hq), "GiftCardReconciliationTotal")
    assert checked.cards_checked >= 2 and checked.cards_mismatched == 0 and checked.balanced is True
    one = ok(op("getGiftCardReconciliation").sync_detailed(client=w.hq, batch_id=batch.batch_id), "GiftCardBatchReconciliation")
    assert one.batch_id == batch.batch_id and one.cards_checked == 2 and one.balanced is True
