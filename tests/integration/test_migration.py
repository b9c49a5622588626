"""Data written before programs existed moves into the default program: idempotent, resumable."""

from chalicelib.db.migration import migrate_to_programs
from chalicelib.db.tables import MAIN, TABLES
from chalicelib.db.uow import UnitOfWork
from chalicelib.members import repository as members_repository
from chalicelib.members.domain import Identity
from chalicelib.members.schemas import RegisterMember
from chalicelib.members.service import register
from chalicelib.shared.config import settings
from chalicelib.shared.principal import Principal

HQ = Principal("staff", "admin", "super_admin")


def _old_layout(client, table):
    """Rewrite every program item as it was stored before programs: logical keys."""
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("default/"):
                old = {**item, "pk": {"S": pk.removeprefix("default/")}}
                if "gsi1pk" in old and old["gsi1pk"]["S"].startswith("default/"):
                    old["gsi1pk"] = {"S": old["gsi1pk"]["S"].removeprefix("default/")}
                client.put_item(TableName=table, Item=old)
                client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_old_data_moves_into_the_default_program_once(aws):
    names = [spec.physical_name(settings()) for spec in TABLES]
    uow = UnitOfWork("test")
    member = register(RegisterMember(phone="13800138111"), HQ, uow)
    uow.commit()
    in_program = {n: sum(1 for i in aws.scan(TableName=n)["Items"] if i["pk"]["S"].startswith("default/"))
                  for n in names}
    assert in_program[names[1]] == 1                  # the member.registered event, in the outbox
    for name in names:
        _old_layout(aws, name)
    assert members_repository.of(UnitOfWork()).load(member.member_id) is None            # not where the code looks now
    main = MAIN.physical_name(settings())
    # an interrupted earlier run: one item copied, its original not yet deleted
    profile = aws.get_item(TableName=main, Key={"pk": {"S": f"MEMBER#{member.member_id}"}, "sk": {"S": "PROFILE"}})
    aws.put_item(TableName=main, Item={**profile["Item"], "pk": {"S": f"default/MEMBER#{member.member_id}"}})

    moved = migrate_to_programs(aws, names, main)
    assert moved == in_program                        # every item once, the half-copied one included
    found = members_repository.of(UnitOfWork()).load(member.member_id)
    assert found is not None and found.identities == member.identities
    assert members_repository.of(UnitOfWork()).resolve(Identity("phone", "+8613800138111")) == member.member_id
    leftovers = [i for n in names for i in aws.scan(TableName=n)["Items"]
                 if not i["pk"]["S"].startswith(("default/", "MIGRATION#"))]
    assert leftovers == []
    assert migrate_to_programs(aws, names, main) == {}                    # the marker: nothing scanned again


def test_points_accounts_move_to_the_key_that_sorts_before_their_lots(aws):
    """Issue #10 item 13: an account stored at ``PTS#<type>#ACCOUNT`` moves to ``PTS#<type>#LOT``
    with everything it holds; a half-done run is finished; a second run scans nothing."""
    from chalicelib.db.migration import migrate_points_account_keys
    from chalicelib.points import service as points
    from chalicelib.points.schemas import Adjust
    main = MAIN.physical_name(settings())
    uow = UnitOfWork("test")
    member = register(RegisterMember(phone="13800138112"), HQ, uow)
    uow.commit()
    uow = UnitOfWork("test")
    points.adjust(member.member_id, Adjust(points=70, reason="before the move"), HQ, uow, None)
    uow.commit()
    pk = {"S": f"default/MEMBER#{member.member_id}"}
    new = aws.get_item(TableName=main, Key={"pk": pk, "sk": {"S": "PTS#points#LOT"}})["Item"]
    aws.delete_item(TableName=main, Key={"pk": pk, "sk": {"S": "PTS#points#LOT"}})
    aws.put_item(TableName=main, Item={**new, "sk": {"S": "PTS#points#ACCOUNT"}})           # the old layout
    assert points.balance(UnitOfWork(), member.member_id, "points") == 0                     # not found there
    growth = {**new, "sk": {"S": "PTS#growth#ACCOUNT"}}
    aws.put_item(TableName=main, Item=growth)                                                # half moved
    aws.put_item(TableName=main, Item={**growth, "sk": {"S": "PTS#growth#LOT"}})

    other = {**new, "pk": {"S": "default/MEMBER#OTHER"}, "sk": {"S": "PTS#points#ACCOUNT"}}
    aws.put_item(TableName=main, Item=other)             # and served by the new code before the move:
    aws.put_item(TableName=main, Item={**other, "sk": {"S": "PTS#points#LOT"}, "available": {"N": "0"}})

    assert migrate_points_account_keys(aws, main) == {"moved": 2, "conflicts": ["default/MEMBER#OTHER PTS#points#ACCOUNT"]}
    assert points.balance(UnitOfWork(), member.member_id, "points") == 70
    keys = {i["sk"]["S"] for i in aws.scan(TableName=main)["Items"] if i["pk"] == pk}
    assert {"PTS#points#LOT", "PTS#growth#LOT"} <= keys and not any(k.endswith("#ACCOUNT") for k in keys)
    kept = aws.get_item(TableName=main, Key={"pk": other["pk"], "sk": other["sk"]})
    assert kept["Item"]["available"] == new["available"]                  # left for a person, not lost
    assert migrate_points_account_keys(aws, main)["conflicts"]            # no marker: looked at again
    aws.delete_item(TableName=main, Key={"pk": other["pk"], "sk": other["sk"]})
    assert migrate_points_account_keys(aws, main) == {"moved": 0, "conflicts": []}
    assert migrate_points_account_keys(aws, main) == {"moved": 0, "conflicts": []}      # the marker


