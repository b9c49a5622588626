"""The sharded stock (``chalicelib.ledger.stock``): creation spreads the total, takes never
oversell and refuse with nothing staged, a take spans shards when no one shard has enough, a
raced shard is retried on another, what is given back or added is taken again, and the
reconciliation finds a tampered item. On the in-memory fake (and staged races); a Hypothesis
state machine against a model; 64 threads on moto."""

from __future__ import annotations

import random
import threading
import time

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import stock
from chalicelib.ledger.stock import ShardShort, StockExhausted, StockHead, StockShard, Take
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, NotFound
from tests.integration import machines


def _create(name: str, total: int, shards: int | None = None) -> None:
    uow = UnitOfWork("test")
    stock.create(uow, name, total, shards)
    uow.commit()


def _take(name: str, units: int = 1, tries: int = 10) -> Take:
    """A take committed as the endpoint would: run again on a lost race."""
    for _ in range(tries):
        uow = UnitOfWork("test")
        taken = stock.take(uow, name, units)
        try:
            uow.commit()
            return taken
        except ConcurrentUpdate:
            continue
    raise AssertionError(f"no take of {units} from {name} in {tries} tries")


def _refused(name: str, units: int = 1, program: str = "default") -> int:
    """Takes run as the endpoint would until refused (the last unit's shard is not known to be
    empty until a take of it loses: the retry reads); how many lost first (at most one)."""
    for lost in range(2):
        uow = UnitOfWork("test", program=program)
        try:
            stock.take(uow, name, units)
        except StockExhausted:
            assert not uow.pending
            return lost
        with pytest.raises(ShardShort):
            uow.commit()
    raise AssertionError(f"a take of {units} from {name} was not refused")


@pytest.fixture
def patient(monkeypatch):
    """Beliefs that outlast a slow machine (a test counting reads must not see one expire)."""
    for cache in (stock._empty, stock._short, stock._seen):
        monkeypatch.setattr(cache, "ttl", 60.0)


def _commit(change, *args) -> None:
    uow = UnitOfWork("test")
    change(uow, *args)
    uow.commit()


def _lefts(name: str) -> list[int]:
    count = stock.level(UnitOfWork(), name)["shards"]
    return [int(UnitOfWork().get(StockShard, StockShard.key(name, s), consistent=True).left) for s in range(count)]


def _ok(name: str) -> dict:
    result = stock.check(UnitOfWork(), name)
    assert result["ok"], result
    return result


# --- creation ---------------------------------------------------------------------------------------

def test_creation_spreads_the_total_evenly_remainder_first(memory):
    _create("c1", 1_001)                                   # ceil(1001 / 500) = 3 shards
    assert _lefts("c1") == [334, 334, 333]
    assert stock.level(UnitOfWork(), "c1") == {"total": 1_001, "left": 1_001, "taken": 0, "shards": 3}
    _create("c2", 10, shards=4)
    assert _lefts("c2") == [3, 3, 2, 2]
    _create("big", 10 * stock.SHARD_SIZE * stock.MAX_SHARDS)        # capped
    _create("none", 0)                                              # at least one shard
    _create("many", 5, shards=99)
    assert [stock.level(UnitOfWork(), n)["shards"] for n in ("big", "none", "many")] == [stock.MAX_SHARDS, 1, 32]
    for name in ("c1", "c2", "big", "none", "many"):
        _ok(name)


def test_a_stock_is_created_once(memory):
    _create("c1", 10)
    again = UnitOfWork("test")
    stock.create(again, "c1", 99, shards=2)
    with pytest.raises(Conflict, match="stock c1 exists already"):
        again.commit()
    assert stock.level(UnitOfWork(), "c1") == {"total": 10, "left": 10, "taken": 0, "shards": 1}
    with pytest.raises(ValueError):
        stock.create(UnitOfWork(), "c3", -1)


def test_a_stock_that_does_not_exist_is_not_found(memory):
    for read in (stock.take, stock.add, stock.remove):
        with pytest.raises(NotFound):
            read(UnitOfWork(), "nothing", 1)
    with pytest.raises(NotFound):
        stock.level(UnitOfWork(), "nothing")
    assert stock.check(UnitOfWork(), "nothing")["ok"] is False


# --- taking -----------------------------------------------------------------------------------------

