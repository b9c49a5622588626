"""The export kinds are read when a request is validated or the document built, not frozen when
the schema module is imported (found in review: a process that imported ``exports_schemas``
before the app built ``CreateExport.kind`` without the kinds the app names, settlement's lines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json
import chalicelib.reports.exports_schemas as s      # first, before the app names settlement's kind
import app  # noqa: F401
from chalicelib.api.openapi import document
kind = document()["components"]["schemas"]["CreateExport"]["properties"]["kind"]
print(json.dumps({"enum": kind["enum"], "made": s.CreateExport(kind="settlement_lines").kind}))
"""


def test_a_kind_named_after_the_schema_was_imported_is_accepted_and_documented():
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["made"] == "settlement_lines"
    assert {"members", "points_ledger", "settlement_lines"} <= set(got["enum"])
