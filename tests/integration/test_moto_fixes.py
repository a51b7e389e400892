"""moto's DynamoDB as ``local.moto_fixes`` leaves it: transactions roll back only what they touched.

A cancelled TransactWriteItems must restore every item it touched and nothing else: a write
another client made to another item while the transaction ran stays (moto restores a copy of
the whole table taken at the start, which erased such a write). And a transaction must not
cost a copy of the table: its memory is the size of its items, not of the table.
"""

from __future__ import annotations

import gc
import json
import threading
import time
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

TABLE = "moto-fixes-test"


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _item(client: Any, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(TableName=TABLE, Key=_key(pk, sk), ConsistentRead=True).get("Item")
    return found


def test_a_cancelled_transaction_restores_what_it_touched_and_keeps_a_concurrent_write(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    table.put_item(TableName=TABLE, Item={**_key("p", "updated"), "n": {"N": "1"}})
    table.put_item(TableName=TABLE, Item={**_key("p", "deleted"), "n": {"N": "2"}})
    table.put_item(TableName=TABLE, Item={**_key("p", "guard"), "n": {"N": "3"}})

    # While the transaction checks its last action (the others already applied), another
    # client writes an item the transaction does not touch. The transaction gives it a second
    # to land, then fails its condition and is cancelled.
    writer_done = threading.Event()

    def concurrent_write() -> None:
        boto3.client("dynamodb").put_item(TableName=TABLE, Item={**_key("p", "other"), "n": {"N": "9"}})
        writer_done.set()

    writer = threading.Thread(target=concurrent_write)
    real_get_item = DynamoDBBackend.get_item

    def get_item(backend: DynamoDBBackend, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if keys.get("sk") == {"S": "guard"} and not writer.is_alive() and not writer_done.is_set():
            writer.start()
            writer_done.wait(timeout=1)
        return real_get_item(backend, table_name, keys, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item)

    with pytest.raises(ClientError) as cancelled:
        table.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("p", "created"), "n": {"N": "4"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("p", "updated"),
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "5"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": _key("p", "deleted")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("p", "guard"),
                        "ConditionExpression": "n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "0"}},
                    }
                },
            ]
        )
    writer.join(timeout=10)
    monkeypatch.undo()

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert writer_done.is_set()
    assert _item(table, "p", "created") is None
    assert _item(table, "p", "updated") == {**_key("p", "updated"), "n": {"N": "1"}}
    assert _item(table, "p", "deleted") == {**_key("p", "deleted"), "n": {"N": "2"}}
    assert _item(table, "p", "guard") == {**_key("p", "guard"), "n": {"N": "3"}}
    assert _item(table, "p", "other") == {**_key("p", "other"), "n": {"N": "9"}}


def test_a_transaction_on_a_large_table_does_not_copy_the_table(table: Any) -> None:
    for start in range(0, 5000, 25):
        table.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": {**_key(f"p{n % 50}", f"s{n:05d}"), "v": {"S": "x" * 200}}}} for n in range(start, start + 25)
                ]
            }
        )
    transaction = [{"Put": {"TableName": TABLE, "Item": {**_key("p0", f"t{n}"), "v": {"S": "y"}}}} for n in range(10)]
    tracemalloc.start()
    try:
        table.transact_write_items(TransactItems=transaction)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 5,000 items of ~200 bytes are several MB as moto holds them; ten small items and one request are not.
    assert peak < 2_000_000, peak
    assert _item(table, "p0", "t9") == {**_key("p0", "t9"), "v": {"S": "y"}}


def _every_type(pk: str, sk: str) -> dict[str, Any]:
    return {
        **_key(pk, sk),
        "s": {"S": "text é"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xffbytes"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"inner": {"L": [{"BOOL": True}, {"NULL": True}, {"N": "3"}]}}},
        "l": {"L": [{"S": "x"}, {"M": {}}]},
    }


def _answers(client: Any) -> list[Any]:
    """One answer of each data-plane action moto_fixes serialises itself, as boto3 parses it."""
    for n in range(3):
        client.put_item(TableName=TABLE, Item=_every_type("p", f"s{n}"))
    total = {"ReturnConsumedCapacity": "TOTAL"}
    answers = [
        client.get_item(TableName=TABLE, Key=_key("p", "s0"), **total),
        client.get_item(TableName=TABLE, Key=_key("p", "absent")),
        client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Limit=2, **total),
        client.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Select="COUNT"),
        client.scan(TableName=TABLE, Limit=2, **total),
        client.batch_get_item(RequestItems={TABLE: {"Keys": [_key("p", "s1"), _key("p", "s2")]}}, **total),
        client.put_item(TableName=TABLE, Item=_every_type("p", "s0"), ReturnValues="ALL_OLD", **total),
        client.update_item(
            TableName=TABLE,
            Key=_key("p", "s1"),
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "7"}},
            ReturnValues="ALL_NEW",
        ),
        client.delete_item(TableName=TABLE, Key=_key("p", "s2"), ReturnValues="ALL_OLD"),
        client.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": _key("p", "s0")}}]),
        client.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": _every_type("p", "s3")}}]),
        client.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": _every_type("p", "s4")}}]}),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


