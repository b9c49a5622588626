"""The process's one botocore session, from which every AWS client is made.

A new botocore session reads the endpoint and partition data again for its first client, which
costs about as much CPU as the client itself (some 80 ms at a cold start). DynamoDB, Secrets
Manager and S3 clients made from this one session share what it has read.

Every client is also made with the one configuration of timeouts and attempts (:func:`config`,
from the settings): botocore's defaults (60 s to connect, 60 s to read, retries with back-off)
let one call outlast API Gateway's 29 s. DynamoDB's connection (:mod:`chalicelib.db.items`)
takes the same values.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.config
import botocore.session

from chalicelib.shared.config import settings

_LOCK = threading.Lock()          # botocore does not make clients thread-safely from one session
_SESSION: list[botocore.session.Session] = []


def session() -> botocore.session.Session:
    """The shared session (made on first use)."""
    with _LOCK:
        if not _SESSION:
            _SESSION.append(botocore.session.get_session())
        return _SESSION[0]


def config() -> botocore.config.Config:
    """Short connect and read timeouts and a bounded number of attempts (botocore's standard
    retries: throttles and transient errors, with jittered back-off)."""
    s = settings()
    return botocore.config.Config(connect_timeout=s.aws_connect_timeout, read_timeout=s.aws_read_timeout,
                                  retries={"mode": "standard", "total_max_attempts": s.aws_attempts})


def worst_call_seconds() -> float:
    """The longest one call can take: every attempt times out connecting and reading, with
    botocore's longest pause before each retry (standard mode: up to 1 s, 2 s, 4 s...)."""
    s = settings()
    return s.aws_attempts * (s.aws_connect_timeout + s.aws_read_timeout) + sum(2.0 ** i for i in range(s.aws_attempts - 1))


def client(service: str, **kwargs: Any) -> Any:
    """A new botocore client of ``service`` from the shared session, with :func:`config`."""
    kwargs.setdefault("config", config())
    shared = session()
    with _LOCK:
        return shared.create_client(service, **kwargs)
