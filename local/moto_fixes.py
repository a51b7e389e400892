"""Fixes for moto 5.2.5 (its DynamoDB, and two of S3) that keep its behaviour: concurrency, rollback cost, query speed, memory.

1. One DynamoDB action at a time on a table. moto's DynamoDB backend is not safe under
concurrent requests: ``transact_write_items`` restores its rollback copy over writes other
threads made meanwhile (an answered write lost, two conditioned writes both winning), and a
Query or Scan iterating a table while another request adds an item raises ``RuntimeError:
dictionary changed size during iteration``. DynamoDB itself gives every single-item write,
each transaction and each consistent read as one atomic step (API.md, Local stack, promises
the same), so every action of moto's ``DynamoHandler`` (GetItem, Query, TransactWriteItems,
...) runs under the lock of each table it names (TableName, RequestItems, TransactItems),
taken in order of name so two transactions never wait on each other crosswise, from reading
its parsed request through the backend to its result. Actions on other tables run
meanwhile: a Query of a 20k-profile project no longer holds up the directory reads every
request makes. Any other action (CreateTable, ListTables, PartiQL, ...) takes the catalog
lock and every table's. The result leaves the locks as plain data (dicts, lists, strings:
moto's ``DynamoResult`` already converts its items; any other result is converted the same
way), never as the ``Item`` objects a later UpdateItem mutates in place, so turning it into
the HTTP answer (5.) needs no lock. Wrapping the handler's actions, the entry of both moto's
server and its in-process mock, leaves the backend's methods as moto has them (the
throttling tests wrap those). Re-entrant locks, so code already holding one may call again.

2. A transaction's rollback copies only the items it touches. moto deep-copies every table a
``TransactWriteItems`` names before applying it, and restores the copies if any action fails:
the cost of each transaction grows with the table (a 40k-profile load took > 10 minutes and
12 GB). Under the locks of (1) nothing else writes its tables while a transaction runs, so saving the
touched keys' items (or their absence) and putting exactly those back on failure restores the
same state. moto still checks every condition, applies the actions in order and reports its
cancellation reasons; only its table copy is skipped. A table with a stream keeps moto's
whole-table copy (the copy also takes back the stream records; none of ours has a stream).

3. Sorting a table on precomputed key values. moto sorts the whole table on every Query and
compares DynamoType objects, which recompute their values at each comparison: a 20k-item
table took ~3 s a Query. Key attributes of a table share one type, so ordering by
``cast_value`` (what DynamoType compares) gives the same order.

4. A Query on the table's own key reads only its partition. moto walks (and, with 3, sorts)
every item of the table for each Query page and keeps those of the asked hash key: a project
of 20k profiles made every page of every other project's Query cost the whole table, and
under the lock of (1) held every other request up for seconds. Without an index, the items
of one hash key are ``table.items[hash_key]``; moto then filters and sorts them by range key
exactly as before, so the pages are the same.

5. DynamoDB's answers serialised as JSON directly. moto serialises every answer by walking
botocore's output shape value by value (its ``ResponseSerializer``): a 1 MB Query page cost
more than the Query itself. DynamoDB's protocol is JSON 1.0 and a data-plane result is
already its JSON form (attribute values as ``{"S": ...}``), so for those actions the answer
is ``json.dumps`` of the result's members of the output shape, without None, bytes as
base64: what moto's serialiser writes (a test compares the two). Errors and the control
plane keep moto's serialiser.

6. No copy of the items a Query or Scan returns. moto deep-copies each page's items before
projecting and filtering them; both build new items rather than change them, and (1.) turns
the page into plain data under the lock, so the copy only cost time and memory.

7. Parsed update expressions kept. moto parses each UpdateExpression twice per action (the
handler's validation, then the backend) and the same few expressions recur in every
transaction; ``UpdateExpressionParser.make`` is a function of the string and its callers
deep-copy the tree before changing it, so its trees are kept by expression (up to 1,024).

8. Items no longer kept after they are gone. moto's ``BaseModel.__new__`` appends every model
instance it makes to its class's ``instances_tracked`` list, for its dashboard
(``/moto-api/data.json``) and nothing else, and never drops one: every DynamoDB ``Item`` a
write, an overwrite or a transaction's rollback copy ever made stayed in memory, about as
much again as the live items (6.3 KB held a profile loaded, 3.7 KB without the dead ones).
S3's ``FakeKey`` is the same: every object version ever put, its bytes included. Both are
made without that list (moto's reset still disposes the keys its buckets hold, and a
dropped key disposes of itself when collected); every other model keeps it.

9. One ObjectCreated event a multipart upload. moto's ``complete_multipart_upload`` stores the
object through its ``put_object``, which sends ``ObjectCreated:Put``, and then sends
``ObjectCreated:CompleteMultipartUpload`` as S3 does: every multipart object (each export)
reached its S3 event handler twice. The ``Put`` event of an object made by a multipart upload
is dropped; S3 sends only the ``CompleteMultipartUpload`` one.

Applied by the local stack, the tests and the benchmarks (``apply()``, once per process);
remove each when moto does the same.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.models.table as dynamodb_table
from moto.core.responses import ActionResult
from moto.core.utils import get_service_model
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import dynamo_to_dict
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]  # untyped in moto
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeKey
from moto.s3.notifications import S3NotificationEvent


class TableLocks:
    """A re-entrant lock per DynamoDB table name, and the catalog lock for actions on the set of tables (see 1.)."""

    def __init__(self) -> None:
        self.catalog = threading.RLock()
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(name, threading.RLock())

    @contextlib.contextmanager
    def holding(self, names: Iterable[str] | None) -> Iterator[None]:
        """Hold the locks of the tables `names` (sorted, so never crosswise); None: the catalog's and every table's."""
        if names is None:
            with self._guard:
                every = sorted(self._locks)
            locks = [self.catalog, *(self._lock(name) for name in every)]
        else:
            locks = [self._lock(name) for name in sorted(set(names))]
        with contextlib.ExitStack() as held:
            for lock in locks:
                held.enter_context(lock)
            yield

    def held_by_this_thread(self) -> bool:
        """Whether this thread holds any of the locks (tests; RLock._is_owned is CPython's own check)."""
        with self._guard:
            locks = [self.catalog, *self._locks.values()]
        return any(lock._is_owned() for lock in locks)  # type: ignore[attr-defined]


#: Held for the whole of every DynamoDB action, per table (see 1. above).
TABLE_LOCKS = TableLocks()

#: Actions that name every table they touch; any other action takes every lock.
_TABLE_ACTIONS = frozenset(
    {
        *("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"),
        *("BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"),
        *("DescribeTable", "DescribeTimeToLive", "UpdateTimeToLive"),
    }
)


def tables_named(action: str, body: dict[str, Any]) -> list[str] | None:
    """The tables a parsed DynamoDB request names (TableName, RequestItems, TransactItems); None for any other action."""
    if action not in _TABLE_ACTIONS:
        return None
    if action.startswith("Batch"):
        return list(body.get("RequestItems") or {})
    if action.startswith("Transact"):
        return [op.get("TableName", "") for item in body.get("TransactItems") or [] for op in item.values() if isinstance(op, dict)]
    return [body.get("TableName", "")]


#: (table, hash key, range key or None, the item as it was or None when absent)
_Saved = tuple[Table, DynamoType, DynamoType | None, Item | None]


class _NoTableCopyInTransaction:
    """Stands in for the ``copy`` module inside moto's DynamoDB models.

    While this thread runs a transaction whose touched items are saved (``skip_copies``), a deep
    copy of a stream-less Table hands back the table itself, so moto's ``original_table_state``
    costs nothing and its "restore" reassigns the same object; ``_transact_write_items`` puts
    the touched items back instead. Every other copy (UpdateItem's per-item copy) is the real one.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def skip_copies(self, on: bool) -> None:
        self._local.on = on

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(self._local, "on", False) and isinstance(obj, Table) and obj.stream_shard is None:
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_COPIES = _NoTableCopyInTransaction()


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    """The (hash, range) key an action of TransactItems addresses, or None when it has none (moto rejects it)."""
    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    if table.range_key_attr is None:
        return hash_key, None
    if table.range_key_attr not in attrs:
        return None
    return hash_key, DynamoType(attrs[table.range_key_attr])


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    # .get, not [], on moto's defaultdict: a lookup must not add an empty bucket.
    if range_key is None:
        found = table.items.get(hash_key)
        return found if isinstance(found, Item) else None
    bucket = table.items.get(hash_key)
    return bucket.get(range_key) if isinstance(bucket, dict) else None


def save_touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved] | None:
    """A copy of each item (or its absence) that ``transact_items`` (TransactItems as the API takes it) addresses.

    None when a table it names has a stream: then moto's own whole-table copy must run.
    Actions on unknown tables or without a key are left out (moto fails them before writing).
    """
    saved: list[_Saved] = []
    for action in transact_items:
        for op_type, op in action.items():
            table = backend.tables.get(op.get("TableName", "")) if isinstance(op, dict) else None
            if table is None:
                continue
            if table.stream_shard is not None:
                return None
            key = _key_of(table, op_type, op)
            if key is not None:
                current = _stored(table, *key)
                saved.append((table, key[0], key[1], copy.deepcopy(current) if current is not None else None))
    return saved


def restore(saved: list[_Saved]) -> None:
    """Put every saved item back as it was (absent ones removed), in reverse order of saving."""
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item  # type: ignore[assignment]  # a hash-only table maps keys to items
            continue
        bucket = table.items.get(hash_key)
        if item is not None:
            table.items[hash_key][range_key] = item
        elif isinstance(bucket, dict):
            bucket.pop(range_key, None)
            if not bucket:
                del table.items[hash_key]


def _transact_write_items(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        with TABLE_LOCKS.holding(tables_named("TransactWriteItems", {"TransactItems": transact_items})):
            saved = save_touched(self, transact_items)
            if saved is None:
                original(self, transact_items)
                return
            _COPIES.skip_copies(True)
            try:
                original(self, transact_items)
            except BaseException:
                restore(saved)
                raise
            finally:
                _COPIES.skip_copies(False)

    return transact_write_items


#: DynamoHandler's own methods that are not actions: left unlocked.
_NOT_ACTIONS = frozenset({"call_action", "get_endpoint_name", "serialized"})


def _locked(action: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    """`action` under the locks of the tables it names, its result returned as plain data (see 1. above)."""

    @functools.wraps(action)
    def locked_action(self: DynamoHandler) -> Any:
        body = self.body if isinstance(self.body, dict) else {}
        with TABLE_LOCKS.holding(tables_named(self._get_action(), body)):
            result = action(self)
            if isinstance(result, ActionResult) and not isinstance(result, DynamoResult) and result.result is not None:
                # DynamoResult converted its items when made; an ActionResult may still hold moto objects.
                result = type(result)(dynamo_to_dict(result.result))
            return result

    return locked_action


def _blob(value: Any) -> str:
    """json.dumps' fallback: a binary attribute value (moto hands bytes over) as DynamoDB's base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON: {type(value).__name__}")


#: The data-plane actions whose results are JSON as they stand (see 5. above).
JSON_ACTIONS = frozenset(
    {
        *("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"),
        *("BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"),
    }
)


@cache
def _output_members(action: str) -> frozenset[str]:
    shape = get_service_model("dynamodb").operation_model(action).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _json_serialized(serialized: Callable[..., Any]) -> Callable[..., Any]:
    def serialized_as_json(self: DynamoHandler, action_result: ActionResult) -> Any:
        result = action_result.result
        action = self._get_action()
        if action not in JSON_ACTIONS or not isinstance(result, dict) or type(action_result) not in (ActionResult, DynamoResult):
            return serialized(self, action_result)
        members = _output_members(action)
        try:
            body = json.dumps({k: v for k, v in result.items() if v is not None and k in members}, default=_blob)
        except TypeError:  # a value JSON cannot hold: moto's serialiser knows its shape
            return serialized(self, action_result)
        headers: dict[str, Any] = {"Content-Type": "application/x-amz-json-1.0"}
        headers.update(self.response_headers)
        return 200, headers, body

    return serialized_as_json


class _NoResultCopies:
    """Stands in for the ``copy`` module inside moto's Table module (see 6. above).

    ``Table.query`` deep-copies its list of result items and ``Table.scan`` each result item:
    those copies hand the items (a new list for a list) back. Every other copy is the real one.
    """

    def deepcopy(self, obj: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(obj, Item):
            return obj
        if isinstance(obj, list) and all(isinstance(item, Item) for item in obj):
            return list(obj)
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


_PARTITION = threading.local()  # (table, hash key) while a Query on the table's own key runs


def _all_items_sorted_by_value(self: Table) -> list[Item]:
    hint = getattr(_PARTITION, "value", None)
    if hint is not None and hint[0] is self:
        partition = self.items.get(hint[1]) if hint[1] in self.items else None  # .get: items is a defaultdict
        if partition is None:
            return []
        if not isinstance(partition, dict):
            return [partition]
        # The caller (Table.query without an index) sorts these by range key itself, comparing
        # DynamoType objects; given them in that order already, its sort makes one pass.
        return sorted(partition.values(), key=lambda x: x.range_key.cast_value if x.range_key else 0)
    items: list[Item] = []
    for hash_set in self.items.values():
        if isinstance(hash_set, dict):  # a table with a range key: one dict of items per hash key
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    return sorted(items, key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value)


def _query_one_partition(query: Callable[..., Any]) -> Callable[..., Any]:
    def query_partition(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _PARTITION.value = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _PARTITION.value = None

    return query_partition


def _one_event_a_multipart_upload(send_event: Callable[..., None]) -> Callable[..., None]:
    """moto's ``send_event`` without the ``ObjectCreated:Put`` of a key a multipart upload made (9.)."""

    @functools.wraps(send_event)
    def send(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        if event_name == S3NotificationEvent.OBJECT_CREATED_PUT_EVENT and getattr(key, "multipart", None) is not None:
            return
        send_event(account_id, event_name, bucket, key)

    return send


def _untracked(cls: type[Any], *_: Any, **__: Any) -> Any:
    """A model's own ``__new__``: an instance, not added to moto's ``instances_tracked`` (8.)."""
    return object.__new__(cls)


@cache  # once per process: a second call does nothing
def apply() -> None:
    """Patch moto (once per process; later calls do nothing). See the module's docstring."""
    s3_notifications.send_event = _one_event_a_multipart_upload(s3_notifications.send_event)
    for model in (Item, FakeKey):
        model.__new__ = staticmethod(_untracked)  # type: ignore[method-assign,assignment]
    dynamodb_models.copy = _COPIES  # type: ignore[attr-defined,assignment]
    dynamodb_table.copy = _NoResultCopies()  # type: ignore[attr-defined,assignment]
    UpdateExpressionParser.make = staticmethod(functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make))  # type: ignore[method-assign,assignment]
    Table.all_items = _all_items_sorted_by_value  # type: ignore[method-assign]
    Table.query = _query_one_partition(Table.query)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
    for name, member in list(vars(DynamoHandler).items()):
        if callable(member) and not name.startswith("_") and name not in _NOT_ACTIONS:
            setattr(DynamoHandler, name, _locked(member))
    DynamoHandler.serialized = _json_serialized(DynamoHandler.serialized)  # type: ignore[method-assign]
