"""Tiers: a versioned growth-value ladder, upgrades from the event stream, validity reviews,
manual floors and tier history."""

from chalicelib.tiers import repository as _repository  # noqa: E402,F401  (registers uow.tiers)
