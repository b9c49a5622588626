"""The member balance sheet (``getBalanceSheet``): what the program owes its members at the close
of a day, to the fen, line by line, each beside its reconciliation's latest result.

Composed from the ledgers' own figures, never recomputed from accounts:

* **points**: outstanding points by expiry month (the points projection, ``getPointsLiability``),
  valued with the points valuation in force at the day's close (:mod:`.valuation`): face value =
  points × fen per point, liability = face × expected redemption %, each rounded half up per
  month; the line's totals are the months' sums.
* **stored value**: members' principal and bonus (held parts included), the closing balances of
  ``member:principal`` / ``member:held_principal`` and ``member:bonus`` / ``member:held_bonus`` in
  the prepaid figures (``getStoredValueMovements``' closing, credit balances shown positive).
* **gift cards**: per issuer, sold cards' unused balances (``gift_cards:<issuer>``), voided cards'
  balances owed back to their buyers (``gift_cards_voided:``) and balances held by open holds
  (``gift_cards_held:``). Unsold cards were never paid for: they owe nothing and are not a line.
* **coupons**: per template, coupons outstanding (claimed + issued − used + undone − expired, the
  coupon figures) × the cost of one coupon from the template's terms in force: ``amount_off``,
  ``no_threshold``, ``third_party``: ``amount_off_fen``; ``threshold``: the top step's ``off_fen``;
  ``percent_off`` with a ``cap_fen``: the cap (the most a coupon can cost); any other (uncapped
  percent, gift item, free shipping, parking): the average discount of its uses so far
  (discount given ÷ net uses, rounded half up; 0 before any use). Split by cost bearer in the
  template's shares (largest remainder).
* **paid membership**: fees received (the ``membership_fees_deferred`` credit on each purchase
  and renewal) less the part earned: a period of ``n`` days earns ``fee × days elapsed ÷ n``
  (floor) by a day's close; the rest is deferred. This read computes it (no job posts it). A
  cancellation takes the periods it cuts out of the deferral from its day on: what it refunds
  leaves ``received_fen``, what it keeps of them (``kept_fen``) is earned that day.

A past day is the running figure less what the days after it changed (the prepaid day rows;
for points and coupons, :mod:`.balance_history`): no snapshot job. The coupon cost uses the
terms in force now. Today's figures trail the movements by the stream's delay.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chalicelib import jobs
from chalicelib.coupons import service as coupons
from chalicelib.db.uow import UnitOfWork
from chalicelib.orders.service import allocate
from chalicelib.points import service as points
from chalicelib.programs import service as programs
from chalicelib.reports import balance_history as history
from chalicelib.reports import valuation
from chalicelib.shared import clock
from chalicelib.shared.errors import Forbidden
from chalicelib.shared.principal import Principal
from chalicelib.stored_value import service as prepaid

POINT_TYPE = "points"                 # the points that are money ("growth" earns tiers, not goods)
CARD_ACCOUNTS = {"gift_cards:": "outstanding_fen", "gift_cards_voided:": "voided_owed_fen",
                 "gift_cards_held:": "held_fen"}
FACE = {"amount_off": "amount_off_fen", "no_threshold": "amount_off_fen", "third_party": "amount_off_fen"}
RECONCILED_BY = {"points": "points-reconcile", "stored_value": "stored-value-reconcile",
                 "gift_cards": "gift-card-reconcile", "coupons": "coupon-reconcile"}
TEMPLATE_PAGE = 100


def sheet(uow: UnitOfWork, as_of: date | None, merchant_id: str | None, by: Principal) -> dict[str, Any]:
    """The balance sheet at the close of ``as_of`` (default: today, as it stands now): the whole
    program's for HQ and the readers (or one merchant's with ``merchant_id``), a merchant's own
    lines for its admin."""
    merchant = _scope(merchant_id, by)
    today = clock.program_date()
    day = as_of or today
    clock.not_after_today(day, "as_of", f"as_of {day.isoformat()} is in the future")
    closing = clock.day_start(day + timedelta(days=1)) - timedelta(microseconds=1)
    prepaid_rows = prepaid.figure_movements(uow, day)["accounts"]
    lines: dict[str, Any] = {"gift_cards": _gift_cards(uow, prepaid_rows, merchant),
                             "coupons": _coupons(uow, day, merchant, by)}
    if merchant is None:
        lines["points"] = _points(uow, day, closing)
        lines["stored_value"] = _stored_value(uow, prepaid_rows)
        lines["membership_fees"] = _membership_fees(uow, day)
    total = sum(line["liability_fen"] for line in lines.values())
    return {"as_of": day.isoformat(), "closing_at": clock.iso(closing), "live": day == today,
            "merchant_id": merchant, "total_fen": total, **{k: lines.get(k) for k in
            ("points", "stored_value", "gift_cards", "coupons", "membership_fees")}}


def _scope(merchant_id: str | None, by: Principal) -> str | None:
    """The merchant whose lines are asked for (None: the whole program)."""
    if by.is_hq:
        return merchant_id
    if merchant_id is not None and merchant_id != by.merchant_id:
        raise Forbidden("a merchant sees its own balance sheet lines only")
    return by.merchant_id


def _points(uow: UnitOfWork, day: date, closing: Any) -> dict[str, Any]:
    now = {row["expires"]: int(row["points"])
           for row in points.liability(uow, POINT_TYPE, None, None)["by_expiry_month"]}
    for month, later in history.changed_after(uow, f"points#{POINT_TYPE}", day.isoformat()).items():
        now[month] = now.get(month, 0) - later
    version, rate, percent = valuation.in_force(uow, closing)
    months = []
    for month, held in sorted(now.items()):
        if held:
            face, owed = valuation.value_fen(held, rate, percent)
            months.append({"expires": month, "points": held, "face_value_fen": face, "liability_fen": owed})
    return {"point_type": POINT_TYPE, "outstanding_points": sum(m["points"] for m in months),
            "face_value_fen": sum(m["face_value_fen"] for m in months),
            "liability_fen": sum(m["liability_fen"] for m in months),
            "valuation": {"version": version, "fen_per_point": _plain(rate), "expected_redemption_percent": percent},
            "by_expiry_month": months, "reconciliation": _reconciled("points", uow)}


def _plain(rate: Decimal) -> str:
    """A rate as plain decimal text, to six places ("1", "0.333333")."""
    return format(rate.quantize(Decimal("0.000001")).normalize(), "f")


def _closing(rows: dict[str, Any], account: str) -> int:
    return -int(rows[account]["closing_fen"]) if account in rows else 0       # a liability: a credit balance


def _stored_value(uow: UnitOfWork, rows: dict[str, Any]) -> dict[str, Any]:
    principal = sum(_closing(rows, a) for a in prepaid.MEMBER_PRINCIPAL_ACCOUNTS)
    bonus = sum(_closing(rows, a) for a in prepaid.MEMBER_BONUS_ACCOUNTS)
    return {"principal_fen": principal, "bonus_fen": bonus, "liability_fen": principal + bonus,
            "held_principal_fen": _closing(rows, "member:held_principal"),
            "held_bonus_fen": _closing(rows, "member:held_bonus"),
            "reconciliation": _reconciled("stored_value", uow)}


def _gift_cards(uow: UnitOfWork, rows: dict[str, Any], merchant: str | None) -> dict[str, Any]:
    issuers: dict[str, dict[str, int]] = {}
    for account in rows:
        for prefix, figure in CARD_ACCOUNTS.items():
            issuer = account[len(prefix):]
            if account.startswith(prefix) and (merchant is None or issuer == merchant):
                issuers.setdefault(issuer, dict.fromkeys(CARD_ACCOUNTS.values(), 0))[figure] = _closing(rows, account)
    shown = [{"issuer": i, **f, "liability_fen": sum(f.values())} for i, f in sorted(issuers.items())]
    return {"by_issuer": shown, "liability_fen": sum(r["liability_fen"] for r in shown),
            "reconciliation": _reconciled("gift_cards", uow)}


def _coupons(uow: UnitOfWork, day: date, merchant: str | None, by: Principal) -> dict[str, Any]:
    later = history.changed_after(uow, "coupons", day.isoformat())
    rows = []
    for head in _templates(uow, by):
        if merchant is not None and head["merchant_id"] != merchant:
            continue
        figure = coupons.template_figures(uow, head["template_id"])
        held = (figure["claimed"] + figure["issued"] - figure["used"] + figure["undone"] - figure["expired"]
                - later.get(head["template_id"], 0))
        if not held:
            continue
        cost, basis = coupon_cost(head["terms"], figure["used"] - figure["undone"], figure["saving_fen"])
        shares = sorted(head["terms"].get("cost_bearer", {}).get("shares", {"brand": 100}).items())
        split = allocate(held * cost, [share for _, share in shares])
        rows.append({"template_id": head["template_id"], "merchant_id": head["merchant_id"],
                     "kind": head["terms"]["kind"], "outstanding": held, "cost_per_coupon_fen": cost,
                     "cost_basis": basis, "liability_fen": held * cost,
                     "by_bearer": {bearer: part for (bearer, _), part in zip(shares, split, strict=True)}})
    return {"templates": rows, "outstanding": sum(r["outstanding"] for r in rows),
            "liability_fen": sum(r["liability_fen"] for r in rows),
            "reconciliation": _reconciled("coupons", uow)}


def _templates(uow: UnitOfWork, by: Principal) -> list[dict[str, Any]]:
    """Every template the caller may see (HQ: the program's; a merchant: its own), page by page."""
    found, after = [], None
    while True:
        page = coupons.template_listing(uow, by, TEMPLATE_PAGE, after)
        found += page["templates"]
        after = page["next"]
        if not after:
            return found


def coupon_cost(terms: dict[str, Any], net_uses: int, saving_fen: int) -> tuple[int, str]:
    """What one outstanding coupon is expected to cost, in fen, and on what basis ("terms": the
    most it takes off; "average_use": the average discount of its uses; "none": no use yet)."""
    kind = terms["kind"]
    if kind in FACE and terms.get(FACE[kind]):
        return int(terms[FACE[kind]]), "terms"
    if kind == "threshold" and terms.get("steps"):
        return max(int(step["off_fen"]) for step in terms["steps"]), "terms"
    if kind == "percent_off" and terms.get("cap_fen"):
        return int(terms["cap_fen"]), "terms"
    if net_uses > 0:
        return valuation.fen(Decimal(saving_fen) / net_uses), "average_use"
    return 0, "none"


def _membership_fees(uow: UnitOfWork, day: date) -> dict[str, Any]:
    received = earned = 0
    for row in history.membership_fees(uow, day.isoformat()):
        fee = int(row.fee_fen or 0)
        start, end = date.fromisoformat(str(row.start)), date.fromisoformat(str(row.end))
        earned += earned_fen(fee, start, end, day)
        received += fee
    return {"received_fen": received, "earned_fen": earned, "liability_fen": received - earned,
            "deferred_fen": received - earned, "reconciliation": {"status": "none", "at": None, "job": None}}


def earned_fen(fee: int, start: date, end: date, day: date) -> int:
    """The part of ``fee`` for the period ``start``..``end`` (both included) earned by the close of ``day``."""
    days = (end - start).days + 1
    elapsed = min(max((day - start).days + 1, 0), days)
    if days <= 0:
        return fee
    earned = abs(fee) * elapsed // days          # a cancelled period's negative row rounds as its original
    return earned if fee >= 0 else -earned


def _reconciled(line: str, uow: UnitOfWork) -> dict[str, Any]:
    """The latest run of the line's reconciliation job that served this program (one for every
    program begun after it was made, or one for it only; :func:`chalicelib.jobs.last_runs`):
    ``ok``, ``disagree`` (accounts out of balance, or figures that do not match the ledger) or
    ``never_run``."""
    name, program = RECONCILED_BY[line], uow.program
    [run] = jobs.last_runs(uow, [name], program, programs.created_at(uow, program)).values()
    if run is None:
        return {"status": "never_run", "at": None, "job": name}
    result = jobs.record(run)["result"]
    failed = set(result.get("failed_programs") or ()) | set(result.get("figures_disagree") or ())
    failed |= {str(m[0]) for m in result.get("mismatched_accounts") or ()}
    return {"status": "disagree" if program in failed else "ok", "at": run.finished_at, "job": name}

