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
