"""The operations console in the deployable template (issue #30): a private bucket read by one
CloudFront distribution through an origin access control, the headers of infra/console.py on every
reply, the app's routes answered with index.html, a switch for China regions without an ICP
filing, and the API told the one origin it answers cross-origin calls for (infra/hosting.py; the
packaged whole and cfn-lint: tests/integration/test_infra.py)."""

from __future__ import annotations

import os

import pytest

from infra import build, console, hosting

CONSOLE_RESOURCES = ("ConsoleBucket", "ConsoleBucketPolicy", "ConsoleCachePolicy", "ConsoleHeadersPolicy",
                     "ConsoleDistribution")
API_ORIGIN = "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


@pytest.fixture(scope="module")
def template() -> dict:
    return build.merge_template(os.environ["STAGE"])


def test_every_console_resource_and_output_exists_only_where_hosting_is_on(template):
    t = template
    assert t["Parameters"]["ConsoleHosting"]["AllowedValues"] == ["on", "off"]
    assert t["Parameters"]["ConsoleHosting"]["Default"] == "on"
    assert t["Conditions"][hosting.HOSTS] == {"Fn::Equals": [{"Ref": "ConsoleHosting"}, "on"]}
    for name in CONSOLE_RESOURCES:
        assert t["Resources"][name]["Condition"] == hosting.HOSTS, name
    # CloudFront in the China regions has no origin access control: an origin access identity there
    assert t["Conditions"][hosting.IN_CHINA] == {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}
    assert t["Resources"]["ConsoleOriginAccessControl"]["Condition"] == hosting.WITH_OAC
    assert t["Resources"]["ConsoleOriginAccessIdentity"]["Condition"] == hosting.WITH_OAI
    assert t["Conditions"][hosting.WITH_OAC] == {"Fn::And": [{"Condition": hosting.HOSTS},
                                                             {"Fn::Not": [{"Condition": hosting.IN_CHINA}]}]}
    assert t["Conditions"][hosting.WITH_OAI] == {"Fn::And": [{"Condition": hosting.HOSTS}, {"Condition": hosting.IN_CHINA}]}
    for name in ("ConsoleBucketName", "ConsoleDistributionId", "ConsoleUrl"):
        assert t["Outputs"][name]["Condition"] == hosting.HOSTS, name
    stage = hosting.gateway_stage(os.environ["STAGE"])
    assert t["Outputs"]["ConsoleApiUrl"]["Value"] == {"Fn::Sub": f"{API_ORIGIN}/{stage}"}


