"""A subscription's signing secrets: made, kept encrypted, and used to sign each delivery.

* A secret is ``whsec_`` + base64 of 32 random bytes (the Standard Webhooks form), made by the
  server and shown once, when the subscription is created or its secret rotated.
* **At rest** it is encrypted with AES-256-GCM under a key derived (HKDF-SHA256, info
  ``loyalty webhook secrets``) from the stage's API key master that is active at the time
  (``shared/secrets.py``: Secrets Manager on deployed stages), with the program and subscription
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

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from standardwebhooks.webhooks import Webhook

from chalicelib.shared import clock, secrets
from chalicelib.shared.ids import new_id

PREFIX = "whsec_"
SECRET_BYTES = 32
INFO = b"loyalty webhook secrets"


def new_secret() -> str:
    """A fresh signing secret, as the receiver is given it."""
    return PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _key(master_version: str) -> bytes:
    master = secrets.current().master(master_version)
    if master is None:
        raise RuntimeError(f"the master secret {master_version} that sealed a webhook secret is no longer listed")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(master.encode())


def _context(program: str, subscription_id: str) -> bytes:
    return f"{program}/{subscription_id}".encode()


def seal(secret: str, program: str, subscription_id: str, retire_at: str | None = None) -> dict[str, Any]:
    """The stored form of ``secret``."""
    version = secrets.current().api_key_active
    nonce = os.urandom(12)
    sealed = AESGCM(_key(version)).encrypt(nonce, secret.encode(), _context(program, subscription_id))
    return {"id": new_id(), "master": version, "sealed": base64.b64encode(nonce + sealed).decode(),
            "created_at": clock.iso(clock.now()), "retire_at": retire_at}


def unseal(stored: dict[str, Any], program: str, subscription_id: str) -> str:
    """The secret of a stored form (raises if it was not sealed for this subscription)."""
    raw = base64.b64decode(stored["sealed"])
    return AESGCM(_key(stored["master"])).decrypt(raw[:12], raw[12:], _context(program, subscription_id)).decode()


def live(stored: list[dict[str, Any]], at: datetime) -> list[dict[str, Any]]:
    """The secrets that sign at ``at``: the current one and those still in their overlap."""
    return [s for s in stored if not s.get("retire_at") or clock.parse_iso(s["retire_at"]) > at]


def headers(event_id: str, body: str, keys: list[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with every one of ``keys``."""
    signatures = [Webhook(key).sign(event_id, at, body) for key in keys]
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": " ".join(signatures), "content-type": "application/json",
            "user-agent": "loyalty-webhooks/1"}
