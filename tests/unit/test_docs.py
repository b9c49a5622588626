"""Every documentation page names only operations and paths that exist: an operation renamed or a
route moved fails here, not in an integrator's hands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PATH = re.compile(r"(?:(?:GET|POST|PUT|PATCH|DELETE) |127\.0\.0\.1:8000|\$API)(/v1/[^\s?\"'`)\[,;]*)")
OPERATION_ID = re.compile(r"`([a-z]+(?:[A-Z][a-z0-9]*)+)`")


@pytest.fixture(scope="module")
def routes() -> tuple[set[str], list[re.Pattern[str]]]:
    import app  # noqa: F401  (registers every operation)
    from chalicelib.api.operation import REGISTRY
    patterns = [re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(op.path)) + "$") for op in REGISTRY]
    return {op.operation_id for op in REGISTRY}, patterns


def test_the_pages_are_found_and_name_operations():
    assert len(PAGES) >= 12 and all(p.read_text().strip() for p in PAGES)
    assert sum(len(set(PATH.findall(p.read_text()))) for p in PAGES) >= 60      # the patterns find them


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_and_operation_a_page_names_exists(page, routes):
    ids, patterns = routes
    text = page.read_text()
    paths = {p.rstrip(".:") for p in PATH.findall(text)}
    unknown_paths = sorted(p for p in paths if not any(pattern.match(p) for pattern in patterns))
    named = set(OPERATION_ID.findall(text))
    unknown_ids = sorted(n for n in named if n not in ids and n not in NOT_OPERATIONS)
    assert (unknown_paths, unknown_ids) == ([], [])


# camelCase words in backticks that are not operation ids
NOT_OPERATIONS = {"merchantSignature", "sNaN", "maxReceiveCount", "anyOf", "useRows"}
