"""The operations console deployed: a private bucket behind a CloudFront distribution (issue #30).

The built console (``console/dist``) is uploaded under ``console/`` in a bucket no one may read
but the stack's distribution (an origin access control: CloudFront signs its requests, the bucket
policy admits the CloudFront service for this distribution only, and refuses plain HTTP; in the
China regions, which have no origin access control, the distribution's origin access identity). Every
reply carries the headers of :mod:`infra.console` through a response headers policy, with
``connect-src`` naming the API stage's origin. A path that is no file (an app route such as
``/console/members/01…``) is answered with ``index.html`` (S3's 403 for a missing key, as the
bucket may not be listed, and 404, both turned into ``/console/index.html`` with 200). Cache times
come from the files themselves (:func:`infra.console.cache_control`, set by
:mod:`infra.console_upload`): a year for hashed assets, ``no-cache`` for ``index.html``.

Three parameters. ``ConsoleHosting`` (``on``/``off``): ``off`` makes neither bucket nor
distribution, for a China region before the domain's ICP filing (CloudFront there serves only an
alternate domain name with one). ``ConsoleOrigin``: the origin the console is served from, the
only one whose cross-origin calls the API answers (``CONSOLE_ORIGIN``, :mod:`chalicelib.api.cors`);
empty: none. It is a parameter, not the distribution's own name, because the two ends name each
other (the headers policy names the API, the API names the console): a stack without a domain of
its own deploys once, reads ``ConsoleUrl``, and deploys again with that origin.
``ConsoleCertificate``: the certificate of ``ConsoleOrigin``'s host name, which the distribution
then answers to (an alias): an ACM certificate's ARN, or in China (no ACM, no origin access control
for CloudFront there: an origin access identity instead) an IAM server certificate's id; empty: only
its own ``*.cloudfront.net`` name.

The console's calls go straight to API Gateway, not through the distribution, so the WAF's
per-address rule (:mod:`infra.waf`) still counts each caller's own address.
"""

from __future__ import annotations

from typing import Any

from infra import console

HOSTS = "HostsConsole"                  # the bucket and the distribution exist
IN_CHINA = "InChinaPartition"           # CloudFront there: no origin access control, no ACM
WITH_OAC, WITH_OAI = "HostsConsoleWithOac", "HostsConsoleWithOai"
HAS_CERTIFICATE = "HasConsoleCertificate"
NO_VALUE = {"Ref": "AWS::NoValue"}
INDEX = f"/{console.PREFIX}/index.html"
ERROR_CACHING_SECONDS = 10              # how long CloudFront keeps an app route's index.html answer
MAX_TTL = 31_536_000                    # a year: the hashed assets' own max-age


def gateway_stage(stage: str) -> str:
    """The API Gateway stage a Chalice stage deploys to (``.chalice/config.json``), the first part
    of the API's paths."""
    import json
    from pathlib import Path
    config = json.loads((Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text())
    return str(config["stages"].get(stage, {}).get("api_gateway_stage", config.get("api_gateway_stage", "api")))


def api_origin() -> str:
    """The API stage's origin, for ``Fn::Sub`` (what ``connect-src`` names)."""
    return "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


def parameters() -> dict[str, Any]:
    return {
        "ConsoleHosting": {
            "Type": "String", "Default": "on", "AllowedValues": ["on", "off"],
            "Description": "on: the operations console in a private bucket behind CloudFront; off: no console "
                           "(a China region before the domain's ICP filing)"},
        "ConsoleOrigin": {
            "Type": "String", "Default": "", "AllowedPattern": r"^(https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?)?$",
            "Description": "the origin the console is served from (https://console.example.com): the only "
                           "one whose cross-origin calls the API answers; empty: none (deploy once, then "
                           "again with the ConsoleUrl output's origin)"},
        "ConsoleCertificate": {
            "Type": "String", "Default": "",
            "Description": "the certificate of ConsoleOrigin's host name, which the distribution then answers "
                           "to: an ACM certificate's ARN (in us-east-1), or in a China region an IAM server "
                           "certificate's id; empty: the distribution's own name only (not served in China)"},
    }


def conditions() -> dict[str, Any]:
    return {
        HOSTS: {"Fn::Equals": [{"Ref": "ConsoleHosting"}, "on"]},
        IN_CHINA: {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]},
        WITH_OAC: {"Fn::And": [{"Condition": HOSTS}, {"Fn::Not": [{"Condition": IN_CHINA}]}]},
        WITH_OAI: {"Fn::And": [{"Condition": HOSTS}, {"Condition": IN_CHINA}]},
        # the alias is ConsoleOrigin's host name: a certificate without an origin names none
        HAS_CERTIFICATE: {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleCertificate"}, ""]}]},
                                      {"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleOrigin"}, ""]}]}]},
    }


