"""Secrets kept at rest so that whoever reads the table cannot read them back: AES-256-GCM under a
key derived (HKDF-SHA256) from the stage's API key master active at the time
(:mod:`chalicelib.shared.secrets`: Secrets Manager on deployed stages).

Each use names its own ``info`` (webhook signing secrets, member code secrets...), so one use's key
never opens another's, and its own ``context`` (associated data: the program and the record the
secret belongs to), so a ciphertext copied onto another record does not decrypt. The stored form
records the master's version: after a master rotation, old secrets stay readable while their
master is still listed."""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from typing import TypedDict

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chalicelib.shared import secrets

NONCE_BYTES = 12


class Sealed(TypedDict):
    master: str             # the version of the API key master the key was derived from
    sealed: str             # base64 of nonce + ciphertext + tag


@lru_cache(maxsize=32)
def derive(master: str, info: bytes) -> bytes:
    """The 32-byte key of ``info`` derived (HKDF-SHA256) from the master secret ``master``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master.encode())


def key(master_version: str, info: bytes) -> bytes:
    """The sealing key of ``info`` under the master of ``master_version`` (raises if it is no longer listed)."""
    master = secrets.current().master(master_version)
    if master is None:
        raise RuntimeError(f"the master secret {master_version} that sealed a secret is no longer listed")
    return derive(master, info)


def seal(plain: bytes, info: bytes, context: bytes) -> Sealed:
    """The stored form of ``plain``, sealed for ``info`` and ``context`` under the active master."""
    version = secrets.current().api_key_active
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key(version, info)).encrypt(nonce, plain, context)
    return {"master": version, "sealed": base64.b64encode(nonce + sealed).decode()}


def unseal(stored: Sealed | dict, info: bytes, context: bytes) -> bytes:
    """What :func:`seal` sealed (raises if it was not sealed for ``info`` and ``context``)."""
    raw = base64.b64decode(stored["sealed"])
    return AESGCM(key(stored["master"], info)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
