"""moto in-process with the template's tables, and a botocore hook that counts DynamoDB requests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto import mock_aws
from pynamodb.models import Model

from local import template as tpl
from local.resources import create_all


@contextmanager
def moto_tables() -> Iterator[None]:
    """Everything the template declares, in an in-process moto, for the duration of the block."""
    with mock_aws():
        create_all(tpl.load())
        yield


@contextmanager
def count_requests(model: type[Model]) -> Iterator[Counter[str]]:
    """Requests per operation that the model's botocore client sends while the block runs.

    pynamodb builds one botocore client per model class, not through boto3's default
    session, so the hook goes on that client; ``before-send`` fires once per HTTP attempt,
    so retries and pynamodb's resends of unprocessed keys count too.
    """
    sent: Counter[str] = Counter()

    def on_send(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    events = model._get_connection().connection.client.meta.events
    events.register("before-send.dynamodb", on_send)
    try:
        yield sent
    finally:
        events.unregister("before-send.dynamodb", on_send)
