"""What earning asks of the member's tier, without depending on the tiers capability.

Tiers build on points (growth value is a point type), so points cannot import them; instead the
tiers capability registers a :class:`TierSource` here when it loads. Earning then adds the
source's keys to the read it already makes (no extra round trip) and asks for the tier at the
order's time: its code feeds ``tier_multipliers``, its end date the ``tier_validity`` expiry.
Without a source (points alone) every member is untiered.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

from chalicelib.db.uow import UnitOfWork


class TierAt(NamedTuple):
    """A member's tier at some moment: its code and the last day it is valid (None: no end)."""

    code: str | None
    valid_until: date | None


class TierSource(Protocol):
    """What the tiers capability provides."""

    def keys(self, member_id: str) -> list[tuple[Any, tuple[str, str]]]:
        """The items ``at`` reads, to batch with the operation's other reads."""

    def at(self, uow: UnitOfWork, member_id: str, when: datetime) -> TierAt:
        """The member's tier at ``when``."""


_SOURCE: list[TierSource] = []


def use(source: TierSource) -> None:
    """Register the tier source (the tiers capability does, on import)."""
    _SOURCE[:] = [source]


def keys(member_id: str) -> list[tuple[Any, tuple[str, str]]]:
    """The tier items to prefetch for ``member_id`` (none without a source)."""
    return _SOURCE[0].keys(member_id) if _SOURCE else []


def at(uow: UnitOfWork, member_id: str, when: datetime) -> TierAt:
    """The member's tier at ``when`` (untiered without a source)."""
    return _SOURCE[0].at(uow, member_id, when) if _SOURCE else TierAt(None, None)
