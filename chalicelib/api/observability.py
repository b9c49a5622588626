"""Powertools Logger, Metrics and Tracer, shared by every handler.

Logs are JSON with the correlation id of the request. A filter masks anything that looks like a
phone number, as a second line of defence: code never logs personal data on purpose.
"""

from __future__ import annotations

import logging
import re

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="loyalty")
metrics = Metrics(namespace="Loyalty", service="loyalty")
tracer = Tracer(service="loyalty")

_PHONE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)\d{4}(\d{4})(?!\d)|(?<![\w])\+\d{6,15}(?!\d)")


def redact(text: str) -> str:
    """Mask mainland mobile numbers and E.164 numbers in free text."""
    return _PHONE.sub(lambda m: f"{m.group(2)}****{m.group(3)}" if m.group(2) else "+***", text)


class _RedactPhones(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


for _handler in logger.handlers or [logging.getLogger(logger.name)]:
    _handler.addFilter(_RedactPhones())
