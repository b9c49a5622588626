"""Exports over HTTP: createExport, getExport, listExports (#29 item 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import HQ, key_with, staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.reports import exports
else:
    exports = lazy.module("chalicelib.reports.exports")

bp = Blueprint(__name__)
TAGS = ("reports",)
R = "chalicelib.reports.exports_replies:"
S = "chalicelib.reports.exports_schemas:"
# HQ and the readers any of the program's; a merchant admin and a key with `reports` their merchant's
WHO = (HQ, staff("merchant_admin"), key_with("reports"))


@endpoint(bp, "/v1/exports", "POST", "createExport", tags=TAGS, status=202, errors=(403, 404), reads=True,
          summary="Queue an export of a period (members, points ledger, stored value ledger) as CSV or XLSX; the "
                  "exports job writes it, getExport reports progress and hands out the download URL",
          allow=WHO, body=S + "CreateExport", response=R + "ExportOut", audit_refusals=True,
          external=True)              # (a refusal's audit is a write of its own: a retry is answered first)
def create_export(call: Call):
    """createExport."""
    return exports.create(call.body, call.caller, call.uow)


@endpoint(bp, "/v1/exports/{export_id}", "GET", "getExport", tags=TAGS, errors=(404,),
          summary="An export's progress (rows done of rows estimated); once done, a download URL that expires "
                  "(15 minutes; a new one at each call, audited)", allow=WHO, response=R + "ExportOut",
          audit_refusals=True)
def get_export(call: Call):
    """getExport."""
    return exports.get(call.uow, call.caller, call.params["export_id"])


@endpoint(bp, "/v1/exports", "GET", "listExports", tags=TAGS, summary="The exports the caller may see, newest "
          "first (a merchant's caller: its merchant's)", allow=WHO, query=S + "ExportsQuery",
          response=R + "ExportsPage")
def list_exports(call: Call):
    """listExports."""
    return exports.listing(call.uow, call.caller, call.query.limit, call.query.before)
