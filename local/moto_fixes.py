"""A speed fix for moto 5.2.5, same behaviour: one table backup per transaction, not one per item.

moto's ``transact_write_items`` deep-copies a table (for rollback) once for *every item* of
the transaction that touches it, so a 40-item transaction on a table of a few thousand
items copies it 40 times and profile upserts grow quadratically slow. Within one call the
copies are identical (nothing is written until they are all made), so handing back the
first copy for the same table changes nothing but the time. Applied by the local stack and
the tests; remove when moto copies each table once.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table


class _CopyOncePerTransaction:
    def __init__(self) -> None:
        self._local = threading.local()

    def begin(self) -> None:
        self._local.tables = {}

    def end(self) -> None:
        self._local.tables = None

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        tables = getattr(self._local, "tables", None)
        if tables is None or not isinstance(obj, Table):
            return copy.deepcopy(obj, memo)
        if id(obj) not in tables:
            tables[id(obj)] = copy.deepcopy(obj)
        return tables[id(obj)]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    _applied = True
    proxy = _CopyOncePerTransaction()
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        proxy.begin()
        try:
            original(self, transact_items)
        finally:
            proxy.end()

    dynamodb_models.copy = proxy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
