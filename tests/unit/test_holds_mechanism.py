"""The one hold mechanism (``ledger/holds.py``) and the one retry helper (``shared/retry.py``), on
the in-memory fake, with a hold of a made-up money store: a new store (coupons, checkout) reuses
these tests by adding its item class to ``STORES``."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db import backend, due
from chalicelib.db.memory import MemoryBackend
from chalicelib.db.uow import UnitOfWork
from chalicelib.gift_cards.tables import GiftCardHoldItem
from chalicelib.ledger import holds
from chalicelib.ledger.holds import HoldNotOpen, HoldRecord
from chalicelib.points.tables import HoldItem
from chalicelib.shared import clock, retry
from chalicelib.shared.errors import ConcurrentUpdate, NotFound
from chalicelib.shared.principal import Principal
from chalicelib.stored_value.tables import SvHoldItem

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


class TokenHold(HoldRecord):
    """A hold of a money store that does not exist: what a new store writes."""

    due_kind = "token-hold"
    tokens = NumberAttribute()
    note = UnicodeAttribute(null=True)

    @staticmethod
    def key(hold_id: str) -> tuple[str, str]:
        return f"TOKHOLD#{hold_id}", "HOLD"


STORES = [TokenHold, HoldItem, SvHoldItem, GiftCardHoldItem]
COMMON = {"hold_id", "status", "hold_expires_at", "merchant_id", "store_id", "created_at", "duepk", "duesk", "of_checkout"}


@pytest.fixture
def fake():
    previous = backend.use(MemoryBackend())
    clock.freeze(T0)
    yield backend.current()
    clock.freeze(None)
    backend.use(previous)


def owns(by: Principal, merchant: str | None, store: str | None) -> bool:
    return by.merchant_id == merchant and (by.store_id is None or by.store_id == store)


TILL = Principal(kind="merchant", id="k1", merchant_id="m1", store_id="s1")


def made(hold_id: str = "H1", ttl: int = 60, status: str = holds.OPEN) -> TokenHold:
    uow = UnitOfWork("test")
    h = TokenHold(*TokenHold.key(hold_id), hold_id=hold_id, tokens=5, merchant_id="m1", store_id="s1",
                  created_at=clock.iso(clock.now()))
    holds.due_at(h, clock.now() + timedelta(seconds=ttl), hold_id)
    holds.create(uow, h, status)
    uow.commit()
    return read(hold_id)


def read(hold_id: str = "H1") -> TokenHold:
    h = UnitOfWork().get(TokenHold, TokenHold.key(hold_id), consistent=True)
    assert h is not None
    return h


@pytest.mark.parametrize("model", STORES, ids=lambda m: m.__name__)
def test_every_store_keeps_the_common_attributes_under_their_stored_names(model):
    names = {a.attr_name for a in model.get_attributes().values()}
    assert names >= COMMON and due.INDEX in model._indexes and model.due_kind


def test_the_stored_names_of_points_and_stored_value_holds_did_not_change():
    assert {a.attr_name for a in HoldItem.get_attributes().values()} == COMMON | {
        "pk", "sk", "expires_at", "member_id", "point_type", "points", "lots", "order", "order_amount_fen", "target",
        "returning", "returned", "claimed"}
    assert {a.attr_name for a in SvHoldItem.get_attributes().values()} == COMMON | {
        "pk", "sk", "expires_at", "member_id", "order_id", "amount_fen", "principal", "bonus"}
    assert (HoldItem.due_kind, SvHoldItem.due_kind) == ("points-hold", "sv-hold")


def test_the_status_machine():
    assert holds.MOVES[holds.OPEN] == (holds.CONFIRMED, holds.RELEASED, holds.RELEASING)
    assert set(holds.MOVES[holds.FILLING]) >= {holds.OPEN, holds.CONFIRMED, holds.RELEASED}
    assert holds.MOVES[holds.RELEASING] == (holds.RELEASING, holds.RELEASED)
    assert holds.MOVES[holds.CONFIRMED] == holds.MOVES[holds.RELEASED] == ()


@pytest.mark.parametrize("before,to", [(holds.OPEN, holds.FILLING), (holds.OPEN, holds.OPEN),
                                       (holds.RELEASING, holds.CONFIRMED), (holds.CONFIRMED, holds.RELEASED),
                                       (holds.RELEASED, holds.OPEN), (holds.RELEASED, holds.RELEASED)])
def test_an_illegal_move_is_refused_before_anything_is_staged(fake, before, to):
    made(status=holds.OPEN if before != holds.RELEASING else holds.RELEASING)
    h = read()
    h.status = before
    uow = UnitOfWork("test")
    with pytest.raises(HoldNotOpen, match=f"^a hold {before} cannot become {to}$"):
        holds.move(uow, h, to)
    assert uow._writes == []
    with pytest.raises(HoldNotOpen, match=f"^a hold not yet made cannot become {holds.CONFIRMED}$"):
        holds.create(UnitOfWork("test"), made("H2"), holds.CONFIRMED)


def test_a_move_is_staged_on_the_status_read_and_a_settled_hold_leaves_the_due_index(fake):
    made()
    first, second = read(), read()
    uow = UnitOfWork("test")
    holds.move(uow, first, holds.CONFIRMED)
    uow.commit()
    assert (read().status, read().duepk, read().duesk) == ("confirmed", None, None)
    late = UnitOfWork("test")
    holds.move(late, second, holds.RELEASED)          # read while open: the commit finds it confirmed
    with pytest.raises(HoldNotOpen):
        late.commit()
    assert read().status == "confirmed"


def test_a_steps_lock_joins_the_status_condition(fake):
    made(status=holds.FILLING)
    h = read()
    uow = UnitOfWork("test")
    holds.move(uow, h, holds.FILLING, TokenHold.tokens == 4, on_conflict=lambda: ConcurrentUpdate("step changed"))
    with pytest.raises(ConcurrentUpdate):
        uow.commit()
    ok = UnitOfWork("test")
    holds.move(ok, read(), holds.OPEN, TokenHold.tokens == 5)
    ok.commit()
    assert read().status == "open" and read().duepk                  # open: still due to lapse


def test_the_owner_check_and_what_may_be_settled(fake):
    made()
    h = read()
    assert holds.visible(h, "H1", TILL, owns) is h and holds.visible(h, "H1", None, owns) is h    # None: a job
    for stranger in (Principal(kind="merchant", id="k2", merchant_id="m2"),
                     Principal(kind="merchant", id="k3", merchant_id="m1", store_id="s2")):
        with pytest.raises(NotFound):
            holds.visible(h, "H1", stranger, owns)
    with pytest.raises(NotFound):
        holds.visible(None, "H404", TILL, owns)
    with pytest.raises(NotFound) as unknown:                          # an id quoted to 64 characters
        holds.visible(None, "H" * 100, TILL, owns)
    assert unknown.value.body()["detail"] == "no hold " + "H" * 64
    assert holds.settleable(h, unexpired=True) is h
    clock.freeze(T0 + timedelta(seconds=60))
    with pytest.raises(HoldNotOpen, match="is expired"):
        holds.settleable(h, unexpired=True)
    assert holds.settleable(h) is h                                   # a release may come late
    h.status = "released"
    with pytest.raises(HoldNotOpen, match="is released"):
        holds.settleable(h, (holds.OPEN, holds.FILLING, holds.RELEASING))
    assert HoldNotOpen.slug == "hold-not-open" and HoldNotOpen.title == "The hold is no longer open"


def test_the_old_names_of_hold_not_open_are_the_one_problem():
    from chalicelib.points import spending
    from chalicelib.stored_value import holds as sv
    assert spending.HoldNotOpen is sv.HoldNotOpen is HoldNotOpen


def test_step_ids_are_derived_from_what_names_the_change_as_before():
    scope, key = "merchant:m1:s1:k1", "idem-1"
    digest = hashlib.sha256(f"{scope}\npoints\n{key}".encode()).hexdigest()
    assert holds.step_id("F", scope, "points", key) == "F" + digest[:25].upper()      # points' filling hold
    assert holds.step_id("R", "order:m1:o1:rf", "7") == "R" + hashlib.sha256(b"order:m1:o1:rf\n7").hexdigest()[
        :25].upper()                                                                   # a give-back in steps
    assert holds.step_id("F", scope, "points", key) != holds.step_id("F", scope, "points", "idem-2")
    from chalicelib.points import chunked
    assert chunked.fill_id(TILL, "points", None) is None
    assert chunked.fill_id(TILL, "points", key) == holds.step_id("F", TILL.scope, "points", key)


def test_the_retry_helper_pauses_with_capped_jitter_and_gives_up(monkeypatch):
    waits, slept, queued = [], [], []
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: waits.append((low, high)) or high / 2)
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    contention = retry.Contention(20)
    results = [contention.lost(queued.append) for _ in range(20)]
    assert results == [True] * 19 + [False] and contention.losses == 20
    assert waits == [(0, 0.002 * 2 ** min(n, 6)) for n in range(1, 20)] and len(slept) == 19
    assert queued == list(range(1, 20))                   # before each pause, never after giving up
    request = retry.Contention(8, first=0.001, cap=8)     # the API's: 2 ms doubling per try
    while request.lost():
        pass
    assert waits[19:] == [(0, 0.002 * 2 ** a) for a in range(7)]


def test_the_lapse_job_releases_only_what_is_due_and_still_open(fake):
    made("H1", ttl=60)
    made("H2", ttl=600)
    made("H3", ttl=30)
    settle = UnitOfWork("test")
    holds.move(settle, read("H3"), holds.CONFIRMED)
    settle.commit()
    made("H4", ttl=10)
    released, registered = [], {}

    def release(program_id: str, h: TokenHold) -> Counter:
        if h.hold_id == "H4":
            raise HoldNotOpen("settled meanwhile")
        uow = UnitOfWork("job:token-holds", program=program_id)
        holds.move(uow, h, holds.RELEASED)
        uow.commit()
        released.append((program_id, h.hold_id))
        return Counter(released=1, tokens=int(h.tokens))

    def register(name):
        return lambda fn: registered.setdefault(name, fn)
    lapse = holds.lapse_job("token-holds", TokenHold, release, register, reported={"tokens_back": "tokens"})
    assert registered == {"token-holds": lapse}
    assert lapse(T0 + timedelta(seconds=59)) == {"items_read": 3, "holds_released": 0, "tokens_back": 0}
    assert lapse(T0 + timedelta(seconds=60)) == {"items_read": 3, "holds_released": 1, "tokens_back": 5}
    assert released == [("default", "H1")] and read("H1").status == "released"
    assert lapse(T0 + timedelta(days=1)) == {"items_read": 2, "holds_released": 1, "tokens_back": 5}
    assert read("H4").status == "open"                   # its release found it settled: nothing counted


def test_a_store_that_reads_its_own_due_holds_is_given_only_those(fake):
    made("H1", ttl=0)
    made("H2", ttl=0)
    given = []

    def release(program_id: str, h: TokenHold) -> Counter:
        given.append((program_id, h.hold_id))
        return Counter(released=1)
    lapse = holds.lapse_job("token-holds", TokenHold, release, lambda name: lambda fn: fn,
                            due=lambda as_of: [("p2", read("H2"))])
    assert lapse(T0) == {"items_read": 1, "holds_released": 1}
    assert given == [("p2", "H2")]                      # not H1: the store's own read is the due list


def test_a_lapse_that_keeps_failing_is_given_up_and_named(fake):
    made("H1", ttl=0)

    def release(program_id: str, h: TokenHold) -> Counter:
        raise ConcurrentUpdate("contended")
    lapse = holds.lapse_job("token-holds", TokenHold, release, lambda name: lambda fn: fn,
                            named=lambda h: h.hold_id)
    assert lapse(T0) == {"items_read": 1, "holds_released": 0, "gave_up": 1, "gave_up_items": ["default/H1"]}


def test_released_in_unit_commits_each_release_on_its_own(fake):
    made("H1", ttl=0)
    one = holds.released_in_unit("job:token-holds", lambda uow, h: holds.move(uow, h, holds.RELEASED))
    assert one("default", read("H1")) == Counter(released=1) and read("H1").status == "released"
