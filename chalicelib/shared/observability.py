"""Powertools Logger, Metrics and Tracer, shared by every handler.

Logs are JSON with the correlation id of the request. A filter masks anything that looks like a
phone number or an email address, in the message and in every ``extra`` field, as a second line of
defence: code never logs personal data on purpose.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(service="loyalty")
metrics = Metrics(namespace="Loyalty", service="loyalty")


def tracing_enabled() -> bool:
    """Whether the X-Ray SDK records subsegments in-process (``TRACING_SDK=true``; off by default).

    Deployed functions are traced by Lambda itself (``Tracing: Active``): every invocation has a
    segment with its initialisation and duration, at no cost to the function. The SDK would add a
    subsegment per DynamoDB call, but importing it costs about 230 ms of every cold start (it
    builds a botocore client at import), a third of the app's import. Per-request timings and
    DynamoDB use are in the structured logs and the bench instead; switch the SDK on
    (``TRACING_SDK=true``) on a stage while chasing a latency problem.
    """
    return (os.environ.get("TRACING_SDK", "false").lower() in ("true", "1")
            and os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() not in ("true", "1"))


tracer: Any = None
if tracing_enabled():          # imported only then: the SDK is the largest single cost of a cold start
    from aws_lambda_powertools import Tracer
    tracer = Tracer(service="loyalty")


def traced(t: Any) -> Any:
    """The handler decorator of ``t`` that records timings only: never a response or an error as
    trace metadata (replies carry revealed phones and one-time secrets; X-Ray keeps them unmasked).
    The template also sets ``POWERTOOLS_TRACER_CAPTURE_RESPONSE/ERROR=false`` for any other use."""
    return t.capture_lambda_handler(capture_response=False, capture_error=False)

_PHONE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)\d{4}(\d{4})(?!\d)|(?<![\w])\+\d{6,15}(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_MAX_DEPTH = 6


def redact(text: str) -> str:
    """Mask mainland mobile numbers, E.164 numbers and email addresses in free text."""
    text = _PHONE.sub(lambda m: f"{m.group(2)}****{m.group(3)}" if m.group(2) else "+***", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    """``value`` with every string inside it (dicts, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


class _RedactPersonalData(logging.Filter):
    """The message, its arguments and every ``extra`` field, phones and emails masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = _redact_value(record.args if isinstance(record.args, tuple) else (record.args,))
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, _redact_value(value))
        return True


# A request that added no metric is normal (a 404, a read); Powertools warns on every one.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_handlers: list[Any] = list(logger.handlers) or [logging.getLogger(logger.name)]
for _handler in _handlers:
    _handler.addFilter(_RedactPersonalData())


def count(name: str, value: int = 1) -> None:
    """Add to a count metric, unless metrics are off (Powertools would still buffer, then print)."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
