"""The audit log over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.auth import staff
from chalicelib.api.endpoint import Call, endpoint
from chalicelib.shared import lazy

if TYPE_CHECKING:
    from chalicelib.audit import service
else:
    service = lazy.module("chalicelib.audit.service")

bp = Blueprint(__name__)

# Not every reader: finance sees the program's money, not who did what (reads=False keeps
# auth.with_readers from adding it); the auditor and the super admin read the log.
AUDIT_READERS = staff("super_admin", "auditor")


@endpoint(bp, "/v1/audit-log", "GET", "listAuditLog", tags=("audit",), reads=False,
          summary="The program's audit log, newest first: by staff member, member, kind, period (super admin, "
                  "auditor)", allow=(AUDIT_READERS,), query="chalicelib.audit.schemas:AuditLogQuery",
          response="chalicelib.audit.replies:AuditLogPage")
def list_audit_log(call: Call):
    return service.listing(call.uow, call.query)
