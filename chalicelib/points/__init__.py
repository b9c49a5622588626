"""Points: earn rules, an append-only ledger over expiring lots, holds, refunds, expiry, reports."""

from chalicelib.points import repository as _repository  # noqa: E402,F401  (registers uow.points)
