"""Mall settlement over HTTP: statements per pair of parties and period, closing a period, and
the reconciliation (issue #29 item 4). HQ and the read-only roles read every statement, a
merchant's admin only its merchant's; a super admin or finance closes a period."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.auth import HQ, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy
from chalicelib.shared.types import Strict

if TYPE_CHECKING:
    from chalicelib.settlement import service
else:
    service = lazy.module("chalicelib.settlement.service")

bp = Blueprint(__name__)
TAGS = ("settlement",)
R = "chalicelib.settlement.replies:"
READERS = (HQ, staff("merchant_admin"))      # (finance and auditors are added to every read)
CLOSERS = (staff("super_admin", "finance"),)
ID = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"


class StatementsQuery(Strict):
    period: str | None = Field(None, max_length=20, description="the calendar month YYYY-MM (default: this month)")
    merchant_id: str | None = Field(None, pattern=ID, description="only statements this merchant is a party to")


class LinesQuery(Strict):
    after: str | None = Field(None, max_length=300, pattern=r"^[!-~]+$", description="the `next_after` of the "
                              "previous page")
    limit: int = Field(100, ge=1, le=500)


class ClosePeriod(Strict):
    pass


class ReconcileQuery(Strict):
    period: str | None = Field(None, max_length=20, description="the calendar month YYYY-MM (default: this month)")


@endpoint(bp, "/v1/settlement/statements", "GET", "listSettlementStatements", tags=TAGS, query=StatementsQuery,
          errors=(403,), summary="A period's settlement statements, one per pair of parties, with the amounts each "
          "owes the other by kind and the net position", allow=READERS, response=R + "StatementListOut",
          audit_refusals=True)
def list_statements(call: Call):
    q: StatementsQuery = call.query
    return service.list_statements(call.uow, call.caller, q.period, q.merchant_id)


@endpoint(bp, "/v1/settlement/statements/{period}/{party}/{counterparty}", "GET", "getSettlementStatement",
          tags=TAGS, query=LinesQuery, errors=(403, 404), summary="One settlement statement (a pair of parties, `program` "
          "or a merchant id, in either order) with a page of its clearing lines", allow=READERS,
          response=R + "StatementPageOut", audit_refusals=True)
def get_statement(call: Call):
    q: LinesQuery = call.query
    return service.get_statement(call.uow, call.caller, call.params["period"], call.params["party"],
                                 call.params["counterparty"], q.after, q.limit)


@endpoint(bp, "/v1/settlement/periods/{period}/close", "POST", "closeSettlementPeriod", tags=TAGS, status=201,
          body=ClosePeriod, errors=(409, 422), summary="Close an ended settlement period: its statements become final, "
          "later lines of it are adjustments in the next open period (refusals are audited)", allow=CLOSERS,
          response=R + "ClosedOut", external=True)    # (a refusal's audit is a write of its own: a retry is answered first)
def close_period(call: Call):
    return service.close_period(call.uow, call.caller, call.params["period"])


@endpoint(bp, "/v1/settlement/reconciliation", "GET", "getSettlementReconciliation", tags=TAGS,
          query=ReconcileQuery, summary="Check a period's statements against their lines, and each merchant's "
          "stored value and gift card clearing against its settlement journal account", allow=(HQ,),
          response=R + "ReconciliationOut")
def reconcile(call: Call):
    q: ReconcileQuery = call.query
    return service.reconcile(call.uow, q.period)
