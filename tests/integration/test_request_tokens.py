"""Every transaction the app commits carries a ``ClientRequestToken`` (#24, item 1), and the local
emulator honours it as DynamoDB does; DynamoDB Local honours it too, so the same tests run there.

botocore sends a transaction again when its answer was lost. Without a token, the repeat of a
transaction that had committed failed its own conditions (a spurious conflict, or a refresh token
"already used"); with one, DynamoDB answers the repeat, within 10 minutes, as a success and applies
nothing again. A repeat is staged here with a botocore ``needs-retry`` handler that sends a
transaction that succeeded once more, as botocore does for an answer lost on the way back; it works
against any endpoint, moto in-process or DynamoDB Local.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from chalicelib.db import backend
from chalicelib.db.audit import AuditItem
from chalicelib.db.uow import UnitOfWork
from devstack import request_tokens
from tests import dynamodb_local

STORES = ["ddblocal"] if dynamodb_local.enabled() else ["aws"]


@pytest.fixture(params=STORES)
def store(request):
    """The raw client of a store that runs the app's DynamoDB code: moto with the emulator's
    patches, or (in its tier) DynamoDB Local."""
    return request.getfixturevalue(request.param)


class Resent:
    """A botocore ``needs-retry`` handler: the first ``times`` TransactWriteItems attempts that
    succeeded are sent again at once (botocore resends a call whose answer it did not get).
    ``tokens``: the ClientRequestToken of every attempt, in order."""

    EVENT = "needs-retry.dynamodb.TransactWriteItems"

    def __init__(self, times: int = 1) -> None:
        self.times, self.resent, self.tokens = times, 0, []

    def __call__(self, response: Any = None, caught_exception: Any = None, request_dict: Any = None, **_: Any) -> Any:
        self.tokens.append(json.loads(request_dict["body"]).get("ClientRequestToken"))
        if caught_exception is None and response is not None and response[0].status_code == 200 \
                and self.resent < self.times:
            self.resent += 1
            return 0                   # send it again now
        return None

    def __enter__(self) -> Resent:
        backend._connection().client.meta.events.register_first(self.EVENT, self)
        return self

    def __exit__(self, *exc: object) -> None:
        backend._connection().client.meta.events.unregister(self.EVENT, self)


def _audit(n: int, entries: int = 2) -> UnitOfWork:
    uow = UnitOfWork("test")
    for i in range(entries):
        uow.create(AuditItem(*AuditItem.key(f"m{n}", "2026-01-01", str(i)), actor="t", action="a", detail="d",
                             at="2026-01-01"))
    return uow


def _stored(n: int) -> int:
    return len(list(UnitOfWork().query(AuditItem, f"AUDIT#m{n}")))


def test_a_committed_transaction_sent_again_by_botocore_succeeds_and_applies_once(store):
    with Resent() as resent:
        _audit(1).commit()                       # each create is conditional on the item being new
    assert resent.resent == 1 and len(resent.tokens) == 2
    assert resent.tokens[0] and resent.tokens[0] == resent.tokens[1]   # botocore's retry: the same token
    assert _stored(1) == 2
    with Resent(times=0) as later:
        _audit(2).commit()
        _audit(3).commit()
    assert len(set(later.tokens)) == 2                                  # each commit its own token


def _add(key: str, table: str) -> list[dict[str, Any]]:
    return [{"Update": {"TableName": table, "Key": {"pk": {"S": key}, "sk": {"S": "N"}},
                        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}]


def _n(client, key: str, table: str) -> int:
    return int(client.get_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "N"}},
                               ConsistentRead=True)["Item"]["n"]["N"])


def test_a_token_repeats_its_request_only_and_lapses_after_ten_minutes(store, monkeypatch):
    table, first, second = AuditItem.Meta.table_name, uuid4().hex, uuid4().hex    # tokens outlive the tables
    store.transact_write_items(TransactItems=_add("a", table), ClientRequestToken=first)
    store.transact_write_items(TransactItems=_add("a", table), ClientRequestToken=first)
    assert _n(store, "a", table) == 1                                   # the repeat applied nothing
    with pytest.raises(ClientError) as refused:
        store.transact_write_items(TransactItems=_add("b", table), ClientRequestToken=first)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert "Item" not in store.get_item(TableName=table, Key={"pk": {"S": "b"}, "sk": {"S": "N"}})
    store.transact_write_items(TransactItems=_add("a", table), ClientRequestToken=second)
    assert _n(store, "a", table) == 2                                   # another token: another change
    if STORES == ["aws"]:                                               # the emulator's window, moved on
        later = request_tokens._now() + request_tokens.WINDOW_SECONDS + 1
        monkeypatch.setattr(request_tokens, "_now", lambda: later)
        store.transact_write_items(TransactItems=_add("a", table), ClientRequestToken=first)
        assert _n(store, "a", table) == 3                               # after 10 minutes, a new request
