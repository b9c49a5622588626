"""Settings read from the environment once per cold start.

Deployed stages get table names and the bucket from the CloudFormation template (``infra/``);
the local stack sets the same variables for the emulator. Secrets are not settings: see
:mod:`chalicelib.shared.secrets`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    main_table: str
    events_table: str
    reports_bucket: str
    dynamodb_endpoint: str | None
    timezone: str
    phone_region: str
    idempotency_days: int
    personal_reply_hours: int
    event_retention_days: int
    member_token_minutes: int
    signature_skew_seconds: int
    signature_versions: tuple[str, ...]
    lifecycle_new_days: int
    lifecycle_dormant_days: int
    lifecycle_churned_days: int
    # every AWS call: short timeouts and few attempts, so that one call cannot outlast a request
    aws_connect_timeout: float
    aws_read_timeout: float
    aws_attempts: int                  # in all, the first included
    request_budget_seconds: float      # at most this long per API request (the gateway waits 29 s)


def _int(name: str, default: int) -> int:
    """An integer setting from the environment."""
    return int(os.environ.get(name, default))


def _seconds(name: str, default: float) -> float:
    """A duration in seconds from the environment."""
    return float(os.environ.get(name, default))


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process (cached; ``settings.cache_clear()`` re-reads them)."""
    stage = os.environ.get("STAGE", "local")
    return Settings(
        stage=stage,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "cn-north-1"),
        main_table=os.environ.get("MAIN_TABLE", f"loyalty-{stage}-main"),
        events_table=os.environ.get("EVENTS_TABLE", f"loyalty-{stage}-events"),
        reports_bucket=os.environ.get("REPORTS_BUCKET", f"loyalty-{stage}-reports"),
        dynamodb_endpoint=os.environ.get("DYNAMODB_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL") or None,
        timezone=os.environ.get("PROGRAM_TIMEZONE", "Asia/Shanghai"),
        phone_region=os.environ.get("PHONE_DEFAULT_REGION", "CN"),
        idempotency_days=_int("IDEMPOTENCY_DAYS", 90),
        personal_reply_hours=_int("PERSONAL_REPLY_HOURS", 24),
        event_retention_days=_int("EVENT_RETENTION_DAYS", 30),
        member_token_minutes=_int("MEMBER_TOKEN_MINUTES", 120),
        signature_skew_seconds=_int("SIGNATURE_SKEW_SECONDS", 300),
        signature_versions=tuple(v.strip() for v in os.environ.get("SIGNATURE_VERSIONS", "v2").split(",") if v.strip()),
        lifecycle_new_days=_int("LIFECYCLE_NEW_DAYS", 30),
        lifecycle_dormant_days=_int("LIFECYCLE_DORMANT_DAYS", 90),
        lifecycle_churned_days=_int("LIFECYCLE_CHURNED_DAYS", 180),
        aws_connect_timeout=_seconds("AWS_CONNECT_TIMEOUT_SECONDS", 1),
        aws_read_timeout=_seconds("AWS_READ_TIMEOUT_SECONDS", 2),
        aws_attempts=_int("AWS_CALL_ATTEMPTS", 3),
        request_budget_seconds=_seconds("REQUEST_BUDGET_SECONDS", 20),
    )
