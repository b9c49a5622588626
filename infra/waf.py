"""Per-caller rate limits in front of the API, so that one tenant cannot starve the others (#24 item 9).

The stage's own throttle (:mod:`infra.gateway`) is one bucket for every caller: sized for the whole
load model, it cannot stop one caller from taking all of it, and sized lower it would turn one
program's flash sale into refusals for every other program's tills. A WAF web ACL on the stage
counts each caller on its own and answers a caller over its limit 429 with ``Retry-After``,
before API Gateway, Lambda or DynamoDB do any work for it:

* ``PerApiKey``: a signed request's ``X-Api-Key`` (the key id of a store's or a server's key,
  ``chalicelib/api/auth.py``): a till, a store or a brand's server, each in one program;
* ``PerToken``: a bearer token (``Authorization``): one member's app session or one staff login;
* ``PerIp``: one source address, whatever it sends (set high: a chain's tills or an app backend
  may share one egress address), the floor against anonymous floods.

Each is counted over a 60-second window; the limits are parameters (requests per window). Usage
plans do not fit: their keys travel in ``X-Api-Key``, the header our key ids use, as bearer
secrets where ours are never sent. A per-program total is not counted here: WAF cannot read the
program inside a JWT, and a program's legitimate flash is what the stage limit is sized for. The
local stack's gateway enforces the same rules with the same defaults (``devstack/ratelimit.py``).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.shared.errors import TYPE_BASE

WINDOW_SECONDS = 60
RETRY_AFTER_SECONDS = 30       # WAF re-evaluates a key's rate every few seconds over the window
ACL = "ApiFirewall"
# rule -> (parameter, default requests per window, the header counted; None: the source address)
RULES: dict[str, tuple[str, int, str | None]] = {
    "PerApiKey": ("ApiKeyRateLimit", 3_000, "x-api-key"),          # 50 a second per key id
    "PerToken": ("TokenRateLimit", 1_200, "authorization"),        # 20 a second per bearer token
    "PerIp": ("IpRateLimit", 120_000, None),                       # 2,000 a second per address
}
BODY_KEY = "rate-limited"
PROBLEM = {"type": TYPE_BASE + "rate-limited", "title": "Too many requests", "status": 429,
           "detail": "this caller sent more requests than its limit allows; retry after the Retry-After seconds"}


def parameters() -> dict[str, Any]:
    return {parameter: {"Type": "Number", "Default": default, "MinValue": 10,
                        "Description": f"requests per {WINDOW_SECONDS} s one caller may send ({rule})"}
            for rule, (parameter, default, _header) in RULES.items()}


def acl_metric(stage: str) -> str:
    return f"loyalty-{stage}-api"


def _rule(priority: int, rule: str, parameter: str, header: str | None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Limit": {"Ref": parameter}, "EvaluationWindowSec": WINDOW_SECONDS}
    if header:          # requests without the header are not counted by this rule
        statement.update({"AggregateKeyType": "CUSTOM_KEYS", "CustomKeys": [{"Header": {
            "Name": header, "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}]})
    else:
        statement["AggregateKeyType"] = "IP"
    return {"Name": rule, "Priority": priority, "Statement": {"RateBasedStatement": statement},
            "Action": {"Block": {"CustomResponse": {
                "ResponseCode": 429, "CustomResponseBodyKey": BODY_KEY,
                "ResponseHeaders": [{"Name": "Retry-After", "Value": str(RETRY_AFTER_SECONDS)}]}}},
            "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True,
                                 "MetricName": rule}}


def add(resources: dict[str, Any], stage: str, alarm: Any) -> None:
    """The web ACL on the API's stage, and an alarm (made by ``alarm``, :func:`infra.alarms.alarm`)
    per rule when a caller is being held to its limit."""
    resources[ACL] = {"Type": "AWS::WAFv2::WebACL", "Properties": {
        "Scope": "REGIONAL", "DefaultAction": {"Allow": {}},
        "Description": "per-caller rate limits, so that one caller cannot take the capacity of the stage from the others",
        # sampling would keep requests' headers, which hold tokens and key ids
        "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True,
                             "MetricName": acl_metric(stage)},
        "CustomResponseBodies": {BODY_KEY: {"ContentType": "APPLICATION_JSON", "Content": json.dumps(PROBLEM)}},
        "Rules": [_rule(i, rule, parameter, header) for i, (rule, (parameter, _d, header)) in enumerate(RULES.items())],
    }}
    resources["ApiFirewallAssociation"] = {
        "Type": "AWS::WAFv2::WebACLAssociation", "DependsOn": [f"RestAPI{stage}Stage"], "Properties": {
            "ResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/"
                                       + stage},
            "WebACLArn": {"Fn::GetAtt": [ACL, "Arn"]}}}
    for rule in RULES:
        resources[f"{rule}RateLimitedAlarm"] = alarm(
            f"a caller is held to its rate limit ({rule}): a flood, a runaway client, or a limit to raise",
            "AWS/WAFV2", "BlockedRequests",
            [{"Name": "WebACL", "Value": acl_metric(stage)}, {"Name": "Rule", "Value": rule},
             {"Name": "Region", "Value": {"Ref": "AWS::Region"}}], "Sum", 0)