def test_the_bucket_is_private_and_only_the_distribution_reads_it_over_tls(template):
    r = template["Resources"]
    bucket = r["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]   # no ACLs at all
    assert "WebsiteConfiguration" not in bucket
    deny, either = r["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    condition, china, read = either["Fn::If"]
    assert condition == hosting.IN_CHINA
    for grant in (china, read):
        assert grant["Effect"] == "Allow" and grant["Action"] == "s3:GetObject"
        assert grant["Resource"] == {"Fn::Sub": "${ConsoleBucket.Arn}/*"}          # objects, never a listing
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    source = read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${ConsoleDistribution}") and "${AWS::Partition}" in source
    assert china["Principal"] == {"CanonicalUser": {"Fn::GetAtt": ["ConsoleOriginAccessIdentity", "S3CanonicalUserId"]}}
    oac = r["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == \
        ("s3", "always", "sigv4")


def test_the_distribution_serves_the_bucket_over_https_with_the_headers_and_app_routes(template):
    r = template["Resources"]
    config = r["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    origin, = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["ConsoleBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::If": [hosting.IN_CHINA, {"Ref": "AWS::NoValue"},
                                                          {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": {"Fn::If": [hosting.IN_CHINA, {
        "Fn::Sub": "origin-access-identity/cloudfront/${ConsoleOriginAccessIdentity}"}, ""]}}   # OAC: empty
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"] and behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"] and behaviour["Compress"] is True
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeadersPolicy"}
    assert behaviour["CachePolicyId"] == {"Ref": "ConsoleCachePolicy"}
    # an app route (/console/members/01...) is no object: S3 answers 403 (the bucket may not be
    # listed) or 404; both become index.html with 200, and the router takes it from there
    assert {(e["ErrorCode"], e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]} == \
        {(403, 200, "/console/index.html"), (404, 200, "/console/index.html")}
    assert config["DefaultRootObject"] == "console/index.html"
    # the files' Cache-Control decides: index.html's no-cache is revalidated (MinTTL 0), assets a year
    cache = r["ConsoleCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["MinTTL"] == 0 and cache["MaxTTL"] == 31_536_000
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["CookiesConfig"]["CookieBehavior"] == key["HeadersConfig"]["HeaderBehavior"] == \
        key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    # its own domain with a certificate (China needs one, with its ICP filing), else cloudfront.net's
    assert config["Aliases"]["Fn::If"][0] == hosting.HAS_CERTIFICATE
    needs = template["Conditions"][hosting.HAS_CERTIFICATE]["Fn::And"]           # the alias is the origin's host
    assert {c["Fn::Not"][0]["Fn::Equals"][0]["Ref"] for c in needs} == {"ConsoleCertificate", "ConsoleOrigin"}
    assert config["Aliases"]["Fn::If"][1] == [{"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "ConsoleOrigin"}]}]}]
    with_certificate, without = config["ViewerCertificate"]["Fn::If"][1:]
    china, elsewhere = with_certificate["Fn::If"][1:]                      # China's CloudFront: IAM, no ACM
    assert with_certificate["Fn::If"][0] == hosting.IN_CHINA
    assert china["IamCertificateId"] == elsewhere["AcmCertificateArn"] == {"Ref": "ConsoleCertificate"}
    assert china["SslSupportMethod"] == elsewhere["SslSupportMethod"] == "sni-only"
    assert without == {"CloudFrontDefaultCertificate": True}


def _as_headers(config: dict, api: str) -> dict[str, str]:
    """What a SecurityHeadersConfig sends, as headers (its CSP's Fn::Sub resolved with ``api``)."""
    hsts = config["StrictTransportSecurity"]
    assert all(c["Override"] for c in config.values())
    assert not hsts["IncludeSubdomains"] and not hsts["Preload"]
    return {
        "Content-Security-Policy": config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].replace(
            API_ORIGIN, api),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": config["ReferrerPolicy"]["ReferrerPolicy"],
        "X-Frame-Options": config["FrameOptions"]["FrameOption"],
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}",
    }


def test_the_headers_policy_carries_exactly_the_consoles_headers_with_connect_src_the_api(template):
    policy = template["Resources"]["ConsoleHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    config = policy["SecurityHeadersConfig"]
    assert set(config) == {"ContentSecurityPolicy", "ContentTypeOptions", "ReferrerPolicy", "FrameOptions",
                           "StrictTransportSecurity"}
    api = "https://abc123.execute-api.cn-north-1.amazonaws.com.cn"
    assert _as_headers(config, api) == console.headers(api)
    csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert f"connect-src 'self' {API_ORIGIN};" in csp and "script-src 'self';" in csp
    assert "unsafe" not in csp and "*" not in csp
    assert "CorsConfig" not in policy and "CustomHeadersConfig" not in policy


def test_a_header_added_to_the_console_and_not_mapped_fails_the_build(monkeypatch):
    monkeypatch.setattr(console, "headers", lambda api="'self'": {"Permissions-Policy": "camera=()"})
    with pytest.raises(SystemExit, match="Permissions-Policy"):
        hosting.security_headers(API_ORIGIN)


def test_the_api_alone_is_told_the_consoles_origin(template):
    r = template["Resources"]
    parameter = template["Parameters"]["ConsoleOrigin"]
    assert parameter["Default"] == ""                               # none: no cross-origin call answered
    import re
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.match("https://console.example.com") and pattern.match("")
    for bad in ("*", "http://console.example.com", "https://console.example.com/", "https://a.com https://b.com"):
        assert not pattern.match(bad), bad
    functions = {k: v["Properties"]["Environment"]["Variables"] for k, v in r.items()
                 if "Environment" in v.get("Properties", {})}
    assert len(functions) > 10 and "APIHandler" in functions
    for name, env in functions.items():
        assert (env.get("CONSOLE_ORIGIN") == {"Ref": "ConsoleOrigin"}) == (name == "APIHandler"), name
        assert name == "APIHandler" or "CONSOLE_ORIGIN" not in env
