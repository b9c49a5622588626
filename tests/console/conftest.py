"""The console tier: the local stack as the end-to-end tier starts it (its fixtures, imported), the
built console served by it at /console/, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import api, stack  # noqa: F401  (the end-to-end tier's stack, started the same way)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# as docs say for this machine: without the background-networking flags Chromium keeps dialling out
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or not (ROOT / "console" / "dist" / "index.html").exists():
        pytest.fail("the console tier needs /usr/bin/chromium and a built console: run `make test-console`")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
