import time

import jwt
import pytest

from chalicelib.api import auth
from chalicelib.api.auth import Principal, authenticate, canonical_request, mint_token, sign, signed_headers
from chalicelib.shared.config import settings
from chalicelib.shared.errors import Forbidden, Unauthenticated


def test_member_and_staff_tokens_round_trip():
    p = authenticate({"authorization": "Bearer " + mint_token("member", "M1", 5)}, "GET", "/", None, b"")
    assert p == Principal("member", "M1")
    s = authenticate({"authorization": "Bearer " + mint_token("staff", "alice", 5, role="clerk", merchant_id="m1")},
                     "GET", "/", None, b"")
    assert (s.kind, s.role, s.merchant_id) == ("staff", "clerk", "m1")


@pytest.mark.parametrize("token", [
    jwt.encode({"sub": "x", "aud": "member", "iss": "loyalty", "exp": int(time.time()) + 60}, "wrong-secret-0123456789-0123456789", algorithm="HS256"),
    jwt.encode({"sub": "x", "aud": "member", "iss": "loyalty", "exp": int(time.time()) - 600}, "test-jwt-secret-0123456789-0123456789", algorithm="HS256"),
    jwt.encode({"sub": "x", "aud": "staff", "iss": "loyalty", "exp": int(time.time()) + 60, "role": "god"}, "test-jwt-secret-0123456789-0123456789", algorithm="HS256"),
    "not-a-token",
])
def test_bad_tokens_are_refused(token):
    with pytest.raises(Unauthenticated):
        authenticate({"authorization": "Bearer " + token}, "GET", "/", None, b"")


