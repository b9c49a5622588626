"""The mechanisms every money store shares, on a made-up store (a coupon stock) so that a new one
(coupons next) can copy these checks: one posting vocabulary on the versioned account, the
version lock of ``save_versioned``, counters bounded by a limit at commit, a payment reference
applied once, and the refund bound. On the in-memory fake: fast, and the same conditions the
table checks."""

from __future__ import annotations

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.backend import SortKey
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import counters, once
from chalicelib.ledger.account import JournalAccount, reconcile
from chalicelib.ledger.postings import JournalPosting
from chalicelib.ledger.refunds import RefundExceedsPayment, within_payment
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, changed
from chalicelib.shared.events import DomainEvent

KEY = ("STOCK#1", "ACCOUNT")


class StockItem(MainModel):
    """A made-up money store's account: coupons issuable and issued."""

    left = NumberAttribute(default=0)
    issued = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class StockPosting(JournalPosting):
    left_delta = NumberAttribute()
    issued_delta = NumberAttribute()


class StockCounter(MainModel):
    total = NumberAttribute(default=0)


class StockRef(MainModel):
    member_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    at = UnicodeAttribute()


class Reused(Conflict):
    slug, title = "stock-ref-reused", "This reference was applied to another change"


def _post(uow: UnitOfWork, amount: int, kind: str = "issue") -> tuple[JournalAccount, StockPosting]:
    item = uow.get(StockItem, KEY, consistent=True) or StockItem(*KEY)
    account = JournalAccount(uow, item, ("left", "issued"), on_conflict=changed("the stock"), stored=True)
    account.move("left", -amount)
    account.move("issued", amount)
    account.journal.move("stock:issued", "stock:left", amount)
    version = account.next_version
    posting = account.post(StockPosting, ("STOCK#1", f"POST#{version:06d}"), kind, amount,
                           balance_after=account.balance("left"), event_type="stock.issued", subject="stock:1",
                           data={"posting_id": account.posting_id, "amount": amount}, reason="a test",
                           merchant_id="m1", store_id="s1", sequence=version, entries=account.journal.dump(),
                           ref=f"order:{version}")
    return account, posting


def _seed(left: int) -> None:
    uow = UnitOfWork("test")
    uow.create(StockItem(*KEY, left=left, issued=0, version=0))
    uow.commit()


# --- one posting vocabulary -------------------------------------------------------------------------

def test_a_posting_names_the_units_actor_and_key_as_its_event_does(memory):
    _seed(100)
    uow = UnitOfWork("staff:ops", "corr-1", idempotency_key="key-1")
    account, posting = _post(uow, 30)
    uow.commit()
    stored = UnitOfWork().get(StockPosting, ("STOCK#1", "POST#000001"))
    assert stored is not None and stored.posting_id == posting.posting_id == account.posting_id
    assert (stored.kind, int(stored.amount), int(stored.balance_after), int(stored.sequence)) == ("issue", 30, 70, 1)
    assert (int(stored.left_delta), int(stored.issued_delta)) == (-30, 30)
    assert (stored.actor, stored.idempotency_key, stored.reason) == ("staff:ops", "key-1", "a test")
    assert (stored.merchant_id, stored.store_id, stored.ref) == ("m1", "s1", "order:1")
    assert '"account":"stock:issued"' in stored.entries
    assert uow.events[0].actor == stored.actor and uow.events[0].data["posting_id"] == posting.posting_id


def test_a_job_posts_as_its_unit_without_a_key(memory):
    _seed(10)
    uow = UnitOfWork("job:stock-expiry")
    _, posting = _post(uow, 1, kind="expire")
    uow.commit()
    assert (posting.actor, posting.idempotency_key) == ("job:stock-expiry", None)


def test_the_balance_is_the_same_before_and_after_staging(memory):
    _seed(100)
    uow = UnitOfWork("test")
    item = uow.get(StockItem, KEY, consistent=True)
    account = JournalAccount(uow, item, ("left", "issued"))
    account.move("left", -40)
    before = account.balance("left")
    account.stage(StockPosting("STOCK#1", "POST#000001", posting_id="p", sequence=1, kind="issue", amount=40,
                               balance_after=before, entries="[]", left_delta=-40, issued_delta=0,
                               created_at="now"), DomainEvent("stock.issued", "stock:1", {}))
    assert before == account.balance("left") == int(item.left) == 60      # not 20: the deltas counted once


def test_postings_of_one_account_are_gap_free_and_reconcile(memory):
    _seed(100)
    for amount in (10, 20, 5):
        uow = UnitOfWork("test")
        _post(uow, amount)
        uow.commit()
    reader = UnitOfWork()
    state = reader.get(StockItem, KEY)
    postings = list(reader.query(StockPosting, "STOCK#1", SortKey.prefix("POST#")))
    result = reconcile({"left": int(state.left), "issued": int(state.issued), "version": int(state.version)},
                       postings, ["left", "issued"])
    assert result["checks"]["issued = postings"] and result["checks"]["postings are gap-free"]
    assert int(state.left) == 100 + result["sums"]["left"] == 65            # the seed plus the postings


