"""The template's IAM policies, enforced by the local stack (#24 item 3): each function kind calls
the emulator as its own role's user (devstack/access.py), so what a role lacks is refused here as
on AWS, and the whole end-to-end suite passing is the proof that each role has what its function
uses."""

from __future__ import annotations

import csv
import io

import pytest
from botocore.exceptions import ClientError

from chalicelib.db.outbox import EventItem

REFUSED = "AccessDeniedException"           # DynamoDB's code; S3 and SQS answer 403 AccessDenied


def refused(call) -> str:
    """The error code of a call the emulator refuses for want of a permission (fails the test if
    it is allowed or fails otherwise)."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    assert "AccessDenied" in error["Error"]["Code"] or error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    return REFUSED if "AccessDenied" in error["Error"]["Code"] else "AccessDenied"


def key(pk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def test_each_role_is_refused_what_its_policy_lacks(stack):
    main, events = stack.table_names["main"], stack.table_names["events"]
    stream = stack.stream_arns["events"]
    api, jobs, pumps = (stack.client("dynamodb", kind) for kind in ("api", "jobs", "stream"))
    put = {"PutRequest": {"Item": key("iam-batch")}}
    for client in (api, jobs, pumps):                                   # nobody scans or batch-writes
        assert refused(lambda c=client: c.scan(TableName=main, Limit=1)) == REFUSED
        assert refused(lambda c=client: c.batch_write_item(RequestItems={main: [put]})) == REFUSED
        assert refused(lambda c=client: c.update_item(TableName=events, Key=key("iam-ev"),
                                                      UpdateExpression="SET a = :a",
                                                      ExpressionAttributeValues={":a": {"S": "1"}})) == REFUSED
        assert "Item" not in client.get_item(TableName=main, Key=key("iam-none"))     # what it may do
    # A transaction is judged item by item: a check of the outbox is allowed, a delete there is not.
    check = {"ConditionCheck": {"TableName": events, "Key": key("iam-tx"),
                                "ConditionExpression": "attribute_not_exists(pk)"}}
    api.transact_write_items(TransactItems=[{"Put": {"TableName": main, "Item": key("iam-tx")}}, check])
    assert refused(lambda: api.transact_write_items(TransactItems=[
        {"Put": {"TableName": main, "Item": key("iam-tx-2")}},
        {"Delete": {"TableName": events, "Key": key("iam-tx")}}])) == REFUSED
    streams = stack.client("dynamodbstreams", "api")                   # only the stream's role reads it
    assert refused(lambda: streams.describe_stream(StreamArn=stream)) == REFUSED
    assert stack.client("dynamodbstreams", "stream").describe_stream(StreamArn=stream)["StreamDescription"]
    assert refused(lambda: stack.client("sqs", "api").send_message(QueueUrl=stack.dlq_url, MessageBody="x"))
    from chalicelib.shared.config import settings
    bucket = settings().reports_bucket
    assert refused(lambda: stack.client("s3", "stream").put_object(Bucket=bucket, Key="exports/iam.csv",
                                                                   Body=b"x"))
    # A missing object is "no such key" only to a role that may list the bucket (403 to others, as
    # S3 answers): the API and the jobs read a missing export as missing.
    for kind in ("api", "jobs"):
        with pytest.raises(ClientError) as missing:
            stack.client("s3", kind).get_object(Bucket=bucket, Key="exports/iam-missing.csv")
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert refused(lambda: stack.client("s3", "stream").get_object(Bucket=bucket, Key="exports/iam-missing.csv"))
    assert stack.client("dynamodb").scan(TableName=main, Limit=1)["Count"] >= 0     # the operator may


def test_the_api_function_calls_as_the_api_role(api, stack, monkeypatch):
    """Inside a request, the app's own clients sign as the API's role: a scan there is refused."""
    from chalicelib.api import endpoint
    handle, seen = endpoint._handle, []

    def scanning(bp, op, handler, params):
        try:
            next(iter(EventItem.scan(limit=1)), None)            # (a page of one: the table is the suite's)
            seen.append("allowed")
        except Exception as error:
            seen.append(getattr(error, "cause_response_code", None) or type(error).__name__)
        return handle(bp, op, handler, params)
    monkeypatch.setattr(endpoint, "_handle", scanning)
    assert api.call("GET", "/v1/programs", headers=api.staff("platform_admin")).status_code == 200
    assert seen == [REFUSED]
    monkeypatch.undo()
    next(iter(EventItem.scan(limit=1)), None)                            # outside a function: the operator


def test_gift_cards_are_generated_by_the_jobs_role_and_the_last_part_deletes_the_export(api, stack):
    """Generation as the scheduler runs it (the jobs role: no BatchWriteItem), then the API serves
    the secrets and deletes the file with the last part (the API role may delete exports)."""
    from chalicelib.gift_cards import generation
    from chalicelib.shared import clock
    from chalicelib.shared.config import settings
    from devstack.scheduler import scheduled_event
    hq = api.staff()
    created = api.call("POST", "/v1/gift-cards/batches", {"name": "IAM", "face_value_fen": 5_000, "count": 3,
                                                           "valid_until": "2099-12-31"}, headers=hq, key="iam-batch")
    assert created.status_code == 202, created.text
    batch_id = created.json()["batch_id"]
    [run] = [call for name, _, call in stack.scheduled_jobs() if name == "gift-card-batches"]
    assert run(scheduled_event("gift-card-batches", clock.now()))["result"].get("gave_up", 0) == 0
    batch = api.call("GET", f"/v1/gift-cards/batches/{batch_id}", headers=hq).json()
    assert (batch["status"], batch["chunks_done"]) == ("ready", 1), batch
    export = api.call("POST", f"/v1/gift-cards/batches/{batch_id}/export", headers=hq, key=f"iam-exp-{batch_id}")
    [part] = export.json()["parts"]
    rows = list(csv.DictReader(io.StringIO(api.call("GET", part["path"], headers=hq).text)))
    assert len(rows) == 3
    s3 = stack.client("s3")
    listed = s3.list_objects_v2(Bucket=settings().reports_bucket,
                                Prefix=generation.export_key("default", batch_id).rsplit("/", 1)[0])
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")


def allowed_but_failed(call) -> str:
    """The error code of a call the emulator lets through IAM but refuses for what it asks (a bogus
    receipt handle, a malformed batch): the permission is there, and nothing reached the queue."""
    with pytest.raises(ClientError) as caught:
        call()
    code = caught.value.response["Error"]["Code"]
    assert "AccessDenied" not in code and caught.value.response["ResponseMetadata"]["HTTPStatusCode"] != 403, code
    return code


def test_the_webhooks_role_reaches_its_items_and_its_queue_and_nothing_else(stack):
    """#25 item 4: deliver-webhooks' role (kind ``webhooks``) may not scan, delete or batch-write
    the main table, nor write exports; it may set a message's visibility on the webhooks queue (a
    failure's retry wait), which the API may not. The stream's fan-out, the API's replays and
    deliver-webhooks (a message held back from a failing endpoint) may send batches to the queue (``sqs:SendMessage`` allows ``SendMessageBatch``, as on AWS)."""
    from chalicelib.shared.config import settings
    main = stack.table_names["main"]
    webhooks = stack.client("dynamodb", "webhooks")
    assert refused(lambda: webhooks.scan(TableName=main, Limit=1)) == REFUSED
    assert refused(lambda: webhooks.delete_item(TableName=main, Key=key("WEBHOOK#iam"))) == REFUSED
    assert refused(lambda: webhooks.batch_write_item(
        RequestItems={main: [{"PutRequest": {"Item": key("WEBHOOK#iam")}}]})) == REFUSED
    assert "Item" not in webhooks.get_item(TableName=main, Key=key("WEBHOOK#iam-none"))
    assert refused(lambda: stack.client("s3", "webhooks").put_object(
        Bucket=settings().reports_bucket, Key="exports/iam-webhooks.csv", Body=b"x"))
    queue = stack.webhooks_queue_url
    sqs = stack.client("sqs", "webhooks")
    allowed_but_failed(lambda: sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle="bogus",
                                                             VisibilityTimeout=10))
    batch = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[      # allowed: the entry fails
        {"Id": "1", "ReceiptHandle": "bogus", "VisibilityTimeout": 10}])
    assert [f["Id"] for f in batch["Failed"]] == ["1"] and not batch.get("Successful")
    assert refused(lambda: stack.client("sqs", "api").change_message_visibility(
        QueueUrl=queue, ReceiptHandle="bogus", VisibilityTimeout=10))
    assert refused(lambda: sqs.send_message(QueueUrl=stack.jobs_queue_url, MessageBody="x"))
    twice = [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}]
    for kind in ("stream", "api", "webhooks"):      # webhooks: a message held by the in-flight gate, sent again
        allowed_but_failed(lambda k=kind: stack.client("sqs", k).send_message_batch(QueueUrl=queue, Entries=twice))
    assert refused(lambda: stack.client("sqs", "jobs").send_message_batch(QueueUrl=queue, Entries=twice))
    stack.wait_webhooks_idle(5)                                      # nothing reached the queue
