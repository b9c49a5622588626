"""What a reconciliation answers about the job's pass over a ledger's accounts (the OpenAPI
schema every ledger's reconciliation reply shares; :func:`chalicelib.ledger.reconciliation.progress`
builds it)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.shared.types import Reply


class ShardProgress(Reply):
    shard: int = Field(description="the shard of the accounts listing")
    checked: int = Field(description="accounts of this shard checked so far in the pass under way")
    passes: int = Field(description="passes of this shard completed")
    last_completed: str | None = Field(description="when this shard's last complete pass ended (null: none yet)")


class FullPass(Reply):
    started: str = Field(description="every account listed at this instant ...")
    completed: str = Field(description="... was checked by this one")
    checked: int = Field(description="accounts the last complete pass of each shard checked, in all")


class ReconciliationProgress(Reply):
    """Where the reconciliation job is: each run checks the next `page` accounts of every shard."""

    page: int = Field(description="accounts a job run checks per shard")
    checked_this_pass: int = Field(description="accounts checked so far in the passes under way")
    last_full_pass: FullPass | None = Field(description="the last pass over every shard (null until each shard "
                                                        "has completed one)")
    shards: list[ShardProgress] = Field(description="each shard's pass")
