"""Stock: a total that claims take from (a coupon template's coupons, a points-mall item's units),
never oversold under any concurrency, even in a flash claim above what one item can be written.

Items (main table; the unit of work puts the program in front of the partition keys):

* ``STOCK#<name> / HEAD``: ``total``, ``shards`` (S, fixed at creation) and ``version`` (the lock
  of the changes of the total: :func:`add`, :func:`remove`). A take never writes it.
* ``STOCK#<name>#<shard:02d> / STOCK``, S of them, each its own partition key: ``left`` and
  ``taken``. ``left + taken`` summed over the shards is the total, and nothing is ever negative
  (:func:`check`).

A take is one conditional ``ADD`` per shard it touches (``left -= n, taken += n`` on the condition
``left >= n``), staged on the caller's unit of work and committed by the caller with the rest of
its change (the coupon, the member's counters, the event, the idempotency record): a refused take
changes nothing. The common path reads nothing: it picks a shard at random among those this
process does not believe empty (a shard seen empty is believed so for :data:`EMPTY_SECONDS`; the
shard count is read once per process). If the condition fails at commit, the shard is noted empty,
the stock is noted short, and :class:`ShardShort` (a ``ConcurrentUpdate``) makes the endpoint run
the service again: the next take of a short stock, or of one whose shards are all believed empty,
reads every shard consistently (one ``BatchGetItem``) and either refuses at once
(:class:`StockExhausted`, nothing staged) or takes from the shards that have it, from several if
no one shard has enough (each ``min(left_i, still needed)`` on the condition ``left_i >= that``).
A refusal also keeps what the read found for :data:`EXHAUSTED_SECONDS`, so a crowd arriving after
the stock ran out is refused from memory rather than by a read each (units this process gives
back or adds clear it at once; another process's are seen within that second).

Throughput on real DynamoDB: a shard item is written in a transaction, 2 WCU per take (items
under 1 KB), and one partition takes at most 1,000 WCU/s, so a shard sustains about 500 takes/s
and a stock of S shards about 500 x S: with :data:`SHARD_SIZE` 500 a shard can be drained in no
less than a second at full speed (finer shards buy a rate that a small stock cannot use), and
:data:`MAX_SHARDS` 32 gives about 16,000 takes/s, with 33 items at most in the transaction that
creates the stock or changes its total. That is an upper bound: S partition keys are S partitions
only once the table has that many (DynamoDB hashes keys onto partitions and splits a hot one over
minutes; a new on-demand table starts at 4,000 WCU/s in all), and concurrent transactions on one
item lose races (``TransactionConflict``, retried by the endpoint), which the random pick spreads
over S items. The header is not written by takes, so it is never hot.

What running out costs: the last unit's shard is not known to be empty until a take of it loses,
so in a burst larger than the stock each refused claim typically loses one race (its transaction
fails, nothing written) and then reads S items (S RCU, consistent) before its 409; later claims
in the same process within :data:`EXHAUSTED_SECONDS` are refused without a request.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import NumberAttribute

from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import ConcurrentUpdate, Conflict, NotFound, Problem, changed

SHARD_SIZE = 500            # units a shard starts with: a shard takes ~500 takes/s (1,000 WCU / 2 WCU)
MAX_SHARDS = 32             # ~16,000 takes/s; 1 + 32 items when the total is created or changed
EMPTY_SECONDS = 2.0         # how long this process believes a shard it saw empty stays empty
EXHAUSTED_SECONDS = 1.0     # how long a read that found too little answers refusals without a read

_shards: TtlCache[int] = TtlCache(3600.0, 4096)           # (program, name) -> S (never changes)
_empty: TtlCache[bool] = TtlCache(EMPTY_SECONDS, 16384)    # (program, name, shard): believed empty
_short: TtlCache[bool] = TtlCache(EMPTY_SECONDS, 4096)     # (program, name): a take lost; read first
_seen: TtlCache[int] = TtlCache(EXHAUSTED_SECONDS, 4096)   # (program, name): left, as a refusal read it


class StockExhausted(Conflict):
    slug, title = "stock-exhausted", "Not enough stock left"


class ShardShort(ConcurrentUpdate):
    """A take's shard had less left at commit than it asked for: the endpoint retries (and the
    retry reads the shards)."""

    slug = "stock-shard-short"


class StockHead(MainModel):
    """A stock's header: its total, its shard count, the lock of changes of its total."""

    total = NumberAttribute(default=0)
    shards = NumberAttribute(default=1)
    version = NumberAttribute(default=0)

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        """The header's key."""
        return f"STOCK#{name}", "HEAD"


