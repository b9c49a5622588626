"""One small cache for values read from the table that may be a few seconds stale (program rules,
API keys): bounded in entries (least recently used go first) and in age. Every instance is
registered so tests can clear them all at once."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
_ALL: list[TtlCache] = []


class TtlCache(Generic[V]):
    """``get(key, load)``: the cached value if younger than ``ttl`` seconds, else ``load()``'s."""

    def __init__(self, ttl: float, max_entries: int = 1024) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        """The value for ``key``, loading (and caching) it when absent or too old."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = load()
        self._store(key, value, now)
        return value

    def _store(self, key: Hashable, value: V, now: float) -> None:
        with self._lock:
            self._items[key] = (now + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def peek(self, key: Hashable) -> V | None:
        """The value for ``key`` if cached and fresh, else None (nothing is loaded)."""
        with self._lock:
            hit = self._items.get(key)
            return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: Hashable, value: V) -> None:
        """Cache ``value`` for ``key`` (a fact this process has just learned)."""
        self._store(key, value, time.monotonic())

    def invalidate(self, key: Hashable) -> None:
        """Forget one key (after this process changed what it holds)."""
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def clear_all() -> None:
    """Empty every cache (tests, and the local stack after a reset)."""
    for cache in _ALL:
        cache.clear()
