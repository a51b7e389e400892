"""Speed fixes for moto 5.2.5 that keep its behaviour.

1. A transaction backs up the items it writes, not the tables.

moto's ``transact_write_items`` deep-copies a table (for rollback) once for *every item* of
the transaction that touches it, so each transaction costs time in the size of the whole
table and a bulk import of 100k profiles grows quadratically slow (hours). The rollback only
ever needs the items the transaction names: here each of them is copied (or noted absent)
before the call, the table copies are skipped, and on any error the items are put back as
they were, in reverse order, which restores what the table copy would have.

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
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table


class _NoTableCopiesInATransaction:
    def __init__(self) -> None:
        self._local = threading.local()

    def begin(self) -> None:
        self._local.active = True

    def end(self) -> None:
        self._local.active = False

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(self._local, "active", False) and isinstance(obj, Table):
            return obj  # the items the transaction names are backed up instead (``_backup``)
        return copy.deepcopy(obj, memo)

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


def _backup(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, DynamoType, DynamoType | None, Any]]:
    """(table, hash key, range key, a copy of the item's attributes or None when absent) of each item the call names."""
    found = []
    for entry in transact_items:
        try:
            ((op_type, op),) = entry.items()
            table = backend.tables[op["TableName"]]
            key = op["Item"] if op_type == "Put" else op["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, TypeError, ValueError):
            continue  # a malformed item: moto refuses the call before writing anything
        current = table.get_item(hash_key, range_key)
        found.append((table, hash_key, range_key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    return found


_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    _applied = True
    proxy = _NoTableCopiesInATransaction()
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backup = _backup(self, transact_items)
        proxy.begin()
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, attributes in reversed(backup):
                table.delete_item(hash_key, range_key)
                if attributes is not None:
                    table.put_item(attributes)
            raise
        finally:
            proxy.end()

    dynamodb_models.copy = proxy  # type: ignore[attr-defined,assignment]
    Table.all_items = _all_items_sorted_by_value  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