class StockShard(MainModel):
    """One shard of a stock: what is left in it and what was taken from it."""

    left = NumberAttribute(default=0)
    taken = NumberAttribute(default=0)

    @staticmethod
    def key(name: str, shard: int) -> tuple[str, str]:
        """Shard ``shard``'s key (a partition of its own)."""
        return f"STOCK#{name}#{shard:02d}", "STOCK"


@dataclass(frozen=True)
class Take:
    """What a take staged: the units taken from each shard, to give back to the same shards."""

    parts: tuple[tuple[int, int], ...]        # (shard, units)

    @property
    def units(self) -> int:
        """The units taken in all."""
        return sum(units for _, units in self.parts)


# --- creating and changing the total -----------------------------------------------------------

def create(uow: UnitOfWork, name: str, total: int, shards: int | None = None) -> None:
    """Stage the header and S shards (S = ``shards`` or ceil(total / SHARD_SIZE), capped at
    MAX_SHARDS, at least 1), the total spread evenly (the remainder on the first shards). Refuses
    (Conflict) if the stock exists."""
    if not name or total < 0:
        raise ValueError("a stock needs a name and a total of 0 or more")
    count = max(1, min(MAX_SHARDS, shards or math.ceil(total / SHARD_SIZE)))
    exists = lambda: Conflict(f"stock {name} exists already")
    uow.create(StockHead(*StockHead.key(name), total=total, shards=count, version=0), on_conflict=exists)
    for shard, units in enumerate(_spread(total, count)):
        uow.create(StockShard(*StockShard.key(name, shard), left=units, taken=0), on_conflict=exists)


def add(uow: UnitOfWork, name: str, units: int) -> None:
    """Stage more stock (spread evenly over the shards; the header's total += units, on the
    condition that its version is still the one read)."""
    _positive(units)
    head = _head(uow, name)
    for shard, share in enumerate(_spread(units, int(head.shards))):
        if share:
            item = StockShard(*StockShard.key(name, shard))
            uow.update(item, [StockShard.left.add(share)], StockShard.pk.exists(),
                       on_conflict=lambda: Conflict(f"stock {name} lost a shard"))
    _stage_total(uow, head, units)
    uow.after_commit(lambda: _believe_refilled(uow.program, name, range(int(head.shards))))


def remove(uow: UnitOfWork, name: str, units: int) -> None:
    """Stage less stock: only what is left can be removed, taken from the fullest shards so that
    they stay level (reads the shards; :class:`StockExhausted` if not enough is left)."""
    _positive(units)
    head = _head(uow, name)
    lefts = [int(s.left) for s in _read_shards(uow, name, int(head.shards))]
    if sum(lefts) < units:
        raise StockExhausted(f"stock {name} has {sum(lefts)} left: {units} cannot be removed", left=sum(lefts))
    for shard, cut in enumerate(_level_down(lefts, units)):
        if cut:
            item = StockShard(*StockShard.key(name, shard))
            uow.update(item, [StockShard.left.add(-cut)], StockShard.left >= cut,
                       on_conflict=changed(f"stock {name}"))
    _stage_total(uow, head, -units)


# --- taking and giving back ----------------------------------------------------------------------