def security_headers(api: str) -> dict[str, Any]:
    """The response headers policy's ``SecurityHeadersConfig`` carrying exactly the headers of
    :func:`infra.console.headers` (``api``: the API's origin, a ``Fn::Sub`` string). A header added
    there and not mapped here fails the build."""
    config: dict[str, Any] = {}
    for name, value in console.headers(api).items():
        if name == "Content-Security-Policy":
            config["ContentSecurityPolicy"] = {"ContentSecurityPolicy": {"Fn::Sub": value}, "Override": True}
        elif name == "X-Content-Type-Options" and value == "nosniff":
            config["ContentTypeOptions"] = {"Override": True}
        elif name == "Referrer-Policy":
            config["ReferrerPolicy"] = {"ReferrerPolicy": value, "Override": True}
        elif name == "X-Frame-Options":
            config["FrameOptions"] = {"FrameOption": value, "Override": True}
        elif name == "Strict-Transport-Security" and value.startswith("max-age="):
            config["StrictTransportSecurity"] = {"AccessControlMaxAgeSec": int(value.split("=", 1)[1]),
                                                 "IncludeSubdomains": False, "Preload": False, "Override": True}
        else:
            raise SystemExit(f"infra/hosting.py: map the console header {name}: {value} to the headers policy")
    return config


def _bucket_policy() -> dict[str, Any]:
    bucket = {"Fn::GetAtt": ["ConsoleBucket", "Arn"]}
    objects = {"Fn::Sub": "${ConsoleBucket.Arn}/*"}
    return {"Type": "AWS::S3::BucketPolicy", "Condition": HOSTS, "Properties": {
        "Bucket": {"Ref": "ConsoleBucket"},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Fn::If": [IN_CHINA, {     # China: the distribution's origin access identity
                "Sid": "ReadByTheConsoleDistribution", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects,
                "Principal": {"CanonicalUser": {"Fn::GetAtt": ["ConsoleOriginAccessIdentity", "S3CanonicalUserId"]}}},
                {"Sid": "ReadByTheConsoleDistribution", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects,
                 "Principal": {"Service": "cloudfront.amazonaws.com"},
                 "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub":
                     "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ConsoleDistribution}"}}}}]},
        ]}}}


def _distribution(stage: str) -> dict[str, Any]:
    host = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "ConsoleOrigin"}]}]}
    app_route = [{"ErrorCode": code, "ResponseCode": 200, "ResponsePagePath": INDEX,
                  "ErrorCachingMinTTL": ERROR_CACHING_SECONDS} for code in (403, 404)]
    return {"Type": "AWS::CloudFront::Distribution", "Condition": HOSTS, "Properties": {"DistributionConfig": {
        "Enabled": True, "Comment": f"loyalty {stage}: the operations console", "HttpVersion": "http2",
        "DefaultRootObject": INDEX.lstrip("/"),
        "Aliases": {"Fn::If": [HAS_CERTIFICATE, [host], NO_VALUE]},
        "ViewerCertificate": {"Fn::If": [HAS_CERTIFICATE, {"Fn::If": [IN_CHINA, {
            "IamCertificateId": {"Ref": "ConsoleCertificate"}, "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021"}, {
            "AcmCertificateArn": {"Ref": "ConsoleCertificate"}, "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021"}]}, {"CloudFrontDefaultCertificate": True}]},
        # an origin access control signs CloudFront's reads; China's CloudFront has none: an identity there
        "Origins": [{"Id": "console", "DomainName": {"Fn::GetAtt": ["ConsoleBucket", "RegionalDomainName"]},
                     "OriginAccessControlId": {"Fn::If": [IN_CHINA, NO_VALUE,
                                                          {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}]},
                     "S3OriginConfig": {"OriginAccessIdentity": {"Fn::If": [IN_CHINA, {"Fn::Sub":
                         "origin-access-identity/cloudfront/${ConsoleOriginAccessIdentity}"}, ""]}}}],
        "DefaultCacheBehavior": {
            "TargetOriginId": "console", "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": ["GET", "HEAD"], "CachedMethods": ["GET", "HEAD"], "Compress": True,
            "CachePolicyId": {"Ref": "ConsoleCachePolicy"},
            "ResponseHeadersPolicyId": {"Ref": "ConsoleHeadersPolicy"}},
        "CustomErrorResponses": app_route,
    }}}


