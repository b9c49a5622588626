"""Merchants, their stores and their API keys."""

from chalicelib.merchants import repository as _repository  # noqa: E402,F401  (registers uow.merchants)