def take(uow: UnitOfWork, name: str, units: int = 1) -> Take:
    """Stage a take of ``units``: on one random shard not believed empty, without a read; or, when
    every shard is believed empty or a take of this stock lost lately, after reading them all.
    :class:`StockExhausted`, with nothing staged, if they hold less than ``units`` (or if a read
    of this process found less a moment ago, and no unit came back here since)."""
    _positive(units)
    count = _shard_count(uow, name)
    at = (uow.program, name)
    seen = _seen.peek(at)
    if seen is not None and seen < units:
        raise StockExhausted(f"stock {name} has {seen} left, not {units}", left=seen)
    candidates = [s for s in range(count) if not _empty.peek((*at, s))]
    if candidates and not _short.peek(at):
        shard = random.choice(candidates)
        _stage_take(uow, name, shard, units)
        return Take(((shard, units),))
    return _take_as_read(uow, name, count, units)


def give_back(uow: UnitOfWork, name: str, take: Take) -> None:
    """Stage the units of ``take`` back onto the shards they came from (left += u, taken -= u, on
    the condition that taken >= u: never more than was taken)."""
    for shard, units in take.parts:
        item = StockShard(*StockShard.key(name, shard))
        uow.update(item, [StockShard.left.add(units), StockShard.taken.add(-units)], StockShard.taken >= units,
                   on_conflict=lambda: Conflict(f"stock {name}: more given back than was taken"))
    uow.after_commit(lambda: _believe_refilled(uow.program, name, [shard for shard, _ in take.parts]))


def _take_as_read(uow: UnitOfWork, name: str, count: int, units: int) -> Take:
    """A take decided from a consistent read of every shard."""
    lefts = [int(s.left) for s in _read_shards(uow, name, count)]
    at = (uow.program, name)
    _short.invalidate(at)
    for shard, left in enumerate(lefts):
        if left == 0:
            _empty.put((*at, shard), True)
        else:
            _empty.invalidate((*at, shard))
    if sum(lefts) < units:
        _seen.put(at, sum(lefts))
        raise StockExhausted(f"stock {name} has {sum(lefts)} left, not {units}", left=sum(lefts))
    parts = _parts(lefts, units)
    for shard, part in parts:
        _stage_take(uow, name, shard, part)
    return Take(parts)


def _parts(lefts: list[int], units: int) -> tuple[tuple[int, int], ...]:
    """Where to take ``units`` from: one random shard holding them all if any does, else the
    fullest shards, each as much as it has, until enough."""
    whole = [shard for shard, left in enumerate(lefts) if left >= units]
    if whole:
        return ((random.choice(whole), units),)
    parts, needed = [], units
    for shard in sorted(range(len(lefts)), key=lambda s: -lefts[s]):
        part = min(lefts[shard], needed)
        if part:
            parts.append((shard, part))
            needed -= part
    return tuple(parts)


def _stage_take(uow: UnitOfWork, name: str, shard: int, units: int) -> None:
    item = StockShard(*StockShard.key(name, shard))
    uow.add(item, {"left": -units, "taken": units}, lambda sums: StockShard.left >= -sums["left"],
            on_conflict=_lost(uow.program, name, shard))          # two takes of one shard in a unit: one


def _lost(program: str, name: str, shard: int) -> Callable[[], Problem]:
    """The conflict of a take whose shard was short at commit: note it, and have the retry read."""
    def conflict() -> Problem:
        _empty.put((program, name, shard), True)
        _short.put((program, name), True)
        return ShardShort(f"stock {name} shard {shard} ran short while the request ran; retry")
    return conflict


def _believe_refilled(program: str, name: str, shards: Iterable[int]) -> None:
    for shard in shards:
        _empty.invalidate((program, name, shard))
    _seen.invalidate((program, name))


# --- reading ---------------------------------------------------------------------------------------

def level(uow: UnitOfWork, name: str) -> dict[str, int]:
    """``{"total", "left", "taken", "shards"}`` from a consistent read of the header and shards."""
    head, shards = _snapshot(uow, name)
    if head is None:
        raise NotFound(f"no stock {name}")
    return {"total": int(head.total), "left": sum(int(s.left or 0) for s in shards if s is not None),
            "taken": sum(int(s.taken or 0) for s in shards if s is not None), "shards": int(head.shards)}


