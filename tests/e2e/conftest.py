"""End-to-end tier: the whole local stack in this process, called over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os

os.environ["STAGE"] = "local"      # the end-to-end tier runs the local stage, as `make run` does
# webhook retries in seconds, not hours: four attempts (the queue's maxReceiveCount follows)
os.environ.setdefault("WEBHOOK_RETRY_SECONDS", "1,1,1")
# every test calls from 127.0.0.1: the per-caller limit on wrong staff passwords (30 in 15 minutes)
# would carry one test's wrong passwords into the next (the integration tier holds the limit)
os.environ.setdefault("STAFF_LOGIN_CALLER_TRIES", "100000")

import io
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from devstack.snapshot import wire
from devstack.stack import LocalStack, free_port


class Api:
    """A thin HTTP client that knows the three ways of authenticating."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.url = stack.api_url
        self.session = requests.Session()

    def staff(self, role: str = "super_admin") -> dict[str, str]:
        return {"Authorization": "Bearer " + self.stack.credentials["staff_tokens"][role]}

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + token}

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             key: str | None = None, pos: bool = False, params: dict[str, str] | None = None,
             raw: bytes | None = None, signed_by: dict[str, str] | None = None,
             login: bool = False) -> requests.Response:
        """``pos``: signed with the demo POS key; ``login``: with the demo login server's key;
        ``signed_by``: with any ``{"key_id", "secret"}``."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        h = {"Content-Type": "application/json", **(headers or {})}
        if key:
            h["Idempotency-Key"] = key
        k = signed_by or (self.stack.credentials["pos_api_key"] if pos else None) or \
            (self.stack.credentials["login_api_key"] if login else None)
        if k:
            from chalicelib.api.auth import signed_headers
            h.update(signed_headers(k["key_id"], k["secret"], method, path, data, params,
                                    idempotency_key=h.get("Idempotency-Key")))
        return self.session.request(method, self.url + path, data=data or None, headers=h, params=params,
                                    timeout=30)


# Every reply the API gives during the end-to-end suite (operation, status, media type, body): the
# last test of the suite checks each against the published document (tests/e2e/test_openapi.py).
REPLIES: list[tuple[str, int, str, str]] = []
LAST = "test_every_reply_of_the_suite_matches_the_document"


@pytest.fixture(scope="session", autouse=True)
def recorded_replies() -> Iterator[list[tuple[str, int, str, str]]]:
    """Record what every operation answers (the stack runs in this process)."""
    from chalicelib.api import endpoint

    handle = endpoint._handle

    def recording(bp, op, handler, params):
        response = handle(bp, op, handler, params)
        kind = str(response.headers.get("Content-Type", "")).split(";")[0]
        body = response.body or ""
        REPLIES.append((op.operation_id, response.status_code, kind,
                        body.decode() if isinstance(body, bytes) else body))
        return response
    endpoint._handle = recording
    yield REPLIES
    endpoint._handle = handle
    if os.environ.get("REPLIES_DUMP"):          # examples for whoever writes a reply model
        with open(os.environ["REPLIES_DUMP"], "w") as out:
            json.dump(REPLIES, out, ensure_ascii=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The check of every recorded reply runs after every other test."""
    items.sort(key=lambda item: item.name == LAST)


@pytest.fixture(scope="session")
def stack():
    # one client sends the whole suite with a few keys and tokens: no caller limits, but where a
    # test sets them (tests/e2e/test_rate_limits_http.py)
    s = LocalStack(api_port=free_port(), emulator_port=free_port(), scheduler_enabled=False, rate_limits={}).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack)


_counter = [int(time.time() * 1000) % 10**7]


def fresh_phone() -> str:
    """A valid, unused mainland mobile number."""
    _counter[0] += 1
    return f"139{_counter[0] % 10**8:08d}"


def program_with_merchants(api: Api, program: str, name: str, prefix: str, merchants: tuple[str, ...],
                           store: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """A program of a test's own (one an earlier run made is used as it is), each of ``merchants``
    with a store ``store`` and a till key of that store: the HQ super admin's headers, and each
    merchant's key (``{"key_id", "secret"}``, for ``signed_by``)."""
    from devstack.credentials import staff_token
    made = api.call("POST", "/v1/programs", {"program_id": program, "name": name}, headers=api.staff("platform_admin"),
                    key=f"{prefix}-program-{fresh_phone()}")
    assert made.status_code in (201, 409), made.text
    hq = api.bearer(staff_token("super_admin", f"{prefix}-hq", program_id=program))
    keys = {}
    for merchant in merchants:
        for path, body in (("/v1/merchants", {"merchant_id": merchant, "name": merchant}),
                           (f"/v1/merchants/{merchant}/stores", {"store_id": store, "name": "一号店"})):
            r = api.call("POST", path, body, headers=hq, key=f"{prefix}-{path}-{fresh_phone()}")
            assert r.status_code in (201, 409), r.text
        key = api.call("POST", f"/v1/merchants/{merchant}/api-keys", {"store_id": store}, headers=hq,
                       key=f"{prefix}-key-{fresh_phone()}")
        assert key.status_code == 201, key.text
        keys[merchant] = {"key_id": key.json()["key_id"], "secret": key.json()["secret"]}
    return hq, keys


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """What the app logs (at INFO) while the block runs, in this process."""
    from chalicelib.shared.observability import logger
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)
    old_level = logger.log_level
    logger.setLevel("INFO")
    try:
        yield buffer
    finally:
        handler.setStream(previous)
        logger.setLevel(old_level)