def test_unsigned_alg_none_token_is_refused():
    token = jwt.encode({"sub": "x", "aud": "member", "iss": "loyalty", "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        authenticate({"authorization": "Bearer " + token}, "GET", "/", None, b"")


def test_canonical_request_is_stable_and_covers_every_part():
    base = canonical_request("1700000000", "post", "/v1/members", {"b": "2", "a": "1"}, b"{}", "ak_1", "k1")
    assert base.split("\n")[:8] == ["v2", "1700000000", "", "POST", "/v1/members", "a=1&b=2", "ak_1", "k1"]
    variants = [canonical_request("1700000001", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{}", "ak_1", "k1"),
                canonical_request("1700000000", "PUT", "/v1/members", {"a": "1", "b": "2"}, b"{}", "ak_1", "k1"),
                canonical_request("1700000000", "POST", "/v1/member", {"a": "1", "b": "2"}, b"{}", "ak_1", "k1"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1"}, b"{}", "ak_1", "k1"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{ }", "ak_1", "k1"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{}", "ak_2", "k1"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{}", "ak_1", "k2")]
    assert len({base, *variants}) == 8


def test_the_v2_query_is_percent_encoded_so_an_encoded_separator_signs_differently():
    split = canonical_request("1", "GET", "/v1/members/lookup", {"type": "phone", "value": "X"}, b"", "k")
    joined = canonical_request("1", "GET", "/v1/members/lookup", {"type": "phone&value=X"}, b"", "k")
    assert split != joined and "type=phone%26value%3DX" in joined
    assert canonical_request("1", "GET", "/p", {"v": "a b+é~"}, b"").split("\n")[5] == "v=a%20b%2B%C3%A9~"
    # v1 (still available by configuration) had the ambiguity
    assert canonical_request("1", "GET", "/p", {"type": "phone", "value": "X"}, b"", version="v1") == \
        canonical_request("1", "GET", "/p", {"type": "phone&value=X"}, b"", version="v1")


class _Key:
    key_id, status, merchant_id, store_id, program_id, capabilities, master, retires_at = \
        "ak_1", "active", "m1", "s1", "default", ("pos",), None, None


@pytest.fixture(autouse=True)
def _no_last_used(monkeypatch):
    """Authentication alone: no key's last use is written to a store here."""
    monkeypatch.setattr(auth, "_KEY_USED", [])


def _lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def test_signature_must_match_and_be_fresh(monkeypatch):
    monkeypatch.setattr(auth, "_api_key", lambda key_id: _Key if key_id == "ak_1" else None)
    secret = auth.key_secret("ak_1")
    good = _lower(signed_headers("ak_1", secret, "POST", "/v1/x", b"{}", idempotency_key="k1"))
    p = authenticate(good, "POST", "/v1/x", None, b"{}")
    assert (p.kind, p.merchant_id, p.store_id) == ("merchant", "m1", "s1")
    with pytest.raises(Unauthenticated, match="does not match"):
        authenticate(good, "POST", "/v1/x", None, b'{"tampered":1}')
    with pytest.raises(Unauthenticated, match="does not match"):          # re-keyed: the key is signed
        authenticate({**good, "idempotency-key": "k2"}, "POST", "/v1/x", None, b"{}")
    stale = _lower(signed_headers("ak_1", secret, "POST", "/v1/x", b"{}", at=time.time() - 3600))
    with pytest.raises(Unauthenticated, match="clock"):
        authenticate(stale, "POST", "/v1/x", None, b"{}")
    with pytest.raises(Unauthenticated, match="X-Nonce"):
        authenticate({k: v for k, v in good.items() if k != "x-nonce"}, "POST", "/v1/x", None, b"{}")
    with pytest.raises(Unauthenticated, match="does not match"):
        authenticate({**good, "x-nonce": "0" * 24}, "POST", "/v1/x", None, b"{}")
    other = _lower(signed_headers("ak_2", secret, "POST", "/v1/x", b"{}"))
    with pytest.raises(Unauthenticated, match="unknown"):
        authenticate(other, "POST", "/v1/x", None, b"{}")



def test_a_timestamp_is_ascii_digits_only(monkeypatch):
    """int() would take Unicode digits that isdigit() passed, and fail on 5,000 digits (a 500)."""
    from chalicelib.api.signing import SignatureItem
    monkeypatch.setattr(auth, "_api_key", lambda key_id: _Key if key_id == "ak_1" else None)
    good = _lower(signed_headers("ak_1", auth.key_secret("ak_1"), "GET", "/v1/x", b""))
    arabic = "".join(chr(0x0660 + int(d)) for d in good["x-timestamp"])
    for bad in ("9" * 5000, arabic, "\uff11" * 10, "\u00b2"):
        with pytest.raises(Unauthenticated, match="X-Timestamp"):
            authenticate({**good, "x-timestamp": bad}, "GET", "/v1/x", None, b"")
        assert SignatureItem.of({**good, "x-timestamp": bad}) is None

def test_v1_is_refused_unless_configured(monkeypatch):
    monkeypatch.setattr(auth, "_api_key", lambda key_id: _Key)
    secret = auth.key_secret("ak_1")
    old = _lower(signed_headers("ak_1", secret, "POST", "/v1/x", b"{}", version="v1"))
    with pytest.raises(Unauthenticated, match="v2="):
        authenticate(old, "POST", "/v1/x", None, b"{}")
    monkeypatch.setenv("SIGNATURE_VERSIONS", "v1,v2")
    settings.cache_clear()
    try:
        assert authenticate(old, "POST", "/v1/x", None, b"{}").merchant_id == "m1"
    finally:
        monkeypatch.delenv("SIGNATURE_VERSIONS")
        settings.cache_clear()


def test_roles_decide_access():
    clerk = Principal("staff", "c", "clerk")
    assert auth.check(clerk, [auth.ANY_STAFF]) is clerk
    with pytest.raises(Forbidden):
        auth.check(clerk, [auth.staff("super_admin")])
    with pytest.raises(Unauthenticated):
        auth.check(None, [auth.MEMBER])
    assert Principal("staff", "o", "ops_manager").may_reveal_pii()
    assert not Principal("staff", "s", "store_manager").may_reveal_pii()
    assert not Principal("merchant", "m").may_reveal_pii()


def test_derived_secrets_differ_per_key():
    assert auth.key_secret("a") != auth.key_secret("b") and len(auth.key_secret("a")) == 64
    assert sign("s", "1", "GET", "/", None, b"").startswith("v2=")


def test_revocation_elsewhere_takes_effect_within_the_cache_bound_and_the_cache_stays_bounded(monkeypatch):
    keys = {"ak_r": auth.ApiKey("ak_r", "m1", None, "active")}
    auth.use_key_finder(keys.get)
    now = [1000.0]
    monkeypatch.setattr("chalicelib.shared.cache.time.monotonic", lambda: now[0])
    try:
        headers = lambda: _lower(signed_headers("ak_r", auth.key_secret("ak_r"), "GET", "/x"))  # noqa: E731
        assert authenticate(headers(), "GET", "/x", None, b"").merchant_id == "m1"
        keys["ak_r"] = auth.ApiKey("ak_r", "m1", None, "revoked")        # revoked by another container
        now[0] += auth.KEY_CACHE_SECONDS - 0.1
        assert authenticate(headers(), "GET", "/x", None, b"").merchant_id == "m1"       # the documented bound
        now[0] += 0.2
        with pytest.raises(Unauthenticated, match="revoked"):
            authenticate(headers(), "GET", "/x", None, b"")
        assert auth.KEY_CACHE_SECONDS <= 5
        for i in range(auth._KEYS.max_entries + 500):                     # random ids never grow it past its bound
            with pytest.raises(Unauthenticated):
                authenticate(_lower(signed_headers(f"ak_{i}", "s", "GET", "/x")), "GET", "/x", None, b"")
        assert len(auth._KEYS._items) <= auth._KEYS.max_entries
    finally:
        from chalicelib.merchants import keys as merchant_keys
        auth.use_key_finder(merchant_keys.find_api_key, merchant_keys.note_use)
