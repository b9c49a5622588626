"""Versioned program configuration: earn rules, the tier ladder, bonus rules... saved by ops as
numbered versions, each in force from its ``effective_from``, never edited; every save audited.

``CONFIG#<name>`` holds one ``FROM#<effective_from>#<version>`` item per version (the body as
JSON), one ``VERSION#<version>`` marker (with its ``effective_from``), so two saves racing for the
same number cannot both win, and a ``HEAD`` item with the latest version number. The version in
force at a time is, of the versions already effective then, the newest saved (a back-dated save
replaces what was in force from its date on).

What a warm Lambda reads (#24 item 6): only the versions that can apply, and only when one was
saved. Every ``cache_seconds`` it reads ``HEAD`` (one GetItem); when the number moved (or there is
no ``HEAD``: nothing saved since it exists) it walks the markers newest first down to the first
one in force at :data:`LOOKBACK` before now (every older version is replaced by it from then on)
and reads those bodies by key. So a saved version reaches every warm Lambda within
``cache_seconds``, and with 50 old versions a refresh reads one item. A time before that window
(``?at=`` in the past, an event older than :data:`LOOKBACK`) and the list of every version
(``GET``, a save's checks) read every version: history only on request.

Configurations refer to each other by name: a task rewards tier ``V3``, a benefit rule asks for
plan ``PLUS-Y``. Each kind declares what it ``provides`` (the ladder: tier codes) and what it
``refers`` to (tasks: tier codes), by a kind's name (``"tier"``), so no capability imports
another's configuration. A save is refused (422, nothing saved) when it names something the
provider's version in force at its start (or any later version already saved) lacks, or when,
as a provider, it would drop a name that a consumer's version in force then (or later) uses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db import audit
from chalicelib.db.backend import SortKey
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock, lazy
from chalicelib.shared.cache import TtlCache
from chalicelib.shared.errors import ConcurrentUpdate, ValidationProblem
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

C = TypeVar("C", bound=BaseModel)

Names = Callable[[Any], set[str]]
"""What a configuration provides of one kind: the tier codes of a ladder."""
Uses = Callable[[Any], Iterable[tuple[str, str]]]
"""What a configuration refers to of one kind: ``(where, name)``, e.g. ``("tasks[0].reward.tier", "V3")``."""

LOOKBACK = timedelta(days=7)       # how far back from now the versions a Lambda keeps answer (stream delays, late orders)
_monotonic = time.monotonic       # (tests move it)

_PROVIDERS: dict[str, tuple[VersionedConfig[Any], Names]] = {}
_CONSUMERS: dict[str, list[tuple[VersionedConfig[Any], Uses]]] = {}
_DECLARING = lazy.Modules()


def declared_in(*modules: str) -> None:
    """Name the modules that declare configurations naming others (``provides``, ``refers``): a
    save imports them all before it checks, since a cold Lambda has imported only its operation's
    (a task's save must find the points rules that provide custom events; a ladder's, the tasks
    that use its tiers)."""
    _DECLARING.add(*modules)


class ConfigVersionItem(MainModel):
    """``CONFIG#<name> / FROM#<effective_from>#<version>`` (the body) or ``VERSION#<version>``."""

    version = NumberAttribute()
    effective_from = UnicodeAttribute()
    body = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()

    @staticmethod
    def key(name: str, effective_from: str, version: int) -> tuple[str, str]:
        """The key of a version's body."""
        return f"CONFIG#{name}", f"FROM#{effective_from}#{version:06d}"

    @staticmethod
    def version_key(name: str, version: int) -> tuple[str, str]:
        """The key of a version number's marker."""
        return f"CONFIG#{name}", f"VERSION#{version:06d}"


class ConfigHeadItem(MainModel):
    """``CONFIG#<name> / HEAD``: the latest version saved (what a warm Lambda checks)."""

    version = NumberAttribute()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        """The key of a configuration's head."""
        return f"CONFIG#{name}", "HEAD"


@dataclass
class _Applicable:
    """The versions that can apply from ``since`` on, as of ``head``, checked at ``checked`` (monotonic)."""

    head: int | None
    checked: float
    since: str
    versions: list[tuple[str, int, Any]]


