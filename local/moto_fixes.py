"""Speed fixes for moto 5.2.5 that keep its behaviour.

1. One table backup per transaction, not one per item.

moto's ``transact_write_items`` deep-copies a table (for rollback) once for *every item* of
the transaction that touches it, so a 40-item transaction on a table of a few thousand
items copies it 40 times and profile upserts grow quadratically slow. Within one call the
copies are identical (nothing is written until they are all made), so handing back the
first copy for the same table changes nothing but the time.

2. Sorting a table on precomputed key values. moto sorts the whole table on every Query and
compares DynamoType objects, which recompute their values at each comparison: a 20k-item
table took ~3 s a Query. Key attributes of a table share one type, so ordering by
``cast_value`` (what DynamoType compares) gives the same order.

Applied by the local stack, the tests and the benchmarks; remove when moto does the same.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import Item
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


def _all_items_sorted_by_value(self: Table) -> list[Item]:
    items: list[Item] = []
    for hash_set in self.items.values():
        if isinstance(hash_set, dict):  # a table with a range key: one dict of items per hash key
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    return sorted(items, key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value)


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
    Table.all_items = _all_items_sorted_by_value  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
