"""The process's one botocore session, from which every AWS client is made.

A new botocore session reads the endpoint and partition data again for its first client, which
costs about as much CPU as the client itself (some 80 ms at a cold start). DynamoDB, Secrets
Manager and S3 clients made from this one session share what it has read.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session

_LOCK = threading.Lock()          # botocore does not make clients thread-safely from one session
_SESSION: list[botocore.session.Session] = []


def session() -> botocore.session.Session:
    """The shared session (made on first use)."""
    with _LOCK:
        if not _SESSION:
            _SESSION.append(botocore.session.get_session())
        return _SESSION[0]


def client(service: str, **kwargs: Any) -> Any:
    """A new botocore client of ``service`` from the shared session."""
    shared = session()
    with _LOCK:
        return shared.create_client(service, **kwargs)
