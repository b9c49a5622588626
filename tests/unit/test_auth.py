import time

import jwt
import pytest

from chalicelib.api import auth
from chalicelib.api.auth import Principal, authenticate, canonical_request, mint_token, sign, signed_headers
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
    base = canonical_request("1700000000", "post", "/v1/members", {"b": "2", "a": "1"}, b"{}")
    assert base.split("\n")[:5] == ["v1", "1700000000", "POST", "/v1/members", "a=1&b=2"]
    variants = [canonical_request("1700000001", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{}"),
                canonical_request("1700000000", "PUT", "/v1/members", {"a": "1", "b": "2"}, b"{}"),
                canonical_request("1700000000", "POST", "/v1/member", {"a": "1", "b": "2"}, b"{}"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1"}, b"{}"),
                canonical_request("1700000000", "POST", "/v1/members", {"a": "1", "b": "2"}, b"{ }")]
    assert len({base, *variants}) == 6


def test_signature_must_match_and_be_fresh(monkeypatch):
    class Key:
        status, merchant_id, store_id, program_id, capabilities = "active", "m1", "s1", "default", ("pos",)
    monkeypatch.setattr(auth, "_api_key", lambda key_id: Key if key_id == "ak_1" else None)
    secret = auth.key_secret("ak_1")
    good = {k.lower(): v for k, v in signed_headers("ak_1", secret, "POST", "/v1/x", b"{}").items()}
    p = authenticate(good, "POST", "/v1/x", None, b"{}")
    assert (p.kind, p.merchant_id, p.store_id) == ("merchant", "m1", "s1")
    with pytest.raises(Unauthenticated, match="does not match"):
        authenticate(good, "POST", "/v1/x", None, b'{"tampered":1}')
    stale = {k.lower(): v for k, v in signed_headers("ak_1", secret, "POST", "/v1/x", b"{}", at=time.time() - 3600).items()}
    with pytest.raises(Unauthenticated, match="clock"):
        authenticate(stale, "POST", "/v1/x", None, b"{}")
    other = {k.lower(): v for k, v in signed_headers("ak_2", secret, "POST", "/v1/x", b"{}").items()}
    with pytest.raises(Unauthenticated, match="unknown"):
        authenticate(other, "POST", "/v1/x", None, b"{}")


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
    assert sign("s", "1", "GET", "/", None, b"").startswith("v1=")
