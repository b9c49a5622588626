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
    functions = [k for k, v in t.items() if v["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        env = t[name]["Properties"]["Environment"]["Variables"]
        assert env["MAIN_TABLE"] == {"Ref": "MainTable"} and env["STAGE"] == "prod"
        assert env["JWT_SECRET"].startswith("{{resolve:secretsmanager:loyalty/prod")
    assert t["ReportsBucket"]["Type"] == "AWS::S3::Bucket"


def test_the_gateways_own_errors_are_problem_json_and_echo_nothing(template):
    api = json.loads(template.read_text())["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::Serverless::Api"
    responses = api["Properties"]["GatewayResponses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    for response in responses.values():
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
        body = response["ResponseTemplates"]["application/json"]
        assert "Authorization" not in body and "$input" not in body
