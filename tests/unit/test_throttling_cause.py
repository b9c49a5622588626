"""A PynamoDB error whose cause carries no answer (a read timeout) is not taken for throttling,
and asking does not raise: it was an AttributeError that hid the timeout (found by make bench)."""

from botocore.exceptions import ClientError, ReadTimeoutError
from pynamodb.exceptions import QueryError

from chalicelib.db.backend import throttling


def test_a_timeout_is_not_throttling_and_asking_does_not_raise():
    timeout = ReadTimeoutError(endpoint_url="http://127.0.0.1:1/")
    assert throttling(QueryError("Failed to query items", timeout)) is False


def test_a_throttled_answer_still_is():
    refused = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Query")
    assert throttling(QueryError("Failed to query items", refused)) is True
