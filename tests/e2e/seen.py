"""The end-to-end suite's last check across its shards.

``make test`` runs the end-to-end tier as two processes (``TEST_SHARD``), each with a stack of its
own. Each shard's last test (``test_every_reply_of_the_suite_matches_the_document``) checks every
reply its half gave against the document and records which operations it saw succeed; this checks,
once both have run, that every operation of the document succeeded in one half or the other:

    python -m tests.e2e.seen [dir]          # dir: .local/e2e-seen unless E2E_SEEN_DIR says
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def where() -> Path:
    return Path(os.environ.get("E2E_SEEN_DIR", ".local/e2e-seen"))


def record(shard: str, operations: list[str], succeeded: list[str]) -> None:
    """Called by a shard's last test: the document's operations and those this shard saw succeed."""
    mine, count = shard.split("/")
    where().mkdir(parents=True, exist_ok=True)
    (where() / f"e2e-{mine}-of-{count}.json").write_text(
        json.dumps({"operations": operations, "succeeded": succeeded}, indent=0))


def missing(directory: Path, count: int) -> list[str]:
    """Every operation no shard saw succeed; every shard must have recorded."""
    records = [directory / f"e2e-{i}-of-{count}.json" for i in range(count)]
    absent = [str(r) for r in records if not r.exists()]
    if absent:
        raise SystemExit(f"no record from {absent}: did every shard's last test run?")
    loaded = [json.loads(r.read_text()) for r in records]
    operations = set(loaded[0]["operations"])
    if any(set(r["operations"]) != operations for r in loaded):
        raise SystemExit("the shards read different documents: records of another run?")
    return sorted(operations - {o for r in loaded for o in r["succeeded"]})


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else where()
    count = int(os.environ.get("E2E_SHARDS", "2"))
    gaps = missing(directory, count)
    if gaps:
        print(f"operations no end-to-end test drove to a success: {gaps}")
        return 1
    print(f"every operation of the document succeeded in one of the {count} end-to-end shards")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
