"""What the operational routes answer (the OpenAPI response schemas).

Imported only when the document is built (routes name these models by string).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.shared.types import Reply


class HealthOut(Reply):
    """The API is up."""

    status: Literal["ok"] = Field(description="always ok: the API answered")


class OpenApiDocument(Reply):
    """This document: the OpenAPI 3.1 description of every operation."""

    # OpenAPI lets a document carry extensions: top-level fields named x-...
    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})

    openapi: str = Field(description="the OpenAPI version the document follows: 3.1.x")
    info: dict[str, Any] = Field(description="the API's title, version and description")
    jsonSchemaDialect: str | None = Field(None, description="the default JSON Schema dialect of its schemas")  # noqa: N815
    servers: list[dict[str, Any]] | None = Field(None, description="where the API is served (absent: this host)")
    paths: dict[str, Any] = Field(description="every operation, by path and method")
    webhooks: dict[str, Any] | None = Field(None, description="requests the API makes to its callers")
    components: dict[str, Any] = Field(description="schemas and security schemes the operations refer to")
    security: list[dict[str, Any]] | None = Field(None, description="security required by default")
    tags: list[dict[str, Any]] | None = Field(None, description="the tags that group the operations")
    externalDocs: dict[str, Any] | None = Field(None, description="further documentation")  # noqa: N815


class DailyCounts(Reply):
    day: str = Field(description="the day (YYYY-MM-DD) in the program's time zone")
    members_registered: int = Field(description="members registered that day")
    identities_bound: int = Field(description="identities bound to existing members that day (bindIdentity; "
                                              "not those given at registration)")


class DailyStatsOut(Reply):
    """Daily counters for the program or one merchant."""

    scope: str = Field(description="whose counters: `ALL` (the program) or a merchant_id")
    days: list[DailyCounts] = Field(description="the days from start to end that have any counts, oldest first "
                                                "(a day without any is left out)")


JOB_RESULT = ("what the run did, as the job reports it: counts of items read and handled, e.g. "
              "points-expiry {items_read, points_expired, points_unlocked}; the fields depend on the job")
CONTINUES = ("whether the run stopped at its deadline with due work left, which a continuation of it (the "
             "next part, as of the same moment) carries on from where it stopped")
PART = "1 for a run that was scheduled or asked for; 2 and on for its continuations"


class JobRunRecord(Reply):
    job: str = Field(description="the job's name")
    as_of: str = Field(description="the moment the run acted as of (ISO 8601, UTC)")
    finished_at: str = Field(description="when it finished (ISO 8601, UTC)")
    result: dict[str, Any] = Field(description=JOB_RESULT)
    continues: bool = Field(description=CONTINUES)
    part: int = Field(description=PART)
    programs: list[str] | None = Field(None, description="the programs the run was for (runJob's program_id, a "
                                       "program's runReconciliation); null: every program")


class JobRunsOut(Reply):
    """A scheduled job's last run."""

    job: str = Field(description="the job's name")
    runs: list[JobRunRecord] = Field(description="its last run; empty if it never ran")


class JobRunOut(Reply):
    """The run, done to its deadline: as of when, what it did, and whether it continues."""

    job: str = Field(description="the job's name")
    as_of: str = Field(description="the moment the run acted as of (ISO 8601, UTC)")
    result: dict[str, Any] = Field(description=JOB_RESULT)
    continues: bool = Field(description=CONTINUES)
    part: int = Field(description=PART)
    due_backlog_days: dict[str, int] = Field(description="per kind of due work the run read, how many days its "
                                             "oldest item has been due after the run (0: none overdue)")


class ProgramJobOut(Reply):
    """How one scheduled job stands (never what its runs did: their counts are every program's)."""

    job: str = Field(description="the job's name")
    every_minutes: int = Field(description="its schedule's period in minutes (5, 60, 1440...)")
    ran: bool = Field(description="whether it ever ran")
    as_of: str | None = Field(description="the moment its last run acted as of (ISO 8601, UTC; null: never ran)")
    finished_at: str | None = Field(description="when its last run (or part of one) finished (ISO 8601, UTC)")
    continues: bool = Field(description=CONTINUES)
    part: int | None = Field(description=PART)
    behind: bool = Field(description="never ran, its continuations still carry on, or its last run acted as of "
                                     "longer ago than its period and a margin (the period again, at most 30 "
                                     "minutes): a run that should have finished by now has not")


class ProgramJobsOut(Reply):
    """Every scheduled job's last run, as the program's HQ sees it: when, not what (a job serves every
    program at once; its run is the deployment's last, whichever programs it served)."""

    as_of: str = Field(description="when this was read (ISO 8601, UTC)")
    jobs: list[ProgramJobOut] = Field(description="every scheduled job, by name")
