"""Asynchronous event sources, as Lambda's pollers would deliver them to the real handlers.

- SQS event sources of the template: their queues are polled and the messages are handed to
  the function as one SQS event, with the attributes Lambda's poller gives each record. An
  invocation that raises leaves every message on the queue; one that returns deletes them
  all, except, where the event source has ``ReportBatchItemFailures``, the records its
  ``batchItemFailures`` name, which stay on the queue.
- S3 ObjectCreated events: moto cannot invoke Lambda without Docker, so the bucket notifies an
  SQS queue (moto's own notification) and the pump hands each record to the function whose
  prefix filter matches, as S3 would.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any
from urllib.parse import unquote_plus

import boto3

from local import iam
from local.lambdas import Containers
from local.template import Function, Template, local_name

LOG = logging.getLogger("segshare.local.events")
S3_EVENTS_QUEUE = "segshare-local-s3-events"


class Pump:
    def __init__(self, template: Template) -> None:
        self.sqs = boto3.client("sqs")
        functions = template.functions()
        self.queue_functions: list[tuple[str, Containers, Function, bool]] = []
        for function in functions:
            for queue in function.queues:
                url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                self.queue_functions.append((url, Containers(function), function, queue in function.partial_batch_queues))
        self.s3_functions = [(prefix, Containers(f)) for f in functions for prefix in f.s3_prefixes]
        self.s3_queue_url = ""
        if self.s3_functions:
            self.s3_queue_url = self._notify_s3(template)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)

    def _notify_s3(self, template: Template) -> str:
        url = self.sqs.create_queue(QueueName=S3_EVENTS_QUEUE)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3 = boto3.client("s3")
        for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
            s3.put_bucket_notification_configuration(
                Bucket=local_name(logical_id, resource["Type"], template),
                NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
            )
        return str(url)

    def pump_once(self, wait_seconds: int = 0) -> int:
        """Deliver what is waiting now; return how many messages were handled."""
        handled = 0
        for url, containers, function, partial in self.queue_functions:
            # Lambda's event source mapping polls with the function's own role (sqs:ReceiveMessage, DeleteMessage).
            with iam.acting_as(function.logical_id):
                messages = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
                ).get("Messages", [])
            if not messages:
                continue
            handled += len(messages)
            event = {"Records": [sqs_record(m, url) for m in messages]}
            try:
                response = containers.invoke(event) or {}
                failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])} if partial else set()
            except Exception:
                LOG.exception("function %s failed; its messages return to the queue", function.logical_id)
                continue
            for message in messages:
                if message["MessageId"] not in failed:
                    with iam.acting_as(function.logical_id):
                        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if self.s3_queue_url:
            messages = self.sqs.receive_message(QueueUrl=self.s3_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds).get(
                "Messages", []
            )
            for message in messages:
                handled += 1
                for record in json.loads(message["Body"]).get("Records", []):  # s3:TestEvent has none
                    # Event keys are URL-encoded (moto's server encodes even the slashes).
                    key = unquote_plus(record["s3"]["object"]["key"])
                    for prefix, containers in self.s3_functions:
                        if key.startswith(prefix):
                            try:
                                containers.invoke({"Records": [record]})
                            except Exception:
                                LOG.exception("S3 event handler failed for %s", key)
                self.sqs.delete_message(QueueUrl=self.s3_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return handled

    def drain(self, rounds: int = 20) -> None:
        """Pump until nothing is waiting (tests use this instead of the thread)."""
        for _ in range(rounds):
            if not self.pump_once():
                return

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.pump_once(wait_seconds=1):
                    self._stop.wait(0.2)
            except Exception:
                if not self._stop.is_set():
                    LOG.exception("event pump error")
                self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def sqs_record(message: dict[str, Any], url: str) -> dict[str, Any]:
    name = url.rsplit("/", 1)[-1]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{name}",
        "awsRegion": "us-east-1",
    }
