"""The events the outbox holds, as the tests read them: whatever shape the outbox items have
(:mod:`chalicelib.db.outbox`), a test sees :class:`~chalicelib.shared.events.DomainEvent` s.

    outbox_events()                               # the default program's, every subject
    outbox_events(None, kind="tier.expiring")     # every program's, of one type
    outbox_events(subject=f"member:{mid}")        # one subject's, in the order they were written
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.shared.events import DomainEvent


def outbox_events(program: str | None = "default", *, kind: str | None = None, subject: str | None = None,
                  backend: Any = None) -> list[DomainEvent]:
    """The events of ``program`` (None: of every program) in the outbox, of type ``kind`` and
    subject ``subject`` if given: a subject's read from its partition in order, the others as a
    scan of the table (``backend``: the current one) finds them, each item's events in order."""
    from chalicelib.db import backend as backends
    from chalicelib.db import tenancy
    from chalicelib.db.outbox import EventItem, events_of
    from chalicelib.db.uow import UnitOfWork
    if subject is not None:
        items = list(UnitOfWork(program=program or "default", backend=backend).query(EventItem, subject))
    else:
        items = []
        for item in (backend or backends.current()).scan(EventItem):
            owner = tenancy.localise(item) if tenancy.scoped(item) else None
            if program is None or owner == program or not tenancy.scoped(item):
                items.append(item)
    return [e for e in events_of(items) if (kind is None or e.type == kind)
            and (subject is None or e.subject == subject)]


def image_events(images: Iterable[dict[str, Any]]) -> list[DomainEvent]:
    """The events of outbox items in the wire's form (stream NewImages, or the emulator's stored
    items), each item's in order; items of other tables are skipped."""
    from chalicelib.db.outbox import events_from_image
    return [e for image in images if "events" in image or "payload" in image for e in events_from_image(image)]


def record_events(records: Iterable[dict[str, Any]]) -> list[DomainEvent]:
    """The events of Lambda-shaped stream records, in stream order."""
    return image_events(r["dynamodb"]["NewImage"] for r in records if r.get("eventName") == "INSERT")


def fail_fold_commit(monkeypatch: Any, nth: int = 2) -> Any:
    """The folding consumers' ``nth`` transaction raises (as a throttled one would), every other
    commits: ``dispatch.handle_records`` then reports the failed part. Returns the real commit (to
    put back with ``monkeypatch.setattr(folding, "_commit", real)``)."""
    from chalicelib.events import folding
    real = folding._commit
    calls = {"n": 0}

    def failing(scope: Any, part: Any) -> None:
        calls["n"] += 1
        if calls["n"] == nth:
            raise RuntimeError("throttled")
        real(scope, part)

    monkeypatch.setattr(folding, "_commit", failing)
    return real