def test_a_stale_change_loses_the_race_with_the_accounts_own_conflict(memory):
    _seed(100)
    first, second = UnitOfWork("a"), UnitOfWork("b")
    _post(first, 1)
    _post(second, 2)
    first.commit()
    with pytest.raises(ConcurrentUpdate, match="the stock changed while the request ran; retry"):
        second.commit()


# --- save_versioned ---------------------------------------------------------------------------------

def test_save_versioned_creates_at_zero_and_then_locks_on_the_version_read(memory):
    uow = UnitOfWork()
    uow.save_versioned(StockItem(*KEY, left=1), 0, changed("the stock"))
    uow.commit()
    again = UnitOfWork()
    again.save_versioned(StockItem(*KEY, left=2), 0, changed("the stock"))        # read as absent: too late
    with pytest.raises(ConcurrentUpdate):
        again.commit()
    first, second = UnitOfWork(), UnitOfWork()
    for uow, left in ((first, 3), (second, 4)):
        item = uow.get(StockItem, KEY, consistent=True)
        read = int(item.version)
        item.left = left
        uow.save_versioned(item, read, changed("the stock"))
        assert int(item.version) == read + 1
    first.commit()
    with pytest.raises(ConcurrentUpdate):
        second.commit()
    stored = UnitOfWork().get(StockItem, KEY)
    assert (int(stored.left), int(stored.version)) == (3, 2)


def test_save_versioned_of_an_item_stored_before_its_first_version(memory):
    _seed(5)                                          # version 0, but stored
    uow = UnitOfWork()
    item = uow.get(StockItem, KEY, consistent=True)
    item.left = 6
    uow.save_versioned(item, 0, changed("the stock"), stored=True)
    uow.commit()
    assert int(UnitOfWork().get(StockItem, KEY).version) == 1


# --- counters ---------------------------------------------------------------------------------------

def test_a_counter_is_bounded_at_commit_even_in_a_burst(memory):
    key = ("STOCK#1", "DAY#2026-12-03")
    refused = lambda: Conflict("over the day's limit")              # noqa: E731
    first, second = UnitOfWork(), UnitOfWork()
    counters.add(first, StockCounter(*key), 6, 10, refused)
    counters.add(second, StockCounter(*key), 5, 10, refused)          # each alone fits; both do not
    first.commit()
    with pytest.raises(Conflict, match="over the day's limit"):
        second.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 6
    last = UnitOfWork()
    counters.add(last, StockCounter(*key), 4, 10, refused)            # exactly the room left
    last.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 10


def test_a_counter_refuses_at_once_what_no_room_could_hold_and_never_bounds_a_decrease(memory):
    key = ("STOCK#1", "MONTH#2026-12")
    with pytest.raises(Conflict):
        counters.add(UnitOfWork(), StockCounter(*key), 11, 10, lambda: Conflict("too much"))
    uow = UnitOfWork()
    counters.add(uow, StockCounter(*key), -3, 0, lambda: Conflict("never"))
    counters.add(uow, StockCounter("STOCK#1", "ALL"), 1_000, None, lambda: Conflict("never"))
    uow.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == -3


def test_two_adds_to_one_counter_in_a_unit_are_one_write_of_their_sum(db):
    """A transaction may not write one item twice (DynamoDB, and the fake, refuse the whole of it):
    a unit's second add to a counter folds into the first, bounded by the sum. By hand: 3 + 4 = 7
    fits a limit of 10; another 2 + 2 on top: 11 > 10, refused at once (nothing staged changes);
    rolled back to before the 2 + 2, the unit commits 7."""
    key = ("STOCK#1", "DAY#2026-12-06")
    refused = lambda: Conflict("over the day's limit")              # noqa: E731
    uow = UnitOfWork()
    counters.add(uow, StockCounter(*key), 3, 10, refused)
    counters.add(uow, StockCounter("STOCK#1", "ALL"), 1, None, refused)
    counters.add(uow, StockCounter(*key), 4, 10, refused)
    after_seven = uow.savepoint()
    counters.add(uow, StockCounter(*key), 2, 10, refused)             # 9: still fits
    with pytest.raises(Conflict, match="over the day's limit"):
        counters.add(uow, StockCounter(*key), 2, 10, refused)         # 11: refused while staging
    uow.rollback_to(after_seven)
    uow.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 7
    assert counters.total(UnitOfWork(), StockCounter, ("STOCK#1", "ALL")) == 1
    undone = UnitOfWork()
    counters.add(undone, StockCounter(*key), 1, 10, refused)
    point = undone.savepoint()
    counters.add(undone, StockCounter(*key), 1, 10, refused)          # folded into the first, then undone
    undone.rollback_to(point)
    undone.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 8
    twice = UnitOfWork()                                              # the store refuses two writes of one item
    twice.update(StockCounter(*key), [StockCounter.total.add(1)])
    twice.update(StockCounter(*key), [StockCounter.total.add(1)])
    with pytest.raises(Exception, match="(?i)item twice|multiple operations on one item|Failed to write"):
        twice.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 8


