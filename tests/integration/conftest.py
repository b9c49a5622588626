"""Integration tier: the real DynamoDB code against moto in-process, with our emulator patches."""

import boto3
import pytest
from moto import mock_aws

from devstack import emulator


@pytest.fixture
def aws():
    """Fresh tables from the shared specs, in an in-process moto; models bound to them."""
    emulator.install()
    with mock_aws():
        from chalicelib.shared.config import settings
        from chalicelib.store import models, uow
        from chalicelib.store.tables import TABLES
        models.rebind()
        uow._CONNECTIONS.clear()
        client = boto3.client("dynamodb")
        for spec in TABLES:
            client.create_table(**spec.create_table_kwargs(spec.physical_name(settings())))
        yield client


class AppClient:
    """The whole app in-process (Chalice's test client) on moto: routes, auth, idempotency."""

    def __init__(self) -> None:
        import json
        from chalice.test import Client

        import app
        from chalicelib.api.auth import mint_token
        from chalicelib.points import service
        service._rules_cache = None
        self.json = json
        self.client = Client(app.app)
        self.token = mint_token("staff", "ops", 60 * 24 * 400, role="super_admin", merchant_id="m1")
        self.n = 0

    def call(self, method: str, path: str, body=None, key: str | None = None):
        self.n += 1
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        if method != "GET":
            headers["Idempotency-Key"] = key or f"auto-{self.n}"
        r = getattr(self.client.http, method.lower())(path, headers=headers,
                                                      body=self.json.dumps(body) if body is not None else None)
        return r.status_code, (self.json.loads(r.body) if r.body else None)

    def ok(self, method: str, path: str, body=None, key: str | None = None):
        status, reply = self.call(method, path, body, key)
        assert status < 300, (status, reply)
        return reply

    def member(self, phone: str) -> str:
        return self.ok("POST", "/v1/members", {"phone": phone})["member_id"]

    def run_job(self, name: str) -> dict:
        return self.ok("POST", f"/v1/jobs/{name}/runs", {})["result"]


@pytest.fixture
def api(aws):
    from chalicelib.shared import clock
    yield AppClient()
    clock.freeze(None)
