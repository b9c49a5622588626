"""Integration tier: the real DynamoDB code against moto in-process (with our emulator patches),
and the same service tests against the in-memory fake of the persistence port.

``aws`` is moto only (stream, infra and emulator tests need it); ``db`` runs a test twice, once
on each backend, so the fake is proved to behave like the real store.
"""

import contextlib
import time

import boto3
import pytest
from moto import mock_aws

from chalicelib.members import repository as members_repository
from devstack import emulator
from tests import dynamodb_local
from tests.aws import client


def _tables() -> None:
    from chalicelib.db.tables import TABLES
    from chalicelib.shared.config import settings
    dynamodb = client("dynamodb")
    for spec in TABLES:
        dynamodb.create_table(**spec.create_table_kwargs(spec.physical_name(settings())))
    client("s3").create_bucket(Bucket=settings().reports_bucket,
                                     CreateBucketConfiguration={"LocationConstraint": settings().region})


def seed_merchants(program: str = "default") -> None:
    """Merchant m1 with store s1 (the tests' till) and merchant m2, in ``program``."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.merchants.tables import MerchantItem, StoreItem
    uow = UnitOfWork("test", program=program)
    for merchant in ("m1", "m2"):
        uow.put(MerchantItem(*MerchantItem.key(merchant), merchant_id=merchant, name=merchant, created_at="2026-01-01"))
    uow.put(StoreItem(*StoreItem.key("m1", "s1"), merchant_id="m1", store_id="s1", name="s1", created_at="2026-01-01"))


@pytest.fixture
def aws():
    """Fresh tables from the shared specs, in an in-process moto; models bound to them."""
    from chalicelib.db import backend
    emulator.install()
    with mock_aws():
        backend.reset()
        previous = backend.use(backend.DynamoBackend())
        _tables()
        seed_merchants()
        yield client("dynamodb")
        backend.use(previous)


@contextlib.contextmanager
def fake_backend(fake):
    """Every unit of work on ``fake`` (an in-memory backend), exports in memory, the merchants
    seeded; the previous backend back afterwards."""
    from chalicelib.db import backend
    from chalicelib.shared import storage
    backend.reset()
    previous = backend.use(fake)
    storage.use(storage.MemoryStorage())
    seed_merchants()
    try:
        yield fake
    finally:
        storage.use(None)
        backend.use(previous)


@pytest.fixture
def memory():
    """The in-memory fake behind every unit of work."""
    from chalicelib.db.memory import MemoryBackend
    with fake_backend(MemoryBackend()) as fake:
        yield fake


@pytest.fixture
def racing():
    """The in-memory fake with staged races (``tests/racing.py``): ``racing.race(Model, bump())``
    changes the stored item just before the next transaction that writes it."""
    from tests.racing import RacingBackend
    with fake_backend(RacingBackend()) as fake:
        yield fake


@pytest.fixture
def ddblocal():
    """AWS's DynamoDB Local (only in the namespaced tier of ``make test``): fresh tables."""
    from chalicelib.db import backend
    from chalicelib.shared import storage
    dynamodb_local.fresh_tables()
    previous = backend.use(backend.DynamoBackend())
    storage.use(storage.MemoryStorage())      # S3 is not in the namespace: exports stay in memory
    seed_merchants()
    yield boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint())
    storage.use(None)
    backend.use(previous)
    dynamodb_local.leave()


BACKENDS = ["ddblocal"] if dynamodb_local.enabled() else ["dynamodb", "memory"]


@pytest.fixture(params=BACKENDS)
def db(request):
    """Each test on moto (the DynamoDB code path) and on the in-memory fake; in the DynamoDB
    Local tier of ``make test``, on DynamoDB Local."""
    yield request.getfixturevalue({"dynamodb": "aws", "memory": "memory", "ddblocal": "ddblocal"}[request.param])


