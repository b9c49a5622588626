"""API Gateway stage settings Chalice cannot express: throttling and access logs.

Every method of the stage is throttled (rate and burst from the template's parameters), for all
callers together; each caller is held to its own rate by the WAF web ACL (:mod:`infra.waf`).
Per-merchant quotas through usage plans do not fit: API Gateway's API keys travel in
``X-Api-Key``, the header our signed requests already use for the merchant key id, and a
usage-plan key is a bearer secret where ours is never sent. The access log is JSON and names the route template
(``/v1/members/{member_id}``), never the path with its values or the query string, so no phone
or identity in a lookup reaches it.
"""

from __future__ import annotations

import json
from typing import Any

# Sized from the load model: flash events of 10,000 requests a second across the programs, and 20%
# over it; the account's API Gateway quota (10,000 a second, burst 5,000, per region by default)
# must be raised to match (docs/engineers/deploy.md). One caller's share is held by infra/waf.py.
GATEWAY_PARAMETERS = {
    "ApiRateLimit": {"Type": "Number", "Default": 12_000, "Description": "Requests per second, stage-wide"},
    "ApiBurstLimit": {"Type": "Number", "Default": 6_000, "Description": "Burst, stage-wide"},
}

ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod", "route": "$context.resourcePath", "status": "$context.status",
    "latencyMs": "$context.responseLatency", "bytes": "$context.responseLength",
}, separators=(",", ":"))


def rest_api_settings() -> dict[str, Any]:
    """Properties merged into Chalice's ``RestAPI`` (an ``AWS::Serverless::Api``)."""
    return {
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": True,
                            "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                            "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}],
        "AccessLogSetting": {"DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
                             "Format": ACCESS_LOG_FORMAT},
    }


def gateway_stage_settings() -> dict[str, Any]:
    """The access log group, and the account setting API Gateway needs to write to it."""
    return {
        "ApiAccessLogs": {"Type": "AWS::Logs::LogGroup",        # infra/alarms.py: how long, and why
                          "Properties": {"RetentionInDays": {"Ref": "LogRetentionDays"}}},
        "ApiGatewayLoggingRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                              "AmazonAPIGatewayPushToCloudWatchLogs"}]}},
        "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account",
                              "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}}},
    }