@contextmanager
def configured(api: Api, path: str, field: str, change: Callable[[dict[str, Any]], dict[str, Any]], *,
               headers: dict[str, str], key: str) -> Iterator[dict[str, Any]]:
    """A configuration changed for the block: the one at ``path`` (its ``field``: ``rules``,
    ``policy``) read, ``change(read)`` PUT under ``key`` (201, or the test fails here), and the one
    read PUT back (under ``"un" + key``) however the block ends. Yields the PUT's reply."""
    before = api.call("GET", path, headers=headers).json()[field]
    put = api.call("PUT", path, {field: change(before)}, headers=headers, key=key)
    assert put.status_code == 201, put.text
    try:
        yield put.json()
    finally:
        api.call("PUT", path, {field: before}, headers=headers, key=f"un{key}")


LOST_RACES = ("/concurrent-update", "/busy")


def all_at_once(n: int, send: Callable[[int], requests.Response], tries: int = 30) -> dict[int, requests.Response]:
    """``send(i)`` for i in 0..n-1 on n threads at once, as n tills would: each sends again (same
    request, same Idempotency-Key) after losing a race, as a till is told to, up to ``tries`` times.
    The last reply of each."""
    replies: dict[int, requests.Response] = {}

    def till(i: int) -> None:
        for _ in range(tries):
            r = send(i)
            if r.status_code not in (409, 503) or not r.json()["type"].endswith(LOST_RACES):
                break
        replies[i] = r
    threads = [threading.Thread(target=till, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return replies


def readable(item: Any) -> str:
    """A stored item (or list of items) as text, a compressed attribute (``PackedJson``: binary,
    zlib) inflated to the JSON it holds, so a search of what is stored sees inside it too."""
    import zlib

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            try:
                return zlib.decompress(value).decode()
            except (zlib.error, UnicodeDecodeError):
                return value.hex()
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return json.dumps(plain(_as_client_reads(item)), ensure_ascii=False)     # base64 binary as bytes first


def _as_client_reads(value: Any) -> Any:
    """Wire JSON as boto3's client hands it back: binary values as bytes."""
    import base64
    if isinstance(value, dict):
        if set(value) == {"B"} and isinstance(value["B"], str):
            return {"B": base64.b64decode(value["B"])}
        if set(value) == {"BS"}:
            return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in value["BS"]]}
        return {k: _as_client_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_client_reads(v) for v in value]
    return value


class _Attributes(Mapping):
    """An emulator item's attributes in the wire's JSON form, made only when a filter looks past
    the partition key (most filters decide on it alone)."""

    def __init__(self, item: Any) -> None:
        self._item, self._json = item, None

    def _attrs(self) -> dict:
        if self._json is None:
            self._json = json.loads(json.dumps(self._item.to_json()["Attributes"], default=wire))
        return self._json

    def __getitem__(self, key: str) -> Any:
        return self._attrs()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs())

    def __len__(self) -> int:
        return len(self._attrs())


def stored_items(stack, keep: Callable[[str, dict], bool]) -> dict[tuple[str, str, str], dict]:
    """Every stored item (every table, as the emulator holds it, under its lock: a consistent
    view) that ``keep(pk, item)`` keeps, by (table, pk, sk): what a test compares before and
    after to prove what a call left behind. Read in the emulator's memory rather than by a Scan
    over HTTP, which grew with everything the suite had written (minutes a call, late in a run)."""
    from devstack import emulator, snapshot
    found = {}
    with emulator.LOCK:
        for table in stack.table_names.values():
            for item in snapshot.backend(stack_region()).get_table(table).all_items():
                pk = item.hash_key.value
                attributes = _Attributes(item)
                if keep(pk, attributes):
                    found[(table, pk, item.range_key.value)] = dict(attributes)
    return found


def stack_region() -> str:
    """The local stack's region."""
    from devstack.stack import REGION
    return REGION
