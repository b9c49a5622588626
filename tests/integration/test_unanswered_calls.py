"""DynamoDB calls that get no answer (attack A of session 47, findings 2 and 3), staged at the
botocore layer under PynamoDB on moto in-process: a ``before-send`` handler that raises botocore's
own exception for a call, either after the emulator has applied it (the answer was lost: a read
timeout, a connection closed) or before it reaches the emulator (a connect timeout, an endpoint
that refuses the connection). botocore retries each such call, as it does in production.

- A signed read's record of its signature, written by a try whose answer was lost, does not make
  botocore's retry of that very write look like a replay (it answered 401 ``signature-reused``).
- A call without an answer on every attempt answers 503 ``busy`` with ``Retry-After`` (it
  answered 500 ``internal-error``), and the same Idempotency-Key sent again answers the first
  outcome, or makes the change once.
- A transaction that committed but whose answer was lost is sent again by botocore with its
  ``ClientRequestToken``, which the emulator honours as DynamoDB does: a refresh of a staff login
  gives the next pair (the repeat answered 401 "already used" and the login was lost).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chalicelib.api.signing import SignatureItem, signed_headers
from chalicelib.db import backend
from chalicelib.db.uow import UnitOfWork
from chalicelib.merchants import keys
from chalicelib.shared.principal import Principal
from tests.integration.conftest import AppClient
from tests.outbox import outbox_events
from tests.racing import appear

URL = "http://dynamodb.local/"


def _registered() -> list[str]:
    """The members registered so far (one event each)."""
    return [e.subject for e in outbox_events(kind="member.registered")]


class Unanswered:
    """A botocore ``before-send`` handler: the next ``times`` calls of ``operation`` (whose body
    holds ``marker``, if given) raise ``error``; ``applied``: after the emulator has applied the
    call (registered last on ``before-send``, after moto's handler there), else before it is
    sent (first on the operation's own, more specific, event: botocore calls those first)."""

    def __init__(self, operation: str, error: Exception, times: int, marker: str = "", applied: bool = True) -> None:
        self.operation, self.error, self.times, self.marker, self.applied = operation, error, times, marker, applied
        self.raised = 0
        self.event = "before-send" if applied else f"before-send.dynamodb.{operation}"

    def __call__(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        if event_name != f"before-send.dynamodb.{self.operation}" or self.raised >= self.times:
            return
        if self.marker not in (request.body or b"").decode():
            return
        self.raised += 1
        raise self.error

    def __enter__(self) -> Unanswered:
        events = backend._connection().client.meta.events
        (events.register_last if self.applied else events.register_first)(self.event, self)
        return self

    def __exit__(self, *exc: object) -> None:
        backend._connection().client.meta.events.unregister(self.event, self)


@pytest.fixture
def unanswered(aws, monkeypatch):
    """The app on moto, botocore's pauses between its retries skipped."""
    from botocore.retries import standard
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    return AppClient()


def _till() -> dict[str, str]:
    uow = UnitOfWork("test")
    made = keys.create_api_key(Principal("staff", "boss", "super_admin"), "m1", "s1", ["pos"], uow)
    uow.commit()
    return made


def _signed_get(api: AppClient, key: dict[str, str], path: str, headers: dict[str, str] | None = None):
    headers = headers or signed_headers(key["key_id"], key["secret"], "GET", path)
    return api.client.http.get(path, headers=headers), headers


def _raw(api: AppClient, method: str, path: str, body: dict, key: str):
    return getattr(api.client.http, method.lower())(path, body=json.dumps(body), headers={
        "Authorization": "Bearer " + api.token, "Content-Type": "application/json", "Idempotency-Key": key})


def test_a_signed_read_whose_signature_was_written_by_a_try_whose_answer_was_lost_is_accepted(unanswered):
    api, till = unanswered, _till()
    mid = api.member("13800000001")
    path = f"/v1/members/{mid}/points"
    lost = ReadTimeoutError(endpoint_url=URL)
    with Unanswered("PutItem", lost, times=1, marker="SIG#") as timeout:
        read, sent = _signed_get(api, till, path)
    assert timeout.raised == 1                                   # botocore sent the put again
    assert read.status_code == 200, read.body
    again, _ = _signed_get(api, till, path, sent)                # the same signature, another request
    assert again.status_code == 401 and json.loads(again.body)["type"].endswith("/signature-reused")
    assert _signed_get(api, till, path)[0].status_code == 200    # signed anew


def test_a_signed_write_whose_transaction_committed_unanswered_answers_once(unanswered):
    api, till = unanswered, _till()
    path, body = "/v1/members", json.dumps({"phone": "13800000002"}).encode()
    headers = signed_headers(till["key_id"], till["secret"], "POST", path, body, idempotency_key="lost-write")
    with Unanswered("TransactWriteItems", ReadTimeoutError(endpoint_url=URL), times=1, marker="SIG#") as timeout:
        made = api.client.http.post(path, body=body, headers={**headers, "Content-Type": "application/json"})
    assert timeout.raised == 1
    assert made.status_code == 201, made.body
    assert _registered() == [f"member:{json.loads(made.body)['member_id']}"]


@pytest.mark.parametrize(("error", "applied"), [
    (ReadTimeoutError(endpoint_url=URL), True),
    (ConnectionClosedError(endpoint_url=URL), True),
    (ConnectTimeoutError(endpoint_url=URL), False),
    (EndpointConnectionError(endpoint_url=URL), False),
], ids=["read-timeout", "connection-closed", "connect-timeout", "endpoint-connection"])
def test_a_write_without_an_answer_is_503_busy_and_its_key_answers_the_first_outcome(unanswered, error, applied):
    api = unanswered
    body = {"phone": "13800000003"}
    with Unanswered("TransactWriteItems", error, times=99, applied=applied) as timeout:
        failed = _raw(api, "POST", "/v1/members", body, "unanswered-register")
    assert timeout.raised == 3                                   # every attempt botocore made (AWS_CALL_ATTEMPTS)
    problem = json.loads(failed.body)
    assert failed.status_code == 503 and problem["type"].endswith("/busy"), failed.body
    assert failed.headers["Retry-After"] == "1" and "may or may not" in problem["detail"]
    assert len(_registered()) == (1 if applied else 0)           # the lost answer's attempt committed
    retried = _raw(api, "POST", "/v1/members", body, "unanswered-register")
    assert retried.status_code == 201, retried.body
    assert (retried.headers.get("Idempotent-Replayed") == "true") is applied
    assert _registered() == [f"member:{json.loads(retried.body)['member_id']}"]


@pytest.mark.parametrize("operation", ["GetItem", "Query", "BatchGetItem", "PutItem"])
def test_a_read_without_an_answer_is_503_busy_not_500(unanswered, operation):
    api, till = unanswered, _till()
    mid = api.member("13800000004")
    path = f"/v1/members/{mid}/points"
    with Unanswered(operation, ReadTimeoutError(endpoint_url=URL), times=99) as timeout:
        read, _ = _signed_get(api, till, path)
    assert timeout.raised == 3, operation                        # the operation makes such a call
    problem = json.loads(read.body)
    assert read.status_code == 503 and problem["type"].endswith("/busy"), read.body
    assert read.headers["Retry-After"] == "1"
    assert _signed_get(api, till, path)[0].status_code == 200


def test_only_another_request_with_the_signature_makes_it_reused(racing):
    api, till = AppClient(), _till()
    mid = api.member("13800000005")
    path = f"/v1/members/{mid}/points"
    racing.race(SignatureItem, create=appear(SignatureItem))     # this request's own record, there already
    assert _signed_get(api, till, path)[0].status_code == 200 and racing.raced == 1
    racing.race(SignatureItem, create=appear(SignatureItem, by="another-request"))
    reused, _ = _signed_get(api, till, path)
    assert racing.raced == 2 and reused.status_code == 401
    assert json.loads(reused.body)["type"].endswith("/signature-reused")


def test_a_refresh_whose_transaction_committed_unanswered_gives_the_next_pair_once(unanswered):
    """The refresh token's single use is a condition of the transaction that uses it: botocore's
    retry of that transaction, committed but its answer lost, failed it (401 "already used", the
    login lost). It carries the attempt's ClientRequestToken, so it succeeds, applying nothing again."""
    from chalicelib.db.refresh import RefreshTokenItem
    from chalicelib.staff import accounts
    from tests.integration.conftest import scan
    uow = UnitOfWork("test")
    accounts.create(uow, Principal("staff", "boss", "super_admin"), "dora", "x", "ops_manager", None, None,
                    "Correct-horse-staple-42")
    uow.commit()
    login = api_post(unanswered, "/v1/auth/staff/login",
                     {"program_id": "default", "login": "dora", "password": "Correct-horse-staple-42"})
    assert login.status_code == 201, login.body
    with Unanswered("TransactWriteItems", ReadTimeoutError(endpoint_url=URL), times=1, marker="RTOKEN#") as timeout:
        refreshed = api_post(unanswered, "/v1/auth/staff/refresh", {"refresh_token": json.loads(login.body)["refresh_token"]})
    assert timeout.raised == 1                                   # botocore sent the committed transaction again
    assert refreshed.status_code == 201, refreshed.body
    again = api_post(unanswered, "/v1/auth/staff/refresh", {"refresh_token": json.loads(refreshed.body)["refresh_token"]})
    assert again.status_code == 201, again.body                  # the pair the caller got is the one stored
    tokens = [t.status for t in scan(RefreshTokenItem, None) if "RTOKEN#" in t.pk]
    assert sorted(tokens) == ["active", "used", "used"]             # one new token a refresh


def api_post(api: AppClient, path: str, body: dict):
    return api.client.http.post(path, body=json.dumps(body), headers={"Content-Type": "application/json"})
