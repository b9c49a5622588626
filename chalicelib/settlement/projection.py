"""Clearing lines projected from domain events, exactly once under redelivery.

One transaction per event (:func:`~chalicelib.events.dispatch.apply_once`: its marker is keyed by
the event, not by the period, so a redelivery after the event's period closed writes nothing
again). The event goes in the period of its program date; if that period is closed (or closes
while the line is being written: the transaction's check of the period's head fails), the lines
go in the next open period as adjustments naming their original period. A refund or an undo of an
earlier period's original is an adjustment of that period (:mod:`~chalicelib.settlement.domain`,
"Corrections"), its points valued at the original's rate, cumulatively (the memo keeps what the
original's corrections gave back so far): one more read (the original's memo) for a correction,
one more write (the memo) for an original that names an order and for a points correction.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.reports import service as reports
from chalicelib.settlement import domain, store
from chalicelib.shared import clock
from chalicelib.shared.errors import ConcurrentUpdate
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import count
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.stored_value import service as prepaid

CONSUMER = "settlement"
PREPAID_TYPES = frozenset(prepaid.prepaid_event_types())
TYPES = (*domain.COUPON_TYPES, *domain.POINTS_TYPES, *sorted(PREPAID_TYPES))
HOPS = 4                    # closes (or a correction of the same original) racing one event's line: each
                            # retry reads again, finds a later open period


def rate_at(uow: UnitOfWork, event: DomainEvent) -> Decimal | None:
    """The value of a point in fen in force at the event (points events only)."""
    if event.type not in domain.POINTS_TYPES:
        return None
    return reports.points_value_at(uow, clock.parse_iso(event.occurred_at))


def cleared(uow: UnitOfWork, event: DomainEvent, rate: Decimal | None = None,
            corrected: domain.Corrected | None = None) -> domain.Cleared:
    """The event's lines and tallies (``rate``: a correction's points at its original's rate;
    ``corrected``: what the original's earlier points corrections gave back)."""
    return domain.clearing(event.type, event.data, event.merchant_id, rate if rate is not None else rate_at(uow, event),
                           PREPAID_TYPES, corrected)


@subscribe(CONSUMER, *TYPES)
def on_event(event: DomainEvent) -> None:
    """Write the event's clearing lines in the open period they belong to, once. A points
    correction moves its original's running figure on in the same transaction, on its being as
    read: a correction racing another of the same original (or a close) is valued again."""
    program = event.program_id or DEFAULT_PROGRAM
    own = domain.period_of(clock.program_date(clock.parse_iso(event.occurred_at)))
    reference = domain.reference(event.type, event.data, event.merchant_id)
    for hop in range(HOPS):
        uow = UnitOfWork("stream:settlement", event.correlation_id, program=program)
        memo = store.memo(uow, reference) if domain.is_correction(event.type) else None
        rate = Decimal(memo.rate) if memo is not None and memo.rate else None
        running = store.corrected(memo) if memo is not None and rate is not None else None
        found = cleared(uow, event, rate, running)
        if not found:
            return
        original = domain.corrected_period(own, memo.period if memo is not None else None)
        period = store.open_period_from(uow, own)
        store.stage(uow, event, found, period, original, reference)
        if not domain.is_correction(event.type) and found.lines and reference is not None:
            # an original's lines leave a memo under their reference (its corrections read it)
            store.stage_memo(uow, reference, own, found.lines)
        elif running is not None and reference is not None and any(line.points for line in found.lines):
            store.stage_corrected(uow, reference, running, found.lines)
        try:
            if apply_once(CONSUMER, event, uow) and period != original:
                count("SettlementAdjustments")
            return
        except (store.PeriodClosed, ConcurrentUpdate):
            if hop == HOPS - 1:
                raise                   # the stream retries the event
