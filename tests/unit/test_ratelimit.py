"""The local gateway's per-caller limits (devstack/ratelimit.py), the rules of infra/waf.py."""

from devstack.ratelimit import RateLimiter
from infra.waf import RULES


def test_each_caller_has_its_own_window_and_the_template_defaults_apply():
    clock = [0.0]
    limiter = RateLimiter({"PerApiKey": 2}, window=60, now=lambda: clock[0])
    a, b = {"X-Api-Key": "key-a"}, {"X-Api-Key": "key-b"}
    assert [limiter.admit(a, "10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.admit(b, "10.0.0.1")                        # another key, from the same address
    clock[0] = 59.9
    assert not limiter.admit(a, "10.0.0.1")                    # refused requests count, as WAF's do
    clock[0] = 120.0
    assert limiter.admit(a, "10.0.0.1")                        # the window has passed
    assert RateLimiter().limits == {rule: default for rule, (_p, default, _h) in RULES.items()}


def test_tokens_are_counted_as_digests_and_requests_without_a_key_only_by_address():
    keys = RateLimiter.callers({"Authorization": "Bearer secret"}, "10.0.0.2")
    assert set(keys) == {"PerToken", "PerIp"} and "secret" not in keys["PerToken"]
    assert RateLimiter({"PerIp": 1}).admit({}, "10.0.0.3")
