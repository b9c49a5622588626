"""What earning asks of the member's tier and benefits, without depending on those capabilities.

Tiers build on points (growth value is a point type), so points cannot import them; instead the
benefits capability (which reads tiers) registers a :class:`TierSource` here when it loads.
Earning then adds the source's keys to the read it already makes (no extra round trip) and asks
about the member at the order's time: the tier's code feeds ``tier_multipliers``, its end date
the ``tier_validity`` expiry, and the best points multiplier among the member's benefits
multiplies the order. Without a source (points alone) every member is untiered.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from chalicelib.db.uow import UnitOfWork
from chalicelib.shared.lazy import Hook


class TierAt(NamedTuple):
    """A member at some moment: the tier's code, the last day it is valid (None: no end), and the
    best points multiplier of their benefits as ``(name, multiplier)``."""

    code: str | None
    valid_until: date | None
    multiplier: tuple[str, str] | None = None


class TierSource(Protocol):
    """What the tiers capability provides."""

    def keys(self, member_id: str) -> list[tuple[Any, tuple[str, str]]]:
        """The items ``at`` reads, to batch with the operation's other reads."""

    def at(self, uow: UnitOfWork, member: Any, when: datetime) -> TierAt:
        """The member's tier and points multiplier at ``when`` (``member``: the member record)."""


SOURCE: Hook[TierSource] = Hook()


def use(source: TierSource) -> None:
    """Register the tier source (the benefits capability does, on import)."""
    SOURCE.use(source)


def keys(member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The tier items to prefetch for ``member_id`` (none without a source)."""
    source = SOURCE.get()
    return source.keys(member_id) if source else []


def at(uow: UnitOfWork, member: Any, when: datetime) -> TierAt:
    """The member's tier at ``when`` (untiered without a source)."""
    source = SOURCE.get()
    return source.at(uow, member, when) if source else TierAt(None, None)