def test_orders_spent_on_before_spent_points_are_counted(aws):
    """Issue #10 item 13: a spend on an order checks ``spent_points`` in its write instead of
    reading the order; an order spent on by the old code gets that total from its ``spent`` lots.
    Orders never spent on, or counted already, are left alone; a second run scans nothing."""
    import json as _json

    from chalicelib.db.migration import migrate_order_spent_points
    main = MAIN.physical_name(settings())
    lots = [{"lot_id": "L1", "expires_on": None, "points": 30}, {"lot_id": "L2", "expires_on": "2027-12-31",
                                                                 "points": 12}]
    old = {"pk": {"S": "default/ORDER#m1#A"}, "sk": {"S": "ORDER"}, "member_id": {"S": "M"},
           "spent": {"S": _json.dumps(lots)}, "version": {"N": "3"}}
    earned_only = {"pk": {"S": "default/ORDER#m1#B"}, "sk": {"S": "ORDER"}, "member_id": {"S": "M"},
                   "version": {"N": "1"}}
    counted = {**old, "pk": {"S": "default/ORDER#m1#C"}, "spent_points": {"N": "42"}}
    for item in (old, earned_only, counted):
        aws.put_item(TableName=main, Item=item)
    assert migrate_order_spent_points(aws, main) == {"counted": 1, "changed": []}
    after = {i["pk"]["S"]: i for i in aws.scan(TableName=main)["Items"] if i["sk"]["S"] == "ORDER"}
    assert after["default/ORDER#m1#A"] == {**old, "spent_points": {"N": "42"}}     # nothing else changed
    assert after["default/ORDER#m1#B"] == earned_only and after["default/ORDER#m1#C"] == counted
    aws.delete_item(TableName=main, Key={"pk": old["pk"], "sk": old["sk"]})
    aws.put_item(TableName=main, Item=old)
    assert migrate_order_spent_points(aws, main) == {"counted": 0, "changed": []}   # the marker: not scanned


def test_issuance_counters_start_at_what_the_figures_hold(aws):
    """Issue #20 item 1: the issuance limit is held on counters written with each posting; money
    issued before the counters existed is counted by starting each issuer's counter at its
    outstanding prepaid money in the figures (members' principal for ``program``, cards by their
    issuer). A counter that exists already is left alone and reported; the marker ends it."""
    from chalicelib.db.migration import migrate_issuance_counters
    from chalicelib.stored_value import counters
    from chalicelib.stored_value.tables import PrepaidAccountItem, SvCounterItem
    main = MAIN.physical_name(settings())
    uow = UnitOfWork("test")
    for account, balance in (("member:principal", -12_000), ("member:held_principal", -500),
                             ("member:bonus", -3_000), ("gift_cards:m2", -26_000), ("cash_clearing", 41_500),
                             ("gift_cards_voided", -700)):
        uow.put(PrepaidAccountItem(*PrepaidAccountItem.key(account), account=account, balance=balance))
    UnitOfWork("test", program="demo-2").put(PrepaidAccountItem(*PrepaidAccountItem.key("gift_cards:program"),
                                                                account="gift_cards:program", balance=-9_000))
    aws.put_item(TableName=main, Item={"pk": {"S": "PROGRAM#demo-2"}, "sk": {"S": "PROGRAM"},
                                       "gsi1pk": {"S": "PROGRAMS"}, "gsi1sk": {"S": "demo-2"}})
    # traffic reached m2 in default before the migration: its counter is not overwritten
    UnitOfWork("test").put(SvCounterItem(*counters.issued_key("m2"), total=4_000))
    result = migrate_issuance_counters(aws, main, counters.issuer_of)
    assert result == {"seeded": {"default/program": 12_500, "demo-2/program": 9_000},
                      "counting_already": ["default/m2"], "unattributed": {"default/gift_cards_voided": 700}}
    assert counters.outstanding(UnitOfWork("test"), "program") == 12_500
    assert counters.outstanding(UnitOfWork("test", program="demo-2"), "program") == 9_000
    assert counters.outstanding(UnitOfWork("test"), "m2") == 4_000
    assert "Item" not in aws.get_item(TableName=main, Key={"pk": {"S": "MIGRATION#issuance-counters"},
                                                          "sk": {"S": "DONE"}})
    aws.delete_item(TableName=main, Key={"pk": {"S": "default/SVCOUNT#ISSUER#m2"}, "sk": {"S": "IN"}})
    again = migrate_issuance_counters(aws, main, counters.issuer_of)          # the next run finishes the job
    assert again == {"seeded": {"default/m2": 26_000}, "counting_already": [],      # its own seeds are done
                     "unattributed": {"default/gift_cards_voided": 700}}
    assert counters.outstanding(UnitOfWork("test"), "program") == 12_500           # not seeded twice
    assert "Item" in aws.get_item(TableName=main, Key={"pk": {"S": "MIGRATION#issuance-counters"},
                                                      "sk": {"S": "DONE"}})
    assert migrate_issuance_counters(aws, main, counters.issuer_of)["seeded"] == {}   # the marker: nothing read