def test_answers_serialised_as_json_parse_as_motos_serialiser_gives_them(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from local import moto_fixes

    # Given the same calls answered by moto_fixes' JSON and by moto's own serialiser (the fast path off)
    ours = _answers(table)
    for name in ("s0", "s1", "s2", "s3", "s4"):
        table.delete_item(TableName=TABLE, Key=_key("p", name))
    monkeypatch.setattr(moto_fixes, "JSON_ACTIONS", frozenset())
    motos = _answers(table)
    # Then boto3 reads the same answers from both: every attribute type, keys, counts, capacity
    assert ours == motos
    assert ours[0]["Item"]["b"] == {"B": b"\x00\xffbytes"}
    assert "LastEvaluatedKey" in ours[2]


def test_an_answer_is_serialised_outside_the_dynamodb_lock(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from local import moto_fixes

    # Given a Query answer being turned into JSON
    held: list[bool] = []
    real_dumps = json.dumps

    def dumps(value: Any, **kwargs: Any) -> str:
        held.append(moto_fixes.TABLE_LOCKS.held_by_this_thread())
        return real_dumps(value, **kwargs)

    monkeypatch.setattr(moto_fixes.json, "dumps", dumps)
    table.put_item(TableName=TABLE, Item=_every_type("p", "s0"))
    table.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    # Then the lock that serialises DynamoDB's actions was released before
    assert held, "the answer did not go through moto_fixes' serialiser"
    assert not any(held)


def test_an_action_waits_only_for_the_locks_of_the_tables_it_names(table: Any) -> None:
    from local import moto_fixes

    table.create_table(
        TableName="other",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # Given another thread holding the first table's lock, as a long Query of it would
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with moto_fixes.TABLE_LOCKS.holding([TABLE]):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    waiting = threading.Thread(target=lambda: _item(table, "p", "s0"))
    try:
        # When a request writes the other table, it is answered meanwhile
        started = time.monotonic()
        table.put_item(TableName="other", Item={"pk": {"S": "x"}})
        assert time.monotonic() - started < 5
        # And one reading the held table waits for it
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()
    finally:
        release.set()
        holder.join(10)
    waiting.join(10)
    assert not waiting.is_alive()


def _stored_item(pk: str, sk: str) -> Any:
    """The ``Item`` object moto holds for (pk, sk) in the test table."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    stored = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(TABLE).items[DynamoType({"S": pk})]
    return stored[DynamoType({"S": sk})]


def test_an_overwritten_item_and_a_transactions_copies_are_freed(table: Any) -> None:
    # Given an item as moto stores it, watched by a weak reference
    table.put_item(TableName=TABLE, Item={**_key("p", "x"), "n": {"N": "1"}})
    first = weakref.ref(_stored_item("p", "x"))
    # When it is overwritten, once alone and once in a transaction (which saves a rollback copy)
    table.put_item(TableName=TABLE, Item={**_key("p", "x"), "n": {"N": "2"}})
    second = weakref.ref(_stored_item("p", "x"))
    table.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": {**_key("p", "x"), "n": {"N": "3"}}}}])
    gc.collect()
    # Then nothing holds the items that are gone (moto's instance tracker kept every one: issue 10, item 5)
    assert first() is None
    assert second() is None
    assert _item(table, "p", "x") == {**_key("p", "x"), "n": {"N": "3"}}


def test_an_overwritten_s3_object_is_freed() -> None:
    with mock_aws():
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="moto-fixes-bucket")
        s3.put_object(Bucket="moto-fixes-bucket", Key="k", Body=b"a" * 1000)
        first = weakref.ref(s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["moto-fixes-bucket"].keys["k"])
        s3.put_object(Bucket="moto-fixes-bucket", Key="k", Body=b"b" * 1000)
        gc.collect()
        assert first() is None
        assert s3.get_object(Bucket="moto-fixes-bucket", Key="k")["Body"].read() == b"b" * 1000


def test_a_multipart_upload_sends_one_object_created_event() -> None:
    with mock_aws():
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue = sqs.create_queue(QueueName="moto-fixes-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="moto-fixes-events")
        s3.put_bucket_notification_configuration(
            Bucket="moto-fixes-events",
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
        )
        # When an object is made by a multipart upload (as each export is) and another by one PUT
        upload = s3.create_multipart_upload(Bucket="moto-fixes-events", Key="multi")["UploadId"]
        part = s3.upload_part(Bucket="moto-fixes-events", Key="multi", UploadId=upload, PartNumber=1, Body=b"x" * 10)
        s3.complete_multipart_upload(
            Bucket="moto-fixes-events", Key="multi", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
        )
        s3.put_object(Bucket="moto-fixes-events", Key="single", Body=b"y")
        events: list[tuple[str, str]] = []
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                events += [(r["eventName"], r["s3"]["object"]["key"]) for r in json.loads(message["Body"]).get("Records", [])]
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        # Then each sends one event, as S3 does (moto sent the multipart object's twice: Put, then CompleteMultipartUpload)
        assert sorted(events) == [("ObjectCreated:CompleteMultipartUpload", "multi"), ("ObjectCreated:Put", "single")]
