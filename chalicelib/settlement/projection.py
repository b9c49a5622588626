"""Clearing lines projected from domain events, exactly once under redelivery.

One transaction per event (:func:`~chalicelib.events.dispatch.apply_once`: its marker is keyed by
the event, not by the period, so a redelivery after the event's period closed writes nothing
again). The event goes in the period of its program date; if that period is closed (or closes
while the line is being written: the transaction's check of the period's head fails), the lines
go in the next open period as adjustments naming their original period. A refund or an undo of an
earlier period's original is an adjustment of that period (:mod:`~chalicelib.settlement.domain`,
"Corrections"), its points valued at the original's rate: one more read (the original's memo) for
a correction, one more write (the memo) for an original that names an order.
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.db.uow import UnitOfWork
from chalicelib.events.dispatch import apply_once, subscribe
from chalicelib.reports import service as reports
from chalicelib.settlement import domain, store
from chalicelib.shared import clock
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.observability import count
from chalicelib.shared.principal import DEFAULT_PROGRAM
from chalicelib.stored_value import service as prepaid

CONSUMER = "settlement"
PREPAID_TYPES = frozenset(prepaid.prepaid_event_types())
TYPES = (*domain.COUPON_TYPES, *domain.POINTS_TYPES, *sorted(PREPAID_TYPES))
HOPS = 4                    # closes racing one event's line: each retry finds a later open period


def rate_at(uow: UnitOfWork, event: DomainEvent) -> Decimal | None:
    """The value of a point in fen in force at the event (points events only)."""
    if event.type not in domain.POINTS_TYPES:
        return None
    return reports.points_value_at(uow, clock.parse_iso(event.occurred_at))


def cleared(uow: UnitOfWork, event: DomainEvent, rate: Decimal | None = None) -> domain.Cleared:
    """The event's lines and tallies (``rate``: a correction's points at its original's rate)."""
    return domain.clearing(event.type, event.data, event.merchant_id, rate if rate is not None else rate_at(uow, event),
                           PREPAID_TYPES)


@subscribe(CONSUMER, *TYPES)
def on_event(event: DomainEvent) -> None:
    """Write the event's clearing lines in the open period they belong to, once."""
    program = event.program_id or DEFAULT_PROGRAM
    reads = UnitOfWork("stream:settlement", program=program)
    own = domain.period_of(clock.program_date(clock.parse_iso(event.occurred_at)))
    reference = domain.reference(event.type, event.data, event.merchant_id)
    memo = store.memo(reads, reference) if domain.is_correction(event.type) else None
    found = cleared(reads, event, Decimal(memo.rate) if memo is not None and memo.rate else None)
    if not found:
        return
    original = domain.corrected_period(own, memo.period if memo is not None else None)
    # an original's lines leave a memo under their reference (its corrections read it)
    remember = reference if not domain.is_correction(event.type) and found.lines else None
    for hop in range(HOPS):
        uow = UnitOfWork("stream:settlement", event.correlation_id, program=program)
        period = store.open_period_from(uow, own)
        store.stage(uow, event, found, period, original, reference)
        if remember is not None:
            rates = {line.rate for line in found.lines if line.rate}
            store.stage_memo(uow, remember, own, rates.pop() if len(rates) == 1 else None)
        try:
            if apply_once(CONSUMER, event, uow) and period != original:
                count("SettlementAdjustments")
            return
        except store.PeriodClosed:
            if hop == HOPS - 1:
                raise                   # the stream retries the event
