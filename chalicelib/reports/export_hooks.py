"""Export kinds that a capability ranked above reports provides (it may import reports; reports
may not import it): the app names each providing module here, and the export registry
(:mod:`chalicelib.reports.exports_registry`) imports them when it is first built, after the app.

A providing module holds ``EXPORT = (kind, what it holds, source factory, no_store)``; the factory
takes the program and gives a :class:`chalicelib.reports.exports_sources.Source`. Light on purpose:
the app imports this at a cold start."""

from __future__ import annotations

PROVIDERS: list[str] = []


def provided_by(*modules: str) -> None:
    """Name modules that provide an export kind (``"chalicelib.settlement.exports"``)."""
    PROVIDERS.extend(m for m in modules if m not in PROVIDERS)