class VersionedConfig(Generic[C]):
    """One kind of configuration (``name``), parsed as ``model``; version 0 is ``default()``."""

    def __init__(self, name: str, model: type[C], default: Callable[[], C], event_type: str, subject: str,
                 cache_seconds: float = 30.0, provides: dict[str, Names] | None = None,
                 refers: dict[str, Uses] | None = None,
                 records: Callable[[UnitOfWork, C], list[str]] | None = None) -> None:
        """``records``: what a body names among the program's records (merchants, stores) that does
        not exist, each said in a phrase; checked when a version is saved, like ``refers``."""
        self.name, self.model, self.default = name, model, default
        self.records = records
        self.event_type, self.subject = event_type, subject
        self.cache_seconds = cache_seconds
        self._cache: TtlCache[list[tuple[str, int, C]]] = TtlCache(cache_seconds, max_entries=1024)
        self._applicable: TtlCache[_Applicable] = TtlCache(24 * 3600, max_entries=1024)
        self.provides, self.refers = provides or {}, refers or {}
        for kind, names in self.provides.items():
            if kind in _PROVIDERS:
                raise ValueError(f"{kind} is provided by {_PROVIDERS[kind][0].name} already")
            _PROVIDERS[kind] = (self, names)
        for kind, uses in self.refers.items():
            _CONSUMERS.setdefault(kind, []).append((self, uses))

    def versions(self, uow: UnitOfWork) -> list[tuple[str, int, C]]:
        """Every saved version of the unit's program as ``(effective_from, version, body)``, in force order."""
        def load() -> list[tuple[str, int, C]]:
            items = uow.query(ConfigVersionItem, f"CONFIG#{self.name}", SortKey.prefix("FROM#"), consistent=True)
            found = [(i.effective_from, int(i.version), self.model.model_validate_json(i.body)) for i in items]
            return sorted(found, key=lambda x: (x[0], x[1]))
        return self._cache.get(uow.program, load)

    def at(self, uow: UnitOfWork, when: datetime) -> tuple[int, C]:
        """The version in force at ``when`` and its body."""
        stamp = clock.iso(when)
        kept = self.applicable(uow)
        known = kept.versions if stamp >= kept.since else self.versions(uow)       # before: history
        effective = [(version, body) for start, version, body in known if start <= stamp]
        return max(effective, key=lambda v: v[0], default=(0, self.default()))

    def applicable(self, uow: UnitOfWork) -> _Applicable:
        """The versions that can apply from :data:`LOOKBACK` ago on, re-read only when ``HEAD``
        moved (checked every ``cache_seconds``)."""
        now = _monotonic()
        kept = self._applicable.peek(uow.program)
        if kept is not None and now - kept.checked < self.cache_seconds:
            return kept
        head = uow.get(ConfigHeadItem, ConfigHeadItem.key(self.name), consistent=True)
        latest = int(head.version) if head is not None else None
        if kept is not None and latest is not None and latest == kept.head:
            kept.checked = now
            return kept
        since = clock.iso(clock.now() - LOOKBACK)
        markers: list[ConfigVersionItem] = []
        for marker in uow.query(ConfigVersionItem, f"CONFIG#{self.name}", SortKey.prefix("VERSION#"),
                                forward=False, consistent=True, page_size=10):
            markers.append(marker)
            if marker.effective_from <= since:    # in force then: every older version is replaced from then on
                break
        bodies = uow.get_many(ConfigVersionItem, [ConfigVersionItem.key(self.name, m.effective_from, int(m.version))
                                                  for m in markers]) if markers else []
        found = sorted(((b.effective_from, int(b.version), self.model.model_validate_json(b.body))
                        for b in bodies if b is not None), key=lambda x: (x[0], x[1]))
        fresh = _Applicable(latest, now, since, found)
        self._applicable.put(uow.program, fresh)
        return fresh

    def put(self, uow: UnitOfWork, body: C, effective_from: datetime | None, by: Principal,
            field: str = "") -> dict[str, Any]:
        """Stage a new version, in force from ``effective_from`` (default: now); refused if it
        refers to a name its provider lacks, or drops one that a consumer uses (``field``: the
        request's member holding ``body``, which the refusal's ``errors[]`` paths start with)."""
        self.check_references(uow, body, effective_from or clock.now(), field)
        self._cache.invalidate(uow.program)
        self._applicable.invalidate(uow.program)
        known = self.versions(uow)
        version = (max(v for _, v, _ in known) if known else 0) + 1
        start, now = clock.iso(effective_from or clock.now()), clock.iso(clock.now())
        raced = lambda: ConcurrentUpdate(f"another {self.name} version was saved at the same time; retry")  # noqa: E731
        uow.create(ConfigVersionItem(*ConfigVersionItem.version_key(self.name, version), version=version,
                                     effective_from=start, body="", created_at=now), on_conflict=raced)
        uow.create(ConfigVersionItem(*ConfigVersionItem.key(self.name, start, version), version=version,
                                     effective_from=start, body=body.model_dump_json(), created_by=by.ref,
                                     created_at=now), on_conflict=raced)
        uow.update(ConfigHeadItem(*ConfigHeadItem.key(self.name)), [ConfigHeadItem.version.set(version)])
        audit.record(uow, self.event_type, by.ref, detail=f"{self.name} version {version} in force from {start}")
        uow.emit(DomainEvent(self.event_type, self.subject, {"version": version, "effective_from": start}))
        self._cache.invalidate(uow.program)
        self._applicable.invalidate(uow.program)
        return {"version": version, "effective_from": start}

    def from_on(self, uow: UnitOfWork, when: datetime) -> list[tuple[int, C]]:
        """The version in force at ``when`` and every version saved to come into force later."""
        current, body = self.at(uow, when)
        stamp = clock.iso(when)
        return [(current, body), *((v, b) for start, v, b in self.versions(uow) if start > stamp and v > current)]

    def check_references(self, uow: UnitOfWork, body: C, when: datetime, field: str = "") -> None:
        """Refuse ``body`` (a ValidationProblem) if, from ``when`` on, it would name something
        its provider lacks or drop a name that a consumer uses. Its ``errors[]`` name each place:
        a name the body refers to by its path in the request (``tasks.tasks.1.reward.tier``, the
        body being the request's ``field``), a name dropped or a record missing by ``field``."""
        _DECLARING.load()
        broken: list[tuple[str, str]] = []                  # (the field path, what is wrong there)
        seen: set[str] = set()
        for kind, uses in self.refers.items():
            provider, names = _provider(kind)
            self._consult(uow, provider, seen)
            for version, provided in provider.from_on(uow, when):
                known = names(provided)
                broken += [(_path(field, where), f"{kind} '{name}' is not in {provider.name} version {version}")
                           for where, name in uses(body) if name not in known]
        for kind, names in self.provides.items():
            kept = names(body)
            for consumer, uses in _CONSUMERS.get(kind, []):
                self._consult(uow, consumer, seen)
                for version, theirs in consumer.from_on(uow, when):
                    broken += [(field, f"{kind} '{name}' is used by {consumer.name} version {version} ({where})")
                               for where, name in uses(theirs) if name not in kept]
        if self.records is not None:
            broken += [(field, phrase) for phrase in self.records(uow, body)]
        if broken:
            found = sorted(set(broken))
            shown = [f"{where}: {what}" if where else what for where, what in found]
            raise ValidationProblem(f"{self.name} refers to what does not exist, or drops what others use: "
                                    + "; ".join(shown[:10]) + (f"; and {len(shown) - 10} more" if len(shown) > 10 else ""),
                                    errors=[{"field": where or self.name, "message": what} for where, what in found[:50]])

    def _consult(self, uow: UnitOfWork, other: VersionedConfig[Any], seen: set[str]) -> None:
        """Read ``other``'s versions afresh (not this Lambda's cache) and make the save commit only
        if no version of it is saved meanwhile: two saves racing (a ladder dropping V3, tasks
        adding V3) cannot both pass the check on what the other replaces."""
        if other.name in seen:
            return
        seen.add(other.name)
        other._cache.invalidate(uow.program)
        latest = max((v for _, v, _ in other.versions(uow)), default=0)
        uow.check(ConfigVersionItem(*ConfigVersionItem.version_key(other.name, latest + 1)),
                  ConfigVersionItem.pk.does_not_exist(),
                  on_conflict=lambda: ConcurrentUpdate(f"{other.name} was saved while {self.name} was checked "
                                                       "against it; retry"))

    def describe(self, uow: UnitOfWork, when: datetime | None) -> dict[str, Any]:
        """The version in force at ``when`` (default: now) and the list of every version."""
        version, body = self.at(uow, when or clock.now())
        return {"version": version, "body": body,
                "versions": [{"version": v, "effective_from": f} for f, v, _ in self.versions(uow)]}

    def saved(self, uow: UnitOfWork, body: C, effective_from: datetime | None, by: Principal, field: str,
              exclude_none: bool = False) -> dict[str, Any]:
        """:meth:`put`, answered as the API does: the version, its start and the body as ``field``."""
        return {**self.put(uow, body, effective_from, by, field),
                field: body.model_dump(mode="json", exclude_none=exclude_none)}

    def shown(self, uow: UnitOfWork, when: datetime | None, field: str, exclude_none: bool = False) -> dict[str, Any]:
        """:meth:`describe`, answered as the API does: the version in force, its body as ``field``, the versions."""
        found = self.describe(uow, when)
        return {"version": found["version"], field: found["body"].model_dump(mode="json", exclude_none=exclude_none),
                "versions": found["versions"]}


def _path(field: str, where: str) -> str:
    """A body's place (``tasks[1].reward.tier``) as the request's field path (``tasks.tasks.1.reward.tier``),
    the path a request's own 422 names (pydantic's ``loc`` joined by dots)."""
    dotted = re.sub(r"\[(\d+)\]", r".\1", where)
    return f"{field}.{dotted}" if field else dotted


def _provider(kind: str) -> tuple[VersionedConfig[Any], Names]:
    """The configuration that provides ``kind``: declared where the app is imported (a test
    proves every referred kind has one), so a miss is a programming error."""
    if kind not in _PROVIDERS:
        raise LookupError(f"no configuration provides {kind}")
    return _PROVIDERS[kind]
