"""Idempotency records: the first response of a keyed write, stored with the write itself."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db.items import MainModel, PackedJson, expiry_in
from chalicelib.db.uow import UnitOfWork
from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import IdempotencyKeyMissing, IdempotencyKeyReused

MAX_KEY_LENGTH = 255
PACK_OVER = 2_048          # answers longer than this (in bytes of JSON) are kept compressed


class IdempotencyRecord(MainModel):
    fingerprint = UnicodeAttribute()
    status = NumberAttribute()
    body = UnicodeAttribute()                      # the answer's JSON; "" when it is packed
    packed = PackedJson(null=True, attr_name="body_z")     # an answer over PACK_OVER bytes, compressed
    created_at = UnicodeAttribute()

    @staticmethod
    def key_of(scope: str, key: str) -> str:
        """The partition key of a record: one per caller scope and key."""
        return f"IDEMPOTENCY#{scope}#{key}"

    @classmethod
    def claim(cls, scope: str, key: str, fingerprint: str, status: int, body: Any,
              personal: bool = False) -> IdempotencyRecord:
        """The record of a request's first answer, to be written with the request's changes. A
        ``personal`` answer (a member's profile) is kept ``PERSONAL_REPLY_HOURS``, not 90 days."""
        s = settings()
        expires = int(clock.now().timestamp()) + s.personal_reply_hours * 3600 if personal \
            else expiry_in(s.idempotency_days)
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        big = len(text.encode()) > PACK_OVER
        return cls(cls.key_of(scope, key), "IDEMPOTENCY", fingerprint=fingerprint, status=status,
                   body="" if big else text, packed=body if big else None,
                   created_at=clock.iso(clock.now()), expires_at=expires)

    @classmethod
    def find(cls, uow: UnitOfWork, scope: str, key: str) -> IdempotencyRecord | None:
        """The record of an earlier request with this key (consistent), or None."""
        return uow.get(cls, (cls.key_of(scope, key), "IDEMPOTENCY"), consistent=True)


def validate_key(key: str | None) -> str:
    """The Idempotency-Key header, required and well-formed."""
    if not key:
        raise IdempotencyKeyMissing("this write needs an Idempotency-Key header (a unique string, e.g. a UUID)")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable() or "#" in key:
        raise IdempotencyKeyMissing(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters without '#'")
    return key


def fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests 'the same': method, path and the parsed JSON body."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(record: IdempotencyRecord, fp: str) -> tuple[int, Any]:
    """The stored answer, if the request is the same one; 422 if the key was used for another."""
    if record.fingerprint != fp:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request; use a new key")
    return int(record.status), record.packed if record.packed is not None else json.loads(record.body)
