"""The PynamoDB models agree with the single table definitions."""

from chalicelib.db.items import _BOUND, MainModel
from chalicelib.db.tables import EVENTS, MAIN, TABLES


def test_every_model_uses_its_spec_keys_and_indexes():
    import app  # noqa: F401  registers every model
    assert len(_BOUND) >= 8
    for model in _BOUND:
        spec = MAIN if issubclass(model, MainModel) else EVENTS
        assert model._hash_key_attribute().attr_name == spec.hash_key
        assert model._range_key_attribute().attr_name == spec.range_key
        specified = {i.name: i for i in spec.indexes}
        for index in model._indexes.values():
            schema = index._get_schema()
            assert schema["index_name"] in specified
            wanted = specified[schema["index_name"]]
            assert {k["AttributeName"]: k["KeyType"] for k in schema["key_schema"]} == \
                {wanted.hash_key: "HASH", wanted.range_key: "RANGE"}
            assert schema["projection"]["ProjectionType"] == wanted.projection


def test_specs_produce_valid_create_table_arguments(aws):
    names = aws.list_tables()["TableNames"]
    assert len(names) == len(TABLES)
    events = [n for n in names if n.endswith("events")][0]
    description = aws.describe_table(TableName=events)["Table"]
    assert description["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
