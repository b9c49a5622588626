"""Idempotency records: the first response of a keyed write, stored with the write itself."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.shared import clock
from chalicelib.shared.config import settings
from chalicelib.shared.errors import IdempotencyKeyMissing, IdempotencyKeyReused
from chalicelib.store.models import MainModel, expiry_in

MAX_KEY_LENGTH = 255


class IdempotencyRecord(MainModel):
    fingerprint = UnicodeAttribute()
    status = NumberAttribute()
    body = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @staticmethod
    def key_of(scope: str, key: str) -> str:
        return f"IDEMPOTENCY#{scope}#{key}"

    @classmethod
    def claim(cls, scope: str, key: str, fingerprint: str, status: int, body: Any) -> "IdempotencyRecord":
        return cls(cls.key_of(scope, key), "IDEMPOTENCY", fingerprint=fingerprint, status=status,
                   body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                   created_at=clock.iso(clock.now()),
                   expires_at=expiry_in(settings().idempotency_days))

    @classmethod
    def find(cls, scope: str, key: str) -> "IdempotencyRecord | None":
        try:
            return cls.get(cls.key_of(scope, key), "IDEMPOTENCY", consistent_read=True)
        except cls.DoesNotExist:
            return None


def validate_key(key: str | None) -> str:
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
    if record.fingerprint != fp:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request; use a new key")
    return int(record.status), json.loads(record.body)