def check(uow: UnitOfWork, name: str) -> dict[str, Any]:
    """Reconciliation: every shard there, none negative, ``left + taken == total`` over the shards.
    ``{"ok": bool, "problems": [...], "total", "left", "taken", "shards"}``."""
    head, shards = _snapshot(uow, name)
    if head is None:
        return {"ok": False, "problems": [f"no header of stock {name}"]}
    problems = [f"shard {i} is missing" for i, s in enumerate(shards) if s is None]
    if int(head.total) < 0:
        problems.append(f"the total is negative: {head.total}")
    present = [s for s in shards if s is not None]
    for i, s in enumerate(shards):
        if s is not None and (int(s.left or 0) < 0 or int(s.taken or 0) < 0):
            problems.append(f"shard {i} is negative: left {s.left}, taken {s.taken}")
    left, taken = sum(int(s.left or 0) for s in present), sum(int(s.taken or 0) for s in present)
    if left + taken != int(head.total):
        problems.append(f"left {left} + taken {taken} != total {head.total}")
    return {"ok": not problems, "problems": problems, "total": int(head.total), "left": left, "taken": taken,
            "shards": int(head.shards)}


def _snapshot(uow: UnitOfWork, name: str, tries: int = 3) -> tuple[StockHead | None, list[StockShard | None]]:
    """The header and its shards as of one moment: the header read before and after the shards at
    one version (a change of the total writes the header and shards in one transaction; a take
    keeps each shard's left + taken)."""
    for _ in range(tries):
        head = uow.get_many(StockHead, [StockHead.key(name)])[0]
        if head is None:
            return None, []
        shards = _read_shards(uow, name, int(head.shards), strict=False)
        after = uow.get_many(StockHead, [StockHead.key(name)])[0]
        if after is not None and int(after.version) == int(head.version):
            return head, shards
    raise ConcurrentUpdate(f"stock {name} kept changing while it was read; retry")


def _read_shards(uow: UnitOfWork, name: str, count: int, strict: bool = True) -> list[Any]:
    shards = uow.get_many(StockShard, [StockShard.key(name, s) for s in range(count)])
    if strict and any(s is None for s in shards):
        raise Conflict(f"stock {name} is missing a shard")
    return shards


def _head(uow: UnitOfWork, name: str) -> StockHead:
    head = uow.get(StockHead, StockHead.key(name), consistent=True)
    if head is None:
        raise NotFound(f"no stock {name}")
    return head


def _shard_count(uow: UnitOfWork, name: str) -> int:
    """S, read once per process (it never changes)."""
    return _shards.get((uow.program, name), lambda: int(_head(uow, name).shards))


def _stage_total(uow: UnitOfWork, head: StockHead, units: int) -> None:
    version = int(head.version)
    uow.update(StockHead(head.pk, head.sk), [StockHead.total.add(units), StockHead.version.set(version + 1)],
               StockHead.version == version, on_conflict=changed("the stock's total"))


def _spread(units: int, count: int) -> list[int]:
    """``units`` over ``count`` shards evenly, the remainder one each on the first."""
    share, rest = divmod(units, count)
    return [share + (1 if shard < rest else 0) for shard in range(count)]


def _level_down(lefts: list[int], units: int) -> list[int]:
    """How much to cut from each shard to remove ``units`` (at most their sum) leaving them as
    level as possible: down to the highest floor that yields enough, then one more from as many
    of the shards above it as the rest needs."""
    def above(floor: int) -> int:
        return sum(max(0, left - floor) for left in lefts)
    low, high = 0, max(lefts, default=0)          # above(low) >= units; find the highest such floor
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if above(mid) >= units else (low, mid - 1)
    cuts = [max(0, left - (low + 1)) for left in lefts]
    rest = units - sum(cuts)
    for shard, left in enumerate(lefts):
        if rest and left > low:
            cuts[shard] += 1
            rest -= 1
    return cuts


def _positive(units: int) -> None:
    if units < 1:
        raise ValueError(f"units must be 1 or more, not {units}")
