"""A domain event: something that happened, as every layer passes it around (no storage here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.shared import clock
from chalicelib.shared.ids import new_id


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, named in the past tense (``member.registered``)."""

    type: str
    subject: str                       # the aggregate it happened to, e.g. ``member:01J...``
    data: dict[str, Any]
    id: str = field(default_factory=new_id)
    occurred_at: str = field(default_factory=lambda: clock.iso(clock.now()))
    actor: str | None = None           # principal that caused it, e.g. ``staff:alice``
    merchant_id: str | None = None
    correlation_id: str | None = None
    program_id: str | None = None      # the program (tenant) it happened in

    def as_dict(self) -> dict[str, Any]:
        """Every field, for the outbox payload."""
        return asdict(self)
