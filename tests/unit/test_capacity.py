from devstack.capacity import Usage, item_size, number_size, read_units, write_units


def test_item_size_follows_the_aws_rules():
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert number_size("12345") == 4            # 5 significant digits -> 3 bytes + 1
    assert item_size({"n": {"N": "1"}}) == 1 + 2
    assert item_size({"b": {"BOOL": True}}) == 2
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"s": {"S": "中"}}) == 1 + 3


def test_units_round_up_and_transactions_cost_double():
    assert read_units(1, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2
    assert read_units(100, consistent=True, transactional=True) == 2
    assert write_units(1) == 1 and write_units(1025) == 2 and write_units(10, transactional=True) == 2


def test_usage_difference():
    u = Usage()
    u.add("GetItem", 0.5, 0)
    before = u.snapshot()
    u.add("PutItem", 0, 1)
    d = u.minus(before)
    assert (d.requests, d.rcu, d.wcu) == (1, 0, 1) and list(d.by_operation) == ["PutItem"]
