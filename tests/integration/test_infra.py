"""`make package` builds a complete template, and cfn-lint accepts it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.db.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = {**os.environ, "STAGE": "prod"}
    subprocess.run([sys.executable, "-m", "infra.build", "--stage", "prod", "--out", str(out)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    assert (out / "deployment.zip").stat().st_size > 1_000_000
    return out / "sam.json"


def test_the_package_ships_bytecode_for_the_runtime(template):
    import zipfile
    t = json.loads(template.read_text())["Resources"]
    runtime = t["APIHandler"]["Properties"]["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    names = zipfile.ZipFile(template.with_name("deployment.zip")).namelist()
    tag = sys.implementation.cache_tag
    for module in ("app.py", "chalicelib/api/endpoint.py", "pynamodb/models.py", "pydantic/main.py"):
        folder, _, name = module.rpartition("/")
        pyc = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc"
        assert module in names and pyc in names, module


def test_cfn_lint_accepts_the_template(template):
    lint = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(template)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_tables_come_from_the_specs_and_streams_are_wired(template):
    t = json.loads(template.read_text())["Resources"]
    for spec in TABLES:
        props = t[spec.logical_id]["Properties"]
        assert props["TableName"] == f"loyalty-prod-{spec.key}"
        assert props["KeySchema"] == spec.create_table_kwargs("x")["KeySchema"]
        assert [i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])] == [i.name for i in spec.indexes]
    source = t["DispatchDomainEvents"]["Properties"]["Events"]["DispatchDomainEventsDynamodbEventSource"]["Properties"]
    assert source["Stream"] == {"Fn::GetAtt": ["EventsTable", "StreamArn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True and source["MaximumRetryAttempts"] == 5
    assert source["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    # issue #24 item 7: only INSERT records, batches filled for up to a second, one batch of a shard
    # at a time (a member's events in order: devstack/pump.py PARALLELIZATION), 100 records a batch
    assert [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]] == [{"eventName": ["INSERT"]}]
    assert source["MaximumBatchingWindowInSeconds"] == 1 and source["BatchSize"] == 100
    assert source["ParallelizationFactor"] == 1
    assert t["DispatchDomainEvents"]["Properties"]["ReservedConcurrentExecutions"] == 50
    # issue #24 item 5: dead-lettered records are redriven every hour, one run at a time; alarms on
    # the stream's age, the failure queue and a redrive that came too late
    redrive = t["RedriveEvents"]["Properties"]
    assert redrive["ReservedConcurrentExecutions"] == 1 and redrive["Handler"] == "app.redrive_events"
    assert t["RedriveEventsSchedule"]["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["RedriveEvents", "Arn"]}
    assert {t[a]["Properties"]["MetricName"] for a in ("DispatchDomainEventsIteratorAgeAlarm",
                                                        "EventsDeadLetterQueueAlarm",
                                                        "EventsRedriveExpiredAlarm")} == {
        "IteratorAge", "ApproximateNumberOfMessagesVisible", "EventsRedriveExpired"}
    assert "RedriveEventsIteratorAgeAlarm" not in t          # it reads no stream of its own
    functions = [k for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        env = t[name]["Properties"]["Environment"]["Variables"]
        assert env["MAIN_TABLE"] == {"Ref": "MainTable"} and env["STAGE"] == "prod"
        # secrets are read from Secrets Manager at cold start, never put in the environment
        assert not {"JWT_SECRET", "API_KEY_MASTER"} & set(env) and "secretsmanager" not in json.dumps(env)
        # the API and deliver-webhooks (it decrypts the signing secrets) alone read the secret
        reads_secret = name in ("APIHandler", "DeliverWebhooks")
        assert (env.get("SECRETS_NAME"), env.get("REQUIRE_SECRETS")) == \
            (("loyalty/prod", "true") if reads_secret else (None, None))
        # the secrets extension's layer and port only on those, only when its ARN is given
        with_extension = {"Fn::If": ["WithSecretsExtension", [{"Ref": "SecretsExtensionLayerArn"}],
                                     {"Ref": "AWS::NoValue"}]}
        assert (t[name]["Properties"].get("Layers") == with_extension) == reads_secret
        assert ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" in env) == reads_secret
        assert env["WEBHOOKS_QUEUE_URL"] == {"Ref": "WebhooksQueue"}
        # X-Ray keeps timings only: never a reply (revealed phones, one-time secrets) or an error
        assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    assert t["ReportsBucket"]["Type"] == "AWS::S3::Bucket"


def _statements(t, role):
    return t[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def test_each_function_kind_has_its_own_least_privilege_role(template):
    t = json.loads(template.read_text())["Resources"]
    kinds = {name: t[name]["Properties"]["Role"]["Fn::GetAtt"][0]
             for name, v in t.items() if v["Type"] == "AWS::Serverless::Function"}
    assert kinds["APIHandler"] == "ApiRole" and kinds["DispatchDomainEvents"] == "StreamRole"
    assert kinds["RedriveEvents"] == "StreamRole"              # #24 item 5: it reads the stream again
    assert kinds["DeliverWebhooks"] == "WebhooksRole"          # #25 item 4
    assert {kinds[n] for n in kinds if n not in ("APIHandler", "DispatchDomainEvents", "RedriveEvents",
                                                 "DeliverWebhooks")} == {"JobsRole"}
    assert t["DefaultRole"]["Properties"]["Policies"] == []                   # Chalice's role: unused, empty
    for role in ("ApiRole", "StreamRole", "JobsRole", "WebhooksRole"):
        statements = _statements(t, role)
        actions = [a for s in statements for a in s["Action"]]
        assert "dynamodb:BatchWriteItem" not in actions and "dynamodb:Scan" not in actions
        assert not any(a.endswith(":*") for a in actions)
        for s in statements:
            resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
            assert "arn:*:logs:*:*:*" not in resources
            if resources == ["*"]:
                assert set(s["Action"]) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            if {"Fn::GetAtt": ["EventsTable", "Arn"]} in resources:       # the outbox: puts only
                assert "dynamodb:DeleteItem" not in s["Action"] and "dynamodb:UpdateItem" not in s["Action"]
        reads_secret = any("secretsmanager:GetSecretValue" in s["Action"] for s in statements)
        assert reads_secret == (role in ("ApiRole", "WebhooksRole"))
        reads_stream = any("dynamodb:GetRecords" in s["Action"] for s in statements)
        assert reads_stream == (role == "StreamRole")


def test_the_bucket_refuses_plain_http_and_the_stage_is_throttled_and_logs_no_query_strings(template):
    t = json.loads(template.read_text())["Resources"]
    deny = t["ReportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    api = t["RestAPI"]["Properties"]
    throttle = api["MethodSettings"][0]
    assert throttle["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"} and throttle["ResourcePath"] == "/*"
    fmt = json.loads(api["AccessLogSetting"]["Format"])
    assert fmt["route"] == "$context.resourcePath"
    assert not any(v in ("$context.path", "$context.requestOverride.querystring") or "querystring" in v.lower()
                   for v in fmt.values())


def test_the_gateways_own_errors_are_problem_json_and_echo_nothing(template):
    api = json.loads(template.read_text())["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    responses = api["Properties"]["GatewayResponses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    for response in responses.values():
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
        body = response["ResponseTemplates"]["application/json"]
        assert "Authorization" not in body and "$input" not in body


def test_the_api_stops_before_the_gateway_and_the_stream_and_jobs_keep_executions_of_their_own(template):
    # API Gateway gives up after 29 s: the API function's timeout is below it; a flood of API
    # requests cannot take every execution of the account from the stream consumer and the jobs
    t = json.loads(template.read_text())["Resources"]
    functions = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions["APIHandler"]["Timeout"] == 25 < 29
    assert "ReservedConcurrentExecutions" not in functions["APIHandler"]        # the API takes what is left
    assert functions["DispatchDomainEvents"]["ReservedConcurrentExecutions"] == 50
    jobs = [name for name in functions if name not in ("APIHandler", "DispatchDomainEvents", "ContinueJob",
                                                       "RedriveEvents", "DeliverWebhooks")]
    assert len(jobs) >= 15 and all(functions[name]["ReservedConcurrentExecutions"] == 2 for name in jobs)
    assert functions["ContinueJob"]["ReservedConcurrentExecutions"] == 8        # a stopped run's parts, one per due shard
    assert functions["DeliverWebhooks"]["ReservedConcurrentExecutions"] == 20
    assert 50 + 2 * len(jobs) + 8 + 1 + 20 <= 1000 - 100   # Lambda keeps 100 of an account's default 1,000 unreserved


def test_each_job_has_the_timeout_and_memory_for_what_it_does_and_continues_through_the_jobs_queue(template):
    """#24 item 2: no job runs with Chalice's defaults (60 s, 128 MB); a run that stops at its
    deadline hands the rest to the jobs queue, which continue-job consumes; the due backlog alarms."""
    t = json.loads(template.read_text())["Resources"]
    functions = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"}
    jobs = {name: props for name, props in functions.items()
            if name not in ("APIHandler", "DispatchDomainEvents", "DeliverWebhooks")}
    sizes = {name: (props["Timeout"], props["MemorySize"]) for name, props in jobs.items()}
    assert all(timeout > 60 and memory > 128 for timeout, memory in sizes.values()), sizes
    assert sizes["PointsExpiry"] == sizes["MemberLifecycle"] == sizes["TierReview"] == (900, 1024)
    assert sizes["PointsHolds"] == (240, 512) and sizes["PointsHolds"][0] < 300     # done before the next sweep
    assert sizes["GiftCardBatches"] == (900, 3008) and sizes["PointsReconcile"] == (900, 1769)
    assert sizes["ContinueJob"] == (900, 1024)
    [source] = jobs["ContinueJob"]["Events"].values()
    assert source["Type"] == "SQS" and source["Properties"]["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    queue = t["JobsQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 900 and queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert all(props["Environment"]["Variables"]["JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
               for props in functions.values())
    sends = {role: [s for s in _statements(t, role) if "sqs:SendMessage" in s["Action"]
                    and s["Resource"] == [{"Fn::GetAtt": ["JobsQueue", "Arn"]}]] for role in ("ApiRole", "JobsRole")}
    assert sends["ApiRole"] and "sqs:ReceiveMessage" in sends["JobsRole"][0]["Action"]
    alarm = t["DueBacklogAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Namespace"], alarm["Threshold"]) == ("DueBacklogDays", "Loyalty", 2)


def test_every_function_logs_to_a_group_of_the_stack_kept_for_the_retention(template):
    """#24 "logs with a retention": no log group is kept forever (a function may not create one)."""
    whole = json.loads(template.read_text())
    t = whole["Resources"]
    assert whole["Parameters"]["LogRetentionDays"]["Default"] == 365        # prod: over six months, by law
    functions = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"}
    groups = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert all(g["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values()), groups
    for name, props in functions.items():
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups and name in groups[group]["LogGroupName"]["Fn::Sub"]
    assert "ApiAccessLogs" in groups
    actions = [a for role in ("ApiRole", "StreamRole", "JobsRole", "WebhooksRole") for s in _statements(t, role)
               for a in s["Action"]]
    assert "logs:CreateLogGroup" not in actions


def test_every_alarm_notifies_the_topic_and_watches_what_exists(template):
    """#24 "Deliver": alarms on API 5xx, throttles, the stream's iterator age, the failure queues,
    the due backlog and the reconciliations, each with an action; each metric's dimensions name
    resources of this template, and each of the app's own metrics is one the code emits."""
    t = json.loads(template.read_text())["Resources"]
    alarms = {k: v["Properties"] for k, v in t.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert t["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert t["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    functions = {k for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"}
    api = t["RestAPI"]["Properties"]
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        if alarm["Namespace"] == "AWS/Lambda":
            assert dims["FunctionName"]["Ref"] in functions, name
        elif alarm["Namespace"] == "AWS/SQS":
            queue = dims["QueueName"]["Fn::GetAtt"]
            assert t[queue[0]]["Type"] == "AWS::SQS::Queue" and queue[1] == "QueueName"
        elif alarm["Namespace"] == "AWS/ApiGateway":
            assert dims == {"ApiName": api["Name"], "Stage": api["StageName"]}
        elif alarm["Namespace"] == "AWS/WAFV2":
            acl = t["ApiFirewall"]["Properties"]
            rules = [r["VisibilityConfig"]["MetricName"] for r in acl["Rules"]]
            assert dims["WebACL"] == acl["VisibilityConfig"]["MetricName"] and dims["Rule"] in rules, name
        else:
            assert alarm["Namespace"] == "Loyalty" and dims == {"service": "loyalty"}, name
            assert f'"{alarm["MetricName"]}"' in source, name          # a metric the app emits
    watched = {(a["Namespace"], a["MetricName"]) for a in alarms.values()}
    assert {("AWS/ApiGateway", "5XXError"), ("AWS/Lambda", "Throttles"), ("AWS/Lambda", "IteratorAge"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("Loyalty", "DueBacklogDays"),
            ("Loyalty", "ReconciliationMismatches"), ("Loyalty", "Throttles"),
            ("Loyalty", "DatabaseUnavailable")} <= watched
    assert {f"{f}ThrottlesAlarm" for f in functions} <= set(alarms)
    assert {"EventsDeadLetterQueueAlarm", "JobsDeadLetterQueueAlarm", "WebhooksDeadLetterQueueAlarm",
            "DispatchDomainEventsIteratorAgeAlarm"} <= set(alarms)
    assert "DeliverWebhooksIteratorAgeAlarm" not in alarms                 # an SQS consumer, not a stream's


def test_each_caller_is_held_to_its_own_rate_and_the_stage_is_sized_for_the_flash(template):
    """#24 item 9: the stage limit is the load model's (10,000 requests a second at a flash), and a
    WAF web ACL on the stage holds each key id, bearer token and address to its own rate, answered
    429 with Retry-After, so one program's flood cannot take the stage from the others."""
    whole = json.loads(template.read_text())
    params, t = whole["Parameters"], whole["Resources"]
    assert params["ApiRateLimit"]["Default"] >= 10_000 and params["ApiBurstLimit"]["Default"] >= 5_000
    acl = t["ApiFirewall"]["Properties"]
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    counted = {}
    for rule in acl["Rules"]:
        statement = rule["Statement"]["RateBasedStatement"]
        assert statement["Limit"]["Ref"] in params and statement["EvaluationWindowSec"] == 60
        keys = statement.get("CustomKeys", [])
        counted[rule["Name"]] = keys[0]["Header"]["Name"] if keys else statement["AggregateKeyType"]
        block = rule["Action"]["Block"]["CustomResponse"]
        assert block["ResponseCode"] == 429 and block["ResponseHeaders"][0]["Name"] == "Retry-After"
        assert block["CustomResponseBodyKey"] in acl["CustomResponseBodies"]
    assert counted == {"PerApiKey": "x-api-key", "PerToken": "authorization", "PerIp": "IP"}
    association = t["ApiFirewallAssociation"]
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiFirewall", "Arn"]}
    stage = t["RestAPI"]["Properties"]["StageName"]
    assert association["Properties"]["ResourceArn"]["Fn::Sub"].endswith("/restapis/${RestAPI}/stages/" + stage)


def test_every_path_answers_preflights_through_the_api_function(template):
    """API Gateway routes a method it has no entry for nowhere (403): every path has OPTIONS, handed to
    the API function like its other methods, whose middleware answers for the console's origin only
    (chalicelib/api/cors.py; over HTTP: tests/e2e/test_cors_http.py)."""
    t = json.loads(template.read_text())["Resources"]
    paths = t["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert len(paths) > 100
    for path, methods in paths.items():
        others = [m for m in methods if m not in ("options", "x-amazon-apigateway-any-method")]
        assert others and "options" in methods, path
        integration = methods["options"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        assert integration == methods[others[0]]["x-amazon-apigateway-integration"], path
    env = t["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["CONSOLE_ORIGIN"] == {"Ref": "ConsoleOrigin"}
    assert {"ConsoleBucket", "ConsoleDistribution", "ConsoleHeadersPolicy"} <= set(t)
