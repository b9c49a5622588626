"""The whole system on one machine: emulator, tables, API (behind each caller's rate limit), stream
pumps, scheduler.

Used by ``make run`` (``python -m devstack``), by the end-to-end tests and by the benchmark, so
all three run the same thing. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_BACKLOG = 512
WEBHOOKS_WORKERS = 8            # batches of webhook deliveries side by side (the deployed function runs 20)
REGION = "cn-north-1"
SLOW_STOP_SECONDS = 3.0        # a part that takes longer to stop is named on stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _problem_error_response(handler: Any, error: Any) -> None:
    """The local gateway's own refusals (no such route) as problem+json, as the deployed API
    Gateway answers them (infra: gateway responses); never echoing the Authorization header."""
    from chalicelib.api.gateway import PROBLEM_JSON, correlation_id_of, problem_body
    status = 404 if error.CODE == 403 else error.CODE
    detail = "no operation at this path and method" if status == 404 else "the request was refused"
    body = problem_body(status, detail, handler.path.split("?", 1)[0]).encode()
    asked = {k.lower(): v for k, v in handler.headers.items()}
    handler._send_http_response(status, {"Content-Type": PROBLEM_JSON,
                                         "X-Correlation-Id": correlation_id_of(asked, None)}, body)


def _log_without_query(handler: Any, code: Any = "-", size: Any = "-") -> None:
    """The local access log: method, path and status, never the query string (a lookup's phone)."""
    handler.log_message('"%s %s" %s %s', handler.command, handler.path.split("?", 1)[0], str(code), str(size))


def port_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def local_environment(emulator_url: str, stage: str = "local") -> dict[str, str]:
    """The environment the app sees locally: the .chalice local stage plus the emulator endpoint."""
    env = {}
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env.update(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    env.update({
        "STAGE": stage, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": emulator_url,
        "DYNAMODB_ENDPOINT": emulator_url, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    })
    # The emulator answers one request at a time: under a burst a call waits for its turn, which
    # DynamoDB never makes it do, so a read may take longer here than the deployed 2 s allow. A
    # caller's own value is kept (the benchmarks set minutes): the stack puts this environment in
    # its process, where the API, the stream pumps and the jobs run, so 5 s used to replace it.
    env["AWS_READ_TIMEOUT_SECONDS"] = os.environ.get("AWS_READ_TIMEOUT_SECONDS") or env.get("AWS_READ_TIMEOUT_SECONDS", "5")
    return env


@dataclass
class LocalStack:
    api_port: int = 8000
    emulator_port: int = 4566
    data_dir: Path | None = None
    stage: str = "local"
    pumps_enabled: bool = True
    scheduler_enabled: bool = True
    snapshot_seconds: float = 5.0
    enforce_iam: bool = True             # each function calls the emulator as its role (devstack/access.py)
    # each caller's rate at the gateway (devstack/ratelimit.py): None, the template's limits; {}: none
    rate_limits: dict[str, int] | None = None
    quiet: bool = True
    pumps: list = field(default_factory=list)
    scheduler: Any = None
    jobs_poller: Any = None
    webhooks_poller: Any = None
    credentials: dict[str, Any] = field(default_factory=dict)

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # start -----------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        from devstack import emulator
        emulator.install()
        import logging

        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").setLevel(logging.WARNING)   # the emulator's access log is noise
        # Keep-alive, as DynamoDB's endpoint: each SDK call no longer opens a connection and a
        # server thread (measured, 1,100 calls from one client: 18% less CPU in all).
        MotoRequestHandler.protocol_version = "HTTP/1.1"

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.emulator_port, verbose=not self.quiet)
        self._moto.start()
        os.environ.update(local_environment(self.emulator_url, self.stage))
        from devstack import access
        access.sign_as_the_running_function()
        from chalicelib.db import backend
        backend.reset()
        self._create_resources()
        if self.enforce_iam:
            self._enforce_iam()
        if self.data_dir:
            self._restore()
        self._migrate()
        import app as app_module
        self.app_module = app_module
        from devstack.secrets_extension import SecretsExtension
        self.secrets_extension = SecretsExtension(self.client("secretsmanager"))
        from devstack.credentials import bootstrap
        self.credentials = bootstrap(self)       # before the API answers: callers read this file
        self._start_api()
        if self.pumps_enabled:
            self._start_pumps()
        if self.scheduler_enabled:
            self._start_scheduler()
        if self.data_dir:
            self._start_snapshots()
        return self

    def _migrate(self) -> None:
        """Old local data is migrated (db/migration.py), each step once."""
        from chalicelib.benefits.migration import migrate_open_entitlements
        from chalicelib.db.migration import migrate_all
        from chalicelib.ledger.listing import migrate_account_listing
        from chalicelib.merchants.migration import migrate_key_listing
        from chalicelib.orders.migration import migrate_order_parts
        from chalicelib.points.migration import migrate_growth_accounts
        from chalicelib.points.tables import LISTING as POINTS_LISTING
        from chalicelib.stored_value.counters import issuer_of
        from chalicelib.stored_value.tables import LISTING as STORED_VALUE_LISTING
        from chalicelib.tiers.migration import migrate_tier_listing
        names = list(self.table_names.values())
        moved = migrate_all(self.client("dynamodb"), names, self.table_names["main"], issuer_of)
        moved["order_parts"] = migrate_order_parts(self.client("dynamodb"), self.table_names["main"])
        moved["entitlement_coupons"] = migrate_open_entitlements(self.client("dynamodb"), self.table_names["main"])
        moved["tier_listing"] = migrate_tier_listing(self.client("dynamodb"), self.table_names["main"])
        moved["api_key_listing"] = migrate_key_listing(self.client("dynamodb"), self.table_names["main"])
        moved["account_listing"] = migrate_account_listing(self.client("dynamodb"), self.table_names["main"],
                                                           (POINTS_LISTING, STORED_VALUE_LISTING))
        moved["growth_accounts"] = migrate_growth_accounts(self.client("dynamodb"), self.table_names["main"])
        if any(any(step.values()) for step in moved.values()) and not self.quiet:
            print(f"migrated data: {moved}")

    def client(self, service: str, kind: str | None = None):
        """A client of the emulator, as the operator (anything goes) or as function kind ``kind``."""
        import boto3

        from devstack.access import OPERATOR_KEY, keys_of
        access_key, secret = keys_of(kind) if kind else OPERATOR_KEY
        return boto3.client(service, region_name=REGION, endpoint_url=self.emulator_url,
                            aws_access_key_id=access_key, aws_secret_access_key=secret)

    def _enforce_iam(self) -> None:
        """Each function kind's role from the template becomes a user of the emulator, which
        refuses what the role lacks (devstack/access.py)."""
        from chalicelib.db.tables import TABLES
        from chalicelib.shared.config import settings
        from devstack import access
        ddb, refs = self.client("dynamodb"), {}
        for spec in TABLES:
            table = ddb.describe_table(TableName=self.table_names[spec.key])["Table"]
            refs[f"{spec.logical_id}.Arn"] = table["TableArn"]
            if table.get("LatestStreamArn"):
                refs[f"{spec.logical_id}.StreamArn"] = table["LatestStreamArn"]
        partition = table["TableArn"].split(":")[1]
        refs["ReportsBucket.Arn"] = f"arn:{partition}:s3:::{settings().reports_bucket}"
        refs["EventsDeadLetterQueue.Arn"] = self.client("sqs").get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        refs["JobsQueue.Arn"] = self.jobs_queue_arn
        refs["WebhooksQueue.Arn"] = self.webhooks_queue_arn
        refs["WebhooksDeadLetterQueue.Arn"] = self.webhooks_dlq_arn
        access.enforce(self.stage, REGION, refs, f"loyalty-{self.stage}")

    def _create_resources(self) -> None:
        from chalicelib.db.tables import TABLES
        from chalicelib.shared.config import settings
        ddb = self.client("dynamodb")
        s = settings()
        self.table_names = {}
        self.stream_arns = {}
        existing = set(ddb.list_tables()["TableNames"])
        for spec in TABLES:
            name = spec.physical_name(s)
            self.table_names[spec.key] = name
            if name not in existing:
                ddb.create_table(**spec.create_table_kwargs(name))
                if spec.ttl_attribute:
                    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                        "Enabled": True, "AttributeName": spec.ttl_attribute})
            description = ddb.describe_table(TableName=name)["Table"]
            if description.get("LatestStreamArn"):
                self.stream_arns[spec.key] = description["LatestStreamArn"]
        s3 = self.client("s3")
        if s.reports_bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=s.reports_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        sqs = self.client("sqs")
        self.dlq_url = sqs.create_queue(QueueName=f"loyalty-{self.stage}-events-dlq")["QueueUrl"]
        os.environ["EVENTS_DLQ_URL"] = self.dlq_url            # what redrive-events reads (chalicelib/events/redrive.py)
        # where a job run that stops at its deadline puts its continuation (chalicelib/jobs.py)
        name = f"loyalty-{self.stage}-jobs"
        self.jobs_queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        self.jobs_queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.jobs_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        os.environ.update({"JOBS_QUEUE_URL": self.jobs_queue_url, "JOBS_QUEUE_ARN": self.jobs_queue_arn})
        self._create_webhooks_queues(sqs)

    def _create_webhooks_queues(self, sqs: Any) -> None:
        """The webhooks queue (the stream's fan-out and the API's replays send to it, deliver-webhooks
        consumes it) and its dead-letter queue, as the template has them (infra/build.py), but for
        the receives before the queue dead-letters a message (a backstop: deliver-webhooks sends an
        exhausted delivery's message there itself): from the retry schedule's attempts as this
        process reads them when the stack starts (``WEBHOOK_RETRY_SECONDS`` shortens the schedule
        locally), and a visibility of the function's timeout, so that a batch whose handler
        crashed comes back within a minute."""
        from chalicelib.webhooks.domain import max_receives
        from infra.build import WEBHOOKS_TIMEOUT_SECONDS

        def arn(url: str) -> str:
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.webhooks_dlq_url = sqs.create_queue(QueueName=f"loyalty-{self.stage}-webhooks-dlq")["QueueUrl"]
        self.webhooks_dlq_arn = arn(self.webhooks_dlq_url)
        attributes = {"VisibilityTimeout": str(WEBHOOKS_TIMEOUT_SECONDS),
                      "RedrivePolicy": json.dumps({"deadLetterTargetArn": self.webhooks_dlq_arn,
                                                   "maxReceiveCount": max_receives()})}
        name = f"loyalty-{self.stage}-webhooks"
        try:
            self.webhooks_queue_url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except sqs.exceptions.QueueNameExists:          # made by an earlier stack of this emulator
            self.webhooks_queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=self.webhooks_queue_url, Attributes=attributes)
        self.webhooks_queue_arn = arn(self.webhooks_queue_url)
        os.environ.update({"WEBHOOKS_QUEUE_URL": self.webhooks_queue_url,
                           "WEBHOOKS_QUEUE_ARN": self.webhooks_queue_arn, "WEBHOOKS_DLQ_URL": self.webhooks_dlq_url})

    def _start_api(self) -> None:
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer, create_local_server
        # Chalice writes headers and body in separate sends; with Nagle on, every keep-alive
        # response waits ~40 ms for a delayed ACK.
        ChaliceRequestHandler.disable_nagle_algorithm = True
        # socketserver's listen backlog is 5: a POS rush of 32 connections saw resets with no
        # answer. A thread per connection (ThreadingMixIn) and a real backlog serve it.
        ThreadedHTTPServer.request_queue_size = API_BACKLOG
        ChaliceRequestHandler._send_error_response = _problem_error_response
        ChaliceRequestHandler.log_request = _log_without_query
        config = Config.create(chalice_stage=self.stage, app_name="loyalty", project_dir=str(ROOT))
        from devstack.lambdas import answer_as
        from devstack.ratelimit import RateLimiter, install
        self.rate_limiter = RateLimiter(self.rate_limits)
        install(ChaliceRequestHandler, self.rate_limiter)
        from devstack import console
        console.install(ChaliceRequestHandler, ROOT / "console" / "dist")      # /console/: the built console
        self._api = create_local_server(self.app_module.app, config, "127.0.0.1", self.api_port)
        answer_as(self.app_module.app, "api")
        self._api_thread = threading.Thread(target=self._api.serve_forever, name="api", daemon=True)
        self._api_thread.start()

    def _start_pumps(self) -> None:
        self.attach_pumps()
        self._start_jobs_poller()
        self._start_webhooks_poller()

    def attach_pumps(self, start: bool = True) -> None:
        """A pump per stream handler; ``start=False`` runs none in the background, so that only
        :meth:`drain` delivers (the benchmark counts each operation's consumers that way)."""
        from chalice.app import DynamoDBEventConfig

        from chalicelib.db.tables import table_of_stream
        from devstack.lambdas import invoke
        from devstack.pump import Pump, StreamReader
        # The event source mapping reads the stream, and sends what fails to the queue, with the
        # function's role.
        streams = self.client("dynamodbstreams", "stream")
        ddb = self.client("dynamodb")
        sqs = self.client("sqs", "stream")
        for source in self.app_module.app.event_sources:
            if not isinstance(source, DynamoDBEventConfig):
                continue
            # As the deployed template does with GetAtt: the handler's ARN names a table; use
            # that table's current stream.
            arn = ddb.describe_table(TableName=table_of_stream(source.stream_arn))["Table"]["LatestStreamArn"]
            pump = Pump(arn, StreamReader(streams, arn, REGION),
                        lambda event, s=source: invoke(s.handler_string, s.name, event, "stream"),
                        lambda info: sqs.send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(info)),
                        batch_size=source.batch_size)
            if start:
                from devstack import emulator
                pump.start(writes=emulator.WRITES)      # the emulator runs in this process
            self.pumps.append(pump)

    def _start_jobs_poller(self) -> None:
        """Run job continuations from the jobs queue as ``continue-job`` (the deployed SQS event
        source), polling with the jobs role, as Lambda's mapping polls with the function's role."""
        from chalice.app import SQSEventConfig

        from devstack.lambdas import invoke
        from devstack.queues import QueuePoller
        from infra.build import JOB_SIZES
        [source] = [s for s in self.app_module.app.event_sources
                    if isinstance(s, SQSEventConfig) and s.name == "continue-job"]
        self.jobs_poller = QueuePoller(
            self.client("sqs", "jobs"), self.jobs_queue_url, self.jobs_queue_arn,
            lambda event: invoke(source.handler_string, source.name, event, "jobs", JOB_SIZES[source.name][0]),
            on_error=lambda e: print(f"job continuation failed: {e!r}", flush=True),
            batch_size=source.batch_size, workers=1, name="jobs-queue")
        self.jobs_poller.start()

    def _start_webhooks_poller(self) -> None:
        """Deliver the webhooks queue's messages as ``deliver-webhooks`` (kind ``webhooks``), in
        batches of its source's size, reporting failed messages (``ReportBatchItemFailures``: the
        handler has set their visibility to the retry wait), as the deployed mapping does. Four
        batches side by side, so that one slow receiver never holds up the others' deliveries."""
        from chalice.app import SQSEventConfig

        from devstack.lambdas import invoke
        from devstack.queues import QueuePoller
        from infra.build import WEBHOOKS_TIMEOUT_SECONDS
        [source] = [s for s in self.app_module.app.event_sources
                    if isinstance(s, SQSEventConfig) and s.name == "deliver-webhooks"]
        self.webhooks_poller = QueuePoller(
            self.client("sqs", "webhooks"), self.webhooks_queue_url, self.webhooks_queue_arn,
            lambda event: invoke(source.handler_string, source.name, event, "webhooks", WEBHOOKS_TIMEOUT_SECONDS),
            on_error=lambda e: print(f"webhook delivery failed: {e!r}", flush=True),
            batch_size=source.batch_size, workers=WEBHOOKS_WORKERS, report_failures=True,
            visibility_seconds=None, name="webhooks-queue")
        self.webhooks_poller.start()

    def _start_scheduler(self) -> None:
        from devstack.scheduler import Scheduler
        self.scheduler = Scheduler(self.scheduled_jobs(),
                                   on_error=lambda name, e: print(f"scheduled job {name} failed: {e!r}", flush=True))
        self.scheduler.start()

    def scheduled_jobs(self) -> list:
        """(name, schedule, invoke) for every ``@app.schedule`` handler of the app."""
        from chalice.app import ScheduledEventConfig

        from devstack.lambdas import invoke
        from devstack.scheduler import Schedule
        from infra.build import JOB_SIZES
        jobs = []
        for source in self.app_module.app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                expr = source.schedule_expression
                text = expr if isinstance(expr, str) else expr.to_string()
                jobs.append((source.name, Schedule.parse(text),
                             lambda event, s=source: invoke(s.handler_string, s.name, event, "jobs",
                                                            JOB_SIZES[s.name][0])))
        return jobs

    # persistence ---------------------------------------------------------------------------------
    def _restore(self) -> None:
        from chalicelib.shared.config import settings
        from devstack import snapshot
        snapshot.load(self.data_dir, REGION, list(self.table_names.values()), self.client("s3"),
                      [settings().reports_bucket])

    def save(self) -> int:
        from chalicelib.shared.config import settings
        from devstack import snapshot
        return snapshot.save(self.data_dir, REGION, list(self.table_names.values()), self.client("s3"),
                             [settings().reports_bucket])

    def _start_snapshots(self) -> None:
        from devstack import emulator
        self._snap_stop = threading.Event()

        def run() -> None:
            seen = emulator.usage().wcu
            while not self._snap_stop.wait(self.snapshot_seconds):
                now = emulator.usage().wcu
                if now != seen:
                    self.save()
                    seen = now
        self._snap_thread = threading.Thread(target=run, name="snapshots", daemon=True)
        self._snap_thread.start()

    # waiting and stopping -------------------------------------------------------------------------
    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every stream has been delivered (tests use this instead of sleeping)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.drain() == 0 and not p.queue for p in self.pumps):
                return
        raise TimeoutError("stream pump did not drain")

    def wait_webhooks_idle(self, timeout: float = 30.0) -> None:
        """Wait until the webhooks queue holds nothing: no message visible, in flight (a batch
        being delivered, or a failure waiting for its retry) or delayed; TimeoutError if it still
        does after ``timeout`` seconds."""
        sqs = self.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        deadline = time.monotonic() + timeout
        while True:
            found = sqs.get_queue_attributes(QueueUrl=self.webhooks_queue_url, AttributeNames=names)["Attributes"]
            if all(int(found.get(name, 0)) == 0 for name in names):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the webhooks queue is not idle: {found}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every part, in order, and say which part was slow (a stop that hangs is then
        named; ``kill -USR1`` on ``make run`` prints every thread's stack)."""
        workers = [*self.pumps, self.scheduler, self.jobs_poller, self.webhooks_poller]
        for worker in filter(None, workers):        # all told at once: their waits end together
            worker.signal_stop()
        if hasattr(self, "_snap_thread"):
            self._snap_stop.set()
        steps: list[tuple[str, Callable[[], Any]]] = [
            *((f"stream pump {i}", pump.stop) for i, pump in enumerate(self.pumps)),
            *((f"stream pump {i} drain", pump.drain) for i, pump in enumerate(self.pumps)),
            *((name, part.stop) for name, part in (("scheduler", self.scheduler), ("jobs poller", self.jobs_poller),
                                                   ("webhooks poller", self.webhooks_poller)) if part),
        ]
        if hasattr(self, "_snap_thread"):
            steps.append(("snapshots", lambda: self._snap_thread.join(timeout=10)))
        if self.data_dir:
            steps.append(("save", self.save))
        if hasattr(self, "_api"):
            steps.append(("API server", lambda: (self._api.shutdown(), self._api.server.server_close())))
        if hasattr(self, "secrets_extension"):
            steps.append(("secrets extension", self.secrets_extension.stop))
        steps.append(("emulator", self._moto.stop))
        for name, step in steps:
            began = time.monotonic()
            step()
            took = time.monotonic() - began
            if took > SLOW_STOP_SECONDS and not self.quiet:
                print(f"stopping: {name} took {took:.1f} s", file=sys.stderr, flush=True)
        from devstack import access
        access.relax()
