"""The events stream's template resources beyond its mapping (``devstack.pump.MAPPING``).

* ``redrive-events`` (:mod:`chalicelib.events.redrive`), a function of the stream's kind (its role
  is the only one that reads the stream): run every hour by a schedule of its own, and on demand
  (``aws lambda invoke``), one at a time. Locally it is not scheduled: call it as the stream's
  role (``devstack.lambdas.invoke``), as the end-to-end test does.
* an alarm on redrives that found their records gone (the stream falling behind and records in
  its failure queue alarm with the others: :mod:`infra.alarms`).
"""

from __future__ import annotations

from typing import Any

from infra.alarms import alarm

REDRIVE_FUNCTION = "RedriveEvents"          # chalice's resource name of ``redrive-events``
REDRIVE_SCHEDULE = "rate(1 hour)"          # every record redriven well within the stream's 24 hours
REDRIVE_TIMEOUT_SECONDS = 300


def redrive_properties() -> dict[str, Any]:
    """The redrive function's own settings: one run at a time, five minutes a run."""
    return {"Timeout": REDRIVE_TIMEOUT_SECONDS, "ReservedConcurrentExecutions": 1}


def stream_resources() -> dict[str, Any]:
    """The redrive's schedule and its permission to be invoked, and the stream's alarms."""
    return {
        "RedriveEventsSchedule": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": REDRIVE_SCHEDULE, "State": "ENABLED",
            "Targets": [{"Arn": {"Fn::GetAtt": [REDRIVE_FUNCTION, "Arn"]}, "Id": "redrive-events"}]}},
        "RedriveEventsSchedulePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": REDRIVE_FUNCTION}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["RedriveEventsSchedule", "Arn"]}}},
        "EventsRedriveExpiredAlarm": alarm(
            "dead-lettered records were gone from the stream before their redrive: those events are missing "
            "from the figures", "Loyalty", "EventsRedriveExpired", [{"Name": "service", "Value": "loyalty"}],
            "Sum", 0, period=3600),
    }
