"""#24 item 6: every warm Lambda re-read every version of every configuration every 30 s. Now it
reads the configuration's ``HEAD`` (one item) every ``cache_seconds`` and the versions that can
apply only when ``HEAD`` moved; history (a time before the window, the list of versions) is read
on request. Each "container" here is its own ``VersionedConfig`` of one name (its own caches)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from chalicelib.db import backend, versioned
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
OPS = Principal("staff", "ops", "super_admin")


class Rate(BaseModel):
    per_yuan: int = 1


def container() -> versioned.VersionedConfig[Rate]:
    return versioned.VersionedConfig("refresh-test", Rate, Rate, "test.rate_changed", "program:test")


class Counted:
    """Requests and items read through the backend."""

    def __init__(self, monkeypatch) -> None:
        self.requests, self.items = 0, 0
        current = backend.current()
        get, batch_get, query = current.get, current.batch_get, current.query

        def counted_get(*args, **kwargs):
            found = get(*args, **kwargs)
            self.requests, self.items = self.requests + 1, self.items + (found is not None)
            return found

        def counted_batch_get(*args, **kwargs):
            found = batch_get(*args, **kwargs)
            self.requests, self.items = self.requests + 1, self.items + sum(f is not None for f in found)
            return found

        def counted_query(*args, **kwargs):
            self.requests += 1
            for item in query(*args, **kwargs):
                self.items += 1
                yield item

        monkeypatch.setattr(current, "get", counted_get)
        monkeypatch.setattr(current, "batch_get", counted_batch_get)
        monkeypatch.setattr(current, "query", counted_query)

    def reset(self) -> tuple[int, int]:
        seen, (self.requests, self.items) = (self.requests, self.items), (0, 0)
        return seen


@pytest.fixture
def ticking(monkeypatch):
    """A monotonic clock the test moves."""
    now = [1_000.0]
    monkeypatch.setattr(versioned, "_monotonic", lambda: now[0], raising=False)
    return now


def save(config, rate: int, start: datetime) -> int:
    uow = UnitOfWork("test")
    version = config.put(uow, Rate(per_yuan=rate), start, OPS)["version"]
    uow.commit()
    return version


def test_a_warm_container_reads_one_item_a_refresh_and_a_new_version_reaches_it_in_time(db, ticking, monkeypatch):
    clock.freeze(T0)
    try:
        writer, warm = container(), container()
        for i in range(50):                                         # 50 versions in force one after another
            save(writer, i + 1, T0 - timedelta(days=400 - i))
        future = save(writer, 99, T0 + timedelta(days=30))
        counted = Counted(monkeypatch)
        assert warm.at(UnitOfWork(), T0)[1].per_yuan == 50
        requests, items = counted.reset()
        assert (requests, items) == (3, 5)              # head, markers newest first to the one in force, bodies
        assert warm.at(UnitOfWork(), T0 + timedelta(days=31)) == (future, Rate(per_yuan=99))
        assert counted.reset() == (0, 0)                  # within cache_seconds: nothing read
        ticking[0] += warm.cache_seconds
        assert warm.at(UnitOfWork(), T0)[1].per_yuan == 50
        assert counted.reset() == (1, 1)                  # the head only: nothing was saved
        newest = save(writer, 77, T0 - timedelta(hours=1))      # in force from an hour ago
        counted.reset()
        assert warm.at(UnitOfWork(), T0)[1].per_yuan == 50      # this container's cache: not yet...
        ticking[0] += warm.cache_seconds
        assert warm.at(UnitOfWork(), T0) == (newest, Rate(per_yuan=77))   # ...within cache_seconds it is
        requests, items = counted.reset()
        assert (requests, items) == (3, 7)                # the head, 3 markers (52, 51, 50), their bodies
        assert warm.at(UnitOfWork(), T0 - timedelta(days=380)) == (21, Rate(per_yuan=21))    # history, on request
        assert counted.reset()[1] >= 50
        assert warm.at(UnitOfWork(), T0 - timedelta(days=3)) == (50, Rate(per_yuan=50))        # within the window
    finally:
        clock.freeze(None)


def test_a_configuration_saved_before_the_head_existed_is_read_all_the_same(db, ticking):
    clock.freeze(T0)
    try:
        writer = container()
        save(writer, 5, T0 - timedelta(days=10))
        uow = UnitOfWork("test")
        uow.delete(versioned.ConfigHeadItem(*versioned.ConfigHeadItem.key("refresh-test")))
        uow.commit()                                        # as stored before #24 item 6
        warm = container()
        assert warm.at(UnitOfWork(), T0)[1].per_yuan == 5
        ticking[0] += warm.cache_seconds
        assert save(writer, 6, T0 - timedelta(days=1)) == 2
        assert warm.at(UnitOfWork(), T0)[1].per_yuan == 6
    finally:
        clock.freeze(None)
