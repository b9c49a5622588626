"""The events stream's template resources beyond its mapping (``devstack.pump.MAPPING``).

* ``redrive-events`` (:mod:`chalicelib.events.redrive`), a function of the stream's kind (its role
  is the only one that reads the stream): run every hour by a schedule of its own, and on demand
  (``aws lambda invoke``), one at a time. Locally it is not scheduled: call it as the stream's
  role (``devstack.lambdas.invoke``), as the end-to-end test does.
* alarms: the stream falling behind (the consumer's ``IteratorAge``), records in the failure
  queue (each one is events the figures and the members' subscribers lack until redriven, and a
  stream holds them 24 hours), and redrives that found their records gone.
"""

from __future__ import annotations

from typing import Any

REDRIVE_FUNCTION = "RedriveEvents"          # chalice's resource name of ``redrive-events``
REDRIVE_SCHEDULE = "rate(1 hour)"          # every record redriven well within the stream's 24 hours
REDRIVE_TIMEOUT_SECONDS = 300
STREAM_FUNCTION = "DispatchDomainEvents"
# A member waits for an upgrade or a task reward this long at most before someone is told.
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000


def redrive_properties() -> dict[str, Any]:
    """The redrive function's own settings: one run at a time, five minutes a run."""
    return {"Timeout": REDRIVE_TIMEOUT_SECONDS, "ReservedConcurrentExecutions": 1}


def _alarm(description: str, namespace: str, metric: str, dimensions: list[dict[str, Any]], statistic: str,
           threshold: float, periods: int = 1, comparison: str = "GreaterThanThreshold") -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": dimensions, "Statistic": statistic, "Period": 60, "EvaluationPeriods": periods,
        "Threshold": threshold, "ComparisonOperator": comparison, "TreatMissingData": "notBreaching"}}


def stream_resources() -> dict[str, Any]:
    """The redrive's schedule and its permission to be invoked, and the stream's alarms."""
    return {
        "RedriveEventsSchedule": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": REDRIVE_SCHEDULE, "State": "ENABLED",
            "Targets": [{"Arn": {"Fn::GetAtt": [REDRIVE_FUNCTION, "Arn"]}, "Id": "redrive-events"}]}},
        "RedriveEventsSchedulePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": REDRIVE_FUNCTION}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["RedriveEventsSchedule", "Arn"]}}},
        "EventsIteratorAgeAlarm": _alarm(
            "the events stream is falling behind: upgrades, rewards and figures are late (docs/engineers/architecture.md)",
            "AWS/Lambda", "IteratorAge", [{"Name": "FunctionName", "Value": {"Ref": STREAM_FUNCTION}}],
            "Maximum", ITERATOR_AGE_ALARM_MS, periods=5),
        "EventsDeadLetterAlarm": _alarm(
            "stream records failed every retry: redrive-events replays them from the stream within 24 hours",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible",
            [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}],
            "Maximum", 0),
        "EventsRedriveExpiredAlarm": _alarm(
            "dead-lettered records were gone from the stream before their redrive: those events are missing "
            "from the figures", "Loyalty", "EventsRedriveExpired", [{"Name": "service", "Value": "loyalty"}],
            "Sum", 0),
    }
