"""The settlement's operations: list a period's statements, read one with its lines, close a
period, reconcile. Who sees what: HQ and the read-only roles every statement; a merchant's admin
only statements its merchant is a party to (another's: 403)."""

from __future__ import annotations

from typing import Any

from chalicelib.db import audit
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import service as merchants
from chalicelib.settlement import domain, store
from chalicelib.settlement.tables import AMOUNTS, LineItem, PeriodItem, StatementItem
from chalicelib.shared import clock
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, ValidationProblem
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as prepaid


class PeriodNotEnded(Conflict):
    slug, title = "settlement-period-not-ended", "The settlement period has not ended"


# --- access ---------------------------------------------------------------------------------------
def _merchant_of(by: Principal) -> str | None:
    """None for HQ and the readers (every statement); else the caller's merchant."""
    if by.is_hq:
        return None
    if not by.merchant_id or by.store_id:
        raise Forbidden("settlement statements are read by HQ, finance and a merchant's admin")
    return by.merchant_id


def _period(text: str | None) -> str:
    if text is None:
        return domain.period_of(clock.program_date())
    if domain.parse_period(text) is None:
        raise ValidationProblem(f"a period is a calendar month YYYY-MM from 2000-01 on, not {text[:20]!r}")
    return text


# --- views ----------------------------------------------------------------------------------------
def _side(amounts: dict[str, int], direction: str) -> dict[str, int]:
    side = {f"{kind}_fen": amounts[f"{direction}_{kind}_fen"] for kind in domain.KINDS}
    return {**side, "total_fen": sum(side.values())}


def statement_view(period: str, a: str, b: str, item: StatementItem | None, head: PeriodItem | None) -> dict[str, Any]:
    """A statement: each direction by kind, the net position, closed or open."""
    amounts = store.amounts(item)
    ab, ba = _side(amounts, "ab"), _side(amounts, "ba")
    net = ab["total_fen"] - ba["total_fen"]
    debtor, creditor = (a, b) if net >= 0 else (b, a)
    return {"period": period, "party_a": a, "party_b": b, "a_owes_b": ab, "b_owes_a": ba, "net_fen": net,
            "net_position": {"debtor": debtor if net else None, "creditor": creditor if net else None,
                             "fen": abs(net)},
            "line_count": int(item.line_count or 0) if item else 0,
            "adjustment_lines": int(item.adjustment_lines or 0) if item else 0,
            "adjustment_fen": int(item.adjustment_fen or 0) if item else 0,
            "closed": store.is_closed(head), "closed_at": head.closed_at if head else None}


def line_view(line: LineItem) -> dict[str, Any]:
    """One clearing line."""
    return {"kind": line.kind, "payer": line.payer, "payee": line.payee, "fen": int(line.fen),
            "merchant_id": line.merchant_id, "store_id": line.store_id, "event_id": line.event_id,
            "event_type": line.event_type, "occurred_at": line.occurred_at, "adjustment": bool(line.adjustment),
            "original_period": line.original_period, "points": int(line.points) if line.points is not None else None,
            "fen_per_point": line.rate, "reference": line.reference}


# --- operations -----------------------------------------------------------------------------------
def list_statements(uow: UnitOfWork, by: Principal, period: str | None, merchant_id: str | None) -> dict[str, Any]:
    """The period's statements (a merchant's admin: its own merchant's only)."""
    own = _merchant_of(by)
    if own is not None and merchant_id not in (None, own):
        raise Forbidden("a merchant's admin sees only its own merchant's statements")
    period = _period(period)
    party = own or merchant_id
    head = store.head(uow, period)
    found = [statement_view(period, s.party_a, s.party_b, s, head) for s in store.statements(uow, period)
             if party is None or party in (s.party_a, s.party_b)]
    return {"period": period, "closed": store.is_closed(head), "closed_at": head.closed_at if head else None,
            "merchant_id": party, "statements": found}