def test_takes_give_exactly_the_total_then_refuse_with_nothing_staged(memory):
    _create("c1", 7, shards=3)
    taken, tries = 0, 0
    while True:
        uow = UnitOfWork("test")
        tries += 1
        try:
            stock.take(uow, "c1")
        except StockExhausted as refused:
            assert not uow.pending                     # nothing staged: the caller's change commits nothing of it
            assert refused.body()["type"].endswith("/stock-exhausted") and refused.status == 409
            assert refused.extensions["left"] == 0
            break
        try:
            uow.commit()
            taken += 1
        except ShardShort:
            pass
        _ok("c1")
        assert tries < 30
    assert taken == 7
    assert stock.level(UnitOfWork(), "c1") == {"total": 7, "left": 0, "taken": 7, "shards": 3}
    assert tries <= 7 + 3 + 1                           # at most one lost race per shard run dry


def test_a_take_of_more_than_any_one_shard_has_spans_shards(memory):
    _create("c1", 6, shards=3)                          # 2, 2, 2
    first = UnitOfWork("test")
    stock.take(first, "c1", 5)                          # a random shard: none has 5
    with pytest.raises(ShardShort):
        first.commit()
    assert _lefts("c1") == [2, 2, 2]                    # the refused take changed nothing
    retry = UnitOfWork("test")
    taken = stock.take(retry, "c1", 5)                  # the retry reads the shards
    retry.commit()
    assert sorted(u for _, u in taken.parts) == [1, 2, 2] and taken.units == 5
    assert len({s for s, _ in taken.parts}) == 3
    assert sorted(_lefts("c1")) == [0, 0, 1]
    _ok("c1")
    short = UnitOfWork("test")
    stock.take(short, "c1", 2)                          # on the one shard not seen empty, without a read
    with pytest.raises(ShardShort):
        short.commit()
    with pytest.raises(StockExhausted, match="has 1 left, not 2"):
        stock.take(UnitOfWork("test"), "c1", 2)         # the retry reads: refused before staging


def _lose(name: str) -> None:
    """As if a take of ``name`` had just lost a race in this process: its next take reads."""
    stock._short.put(("default", name), True)


def test_a_take_after_a_read_goes_to_a_random_shard_that_holds_it_all(memory):
    _create("c1", 9, shards=3)                          # 3, 3, 3
    emptied = _take("c1", 3).parts[0][0]
    chosen = set()
    for _ in range(30):
        _lose("c1")
        taken = stock.take(UnitOfWork("test"), "c1", 2)               # staged, never committed
        assert len(taken.parts) == 1 and taken.parts[0][0] != emptied
        chosen.add(taken.parts[0][0])
    assert len(chosen) == 2                             # spread over the shards that have it


def test_a_read_tells_which_shards_are_empty_and_which_are_not(memory, patient):
    _create("c1", 600, shards=6)                        # 100 each
    emptied = _take("c1", 100).parts[0][0]
    _lose("c1")
    _take("c1")                                         # reads: the emptied shard is now known
    for _ in range(20):
        uow = UnitOfWork("test")
        assert stock.take(uow, "c1").parts[0][0] != emptied
        uow.commit()                                    # never a lost race on it
    _create("c2", 4, shards=2)                          # 2, 2
    lost = UnitOfWork("test")
    stock.take(lost, "c2", 3)
    with pytest.raises(ShardShort):
        lost.commit()                                   # the shard is noted empty: it has 2, not 3
    with pytest.raises(StockExhausted):
        stock.take(UnitOfWork("test"), "c2", 5)         # the read finds 2 in it: no longer believed empty
    assert {stock.take(UnitOfWork("test"), "c2").parts[0][0] for _ in range(30)} == {0, 1}


def test_a_raced_shard_fails_the_commit_and_the_retry_takes_another(racing, patient):
    _create("c1", 4, shards=2)                          # 2, 2

    def drained(raw):                                  # another request took what the shard had left
        raw["taken"] = {"N": str(int(raw["taken"]["N"]) + int(raw["left"]["N"]))}
        raw["left"] = {"N": "0"}
    racing.race(StockShard, drained)
    uow = UnitOfWork("test")
    first = stock.take(uow, "c1")
    with pytest.raises(ShardShort) as lost:
        uow.commit()
    assert isinstance(lost.value, ConcurrentUpdate) and racing.raced == 1
    emptied = first.parts[0][0]
    assert _lefts("c1")[emptied] == 0
    assert stock._empty.peek((uow.program, "c1", emptied))      # noted empty by the failed commit
    _ok("c1")
    for _ in range(2):                                  # every retry now takes from the other shard
        again = UnitOfWork("test")
        taken = stock.take(again, "c1")
        again.commit()
        assert taken.parts == ((1 - emptied, 1),)
    _ok("c1")
    _refused("c1")


