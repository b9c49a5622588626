"""The backend a Hypothesis state machine runs on: the in-memory fake, moto in-process, or
DynamoDB Local (inside the loopback-only namespace of ``make test``). Each example starts on
fresh tables and puts the previous backend back when it ends."""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable
from datetime import date, timedelta


def use(kind: str) -> Callable[[], None]:
    """Switch every unit of work to fresh tables on ``kind`` (``memory``, ``dynamodb`` or
    ``ddblocal``); returns the function that switches back."""
    from chalicelib.db import backend
    from chalicelib.db.memory import MemoryBackend
    from chalicelib.shared import storage
    backend.reset()
    storage.use(storage.MemoryStorage())          # exports (gift card secrets) in memory on every backend
    mock = None
    if kind == "ddblocal":
        from tests import dynamodb_local
        dynamodb_local.fresh_tables()
        previous = backend.use(backend.DynamoBackend())
    elif kind == "dynamodb":
        from moto import mock_aws

        from chalicelib.db.tables import TABLES
        from chalicelib.shared.config import settings
        from devstack import emulator
        from tests.aws import client
        emulator.install()
        mock = mock_aws()
        mock.start()
        backend.reset()
        previous = backend.use(backend.DynamoBackend())
        ddb = client("dynamodb")
        for spec in TABLES:
            ddb.create_table(**spec.create_table_kwargs(spec.physical_name(settings())))
    else:
        previous = backend.use(MemoryBackend())

    def restore() -> None:
        storage.use(None)
        backend.use(previous)
        if mock is not None:
            mock.stop()
        if kind == "ddblocal":
            from tests import dynamodb_local
            dynamodb_local.leave()
    return restore


MUTATION = "MUTANT_UNDER_TEST" in os.environ


def examples(usual: int, nightly: bool, mutation: int) -> int:
    """A machine's examples: 200 at night; under ``make mutation``, which runs it once per planted
    bug, a budget of a few seconds (the machines are most of the run's time); else ``usual``."""
    return 200 if nightly else mutation if MUTATION else usual


def last_day(start: date, months: int) -> date:
    """The last day of a tier's validity period of ``months`` calendar months from ``start`` (the
    31st on a shorter month: its last day)."""
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    same = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    return same - timedelta(days=1)
