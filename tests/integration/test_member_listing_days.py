"""listMembers reads its days as the program's calendar days (Shanghai, UTC+8 here), as an
operator means them: a member who registered at 01:00 on 2 March in Shanghai (17:00 UTC on
1 March) is listed under 2 March, not 1 March."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.shared import clock


@pytest.fixture
def memory_api(memory):
    from tests.integration.conftest import AppClient
    yield AppClient()
    clock.freeze(None)


def _listed(api, start: str, end: str) -> list[str]:
    page = api.ok("GET", f"/v1/members?merchant_id=m1&start={start}&end={end}")
    return [m["member_id"] for m in page["members"]]


def test_members_are_listed_by_the_programs_calendar_day(memory_api):
    api = memory_api
    clock.freeze(datetime(2026, 3, 1, 15, 59, 59, 999_000, tzinfo=UTC))        # 23:59:59.999 on 1 March there
    late_first = api.member("13800138101")
    clock.freeze(datetime(2026, 3, 1, 16, 0, tzinfo=UTC))                      # midnight: 2 March there
    early_second = api.member("13800138102")
    clock.freeze(datetime(2026, 3, 2, 15, 59, 59, 999_000, tzinfo=UTC))
    late_second = api.member("13800138103")
    clock.freeze(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    third = api.member("13800138104")
    assert _listed(api, "2026-03-01", "2026-03-01") == [late_first]
    assert _listed(api, "2026-03-02", "2026-03-02") == [early_second, late_second]
    assert _listed(api, "2026-03-01", "2026-03-03") == [late_first, early_second, late_second, third]
    assert _listed(api, "2026-03-04", "2026-03-05") == []
