"""One caller cannot starve the others (#24 item 9), over HTTP: the local gateway holds each key id,
bearer token and address to its own rate, as the deployed WAF web ACL does (infra/waf.py). A key
that floods gets 429 with Retry-After before the app does any work, while another program's key
is served at the same moment."""

from __future__ import annotations

import pytest

from tests.e2e.test_tenancy_http import P2, pos, register_at


@pytest.fixture
def limits(stack):
    """Lower the limits for the test (the template's are thousands a minute); put them back after."""
    previous = stack.rate_limiter.limit(PerApiKey=5, PerToken=5)
    yield stack.rate_limiter
    stack.rate_limiter.reset(previous)


def test_a_flooding_key_gets_429_while_another_programs_key_is_served(api, stack):
    mine, _ = register_at(api, stack, ("default", "demo-merchant"))
    theirs, _ = register_at(api, stack, P2)
    previous = stack.rate_limiter.limit(PerApiKey=5)
    try:
        flood = [api.call("GET", f"/v1/members/{mine}/points", pos=True) for _ in range(12)]
        served = api.call("GET", f"/v1/members/{theirs}/points", signed_by=pos(stack, P2))
    finally:
        stack.rate_limiter.reset(previous)
    assert [r.status_code for r in flood] == [200] * 5 + [429] * 7
    refused = flood[-1]
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited") and refused.json()["status"] == 429
    assert served.status_code == 200                       # the other program's till, at the same moment


def test_a_bearer_token_is_held_to_its_own_rate_and_the_connection_stays_usable(api, stack, limits):
    lookup = {"type": "phone", "value": "+8613800000000"}
    replies = [api.call("POST", "/v1/members/lookup", lookup, headers=api.staff()) for _ in range(7)]
    assert [r.status_code for r in replies][5:] == [429, 429]          # a body was sent, and read, each time
    assert replies[0].status_code in (200, 404)
    other = api.call("POST", "/v1/members/lookup", lookup, headers=api.staff("ops_manager"))
    assert other.status_code == replies[0].status_code                 # another token, the same connection
    assert limits.refused == 2
