"""#24 item 6: a merchant's members listing is spread over several gsi1 partitions.

``MEMBERS#<merchant>`` was one partition with an increasing sort key (the registration time): a
flash of 2,000 registrations a second at one merchant is twice what a partition takes. Members
now land on ``MEMBERS#<merchant>#<n>`` by a hash of their id; listMembers reads the shards and
merges them by registration time, and its pages and cursor are what they were. A profile written
before still carries the old key, read as one more shard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from chalicelib.db.uow import UnitOfWork
from chalicelib.members.tables import LISTING_SHARDS, MemberItem
from chalicelib.shared import clock

T = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
MEMBERS = 12


def register(api) -> list[str]:
    ids = []
    for n in range(MEMBERS):
        clock.freeze(T + timedelta(seconds=n))
        ids.append(api.member(f"1380024{n + 7000:04d}"))
    return ids


def profiles(ids: list[str]) -> list[MemberItem]:
    uow = UnitOfWork("test")
    found = [uow.get(MemberItem, MemberItem.key(mid), consistent=True) for mid in ids]
    assert all(found)
    return [item for item in found if item is not None]


def listed(api, limit: int) -> tuple[list[str], int]:
    """Every member of m1 registered on 1 May, page by page; and how many pages."""
    seen, after, pages = [], None, 0
    while True:
        cursor = f"&after={quote(after)}" if after else ""
        page = api.ok("GET", f"/v1/members?merchant_id=m1&start=2026-05-01&end=2026-05-01&limit={limit}{cursor}")
        seen += [m["member_id"] for m in page["members"]]
        pages += 1
        after = page["next"]
        if after is None:
            return seen, pages


def test_registrations_spread_over_the_shards_and_the_listing_pages_in_order(api):
    ids = register(api)
    keys = {item.gsi1pk for item in profiles(ids)}
    assert keys <= {f"MEMBERS#m1#{n}" for n in range(LISTING_SHARDS)} and len(keys) > 1
    assert listed(api, 5) == (ids, 3)                  # 5 + 5 + 2, registration order, each once
    assert listed(api, 12) == (ids, 2)                 # a full last page: the next one is empty
    assert listed(api, 200) == (ids, 1)


def test_a_member_listed_under_the_old_key_is_still_listed_in_its_place(api):
    ids = register(api)
    uow = UnitOfWork("test")
    for item in profiles(ids[3:5]):                                   # as written before the listing was sharded
        uow.update(item, [MemberItem.gsi1pk.set(uow.index_key("MEMBERS#m1"))])
    uow.commit()
    assert {item.gsi1pk for item in profiles(ids[3:5])} == {"MEMBERS#m1"}
    assert listed(api, 5) == (ids, 3)