def get_statement(uow: UnitOfWork, by: Principal, period: str, party: str, counterparty: str, after: str | None,
                  limit: int) -> dict[str, Any]:
    """One statement (a merchant's admin: one its merchant is a party to) and a page of its lines."""
    own = _merchant_of(by)
    period = _period(period)
    if own is not None and own not in (party, counterparty):
        raise Forbidden("a merchant's admin sees only statements its merchant is a party to")
    if party == counterparty:
        raise ValidationProblem("a statement is between two parties")
    for named in (party, counterparty):              # a party not in the program: 404, not a statement of zeros
        if named != domain.PROGRAM and not merchants.exists(uow, named):
            raise NotFound(f"no merchant {named[:64]} in this program")
    a, b = domain.pair(party, counterparty)
    key = domain.pair_key(a, b)
    view = statement_view(period, a, b, store.statement(uow, period, key), store.head(uow, period))
    lines = list(store.statement_lines(uow, period, key, after, limit))
    view["lines"] = [line_view(line) for line in lines]
    view["next_after"] = lines[-1].sk if len(lines) == limit else None
    return view


def close_period(uow: UnitOfWork, by: Principal, period: str) -> dict[str, Any]:
    """Close an ended period: its statements are final; later lines of it are adjustments in the
    next open period. One write, whatever the number of lines. A refusal is audited, whether what
    was read refuses it or the commit does (another close won the race since)."""
    today = clock.program_date()
    shown = period if domain.PERIOD.match(period or "") else "(not a period)"
    with audit.refusals(uow, "settlement.close_refused", by.ref, lambda refused: f"period {shown}: {refused.slug}"):
        if domain.parse_period(period) is None:
            raise ValidationProblem(f"a period is a calendar month YYYY-MM from 2000-01 on, not {period[:20]!r}")
        if not domain.has_ended(period, today):
            raise PeriodNotEnded(f"settlement period {period} has not ended (today is {today.isoformat()})")
        if store.is_closed(store.head(uow, period)):
            raise store.PeriodClosed(f"settlement period {period} is closed already")
    at = clock.iso(clock.now())
    store.stage_close(uow, period, at, by.ref)
    audit.record(uow, "settlement.period_closed", by.ref, detail=f"period {period}")
    return {"period": period, "closed": True, "closed_at": at, "closed_by": by.ref}


def reconcile(uow: UnitOfWork, period: str | None) -> dict[str, Any]:
    """Check the period's statements against their lines (every line read: a job's or finance's
    check, not a request path), and each merchant's stored value and gift card tally against the
    ``settlement:<merchant>`` journal account of the prepaid figures."""
    period = _period(period)
    mismatches: list[dict[str, Any]] = []
    checked = 0
    found = store.statements(uow, period)
    for s in found:
        sums = dict.fromkeys([*AMOUNTS, "line_count"], 0)
        for line in store.statement_lines(uow, period, s.sk, None, None):
            direction = "ab" if line.payer == s.party_a else "ba"
            sums[f"{direction}_{line.kind}_fen"] += int(line.fen)
            sums["line_count"] += 1
            checked += 1
        kept = {**store.amounts(s), "line_count": int(s.line_count or 0)}
        if kept != sums:
            mismatches.append({"statement": s.sk, "kept": kept, "lines": sums})
    journal = {a[len(domain.SETTLEMENT):]: -fen for a, fen in prepaid.figure_balances(uow).items()
               if a.startswith(domain.SETTLEMENT)}
    tallies = store.tallies(uow)
    merchants = []
    for merchant in sorted(set(journal) | set(tallies)):
        t = tallies.get(merchant)
        tally = (int(t.journal_fen or 0), int(t.self_fen or 0), int(t.lined_fen or 0)) if t else (0, 0, 0)
        row = {"merchant_id": merchant, "journal_fen": journal.get(merchant, 0), "cleared_fen": tally[0],
               "own_money_fen": tally[1], "lined_fen": tally[2],
               "agrees": journal.get(merchant, 0) == tally[0] == tally[1] + tally[2]}
        merchants.append(row)
    return {"period": period, "statements_checked": len(found), "lines_checked": checked,
            "statement_mismatches": mismatches, "merchants": merchants,
            "balanced": not mismatches and all(m["agrees"] for m in merchants), "as_of": clock.iso(clock.now())}
