"""Stored value: prepaid accounts with principal and bonus apart, top-up bonuses, payments and
refunds at merchants, cash-out, and double entry that reconciles to the fen."""

from chalicelib.stored_value import repository as _repository  # noqa: E402,F401  (registers uow.stored_value)
