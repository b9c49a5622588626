"""The PynamoDB models agree with the single table definitions."""

import importlib
import pkgutil

import chalicelib
from chalicelib.db import backend
from chalicelib.db.items import _BOUND, MainModel
from chalicelib.db.tables import EVENTS, MAIN, TABLES
from chalicelib.shared import aws as shared_aws


def _every_model() -> None:
    """Import every module: the app imports a capability's tables only when first used."""
    for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        importlib.import_module(module.name)


def test_every_model_uses_its_spec_keys_and_indexes():
    _every_model()
    assert len(_BOUND) >= 40
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


def test_every_item_class_shares_one_botocore_client(aws):
    """Issue #10 item 12: left to itself PynamoDB makes a botocore session and client per item
    class, some 80 ms of CPU each on the first request that touches the class."""
    _every_model()
    clients = {id(model._get_connection().connection.client) for model in _BOUND}
    assert clients == {id(backend._connection().client)}
    assert backend._connection().session is shared_aws.session()
    backend.reset()                                            # a new endpoint: a new shared client
    assert _BOUND[0]._get_connection().connection.client is backend._connection().client