def scan(model, program: str | None = "default"):
    """Every item of a model's table in ``program`` (None: every program), as logical items."""
    from chalicelib.db import backend, tenancy
    found = []
    for item in backend.current().scan(model):
        owner = tenancy.localise(item) if tenancy.scoped(item) else None
        if program is None or owner == program or not tenancy.scoped(item):
            found.append(item)
    return found


class store:
    """The members repository on whichever backend the test runs."""

    @staticmethod
    def resolve(identity):
        from chalicelib.db.uow import UnitOfWork
        return members_repository.of(UnitOfWork()).resolve(identity)

    @staticmethod
    def load(member_id):
        from chalicelib.db.uow import UnitOfWork
        return members_repository.of(UnitOfWork()).load(member_id)


class AppClient:
    """The whole app in-process (Chalice's test client): routes, auth, idempotency, on a backend."""

    def __init__(self) -> None:
        import json

        from chalice.test import Client

        import app
        from chalicelib.shared.credentials import mint_token
        self.json = json
        self.client = Client(app.app)
        self.token = mint_token("staff", "ops", 60 * 24 * 400, role="super_admin", merchant_id="m1")
        self.platform = mint_token("staff", "platform", 60 * 24 * 400, role="platform_admin")   # runs jobs
        self.n = 0
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, body=None, key: str | None = None, token: str | None = None):
        self.n += 1
        headers = {"Authorization": "Bearer " + (token or self.token), "Content-Type": "application/json"}
        if method != "GET":
            headers["Idempotency-Key"] = key or f"auto-{self.n}"
        r = getattr(self.client.http, method.lower())(path, headers=headers,
                                                      body=self.json.dumps(body) if body is not None else None)
        self.headers = dict(r.headers)                 # the last reply's headers
        return r.status_code, (self.json.loads(r.body) if r.body else None)

    def ok(self, method: str, path: str, body=None, key: str | None = None, token: str | None = None):
        status, reply = self.call(method, path, body, key, token)
        assert status < 300, (status, reply)
        return reply

    def member(self, phone: str) -> str:
        return self.ok("POST", "/v1/members", {"phone": phone})["member_id"]

    def run_job(self, name: str) -> dict:
        return self.ok("POST", f"/v1/jobs/{name}/runs", {}, token=self.platform)["result"]


@pytest.fixture
def api(db):
    from chalicelib.shared import clock
    yield AppClient()
    clock.freeze(None)


@pytest.fixture
def conflicts(aws):
    """Make the next ``times`` transactions fail with ``TransactionConflict`` (as if another in
    flight had touched an item): ``conflicts.times = n``."""
    from chalicelib.db import backend
    from tests.integration.test_transaction_conflict import Conflicts
    client = backend._connection().client
    injected = Conflicts(0)
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", injected)
    yield injected
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", injected)


@pytest.fixture
def six_lots(monkeypatch):
    """One transaction may touch only 6 lots (as if the item budget were 100 and lots huge)."""
    from chalicelib.points import chunked, ledger, refunds, spending
    for module in (ledger, chunked, spending, refunds):
        monkeypatch.setattr(module, "MAX_LOTS", 6)


class StagedClock:
    """The requests' deadline clock, ahead of the real one by what the staged steps cost."""

    def __init__(self) -> None:
        self.ahead, self.cost = 0.0, 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead

    def call(self, api, *args, **kwargs):
        """``api.call`` and the seconds it took on this clock."""
        started = self.monotonic()
        status, reply = api.call(*args, **kwargs)
        return status, reply, self.monotonic() - started


@pytest.fixture
def slow_steps(monkeypatch):
    """Each step of a spend in steps (its reads and its transaction) costs ``slow_steps.cost``
    seconds more on the requests' deadline clock, as on a machine at load 20."""
    from chalicelib.points import chunked
    from chalicelib.shared import deadline
    staged = StagedClock()
    monkeypatch.setattr(deadline, "time", staged)          # the deadline's only use of time: monotonic()
    real = chunked.islice                                   # each step reads the soonest lots once

    def step(*args):
        staged.ahead += staged.cost
        return real(*args)
    monkeypatch.setattr(chunked, "islice", step)
    return staged
