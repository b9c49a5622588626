"""Build the deployable template: ``chalice package`` merged with what Chalice cannot express.

``python -m infra.build --stage dev --out build`` (what ``make package`` runs) writes
``build/sam.json`` and ``build/deployment.zip``. The merge adds:

* the DynamoDB tables from :mod:`chalicelib.db.tables` (the same specs the local stack and
  the tests use), the reports bucket and the stream dead-letter queue;
* on every stream handler: the real stream ARN and the event-source settings Chalice cannot set
  (``ReportBatchItemFailures``, bisect on error, bounded retries and record age, an SQS
  on-failure destination) — the values the local stream pump (:data:`devstack.pump.MAPPING`) obeys;
* on every function: table, bucket and queue environment variables and a role of its kind (API,
  stream, jobs, webhooks) with only the actions and resources that kind uses (:mod:`infra.iam`);
  the API and ``deliver-webhooks`` alone may read the secret ``loyalty/<stage>``, at cold start
  (never an environment variable);
* the API function's timeout below API Gateway's 29 s, and reserved concurrency for the stream
  consumer and every job, so that a flood of API requests cannot take every execution of the
  account from them (:data:`API_TIMEOUT_SECONDS`, :data:`RESERVED_CONCURRENCY`);
* each job's timeout and memory for what it does (:data:`JOB_SIZES`); the jobs queue that carries
  a run's continuation when it stops at its deadline, consumed by ``continue-job`` (with a
  dead-letter queue);
* the webhooks queue (with a dead-letter queue after :data:`chalicelib.webhooks.domain.MAX_ATTEMPTS`
  receives), which the stream's fan-out and the API's replays send to and ``deliver-webhooks``
  consumes as a kind of its own (``webhooks``), reporting its failed messages
  (``ReportBatchItemFailures``) with a bounded concurrency (:data:`WEBHOOKS_CONCURRENCY`);
* alarms on the API, throttles, the stream, the dead-letter queues, the due backlog and the
  reconciliations, all notifying one topic, and every function's log group with a retention
  (:mod:`infra.alarms`);
* the operations console in a private bucket behind CloudFront, with its headers, and the one
  origin the API answers cross-origin calls for (:mod:`infra.hosting`);
* the reports bucket refuses plain HTTP; the API stage is throttled and writes JSON access logs
  without query strings (:mod:`infra.gateway`), and a WAF web ACL holds each caller (key id,
  bearer token, address) to a rate of its own (:mod:`infra.waf`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from infra import alarms, hosting, iam, waf, warm
from infra.gateway import GATEWAY_PARAMETERS, gateway_stage_settings, rest_api_settings
from infra.stream import REDRIVE_FUNCTION, redrive_properties, stream_resources

ROLES = {"api": "ApiRole", "stream": "StreamRole", "jobs": "JobsRole", "webhooks": "WebhooksRole"}
WITH_EXTENSION = "WithSecretsExtension"
RUNTIME = "python3.11"          # the Lambda runtime chalice packages for (matches the build Python)
ROOT = Path(__file__).resolve().parent.parent
# API Gateway answers 504 after 29 s whatever the Lambda does: the API function stops before, and a
# request stops retrying earlier still, when one more AWS call could take it past the Lambda's end
# (chalicelib.api.endpoint: 25 s less 12 s, at most REQUEST_BUDGET_SECONDS).
API_TIMEOUT_SECONDS = 25
# Executions kept for each function of a kind (Lambda's account-wide pool is shared with the API,
# which takes what is left). The stream consumer: stream shards x ParallelizationFactor (1, so a
# member's events stay in order: devstack.pump.PARALLELIZATION), ~28 shards at the flash peak
# (14,000 events a second: docs/scale.md), room for 50 (shards split as the table's partitions do). A job: its run and one overlapping run (the next
# schedule, or EventBridge's retry); more would only contend for the same due items. The numbers
# and their reasons: docs/engineers/deploy.md.
# deliver-webhooks: WEBHOOKS_CONCURRENCY, below.
RESERVED_CONCURRENCY = {"stream": 50, "jobs": 2}
# continue-job runs the parts a stopped run fans out to, one per due shard, side by side.
CONTINUATIONS_CONCURRENCY = 8           # chalicelib.db.due.LANES
# Each job function's (timeout s, memory MB) for what it does. A run works to its timeout less a
# minute (chalicelib/jobs.py MARGIN_SECONDS) and then continues through the jobs queue, so the
# timeout is the length of one part, not of the job. Due work (expiry, reviews, reminders) is a
# conditional transaction per item, mostly waiting on DynamoDB: 15-minute parts at 1 GB (more
# memory is more CPU for the items' JSON). The 5-minute hold sweeps stop before the next sweep.
# Reconciliations read every posting in one run (#24 item 8 makes them incremental): the longest
# part and a whole vCPU. Generation hashes and encrypts card secrets: the most memory, as before.
# The inflation check reads a few items per program. continue-job runs any job's next part.
DUE_WORK, SWEEP, AUDIT = (900, 1024), (240, 512), (900, 1769)
JOB_SIZES = {
    "member-lifecycle": DUE_WORK, "points-expiry": DUE_WORK, "points-reminders": DUE_WORK,
    "tier-review": DUE_WORK, "membership-expiry": DUE_WORK, "tier-reminders": DUE_WORK,
    "stored-value-bonus-expiry": DUE_WORK, "continue-job": DUE_WORK, "coupon-expiry": DUE_WORK, "coupon-issues": DUE_WORK,
    "coupon-owed": DUE_WORK,
    "points-holds": SWEEP, "stored-value-holds": SWEEP, "gift-card-holds": SWEEP, "coupon-holds": SWEEP,
    "checkout-lapse": SWEEP,
    "points-reconcile": AUDIT, "stored-value-reconcile": AUDIT, "gift-card-reconcile": AUDIT, "coupon-reconcile": AUDIT,
    "points-inflation": (120, 256), "gift-card-batches": (900, 3008),
    # exports stream rows to S3 in 8 MiB parts (an XLSX is a temporary file of one part's run):
    # 15-minute parts at 1 GB, mostly waiting on DynamoDB pages
    "exports": DUE_WORK,
}
JOBS_QUEUE_VISIBILITY_SECONDS = 6 * 900       # Lambda's advice for an SQS source: 6x the timeout
# deliver-webhooks: a batch of 10 posts side by side, each at most 3 s to connect and 5 s to answer
# (chalicelib.webhooks.domain), so a batch takes seconds; 60 s leaves room for a batch whose
# subscribers are all slow. 512 MB: ten HTTPS connections and their TLS at once.
WEBHOOKS_TIMEOUT_SECONDS, WEBHOOKS_MEMORY_MB = 60, 512
# deliver-webhooks' executions, reserved and the most its event source mapping invokes at once
# (ScalingConfig.MaximumConcurrency, kept equal so that the mapping never has more batches in
# flight than the function may run: those would be throttled and come back as receives, bringing
# each message nearer its dead-letter queue). 20 x 10 posts side by side: 200 outgoing requests,
# enough for the flash's events to each program's few subscribers while a slow receiver (5 s a post)
# holds a batch, and few enough that a backlog of retries cannot take the account's executions.
WEBHOOKS_CONCURRENCY = 20
WEBHOOKS_QUEUE_VISIBILITY_SECONDS = 6 * WEBHOOKS_TIMEOUT_SECONDS    # Lambda's advice, as for the jobs queue
# The SQS sources of the app (by name): the kind each runs as and the template's queue it consumes.
SQS_SOURCES = {"continue-job": ("jobs", "JobsQueue"), "deliver-webhooks": ("webhooks", "WebhooksQueue")}


def _cfn_name(name: str) -> str:
    from chalice.utils import to_cfn_resource_name
    return to_cfn_resource_name(name)


def merge_template(stage: str) -> dict[str, Any]:
    os.environ.setdefault("STAGE", stage)
    from chalice.app import DynamoDBEventConfig, SQSEventConfig

    import app as app_module
    from chalicelib.db.tables import TABLES, table_of_stream
    from devstack.pump import MAPPING

    app = app_module.app
    resources: dict[str, Any] = {}
    for spec in TABLES:
        table = spec.cloudformation(keep_retiring=os.environ.get("KEEP_RETIRING_INDEXES") == "1")
        table["Properties"]["TableName"] = spec.physical_name_for(stage)
        resources[spec.logical_id] = table
    resources["ReportsBucket"] = {
        "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LifecycleConfiguration": {"Rules": [{"Id": "expire-exports", "Status": "Enabled",
                                                  "ExpirationInDays": 30}]},
        }}
    from chalicelib.api.gateway import gateway_responses
    resources["RestAPI"] = {"DependsOn": ["ApiGatewayAccount"],
                            "Properties": {"GatewayResponses": gateway_responses(), **rest_api_settings()}}
    resources["EventsDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}}
    resources.update(jobs_resources())
    resources.update(webhooks_resources())
    resources.update(stream_resources())

    by_table = {spec.physical_name_for(stage): spec for spec in TABLES}
    kinds = {"APIHandler": "api", REDRIVE_FUNCTION: "stream"}
    names = {_cfn_name(source.name): source.name for source in app.event_sources}
    for source in app.event_sources:
        name = _cfn_name(source.name)
        kinds[name] = "stream" if isinstance(source, DynamoDBEventConfig) else "jobs"
        if isinstance(source, SQSEventConfig):          # the template's own queue in place of the placeholder
            kinds[name], resources[name] = sqs_source(source.name)
        if isinstance(source, DynamoDBEventConfig):
            spec = by_table[table_of_stream(source.stream_arn)]
            settings = {k: v for k, v in MAPPING.items() if k != "BatchSize"}
            settings["StartingPosition"] = source.starting_position
            resources[name] = {"Properties": {"Events": {f"{name}DynamodbEventSource": {"Properties": {
                "Stream": {"Fn::GetAtt": [spec.logical_id, "StreamArn"]},
                **settings,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}},
            }}}}}
    env = {spec.env_var: {"Ref": spec.logical_id} for spec in TABLES}
    env.update({
        "REPORTS_BUCKET": {"Ref": "ReportsBucket"},
        "EVENTS_DLQ_URL": {"Ref": "EventsDeadLetterQueue"},
        "JOBS_QUEUE_URL": {"Ref": "JobsQueue"},
        "WEBHOOKS_QUEUE_URL": {"Ref": "WebhooksQueue"},
        "WEBHOOKS_DLQ_URL": {"Ref": "WebhooksDeadLetterQueue"},
        # Traces keep timings, never replies or errors (revealed phones, one-time secrets).
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
    })
    for name, kind in kinds.items():
        variables = dict(env)
        props = resources.setdefault(name, {}).setdefault("Properties", {})
        if kind in ("api", "webhooks"):     # the API signs and verifies, deliver-webhooks decrypts signing
            # secrets with a key derived from the master secret: they alone read the secret
            variables.update({"SECRETS_NAME": f"loyalty/{stage}", "REQUIRE_SECRETS": "true",
                              # with the secrets extension's layer, the secret is read over local
                              # HTTP, not by a second botocore client (chalicelib/shared/secrets.py)
                              "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": {
                                  "Fn::If": [WITH_EXTENSION, "2773", {"Ref": "AWS::NoValue"}]}})
            props["Layers"] = {"Fn::If": [WITH_EXTENSION, [{"Ref": "SecretsExtensionLayerArn"}],
                                          {"Ref": "AWS::NoValue"}]}
        if kind == "api":                   # the console's origin, the one its CORS answers (api/cors.py)
            variables.update(hosting.api_environment())
        if kind == "stream":                # the folds' one marker a record: the deploys across it (events/cutover.py)
            variables["FOLD_MARKERS_CUTOVER"] = {"Ref": "FoldMarkersCutover"}
        props["Environment"] = {"Variables": variables}
        props["Role"] = {"Fn::GetAtt": [ROLES[kind], "Arn"]}
        props.update(function_settings(name, kind, names.get(name)))
    for kind, role in ROLES.items():
        resources[role] = iam.role(kind, stage)
    # Chalice's own role is left without permissions: no function uses it.
    resources["DefaultRole"] = {"Properties": {"Policies": []}}
    resources["ReportsBucketPolicy"] = iam.tls_only_bucket_policy("ReportsBucket")
    resources.update(gateway_stage_settings())
    alarms.add(resources, kinds, stage, ("EventsDeadLetterQueue", "JobsDeadLetterQueue", "WebhooksDeadLetterQueue"))
    waf.add(resources, stage, alarms.alarm)
    warm.add(resources)
    outputs = {"MainTableName": {"Value": {"Ref": "MainTable"}},
               "EventsTableName": {"Value": {"Ref": "EventsTable"}},
               "ReportsBucketName": {"Value": {"Ref": "ReportsBucket"}},
               "EventsDeadLetterQueueUrl": {"Value": {"Ref": "EventsDeadLetterQueue"}},
               "JobsQueueUrl": {"Value": {"Ref": "JobsQueue"}},
               "WebhooksQueueUrl": {"Value": {"Ref": "WebhooksQueue"}}}
    hosting.add(resources, outputs, stage)
    return {"Parameters": {**GATEWAY_PARAMETERS, **alarms.parameters(stage), **waf.parameters(), **warm.parameters(),
                           **hosting.parameters(),
                           "FoldMarkersCutover": {
                "Type": "String", "Default": "",
                "Description": "ISO instant with its zone after which no code folding under older markers "
                               "(per consumer, per event) ran (chalicelib/events/cutover.py): events created "
                               "before it are checked for those markers; empty: every event is (safe, a read each)"},
                           "SecretsExtensionLayerArn": {
                "Type": "String", "Default": "",
                "Description": "the AWS Parameters and Secrets Lambda Extension's layer ARN for the region "
                               "(AWS publishes one per region and partition); empty: the API reads its "
                               "secret with the SDK"}},
            "Conditions": {WITH_EXTENSION: {"Fn::Not": [{"Fn::Equals": [{"Ref": "SecretsExtensionLayerArn"}, ""]}]},
                           **alarms.CONDITIONS, **warm.conditions(), **hosting.conditions()},
            "Resources": resources,
            "Outputs": outputs}


def sqs_source(source_name: str) -> tuple[str, dict[str, Any]]:
    """The kind of the function of an SQS source, and its event source pointed at the template's
    queue (:data:`SQS_SOURCES`); ``deliver-webhooks`` reports its failed messages (the rest are
    deleted) and is invoked at most :data:`WEBHOOKS_CONCURRENCY` times at once."""
    if source_name not in SQS_SOURCES:
        raise SystemExit(f"{source_name}: an SQS source needs its kind and queue in infra/build.py SQS_SOURCES")
    kind, queue = SQS_SOURCES[source_name]
    name = _cfn_name(source_name)
    mapping: dict[str, Any] = {"Queue": {"Fn::GetAtt": [queue, "Arn"]}}
    if kind == "webhooks":
        mapping.update({"FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "ScalingConfig": {"MaximumConcurrency": WEBHOOKS_CONCURRENCY}})
    return kind, {"Properties": {"Events": {f"{name}SqsEventSource": {"Properties": mapping}}}}


def function_settings(name: str, kind: str, source_name: str | None) -> dict[str, Any]:
    """A function's timeout, memory and reserved concurrency, by its kind and name."""
    props: dict[str, Any] = {}
    if kind == "api":
        props["Timeout"] = API_TIMEOUT_SECONDS
    elif kind in RESERVED_CONCURRENCY:
        props["ReservedConcurrentExecutions"] = RESERVED_CONCURRENCY[kind]
    if kind == "jobs":
        props["Timeout"], props["MemorySize"] = JOB_SIZES[str(source_name)]
    if kind == "webhooks":
        props.update({"Timeout": WEBHOOKS_TIMEOUT_SECONDS, "MemorySize": WEBHOOKS_MEMORY_MB,
                      "ReservedConcurrentExecutions": WEBHOOKS_CONCURRENCY})
    if source_name == "continue-job":
        props["ReservedConcurrentExecutions"] = CONTINUATIONS_CONCURRENCY
    if name == REDRIVE_FUNCTION:
        props.update(redrive_properties())
    return props


