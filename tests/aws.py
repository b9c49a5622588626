"""boto3 clients for tests on moto in-process, made once per process.

Making a client reads the service's model and endpoint rules again, and under moto a fresh
default session each time (moto resets boto3's): a quarter of a second, most of a moto test's
set-up when each test (and each example of a state machine) made its own. moto intercepts
every client's requests, whenever it was made, while a mock is on.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

_CLIENTS: dict[tuple, Any] = {}


def client(service: str) -> Any:
    """The process's client of ``service`` for the current region and endpoint."""
    key = (service, os.environ.get("AWS_DEFAULT_REGION"), os.environ.get("AWS_ENDPOINT_URL"))
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service)
    return _CLIENTS[key]
