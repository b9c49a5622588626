"""Alarms, where they go, and how long logs are kept (#24 "Deliver": alarms, logs with a retention).

Every alarm notifies one SNS topic (``AlarmTopic``), with an e-mail subscription when the
``AlarmEmail`` parameter is set (an operator confirms it once; a pager or chat hook subscribes to
the same topic). The alarms, and what each says is wrong:

* ``Api5xxAlarm``: more than 1% of the API's requests answered 5xx over two 5-minute periods;
* ``ApiThrottledAlarm``: the app answered 503 because DynamoDB throttled it (the ``Throttles``
  metric of :mod:`chalicelib.api.endpoint`); the gateway's own 429s are the WAF rule's, below;
* ``ApiDatabaseUnavailableAlarm``: the app answered 503 because a DynamoDB call timed out or
  could not connect (the ``DatabaseUnavailable`` metric of :mod:`chalicelib.api.endpoint`);
* ``<Function>ThrottlesAlarm``: Lambda refused an invocation of that function for concurrency
  (the account's pool, or the function's reserved executions, is too small);
* ``<Function>IteratorAgeAlarm``: a stream consumer is more than 5 minutes behind its stream;
* ``<Queue>Alarm``: a message is waiting in a dead-letter queue (a stream batch that failed its
  retries, a job's continuation that failed three times, a webhook message whose every attempt
  failed): each one is work to redrive;
* ``DueBacklogAlarm``: due work (expiries, reviews, reminders) is days behind (``DueBacklogDays``,
  emitted by every job run, :mod:`chalicelib.jobs`);
* ``ReconciliationMismatchesAlarm``: a reconciliation job found a ledger that does not balance
  (``ReconciliationMismatches``, :mod:`chalicelib.ledger.reconciliation`);
* ``<Rule>RateLimitedAlarm`` (added by :mod:`infra.waf`): a caller is held to its rate limit
  (the gateway's 429s).

Every function writes to a log group of the stack (Lambda's ``LoggingConfig``), and the API's
access log too, kept ``LogRetentionDays``: by default 30 days on ``dev`` (for debugging, nothing
else), 365 on ``prod``: China's Cybersecurity Law (art. 21) asks operators to keep network logs
no less than six months, and 180 days can fall short of six calendar months; 365 is the next
retention CloudWatch offers. A function can no longer create a log group of its own (IAM grants
it none), so no log is ever kept forever.
"""

from __future__ import annotations

from typing import Any

HAS_EMAIL = "HasAlarmEmail"
TOPIC = "AlarmTopic"
NAMESPACE = "Loyalty"                    # the app's metrics (chalicelib/shared/observability.py)
SERVICE = [{"Name": "service", "Value": "loyalty"}]
# The oldest due item of any kind a run read, in days: past this, the jobs are not keeping up
# (a due day is a program's day, so one day behind in UTC is normal across time zones).
BACKLOG_ALARM_DAYS = 2
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000
API_5XX_RATE = 0.01
LOG_RETENTION_DAYS = {"dev": 30, "prod": 365}
RETENTIONS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
              3288, 3653]      # what CloudWatch Logs accepts


def parameters(stage: str) -> dict[str, Any]:
    return {
        "AlarmEmail": {"Type": "String", "Default": "",
                       "Description": "an address the alarms are mailed to (confirmed once); empty: none"},
        "LogRetentionDays": {"Type": "Number", "Default": LOG_RETENTION_DAYS.get(stage, 30),
                             "AllowedValues": RETENTIONS,
                             "Description": "days every function's and the API's access logs are kept"},
    }


CONDITIONS = {HAS_EMAIL: {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}}


def api_name(stage: str) -> str:
    """The REST API's name, which its CloudWatch metrics carry as ``ApiName``."""
    return f"loyalty-{stage}"


def alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], statistic: str,
          threshold: float, periods: int = 1, period: int = 300,
          comparison: str = "GreaterThanThreshold") -> dict[str, Any]:
    """A CloudWatch alarm that notifies the alarm topic when it fires and when it clears."""
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": dimensions, "Statistic": statistic, "Period": period, "EvaluationPeriods": periods,
        "Threshold": threshold, "ComparisonOperator": comparison, "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": TOPIC}], "OKActions": [{"Ref": TOPIC}]}}


def add(resources: dict[str, Any], kinds: dict[str, str], stage: str, queues: tuple[str, ...]) -> None:
    """Add the topic, the alarms and the log groups to ``resources``, where ``kinds`` names every
    function (logical id -> api, stream, jobs or webhooks) and ``queues`` the dead-letter queues. Only
    a stream kind's function with an event source reads a stream (``IteratorAge``): ``redrive-events``
    has none, and ``deliver-webhooks``' SQS source is of the kind ``webhooks``."""
    resources[TOPIC] = {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": f"loyalty {stage} alarms"}}
    resources["AlarmEmailSubscription"] = {"Type": "AWS::SNS::Subscription", "Condition": HAS_EMAIL, "Properties": {
        "TopicArn": {"Ref": TOPIC}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}}
    resources["RestAPI"]["Properties"]["Name"] = api_name(stage)
    api = [{"Name": "ApiName", "Value": api_name(stage)}, {"Name": "Stage", "Value": stage}]
    resources["Api5xxAlarm"] = alarm(
        "more than 1% of API requests failed with 5xx (docs/engineers/deploy.md, alarms)",
        "AWS/ApiGateway", "5XXError", api, "Average", API_5XX_RATE, periods=2)
    resources["ApiThrottledAlarm"] = alarm(
        "DynamoDB throttled API requests, answered 503 (a hot key, or the table's account limits)",
        NAMESPACE, "Throttles", SERVICE, "Sum", 0)
    resources["ApiDatabaseUnavailableAlarm"] = alarm(
        "DynamoDB calls of API requests timed out or could not connect, answered 503 (may or may not "
        "have been applied: callers retry with their keys)", NAMESPACE, "DatabaseUnavailable", SERVICE, "Sum", 0)
    for name, kind in sorted(kinds.items()):
        function = [{"Name": "FunctionName", "Value": {"Ref": name}}]
        resources[f"{name}ThrottlesAlarm"] = alarm(
            f"Lambda refused invocations of {name} for concurrency", "AWS/Lambda", "Throttles", function, "Sum", 0)
        if kind == "stream" and "Events" in resources[name].get("Properties", {}):    # a stream's consumer
            resources[f"{name}IteratorAgeAlarm"] = alarm(
                f"{name} is more than 5 minutes behind its stream", "AWS/Lambda", "IteratorAge", function,
                "Maximum", ITERATOR_AGE_ALARM_MS, periods=2)
        resources[f"{name}LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{name}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"}}}
        resources[name].setdefault("Properties", {})["LoggingConfig"] = {"LogGroup": {"Ref": f"{name}LogGroup"}}
    for queue in queues:
        resources[f"{queue}Alarm"] = alarm(
            f"a message waits in {queue}: work that failed its retries, to redrive", "AWS/SQS",
            "ApproximateNumberOfMessagesVisible", [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Maximum", 0)
    resources["DueBacklogAlarm"] = alarm(
        "due work (expiries, reviews, reminders, holds) is not keeping up: its oldest item has waited too "
        "many days (docs/engineers/deploy.md, the jobs)", NAMESPACE, "DueBacklogDays", SERVICE, "Maximum",
        BACKLOG_ALARM_DAYS, periods=2, period=3600, comparison="GreaterThanOrEqualToThreshold")
    resources["ReconciliationMismatchesAlarm"] = alarm(
        "a reconciliation found a ledger that does not balance (its job run, GET /v1/jobs/{job}/runs, names the accounts)",
        NAMESPACE, "ReconciliationMismatches", SERVICE, "Sum", 0, period=3600)
