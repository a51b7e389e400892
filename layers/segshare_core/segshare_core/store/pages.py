"""Query pages of a whole partition, read fast: fetched ahead by a thread, items decoded by ``json``.

Two costs dominate a workflow child that reads a whole shard (issue 14, bench ``child:``):

- the wait on DynamoDB, a round trip per 1 MB page: one thread fetches the next pages while
  the caller works on the one before, so a shard's read takes about max(work, wait) rather
  than their sum;
- botocore's response parser, which walks every attribute of every item through the service
  model (~12 us an item, TOOLING-NOTES): on this module's own client a ``before-parse``
  handler (botocore's documented event of that name) takes the ``Items`` out of the body and
  decodes them with ``json`` (4-5x faster); botocore parses the rest (counts, the
  ``LastEvaluatedKey``) as always. Items keep DynamoDB's typed form (``{"S": ...}``); binary
  values stay the wire's base64 text (the caller decodes them).
"""

from __future__ import annotations

import contextvars
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import boto3

#: Pages fetched ahead of the consumer: two 1 MB pages bound the memory held.
READ_AHEAD = 2


#: Where the ``before-parse`` handler leaves a page's items for ``query_pages``.
_ITEMS = "SegshareRawItems"


def _take_items(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """``before-parse.dynamodb.Query``: decode a successful page's items with json; leave botocore the rest."""
    if response_dict.get("status_code") != 200 or not isinstance(response_dict.get("body"), bytes | bytearray):
        return
    page = json.loads(response_dict["body"])
    customized_response_dict[_ITEMS] = page.pop("Items", [])
    response_dict["body"] = json.dumps(page).encode()


def partition_query(model: Any, pk: str, attributes: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
    """``query_pages``' parameters for every item of partition ``pk`` of a pynamodb ``model``'s table.

    Only ``attributes`` (the model's pynamodb attributes) are projected; returns the parameters
    and those attributes' stored names, in order (the keys of the items the pages hold).
    """
    stored = [attribute.attr_name for attribute in attributes]
    names = {f"#a{n}": name for n, name in enumerate(stored)}
    params = {
        "TableName": model.Meta.table_name,
        "KeyConditionExpression": "#k = :pk",
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": {**names, "#k": model.pk.attr_name},
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    return params, stored


@cache
def client() -> Any:
    """This module's DynamoDB client (its own, so the handler never touches another reader's responses)."""
    dynamodb = boto3.client("dynamodb")
    dynamodb.meta.events.register("before-parse.dynamodb.Query", _take_items)
    return dynamodb


def query_pages(params: dict[str, Any], *, read_ahead: int = READ_AHEAD) -> Iterator[list[dict[str, Any]]]:
    """The items of each Query page, in order, fetched by a background thread up to ``read_ahead`` pages ahead.

    ``params`` are Query's parameters without ``ExclusiveStartKey``; items come in DynamoDB's
    typed form (``{"S": ...}``). A reading error (botocore's, throttling after its retries
    included) is raised here; closing the iterator early stops the reader after its current
    request.
    """
    dynamodb = client()
    pages: queue.Queue[list[dict[str, Any]] | BaseException | None] = queue.Queue(maxsize=read_ahead)
    stop = threading.Event()

    def put(item: list[dict[str, Any]] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            start: dict[str, Any] | None = None
            while True:
                page = dynamodb.query(**params, **({"ExclusiveStartKey": start} if start else {}))
                if not put(page.get(_ITEMS, page.get("Items", []))):
                    return
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            put(None)
        except Exception as exc:  # handed to the consumer, which raises it
            put(exc)

    # The reader runs in the caller's context (the local IAM check knows the calling function by it).
    reader = threading.Thread(target=contextvars.copy_context().run, args=(read,), name="query-pages", daemon=True)
    reader.start()
    try:
        while True:
            item = pages.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
