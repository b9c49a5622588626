"""Checkout at its edges, on the in-memory fake (issue #21; the mutation run of session 47): a
member's checkouts listed a page at a time, newest first, each page ending with the cursor of the
next only when it is full (``listMemberCheckouts``), as the member and the till read them."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import AppClient
from tests.integration.test_checkout_quote import CART, QUOTES, T0, _member, _till

CHECKOUTS = "/v1/checkouts"


@pytest.fixture
def shop(memory):
    clock.freeze(T0)
    yield AppClient()
    clock.freeze(None)


def _listed(api, mid, token, limit, before=None):
    page = api.ok("GET", f"/v1/members/{mid}/checkouts?limit={limit}" + (f"&before={quote(before)}" if before else ""),
                  token=token)
    return [x["checkout_id"] for x in page["items"]], page["next"]


def test_a_members_checkouts_are_listed_newest_first_a_full_page_at_a_time(shop):
    api = shop
    mid = _member(api, "13800479001")
    made = []
    for i in range(3):
        clock.freeze(T0 + timedelta(minutes=i))
        q = api.ok("POST", QUOTES, {"member_id": mid, "channel": "pos", "lines": CART}, token=_till())
        made.append(api.ok("POST", CHECKOUTS, {"quote_id": q["quote_id"]}, key=f"k-{i}", token=_till())["checkout_id"])
    for token in (_till(), mint_token("member", mid, 60)):
        first, after = _listed(api, mid, token, 2)
        assert first == [made[2], made[1]] and after is not None
        second, end = _listed(api, mid, token, 2, after)
        assert second == [made[0]] and end is None                      # not full: no next page
        whole, last = _listed(api, mid, token, 3)
        assert whole == made[::-1] and last is not None                 # full: a next page, which is empty
        assert _listed(api, mid, token, 3, last) == ([], None)
        one, cursor = _listed(api, mid, token, 1)
        assert one == [made[2]] and cursor is not None
