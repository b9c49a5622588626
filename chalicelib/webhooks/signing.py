"""A subscription's signing secrets: made, kept encrypted, and used to sign each delivery.

* A secret is ``whsec_`` + base64 of 32 random bytes (the Standard Webhooks form), made by the
  server and shown once, when the subscription is created or its secret rotated.
* **At rest** it is sealed (:mod:`chalicelib.shared.sealing`): AES-256-GCM under a key derived
  (HKDF-SHA256, info ``loyalty webhook secrets``) from the stage's API key master that is active at
  the time (``shared/secrets.py``: Secrets Manager on deployed stages), with the program and subscription
  as associated data, so a ciphertext copied onto another subscription does not decrypt. The
  table holds ``{"id", "master", "sealed", "created_at", "retire_at"}``: whoever reads the table
  without the stage's secret cannot sign. A master rotation leaves old secrets readable while
  their master is still listed (the secret records which).
* **Signing** is the ``standardwebhooks`` library's: ``webhook-id`` (the event id: the same for
  every attempt and every replay), ``webhook-timestamp`` (the attempt's), ``webhook-signature``
  with one ``v1,...`` per live secret, so during a rotation's overlap a receiver holding either
  secret verifies.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from chalicelib.shared import clock, sealing
from chalicelib.shared.ids import new_id

PREFIX = "whsec_"
SECRET_BYTES = 32
INFO = b"loyalty webhook secrets"


def new_secret() -> str:
    """A fresh signing secret, as the receiver is given it."""
    return PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _context(program: str, subscription_id: str) -> bytes:
    return f"{program}/{subscription_id}".encode()


def seal(secret: str, program: str, subscription_id: str, retire_at: str | None = None) -> dict[str, Any]:
    """The stored form of ``secret``."""
    return {"id": new_id(), **sealing.seal(secret.encode(), INFO, _context(program, subscription_id)),
            "created_at": clock.iso(clock.now()), "retire_at": retire_at}


def unseal(stored: dict[str, Any], program: str, subscription_id: str) -> str:
    """The secret of a stored form (raises if it was not sealed for this subscription)."""
    return sealing.unseal(stored, INFO, _context(program, subscription_id)).decode()


def live(stored: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The secrets that sign at ``at``: the current one and those still in their overlap."""
    return [s for s in stored if not s.get("retire_at") or clock.parse_iso(s["retire_at"]) > at]


def headers(event_id: str, body: str, keys: list[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with every one of ``keys``."""
    signatures = [Webhook(key).sign(event_id, at, body) for key in keys]
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(signatures), "content-type": "application/json",
            "user-agent": "loyalty-webhooks/1"}
