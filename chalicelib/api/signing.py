"""Merchant request signing: the canonical request, its HMAC, and the record that makes each
signature good once.

Version ``v2`` (the default; ``v1`` only where ``SIGNATURE_VERSIONS`` still lists it)::

    X-Api-Key:       <key id>
    X-Timestamp:     <unix seconds>        (within SIGNATURE_SKEW_SECONDS of the server clock)
    X-Nonce:         <8-64 random letters or digits, new for every request>
    Idempotency-Key: <key>                 (writes; signed, so a captured request cannot be re-keyed)
    X-Signature:     v2=<hex HMAC-SHA256(secret, canonical)>

    canonical = "v2" \\n timestamp \\n nonce \\n METHOD \\n path \\n query \\n key id
                \\n idempotency key \\n hex SHA-256 of the raw body
    query     = every key and value percent-encoded as SigV4 does (RFC 3986: only A-Z a-z 0-9 - _ . ~
                left as they are), sorted by key, k=v joined with '&'; a key given twice is refused

``v1`` signed neither the key id nor the Idempotency-Key and joined the query undecoded, so a
captured request could be sent again under new idempotency keys, and ``a=b%26c%3Dd`` signed like
``a=b&c=d``. Each v2 signature is also remembered (:class:`SignatureItem`) until its timestamp is
out of the window: a signed read is accepted once; a signed write records its signature in the
same transaction as its change, so a signature changes state at most once (an identical resend of
a committed write gets the first answer replayed, as any retry with its key does).

The record carries a token of the request that wrote it (``by``, random, made once per request
received), and it is written on the condition that no record exists *or* the one there is this
request's own: botocore sends a write again when DynamoDB's answer did not arrive in time (a read
timeout, a dropped connection), and a first try that was applied all the same must not make its
own request look like a replay. Another request with the same signature has another token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote

from pynamodb.attributes import UnicodeAttribute
from pynamodb.expressions.condition import Condition

from chalicelib.db.items import MainModel
from chalicelib.shared.config import settings
from chalicelib.shared.errors import Unauthenticated

VERSIONS = ("v1", "v2")
NONCE = re.compile(r"[A-Za-z0-9]{8,64}")
# Unix seconds in ASCII digits: str.isdigit() also takes '²' and Arabic-Indic digits, and int() of
# a 5,000-digit header raises (Python's digit limit), which was a 500.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
REMEMBER_MARGIN_SECONDS = 60


class SignatureReused(Unauthenticated):
    slug, title = "signature-reused", "This signature was used already"


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(query: Mapping[str, str] | None) -> str:
    """The v2 query string: keys and values percent-encoded, then sorted by key."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted((query or {}).items()))


def canonical_request(timestamp: str, method: str, path: str, query: Mapping[str, str] | None, body: bytes,
                      key_id: str = "", idempotency_key: str = "", version: str = "v2", nonce: str = "") -> str:
    """The string a merchant signs (see the module's documentation)."""
    digest = hashlib.sha256(body).hexdigest()
    if version == "v1":
        q = "&".join(f"{k}={v}" for k, v in sorted((query or {}).items()))
        return "\n".join(["v1", timestamp, method.upper(), path, q, digest])
    return "\n".join(["v2", timestamp, nonce, method.upper(), path, canonical_query(query), key_id,
                      idempotency_key, digest])


def sign(secret: str, timestamp: str, method: str, path: str, query: Mapping[str, str] | None, body: bytes,
         key_id: str = "", idempotency_key: str = "", version: str = "v2", nonce: str = "") -> str:
    """``<version>=<hex HMAC-SHA256>`` of the canonical request."""
    message = canonical_request(timestamp, method, path, query, body, key_id, idempotency_key, version,
                                nonce).encode()
    return f"{version}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes = b"",
                   query: Mapping[str, str] | None = None, at: float | None = None,
                   idempotency_key: str | None = None, version: str = "v2") -> dict[str, str]:
    """Headers of a signed merchant request (tests and the bench use it)."""
    timestamp = str(int(at if at is not None else time.time()))
    nonce = secrets.token_hex(12) if version == "v2" else ""
    headers = {"X-Api-Key": key_id, "X-Timestamp": timestamp,
               "X-Signature": sign(secret, timestamp, method, path, query, body, key_id, idempotency_key or "",
                                   version, nonce)}
    if nonce:
        headers["X-Nonce"] = nonce
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def accepted_versions() -> tuple[str, ...]:
    """The signature versions this deployment accepts (``SIGNATURE_VERSIONS``)."""
    return settings().signature_versions


def verify(headers: Mapping[str, str], secret: str, method: str, path: str, query: Mapping[str, str] | None,
           body: bytes) -> None:
    """Check a request's signature against ``secret`` (headers lower-cased); raise if it is not valid."""
    signature = headers.get("x-signature", "")
    version = signature.partition("=")[0]
    if version not in VERSIONS or version not in accepted_versions():
        raise Unauthenticated(f"X-Signature must be {' or '.join(accepted_versions())}=<hex HMAC-SHA256>")
    nonce = headers.get("x-nonce", "")
    if version == "v2" and not NONCE.fullmatch(nonce):
        raise Unauthenticated("a v2 signed request carries X-Nonce: 8-64 random letters or digits, new each time")
    expected = sign(secret, headers.get("x-timestamp", ""), method, path, query, body, headers.get("x-api-key", ""),
                    headers.get("idempotency-key", ""), version, nonce)
    if not hmac.compare_digest(expected, signature):
        raise Unauthenticated("signature does not match the request")


class SignatureItem(MainModel):
    """``SIG#<hash of key id and signature>``: a v2 signature already used, kept past its window,
    with the token of the request that used it (``by``)."""

    by = UnicodeAttribute(null=True)

    @staticmethod
    def key(key_id: str, signature: str) -> tuple[str, str]:
        """One item per key and signature (hashed: the table never holds a usable signature)."""
        return "SIG#" + hashlib.sha256(f"{key_id}\n{signature}".encode()).hexdigest()[:40], "SIG"

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> SignatureItem | None:
        """The record of a request's signature (None: not a v2 signed request)."""
        signature = headers.get("x-signature", "")
        if not signature.startswith("v2=") or not TIMESTAMP.fullmatch(headers.get("x-timestamp", "")):
            return None
        until = int(headers["x-timestamp"]) + settings().signature_skew_seconds + REMEMBER_MARGIN_SECONDS
        return cls(*cls.key(headers.get("x-api-key", ""), signature), expires_at=until, by=secrets.token_hex(12))

    def unused(self) -> Condition:
        """The condition of writing this record: no request used the signature, or only this one
        (a try of this very write that was applied although its answer was lost)."""
        model: type[SignatureItem] = type(self)
        return model.pk.does_not_exist() | (model.by == str(self.by))