def test_members_downgraded_before_regain_from_get_the_tier_they_left(aws):
    """Issue #20 item 3: a member downgraded before ``regain_from`` existed would be lifted back by
    the next ¥1 order. The migration marks the tier before their latest run of downward changes
    (V4 → V3 → V2 leaves V4); a member whose last change went up, or who has none, is left alone;
    a tier changed meanwhile is reported and the marker waits."""
    from chalicelib.db.migration import migrate_tier_regain_from
    main = MAIN.physical_name(settings())

    def member(mid, history, version=3):
        aws.put_item(TableName=main, Item={"pk": {"S": f"default/MEMBER#{mid}"}, "sk": {"S": "TIER"},
                                           "member_id": {"S": mid}, "tier": {"S": history[-1][1] if history else "V1"},
                                           "changes": {"N": str(len(history))}, "version": {"N": str(version)}})
        for n, (before, after, cause) in enumerate(history, 1):
            aws.put_item(TableName=main, Item={"pk": {"S": f"default/MEMBER#{mid}"}, "sk": {"S": f"TIERHIST#{n:08d}"},
                                               "from_tier": {"S": before}, "to_tier": {"S": after},
                                               "cause": {"S": cause}, "number": {"N": str(n)}})

    member("A", [("V1", "V4", "crossing"), ("V4", "V3", "downgrade"), ("V3", "V2", "downgrade")])
    member("B", [("V1", "V3", "crossing"), ("V3", "V2", "downgrade"), ("V2", "V3", "crossing")])
    member("C", [])
    member("D", [("V1", "V2", "crossing"), ("V2", "V1", "refund")])
    assert migrate_tier_regain_from(aws, main) == {"marked": 2, "changed": []}

    def regain(mid):
        item = aws.get_item(TableName=main, Key={"pk": {"S": f"default/MEMBER#{mid}"}, "sk": {"S": "TIER"}})["Item"]
        return item.get("regain_from", {}).get("S")
    assert [regain(m) for m in "ABCD"] == ["V4", None, None, "V2"]
    assert migrate_tier_regain_from(aws, main) == {"marked": 0, "changed": []}      # the marker: nothing read


def test_a_tier_changed_during_the_regain_migration_is_reported(aws):
    from chalicelib.db.migration import REGAIN, marker, migrate_tier_regain_from
    main = MAIN.physical_name(settings())
    aws.put_item(TableName=main, Item={"pk": {"S": "default/MEMBER#E"}, "sk": {"S": "TIER"}, "member_id": {"S": "E"},
                                       "tier": {"S": "V2"}, "changes": {"N": "1"}, "version": {"N": "1"}})
    aws.put_item(TableName=main, Item={"pk": {"S": "default/MEMBER#E"}, "sk": {"S": "TIERHIST#00000001"},
                                       "from_tier": {"S": "V3"}, "to_tier": {"S": "V2"}, "cause": {"S": "downgrade"}})
    real = aws.update_item

    def racing(**kwargs):                  # the member's tier changes just before the migration writes
        aws.update_item = real
        real(TableName=main, Key=kwargs["Key"], UpdateExpression="SET version = :v",
             ExpressionAttributeValues={":v": {"N": "2"}})
        return real(**kwargs)
    aws.update_item = racing
    try:
        assert migrate_tier_regain_from(aws, main) == {"marked": 0, "changed": ["default/MEMBER#E"]}
    finally:
        aws.update_item = real
    assert "Item" not in aws.get_item(TableName=main, Key=marker(REGAIN))
    assert migrate_tier_regain_from(aws, main) == {"marked": 1, "changed": []}