def jobs_resources() -> dict[str, Any]:
    """The jobs queue (continuations) and its dead-letter queue."""
    return {
        "JobsDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}},
        "JobsQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": JOBS_QUEUE_VISIBILITY_SECONDS, "SqsManagedSseEnabled": True,
            # a part that fails three times stops the chain; the next scheduled run starts afresh
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]},
                              "maxReceiveCount": 3}}},
    }


def webhooks_resources() -> dict[str, Any]:
    """The webhooks queue and its dead-letter queue: a message is received once per attempt (the
    handler sets a failed one's visibility to the retry schedule's wait), so after
    :data:`~chalicelib.webhooks.domain.MAX_ATTEMPTS` receives it is exhausted and moves to the
    dead-letter queue, kept 14 days for a redrive (and alarmed: :mod:`infra.alarms`)."""
    from chalicelib.webhooks.domain import MAX_ATTEMPTS, RECEIVES_PER_ATTEMPT
    return {
        "WebhooksDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}},
        "WebhooksQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": WEBHOOKS_QUEUE_VISIBILITY_SECONDS, "SqsManagedSseEnabled": True,
            "MessageRetentionPeriod": 345600,       # 4 days: past the retry schedule's ~28 hours
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["WebhooksDeadLetterQueue", "Arn"]},
                              "maxReceiveCount": RECEIVES_PER_ATTEMPT * MAX_ATTEMPTS}}},
    }


