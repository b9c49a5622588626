"""``make durations``: ``tests/durations.json`` from the seconds each test file took in the last
``make test`` (each of its processes writes ``.local/test-times/<tier>-<half>.json``). ``make test``
deals each tier's files out to its two processes by these seconds (tests/conftest.py), so that the
halves end together; a file missing from it weighs its tests times the mean seconds a test."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).with_name("durations.json")


def merged(directory: Path) -> dict[str, float]:
    files: dict[str, float] = {}
    for part in sorted(directory.glob("*.json")):
        for path, seconds in json.loads(part.read_text()).items():
            files[path] = round(files.get(path, 0.0) + seconds, 2)
    return files


def main(argv: list[str]) -> int:
    directory = Path(argv[1] if len(argv) > 1 else ".local/test-times")
    files = merged(directory)
    if not files:
        print(f"no test times in {directory}: run `make test` first")
        return 1
    OUT.write_text(json.dumps({"measured": datetime.now(UTC).strftime("%Y-%m-%d"),
                               "files": dict(sorted(files.items()))}, indent=1) + "\n")
    print(f"{OUT}: {len(files)} files, {sum(files.values()):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