def test_a_counter_added_to_as_read_loses_to_any_change_meanwhile(memory):
    key = ("STOCK#1", "DAY#2026-12-04")
    refused = lambda: ConcurrentUpdate("the counter changed meanwhile; retry")   # noqa: E731
    first, second = UnitOfWork(), UnitOfWork()
    for uow in (first, second):                       # both read 0 and decided from it (a clamp)
        counters.add(uow, StockCounter(*key), 1, 10, refused, read=0)
    first.commit()
    with pytest.raises(ConcurrentUpdate):
        second.commit()                               # room was left, but not what it read
    again = UnitOfWork()
    counters.add(again, StockCounter(*key), 1, 10, refused, read=counters.total(again, StockCounter, key))
    again.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 2


def test_a_counter_bounds_its_last_unit_and_its_whole_limit_at_once_but_never_a_zero(memory):
    key = ("STOCK#1", "DAY#2026-12-05")
    refused = lambda: Conflict("over the day's limit")              # noqa: E731
    assert counters.total(UnitOfWork(), StockCounter, key) == 0     # never added to
    whole = UnitOfWork()
    counters.add(whole, StockCounter(*key), 10, 10, refused)          # the whole limit in one add fits
    whole.commit()
    one_more = UnitOfWork()
    counters.add(one_more, StockCounter(*key), 1, 10, refused)        # a single unit past it does not
    with pytest.raises(Conflict, match="over the day's limit"):
        one_more.commit()
    lowered = UnitOfWork()                                            # the limit lowered below the total:
    counters.add(lowered, StockCounter(*key), 0, 5, refused)          # adding nothing is never refused
    lowered.commit()
    back = UnitOfWork()
    counters.add(back, StockCounter(*key), -10, None, refused)
    back.commit()
    assert counters.total(UnitOfWork(), StockCounter, key) == 0       # added to, and back to nothing


def test_a_counter_and_a_reference_are_read_consistently_while_replicas_lag():
    from tests.integration.conftest import fake_backend
    from tests.integration.test_edges_stored_value import LaggingReplica
    key, ref = ("STOCK#1", "DAY#2026-12-06"), ("STOCKREF#PAY-2", "REF")
    with fake_backend(LaggingReplica()) as fake:
        fake.lag()                                                    # the replicas saw neither write
        uow = UnitOfWork()
        counters.add(uow, StockCounter(*key), 3, 10, lambda: Conflict("never"))
        once.apply(uow, StockRef(*ref, member_id="M1", amount_fen=500, at="now"), "PAY-2")
        uow.commit()
        assert counters.total(UnitOfWork(), StockCounter, key) == 3
        seen = once.applied(UnitOfWork(), StockRef, ref, {"member_id": "M1", "amount_fen": 500},
                            lambda: Reused("PAY-2 was applied to another change"))
        assert seen is not None and seen.amount_fen == 500


# --- applied once per reference ---------------------------------------------------------------------

def test_a_reference_is_applied_once_replayed_with_the_same_facts_and_refused_with_others(memory):
    key, facts = ("STOCKREF#PAY-1", "REF"), {"member_id": "M1", "amount_fen": 500}
    reused = lambda: Reused("PAY-1 was applied to another change")  # noqa: E731
    uow = UnitOfWork()
    assert once.applied(uow, StockRef, key, facts, reused) is None
    once.apply(uow, StockRef(*key, member_id="M1", amount_fen=500, at="now"), "PAY-1")
    uow.commit()
    seen = once.applied(UnitOfWork(), StockRef, key, facts, reused)
    assert seen is not None and seen.member_id == "M1"
    with pytest.raises(Reused):
        once.applied(UnitOfWork(), StockRef, key, {**facts, "amount_fen": 501}, reused)
    late = UnitOfWork()                                  # read before the first committed: retried, then replays
    once.apply(late, StockRef(*key, member_id="M1", amount_fen=500, at="now"), "PAY-1")
    with pytest.raises(ConcurrentUpdate, match="payment PAY-1 was just applied"):
        late.commit()


def test_a_reference_that_may_not_be_named_twice_is_refused_not_replayed(memory):
    key = ("STOCK#1", "REWARDED#review-7")
    first = UnitOfWork()
    once.apply(first, StockCounter(*key, total=1), "review-7", taken=lambda: Reused("rewarded already"))
    first.commit()
    again = UnitOfWork()
    once.apply(again, StockCounter(*key, total=1), "review-7", taken=lambda: Reused("rewarded already"))
    with pytest.raises(Reused, match="rewarded already"):
        again.commit()


# --- refunds of a payment ---------------------------------------------------------------------------

def test_refunds_add_up_to_the_payment_and_never_pass_it():
    within_payment(300, 700, 1_000)
    with pytest.raises(RefundExceedsPayment) as over:
        within_payment(300, 701, 1_000)
    body = over.value.body()
    assert (body["status"], body["refunded_fen"]) == (409, 300)
    assert body["type"].endswith("/refund-exceeds-payment")
    assert body["detail"] == "refunds would total 1001 fen of a 1000 fen payment"