def build(stage: str, out: Path) -> Path:
    """Run chalice package with the merge template; returns the path of sam.json."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(merge_template(stage), f, indent=2)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "cn-north-1")}
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template", f.name, str(out)],
                   cwd=ROOT, env=env, check=True)
    os.unlink(f.name)
    add_bytecode(out / "deployment.zip")
    return out / "sam.json"


def add_bytecode(package: Path) -> int:
    """Put compiled bytecode next to every module of the deployment package.

    Lambda's code directory is read-only, so without it every cold start compiles every module it
    imports (ours and the libraries'). The bytecode is 'unchecked-hash': valid whatever the file
    times after Lambda unpacks the archive. It must match the runtime's Python (checked below).
    Returns how many modules were compiled.
    """
    import compileall
    import py_compile
    import shutil
    import zipfile
    # chalice package targets the runtime of the Python that runs it; refuse any other pairing.
    if f"python{sys.version_info.major}.{sys.version_info.minor}" != RUNTIME:
        raise SystemExit(f"build with {RUNTIME}: bytecode is specific to the Python version")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(package) as archive:
            archive.extractall(tmp)
        compileall.compile_dir(tmp, quiet=2, workers=0,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        compiled = sum(1 for _ in Path(tmp).rglob("*.pyc"))
        package.unlink()
        shutil.make_archive(str(package.with_suffix("")), "zip", tmp)
    return compiled


def main() -> int:
    parser = argparse.ArgumentParser(prog="infra.build")
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("--out", default="build", type=Path)
    args = parser.parse_args()
    print(build(args.stage, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