def test_a_refusal_is_remembered_a_moment_and_forgotten_when_units_come_back(memory, patient, monkeypatch):
    _create("c1", 2, shards=2)
    taken = [_take("c1"), _take("c1")]
    assert _refused("c1") == 1
    reads = []
    real = UnitOfWork.get_many
    monkeypatch.setattr(UnitOfWork, "get_many", lambda self, model, keys: reads.append(model) or real(self, model, keys))
    for _ in range(3):
        with pytest.raises(StockExhausted):
            stock.take(UnitOfWork("test"), "c1")
    assert reads == []                                  # the crowd after the last unit: refused from memory
    with pytest.raises(StockExhausted, match="has 0 left, not 2"):
        stock.take(UnitOfWork("test"), "c1", 2)
    _commit(stock.give_back, "c1", taken[0])
    assert _take("c1") == taken[0]                      # the unit given back is taken again at once,
    assert reads == []                                  # from its shard, no longer believed empty
    _ok("c1")


def test_what_is_given_back_is_taken_again_and_never_more_than_was_taken(memory):
    _create("c1", 5, shards=2)                          # 3, 2
    taken = _take("c1", 2)
    assert stock.level(UnitOfWork(), "c1")["left"] == 3
    _commit(stock.give_back, "c1", taken)
    assert stock.level(UnitOfWork(), "c1") == {"total": 5, "left": 5, "taken": 0, "shards": 2}
    assert _lefts("c1") == [3, 2]                       # each unit back on its own shard
    _ok("c1")
    twice = UnitOfWork("test")
    stock.give_back(twice, "c1", taken)
    with pytest.raises(Conflict, match="more given back than was taken"):
        twice.commit()
    _ok("c1")


# --- changing the total ------------------------------------------------------------------------------

def test_add_spreads_and_remove_levels_the_fullest_shards(memory):
    _create("c1", 10, shards=3)                         # 4, 3, 3
    _commit(stock.add, "c1", 5)                         # 2, 2, 1 more
    assert _lefts("c1") == [6, 5, 4]
    _commit(stock.remove, "c1", 4)
    assert _lefts("c1") == [3, 4, 4]
    _commit(stock.remove, "c1", 1)
    assert _lefts("c1") == [3, 3, 4]
    assert stock.level(UnitOfWork(), "c1") == {"total": 10, "left": 10, "taken": 0, "shards": 3}
    _take("c1", 4)
    with pytest.raises(StockExhausted, match="has 6 left: 7 cannot be removed"):
        stock.remove(UnitOfWork("test"), "c1", 7)       # only what is left can be removed
    _commit(stock.remove, "c1", 6)
    assert stock.level(UnitOfWork(), "c1") == {"total": 4, "left": 0, "taken": 4, "shards": 3}
    _ok("c1")
    assert stock._level_down([5, 3, 1], 4) == [3, 1, 0]             # to 2, 2, 1
    assert stock._level_down([0, 7, 7], 14) == [0, 7, 7]


def test_changes_of_the_total_read_at_one_version_commit_once(memory):
    _create("c1", 10, shards=2)
    first, second = UnitOfWork("a"), UnitOfWork("b")
    stock.add(first, "c1", 3)
    stock.remove(second, "c1", 2)
    first.commit()
    with pytest.raises(ConcurrentUpdate, match="the stock's total changed"):
        second.commit()
    assert stock.level(UnitOfWork(), "c1")["total"] == 13
    _ok("c1")


def test_units_are_counted_from_one(memory):
    _create("c1", 10)
    for change in (stock.take, stock.add, stock.remove):
        with pytest.raises(ValueError):
            change(UnitOfWork(), "c1", 0)


def test_each_program_has_its_own_stock_of_a_name(memory):
    _create("c1", 1)
    uow = UnitOfWork("test", program="p2")
    stock.create(uow, "c1", 3)
    uow.commit()
    _take("c1")
    _refused("c1")
    other = UnitOfWork("test", program="p2")
    stock.take(other, "c1", 3)
    other.commit()
    assert stock.level(UnitOfWork(program="p2"), "c1")["taken"] == 3


# --- reconciliation ----------------------------------------------------------------------------------

def test_check_finds_a_tampered_item(memory):
    _create("c1", 6, shards=3)                          # 2, 2, 2
    _ok("c1")
    key = StockShard.key("c1", 1)
    UnitOfWork().put(StockShard(*key, left=2, taken=1))                 # a unit from nowhere
    assert stock.check(UnitOfWork(), "c1")["problems"] == ["left 6 + taken 1 != total 6"]
    UnitOfWork().put(StockShard(*key, left=-1, taken=3))                # the sum holds, a shard is negative
    result = stock.check(UnitOfWork(), "c1")
    assert not result["ok"] and any("negative" in p for p in result["problems"])
    UnitOfWork().put(StockShard(*key, left=2, taken=0))                 # mended
    _ok("c1")
    head = UnitOfWork().get(StockHead, StockHead.key("c1"))
    head.total = 7
    UnitOfWork().put(head)
    assert stock.check(UnitOfWork(), "c1")["problems"] == ["left 6 + taken 0 != total 7"]
    head.total = 6
    UnitOfWork().put(head)
    uow = UnitOfWork()
    uow.delete(StockShard(*StockShard.key("c1", 2)))
    uow.commit()
    result = stock.check(UnitOfWork(), "c1")
    assert "shard 2 is missing" in result["problems"] and not result["ok"]


