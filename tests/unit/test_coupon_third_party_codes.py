"""Third-party codes: how a code typed at a till is normalised, and its keyed hash (issue #26)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from chalicelib.coupons import third_party
from chalicelib.coupons.terms import Terms


@pytest.mark.parametrize(("typed", "stored"), [
    ("1234 5678 9012", "123456789012"),
    ("ab-cd-ef12", "ABCDEF12"),
    ("１２３４５６７８", "12345678"),            # full-width digits from a Chinese keyboard
    ("\tDY2024xyz ", "DY2024XYZ"),
])
def test_a_code_is_normalised_as_typed_at_a_till(typed, stored):
    assert third_party.normalise(typed) == stored


@pytest.mark.parametrize("typed", ["", "123", "abc$1234", "1 2 3", "X" * 65, "码码码码码"])
def test_what_is_not_a_code_is_refused(typed):
    assert third_party.normalise(typed) is None


def test_the_hash_is_hmac_sha256_under_a_key_derived_from_the_master_and_the_program():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"loyalty third-party coupon codes").derive(b"m" * 32)
    expected = hmac.new(key, b"prog-a\x00123456789012", hashlib.sha256).hexdigest()[:40]
    assert third_party.digest("m" * 32, "prog-a", "123456789012") == expected
    assert third_party.digest("m" * 32, "prog-b", "123456789012") != expected          # per program
    assert third_party.digest("n" * 32, "prog-a", "123456789012") != expected          # per stage secret
    assert "123456789012" not in expected


def test_every_listed_master_is_tried_the_active_first(monkeypatch):
    from chalicelib.shared import secrets
    found = secrets.Secrets({"k0": "j" * 32}, "k0", {"m1": "a" * 32, "m2": "b" * 32}, "m2")
    monkeypatch.setattr(secrets, "current", lambda: found)
    assert [v for v, _ in third_party.digests("p", "CODE1234")] == ["m2", "m1"]


def test_a_batch_id_is_the_same_for_a_retry_under_the_same_key():
    assert third_party.batch_id("T1", "k-1") == third_party.batch_id("T1", "k-1")
    assert third_party.batch_id("T1", "k-1") != third_party.batch_id("T2", "k-1")


def test_codes_live_or_imported_belongs_to_third_party_terms_only():
    base = {"title": "抖音团购 50元", "validity": {"days_after_claim": 30}}
    assert Terms.model_validate({**base, "kind": "third_party", "platform": "douyin", "amount_off_fen": 5_000,
                                 "codes": "live"}).codes == "live"
    with pytest.raises(ValidationError, match="codes does not belong"):
        Terms.model_validate({**base, "kind": "no_threshold", "amount_off_fen": 5_000, "codes": "live"})