def add(resources: dict[str, Any], outputs: dict[str, Any], stage: str) -> None:
    """The console's bucket, its policy, the origin access control, the cache and headers policies
    and the distribution (all only where ``ConsoleHosting`` is on), and their outputs."""
    name = f"loyalty-{stage}-console"
    resources["ConsoleBucket"] = {"Type": "AWS::S3::Bucket", "Condition": HOSTS, "Properties": {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    }}
    resources["ConsoleBucketPolicy"] = _bucket_policy()
    resources["ConsoleOriginAccessControl"] = {
        "Type": "AWS::CloudFront::OriginAccessControl", "Condition": WITH_OAC,
        # the type does not exist in the China regions, where the condition leaves it out
        "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["E3006"]}}},
        "Properties": {"OriginAccessControlConfig": {"Name": name, "OriginAccessControlOriginType": "s3",
                                                     "SigningBehavior": "always", "SigningProtocol": "sigv4"}}}
    resources["ConsoleOriginAccessIdentity"] = {
        "Type": "AWS::CloudFront::CloudFrontOriginAccessIdentity", "Condition": WITH_OAI,
        "Properties": {"CloudFrontOriginAccessIdentityConfig": {"Comment": name}}}
    # the files' own Cache-Control decides (MinTTL 0: index.html's no-cache is revalidated every
    # time); nothing of the request but its path is in the key
    resources["ConsoleCachePolicy"] = {"Type": "AWS::CloudFront::CachePolicy", "Condition": HOSTS, "Properties": {
        "CachePolicyConfig": {"Name": name, "MinTTL": 0, "DefaultTTL": 86_400, "MaxTTL": MAX_TTL,
                              "ParametersInCacheKeyAndForwardedToOrigin": {
                                  "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True,
                                  "CookiesConfig": {"CookieBehavior": "none"},
                                  "HeadersConfig": {"HeaderBehavior": "none"},
                                  "QueryStringsConfig": {"QueryStringBehavior": "none"}}}}}
    resources["ConsoleHeadersPolicy"] = {
        "Type": "AWS::CloudFront::ResponseHeadersPolicy", "Condition": HOSTS, "Properties": {
            "ResponseHeadersPolicyConfig": {"Name": name, "Comment": "infra/console.py headers()",
                                            "SecurityHeadersConfig": security_headers(api_origin())}}}
    resources["ConsoleDistribution"] = _distribution(stage)
    outputs.update({
        "ConsoleBucketName": {"Condition": HOSTS, "Value": {"Ref": "ConsoleBucket"}},
        "ConsoleDistributionId": {"Condition": HOSTS, "Value": {"Ref": "ConsoleDistribution"}},
        "ConsoleUrl": {"Condition": HOSTS,
                       "Value": {"Fn::Sub": "https://${ConsoleDistribution.DomainName}/" + console.PREFIX + "/"}},
        # where the uploaded index.html sends the console's calls (infra/console_upload.py)
        "ConsoleApiUrl": {"Value": {"Fn::Sub": api_origin() + "/" + gateway_stage(stage)}},
    })


def api_environment() -> dict[str, Any]:
    """The API function's variables: the one origin it answers cross-origin calls for."""
    return {"CONSOLE_ORIGIN": {"Ref": "ConsoleOrigin"}}