# --- a state machine against a model ---------------------------------------------------------------

class StockMachine(RuleBasedStateMachine):
    """Random creates, takes, give-backs, adds and removes (and forgotten beliefs, as in another
    process) against a model: what is left, the takes outstanding."""

    def __init__(self) -> None:
        super().__init__()
        self.restore = machines.use("memory")
        self.total = self.left = 0
        self.takes: list[Take] = []

    def teardown(self) -> None:
        self.restore()

    @initialize(total=st.integers(min_value=0, max_value=60) | st.integers(min_value=490, max_value=1_600),
                shards=st.integers(1, 8) | st.none())
    def create(self, total, shards):
        _create("s", total, shards)
        self.total = self.left = total

    @rule()
    def take_one(self):
        self.take(1)

    @rule(units=st.integers(min_value=1, max_value=12))
    def take(self, units):
        for attempt in range(2):              # a lost race is retried once: the retry reads every shard
            uow = UnitOfWork("test")
            try:
                taken = stock.take(uow, "s", units)
            except StockExhausted:
                assert not uow.pending and self.left < units
                event(f"take refused after {attempt} lost")
                return
            try:
                uow.commit()
                break
            except ShardShort:
                assert attempt == 0
        else:
            raise AssertionError("a take lost twice")
        assert taken.units == units and all(u > 0 for _, u in taken.parts)
        event(f"take from {'several shards' if len(taken.parts) > 1 else 'one shard'} after {attempt} lost")
        self.left -= units
        self.takes.append(taken)

    @precondition(lambda self: self.takes)
    @rule(data=st.data())
    def give_back(self, data):
        taken = self.takes.pop(data.draw(st.integers(0, len(self.takes) - 1)))
        _commit(stock.give_back, "s", taken)
        self.left += taken.units

    @rule(units=st.integers(min_value=1, max_value=30))
    def add(self, units):
        _commit(stock.add, "s", units)
        self.total += units
        self.left += units

    @rule(units=st.integers(min_value=1, max_value=30) | st.integers(min_value=100, max_value=700))
    def remove(self, units):
        if units > self.left:
            with pytest.raises(StockExhausted):
                stock.remove(UnitOfWork("test"), "s", units)
            return
        _commit(stock.remove, "s", units)
        self.total -= units
        self.left -= units

    @rule()
    def forget(self):
        from chalicelib.shared.cache import clear_all
        clear_all()

    @invariant()
    def never_oversold_and_as_modelled(self):
        if not hasattr(self, "takes"):
            return
        result = stock.check(UnitOfWork(), "s")
        outstanding = sum(t.units for t in self.takes)
        assert result["ok"], result
        assert result["taken"] == outstanding <= result["total"] == self.total
        assert stock.level(UnitOfWork(), "s") == {"total": self.total, "left": self.left, "taken": outstanding,
                                                  "shards": result["shards"]}


TestStockMachine = StockMachine.TestCase
TestStockMachine.settings = settings(max_examples=machines.examples(40, False, mutation=15), stateful_step_count=30,
                                     derandomize=True, deadline=None, database=None,
                                     suppress_health_check=list(HealthCheck))


# --- concurrency on moto -----------------------------------------------------------------------------

def test_64_threads_take_exactly_the_stock_on_moto(aws):
    _create("flash", 10, shards=4)
    start = threading.Barrier(64)
    outcomes: list[str] = []

    def claim() -> None:
        start.wait()
        for _ in range(40):
            uow = UnitOfWork("test")
            try:
                stock.take(uow, "flash")
                uow.commit()
                outcomes.append("taken")
                return
            except StockExhausted:
                outcomes.append("exhausted")
                return
            except ConcurrentUpdate:
                time.sleep(random.uniform(0, 0.005))
        outcomes.append("gave up")
    threads = [threading.Thread(target=claim) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (outcomes.count("taken"), outcomes.count("exhausted")) == (10, 54)
    assert stock.level(UnitOfWork(), "flash") == {"total": 10, "left": 0, "taken": 10, "shards": 4}
    _ok("flash")
