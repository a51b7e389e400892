"""Profiles, the per-project device index and the shard counters, written together so none is ever half-updated.

Layout: a project's profiles are spread over ``config.DEVICE_INDEX_SHARDS`` partitions by a
hash of the profile id (``keys.profile``), its index over as many by the token
(``keys.index_entry``). Its counts live on ``COUNTER_SLOTS`` counter items a kind at most
(``models.CounterRow``: total and change sequence): shard ``s`` of profiles or of the index
counts on slot ``s % COUNTER_SLOTS`` of its kind. One profile write is one transaction
holding its row, each index entry it adds or removes (an entry whose last profile leaves is
deleted there, conditioned on still holding only that profile) and the ADDs to the
counters it moves, so the counters are always the exact counts (issue 14).

A bulk import's batch holds its counter moves back instead (``HeldMoves``, issue 16): each of
its transactions rewrites one item of its own with the batch's running moves (conditioned on
that item's version), and ``release_moves`` applies them in one transaction at the batch's
end, deleting the item. Concurrent batches then never meet on a counter item; the counters
plus the held items are the exact counts at every commit, and the counters alone once every
batch has released (a retried batch finds its moves held and applies them once).
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.condition import size as _untyped_size
from pynamodb.transactions import TransactWrite

from segshare_core import config
from segshare_core.domain.clock import now
from segshare_core.domain.devices import Device, shard_of, token
from segshare_core.domain.errors import NotFound, RetryLater
from segshare_core.domain.profiles import Profile, shard_of_profile
from segshare_core.store.errors import condition_failed, is_retryable
from segshare_core.store.keys import INDEX_COUNTER, PROFILE_COUNTER, counter, held_moves, held_moves_pk, index_entry, profile, profile_pk
from segshare_core.store.models import CounterRow, DeviceIndexRow, HeldMovesRow, ProfileRow, connection
from segshare_core.store.pages import partition_query, query_pages

#: A concurrent writer of the same profile or index entry makes our conditional write fail; read and try again.
_WRITE_ATTEMPTS = 4

#: Threads reading profile shards: requests wait on the network, so several overlap well even
#: on one vCPU; botocore's connection pool holds 10.
MAX_READ_THREADS = 8
#: Counter items a kind (profiles, index entries), whatever the shard count: more shards share
#: them (``counter_slot``). 2 x 16 keys are one BatchGetItem (at most 100 keys a request), so a
#: count is one request, and a transaction's counter items stay at most 32 of its 100, however
#: many storage partitions DEVICE_INDEX_SHARDS spreads a project over (issue 16 raised it to 64
#: for the write bound; a counter item per shard would have been 128 keys, two requests a count).
COUNTER_SLOTS = 16
#: Profiles handed from a reading thread to the consumer at a time, and how many such chunks
#: may wait: bounds memory whatever the project's size.
_CHUNK = 500
_QUEUED_CHUNKS = 16


def counter_slot(shard: int) -> int:
    """The counter item (of its kind) a profile or index shard counts on: ``shard % COUNTER_SLOTS``."""
    return shard % COUNTER_SLOTS


def counter_slots() -> int:
    """Counter items a kind for the configured shard count: ``min(DEVICE_INDEX_SHARDS, COUNTER_SLOTS)``."""
    return min(_shards(), COUNTER_SLOTS)


def _size_is(path: Any, op: str, value: int) -> Condition:
    """``size(path) <op> value`` (pynamodb leaves ``size`` unannotated)."""
    measured = _untyped_size(path)  # type: ignore[no-untyped-call]
    return measured == value if op == "==" else measured > value  # type: ignore[no-any-return]


def _shards() -> int:
    return config.DEVICE_INDEX_SHARDS


def _profile(row: ProfileRow) -> Profile:
    devices = tuple(Device(platform, device_id) for platform, device_id in row.devices)
    return Profile(profile_id=row.sk, attributes=row.attributes or {}, devices=devices)


def _row_tokens(row: ProfileRow) -> list[str]:
    return [str(t) for t in row.tokens or []]


def _tokens(company_key: bytes, profile: Profile) -> dict[str, str]:
    """token -> platform for every device of the profile that can match."""
    return {token(company_key, d): d.platform for d in profile.matchable_devices()}


def _row_key(company_id: str, project_id: str, profile_id: str) -> tuple[str, str]:
    return profile(company_id, project_id, profile_id, _shards())


def _index_key(company_id: str, project_id: str, device_token: str) -> tuple[str, str]:
    return index_entry(company_id, project_id, device_token, _shards())


#: DynamoDB allows 100 items and 4 MB a transaction; stay clear of both.
_TX_ITEMS = 100
_TX_BYTES = 3_000_000


@dataclass
class _Change:
    """One profile's replacement or deletion: its row, the index entries and counters that move with it."""

    profile_id: str
    shard: int
    row: ProfileRow | None  # the row to save; None deletes ``current``
    current: ProfileRow | None  # the row as read (its version conditions the write)
    added: dict[str, str]  # token -> platform
    removed: list[str]
    size: int

    @property
    def tokens(self) -> set[str]:
        return set(self.added) | set(self.removed)

    @property
    def profile_delta(self) -> int:
        """+1 for a new profile, -1 for a deletion, 0 for a replacement."""
        return (self.row is not None) - (self.current is not None)

    def counters(self, shards: int) -> set[tuple[str, int]]:
        """Every counter this change may move (index counters only move when an entry appears or goes)."""
        return {(PROFILE_COUNTER, counter_slot(self.shard))} | {(INDEX_COUNTER, counter_slot(shard_of(t, shards))) for t in self.tokens}


#: (kind, counter slot) -> [delta of total, steps of seq]: what one or more transactions move on the counters.
Moves = dict[tuple[str, int], list[int]]


@dataclass
class HeldMoves:
    """The counter moves one writer (an import batch) holds back from the shared counter items.

    ``moves``: every transaction of the writer committed and not released yet, summed per
    counter; ``version``: its ``HeldMovesRow`` as last written or read (None: no such item).
    Made by ``hold_moves``, carried by ``upsert_profiles(held=...)``, applied by ``release_moves``.
    """

    company_id: str
    project_id: str
    owner: str
    moves: Moves
    version: int | None

    def reread(self) -> None:
        """Take the item's moves and version as stored (after a lost race on it)."""
        try:
            row = HeldMovesRow.get(*held_moves(self.company_id, self.project_id, self.owner), consistent_read=True)
        except DoesNotExist:
            self.moves, self.version = {}, None
            return
        self.moves, self.version = _decode_moves(row.moves), int(row.version)


def _encode_moves(moves: Moves) -> dict[str, list[int]]:
    return {f"{kind}#{shard}": [delta, steps] for (kind, shard), (delta, steps) in sorted(moves.items())}


def _decode_moves(stored: dict[str, list[int]]) -> Moves:
    moves: Moves = {}
    for name, (delta, steps) in stored.items():
        kind, shard = name.split("#")
        moves[(kind, int(shard))] = [int(delta), int(steps)]
    return moves


def _added(held: Moves, moves: Moves) -> Moves:
    total = {key: list(value) for key, value in held.items()}
    for key, (delta, steps) in moves.items():
        entry = total.setdefault(key, [0, 0])
        entry[0] += delta
        entry[1] += steps
    return total


def _change(company_id: str, project_id: str, company_key: bytes, profile: Profile, current: ProfileRow | None) -> _Change:
    new_tokens = _tokens(company_key, profile)
    old_tokens = set(_row_tokens(current)) if current is not None else set()
    attributes = dict(profile.attributes)
    pk, sk = _row_key(company_id, project_id, profile.profile_id)
    row = ProfileRow(
        pk,
        sk,
        attributes=attributes,
        devices=[[d.platform, d.id] for d in profile.devices],
        tokens=sorted(new_tokens),
        updated_at=now(),
    )
    if current is not None:
        # The version attribute turns the save into a conditional write on what we read.
        row.version = current.version
    return _Change(
        profile_id=profile.profile_id,
        shard=shard_of_profile(profile.profile_id, _shards()),
        row=row,
        current=current,
        added={t: p for t, p in new_tokens.items() if t not in old_tokens},
        removed=sorted(old_tokens - set(new_tokens)),
        size=len(json.dumps(attributes)) + 200 * (1 + len(new_tokens)),
    )


def _deletion(current: ProfileRow) -> _Change:
    return _Change(
        profile_id=current.sk,
        shard=shard_of_profile(current.sk, _shards()),
        row=None,
        current=current,
        added={},
        removed=sorted(set(_row_tokens(current))),
        size=200 * (1 + len(current.tokens or [])),
    )


def _groups(changes: list[_Change], held: bool = False) -> list[list[_Change]]:
    """Pack whole changes into transactions within the item and size limits.

    A transaction may not touch one item twice: no profile and no index entry appears twice
    in a group, and each counter is one item however many changes move it (its deltas are
    summed in ``_commit``), so counters are counted once per group against the item limit;
    with ``held`` the group's counters are the one held-moves item.
    """
    shards = _shards()
    groups: list[list[_Change]] = []
    group: list[_Change] = []
    rows = size = 0
    keys: set[str] = set()
    counters: set[tuple[str, int]] = set()
    for change in changes:
        change_keys = change.tokens | {f"profile:{change.profile_id}"}
        change_counters = change.counters(shards)
        items = rows + 1 + len(change.tokens) + (1 if held else len(counters | change_counters))
        if group and (items > _TX_ITEMS or size + change.size > _TX_BYTES or change_keys & keys):
            groups.append(group)
            group, rows, size, keys, counters = [], 0, 0, set(), set()
        group.append(change)
        rows += 1 + len(change.tokens)
        size += change.size
        keys |= change_keys
        counters |= change_counters
    if group:
        groups.append(group)
    return groups


def _holders(company_id: str, project_id: str, tokens: Iterable[str]) -> dict[str, set[str]]:
    """token -> the profiles its index entry holds now, for the entries that exist (consistent BatchGet)."""
    keys = {_index_key(company_id, project_id, t) for t in tokens}
    if not keys:
        return {}
    rows = DeviceIndexRow.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk", DeviceIndexRow.profiles.attr_name])
    return {row.sk: set(row.profiles) for row in rows if row.profiles}


def _commit(company_id: str, project_id: str, group: list[_Change], held: HeldMoves | None = None) -> None:
    """Write a group of profile changes in one transaction: each profile lands whole or not at all.

    Every index write is conditioned on the entry's state as read just before (present or
    absent; holding this profile alone or with others), so a concurrent writer of the same
    entry cancels the transaction (ConditionalCheckFailed) instead of skewing a counter.
    The counter moves are ADDed to the counter items, or with ``held`` written into the
    writer's held-moves item, conditioned on its version (and ``held`` then takes them).
    """
    shards = _shards()
    holders = _holders(company_id, project_id, (t for change in group for t in change.tokens))
    # (kind, counter slot) -> [delta of total, steps of seq]: one ADD per counter item.
    moves: defaultdict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])

    def move(kind: str, shard: int, delta: int) -> None:
        slot = (kind, counter_slot(shard))
        moves[slot][0] += delta
        moves[slot][1] += 1

    profiles = DeviceIndexRow.profiles
    with TransactWrite(connection=connection()) as tx:
        for change in group:
            if change.row is not None:
                tx.save(change.row)
            elif change.current is not None:
                tx.delete(change.current)
            move(PROFILE_COUNTER, change.shard, change.profile_delta)
            for device_token in change.removed:
                holding = holders.get(device_token, set())
                if change.profile_id not in holding:
                    continue  # nothing of this profile to take out
                entry = DeviceIndexRow(*_index_key(company_id, project_id, device_token))
                if holding == {change.profile_id}:
                    tx.delete(entry, condition=profiles.contains(change.profile_id) & _size_is(profiles, "==", 1))
                    move(INDEX_COUNTER, shard_of(device_token, shards), -1)
                else:
                    tx.update(
                        entry,
                        actions=[profiles.delete({change.profile_id})],
                        condition=profiles.contains(change.profile_id) & _size_is(profiles, ">", 1),
                    )
            for device_token, platform in change.added.items():
                pk, sk = _index_key(company_id, project_id, device_token)
                if holders.get(device_token):
                    tx.update(DeviceIndexRow(pk, sk), actions=[profiles.add({change.profile_id})], condition=profiles.exists())
                else:
                    tx.save(DeviceIndexRow(pk, sk, platform=platform, profiles={change.profile_id}), condition=profiles.does_not_exist())
                    move(INDEX_COUNTER, shard_of(device_token, shards), +1)
        if held is None:
            for (kind, slot), (delta, steps) in moves.items():
                tx.update(
                    CounterRow(*counter(company_id, project_id, kind, slot)),
                    actions=[CounterRow.total.add(delta), CounterRow.seq.add(steps)],
                )
        else:
            running = _added(held.moves, moves)
            tx.save(_held_row(held, running, (held.version or 0) + 1), condition=_held_as_read(held))
    if held is not None:  # committed: the item now holds the running moves
        held.moves, held.version = running, (held.version or 0) + 1


def _held_row(held: HeldMoves, moves: Moves, version: int) -> HeldMovesRow:
    return HeldMovesRow(*held_moves(held.company_id, held.project_id, held.owner), moves=_encode_moves(moves), version=version)


def _held_as_read(held: HeldMoves) -> Condition:
    """The held-moves item is as ``held`` last saw it (absent when its version is None)."""
    if held.version is None:
        return HeldMovesRow.pk.does_not_exist()
    return HeldMovesRow.version == held.version  # type: ignore[no-any-return]


def _get_row(company_id: str, project_id: str, profile_id: str) -> ProfileRow | None:
    try:
        return ProfileRow.get(*_row_key(company_id, project_id, profile_id), consistent_read=True)
    except DoesNotExist:
        return None


def upsert_profiles(
    company_id: str,
    project_id: str,
    company_key: bytes,
    profiles: list[Profile],
    *,
    held: HeldMoves | None = None,
    skip_unchanged: bool = False,
) -> int:
    """Replace each profile whole (attributes, devices, index entries, counters); return how many were written.

    Profiles are packed into as few transactions as the limits allow (100 items, 4 MB:
    DynamoDB's documented TransactWriteItems limits). Every profile is either stored as sent
    or left as it was; when a concurrent writer changed one (its version or one of its index
    entries moved), that group is retried profile by profile on freshly read state, and
    RetryLater is raised when a profile still loses after a few attempts.

    ``held``: the counter moves go to that writer's held-moves item instead of the counter
    items (``release_moves`` applies them). ``skip_unchanged``: a profile already stored
    exactly as sent is not written (nor counted), so a retried import batch writes nothing again.
    """
    keys = [_row_key(company_id, project_id, p.profile_id) for p in profiles]
    existing = {row.sk: row for row in ProfileRow.batch_get(keys)} if keys else {}
    if skip_unchanged:
        profiles = [p for p in profiles if not _stored_as(existing.get(p.profile_id), p)]
    by_id = {p.profile_id: p for p in profiles}
    changes = [_change(company_id, project_id, company_key, p, existing.get(p.profile_id)) for p in profiles]
    written = 0
    for group in _groups(changes, held=held is not None):
        try:
            _commit(company_id, project_id, group, held)
            written += len(group)
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            if held is not None:
                held.reread()
            for change in group:
                written += _write_alone(company_id, project_id, company_key, by_id[change.profile_id], held, skip_unchanged)
    return written


def _stored_as(row: ProfileRow | None, profile: Profile) -> bool:
    """Whether the row holds exactly this profile (False for no row)."""
    return row is not None and _profile(row) == profile


def _write_alone(
    company_id: str, project_id: str, company_key: bytes, profile: Profile, held: HeldMoves | None = None, skip_unchanged: bool = False
) -> bool:
    """One profile on its own transaction, re-reading its row and entries on a concurrent change; whether it was written."""
    for _attempt in range(_WRITE_ATTEMPTS):
        current = _get_row(company_id, project_id, profile.profile_id)
        if skip_unchanged and _stored_as(current, profile):
            return False
        try:
            _commit(company_id, project_id, [_change(company_id, project_id, company_key, profile, current)], held)
            return True
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            if held is not None:
                held.reread()
    raise RetryLater("profile is being written concurrently; retry")


#: Attempts at applying held moves when other transactions keep meeting the counters (TransactionConflict).
_RELEASE_ATTEMPTS = 8
_RELEASE_BACKOFF_SECONDS = 0.05


def hold_moves(company_id: str, project_id: str, owner: str) -> HeldMoves:
    """The counter moves ``owner`` holds (none, or those a failed attempt of it left), read consistently.

    ``owner`` names the writer within the project (an import batch: ``<importId>#<batch>``);
    pass the result to ``upsert_profiles(held=...)`` and then to ``release_moves``.
    """
    held = HeldMoves(company_id, project_id, owner, {}, None)
    held.reread()
    return held


def release_moves(held: HeldMoves) -> None:
    """ADD the held moves to the counter items and delete the held item, exactly once.

    Each transaction carries up to 99 counters and rewrites (or, with the last counters,
    deletes) the held item conditioned on its version, so the moves reach the counters once
    whatever fails in between; a lost race re-reads the item. Raises RetryLater when other
    writers' transactions keep meeting the counters (TransactionConflict) or the item keeps
    moving.
    """
    for attempt in range(_RELEASE_ATTEMPTS):
        if held.version is None:
            return
        try:
            while held.version is not None:
                _release_some(held)
            return
        except TransactWriteError as exc:
            if condition_failed(exc):
                held.reread()
            elif is_retryable(exc):
                time.sleep(_RELEASE_BACKOFF_SECONDS * 2**attempt)
            else:
                raise
    raise RetryLater("the project's counters are busy; retry")


def _release_some(held: HeldMoves) -> None:
    """One transaction: up to 99 of the held moves onto the counters, the rest left held (or the item deleted)."""
    pending = sorted(held.moves.items())
    now_applied, rest = pending[: _TX_ITEMS - 1], dict(pending[_TX_ITEMS - 1 :])
    pk, _ = held_moves(held.company_id, held.project_id, held.owner)
    with TransactWrite(connection=connection()) as tx:
        for (kind, slot), (delta, steps) in now_applied:
            tx.update(
                CounterRow(*counter(held.company_id, held.project_id, kind, slot)),
                actions=[CounterRow.total.add(delta), CounterRow.seq.add(steps)],
            )
        if rest:
            tx.save(_held_row(held, rest, (held.version or 0) + 1), condition=_held_as_read(held))
        else:
            tx.delete(HeldMovesRow(pk, held.owner), condition=_held_as_read(held))
    if rest:
        held.moves, held.version = rest, (held.version or 0) + 1
    else:
        held.moves, held.version = {}, None


def release_all_moves(company_id: str, project_id: str, owner_prefix: str) -> int:
    """Release every held item of the project whose owner starts with ``owner_prefix`` (an import's leftovers); how many.

    An import's finish and its failure call this, so moves a batch could not release (it
    failed every attempt) still reach the counters once.
    """
    released = 0
    query = HeldMovesRow.query(held_moves_pk(company_id, project_id), HeldMovesRow.sk.startswith(owner_prefix), consistent_read=True)
    for row in query:
        held = HeldMoves(company_id, project_id, row.sk, _decode_moves(row.moves), int(row.version))
        release_moves(held)
        released += 1
    return released


def get_profile(company_id: str, project_id: str, profile_id: str) -> Profile | None:
    row = _get_row(company_id, project_id, profile_id)
    return _profile(row) if row else None


def delete_profile(company_id: str, project_id: str, profile_id: str) -> None:
    """Delete a profile, its index memberships and its count in one transaction; its devices stop matching.

    Raises NotFound when there is no such profile, RetryLater when concurrent writers keep
    winning.
    """
    for _attempt in range(_WRITE_ATTEMPTS):
        row = _get_row(company_id, project_id, profile_id)
        if row is None:
            raise NotFound(f"profile {profile_id!r} not found")
        try:
            _commit(company_id, project_id, [_deletion(row)])
            return
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
    raise RetryLater("profile is being written concurrently; retry")


def iter_profile_shard(company_id: str, project_id: str, shard: int) -> Iterator[Profile]:
    """The profiles of one shard (0 to DEVICE_INDEX_SHARDS - 1), in id order: one Query stream, 1 MB a page."""
    for row in ProfileRow.query(profile_pk(company_id, project_id, shard)):
        yield _profile(row)


def iter_profile_shard_tokens(company_id: str, project_id: str, shard: int) -> Iterator[tuple[Profile, bytes]]:
    """(profile, its stored device tokens) of one shard, in id order: the evaluation workflow's source read.

    The tokens are those the profile's last write indexed (``token`` of each matchable device)
    as stored: 16 binary bytes each, concatenated (``models.TokensAttribute``), so a reader
    needs no company key and no HMAC. Read by a low-level Query that leaves out what a resolve
    never uses (read units are billed on whole items either way, but less is decoded), pages
    fetched ahead and decoded by ``json`` (``store.pages``).
    """
    row = ProfileRow
    params, (id_name, attributes_name, devices_name, tokens_name) = partition_query(
        row, profile_pk(company_id, project_id, shard), [row.sk, row.attributes, row.devices, row.tokens]
    )
    for items in query_pages(params):
        for item in items:
            devices = tuple(Device(platform, device_id) for platform, device_id in json.loads(item[devices_name]["S"]))
            raw_attributes = item.get(attributes_name)
            attributes = json.loads(raw_attributes["S"]) if raw_attributes else {}
            profile = Profile(profile_id=item[id_name]["S"], attributes=attributes or {}, devices=devices)
            # Binary values come as the wire's base64 text (store.pages decodes items with json).
            stored = item.get(tokens_name)
            yield profile, base64.b64decode(stored["B"]) if stored else b""


def iter_profiles(company_id: str, project_id: str) -> Generator[Profile, None, None]:
    """Every profile of a project once, in no particular order: the shards are read in parallel.

    Up to MAX_READ_THREADS shard Query streams run at once and hand profiles over in chunks
    through a bounded queue, so memory stays flat in the project's size. A reading error is
    raised here; closing the iterator early stops the readers. All threads have ended when
    the iterator is exhausted or closed.
    """
    shards = _shards()
    handoff: queue.Queue[list[Profile] | BaseException | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
    stop = threading.Event()

    def put(item: list[Profile] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read(shard: int) -> None:
        try:
            chunk: list[Profile] = []
            for profile in iter_profile_shard(company_id, project_id, shard):
                chunk.append(profile)
                if len(chunk) == _CHUNK:
                    if not put(chunk):
                        return
                    chunk = []
            if chunk:
                put(chunk)
        except Exception as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            put(None)

    # pynamodb builds its botocore client lazily and not thread-safely: build it here, once.
    _ = ProfileRow._get_connection().connection.client
    pool = ThreadPoolExecutor(max_workers=min(MAX_READ_THREADS, shards), thread_name_prefix="profile-read")
    try:
        for shard in range(shards):
            pool.submit(read, shard)
        finished = 0
        while finished < shards:
            item = handoff.get()
            if item is None:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield from item
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def get_profiles(company_id: str, project_id: str, profile_ids: Iterable[str]) -> dict[str, Profile]:
    """The profiles among these ids that exist (BatchGet, 100 keys a request, whatever their shards)."""
    keys = [_row_key(company_id, project_id, profile_id) for profile_id in dict.fromkeys(profile_ids)]
    return {row.sk: _profile(row) for row in ProfileRow.batch_get(keys)} if keys else {}


#: Keys of one BatchGetItem (DynamoDB's limit).
_BATCH_KEYS = 100


def iter_profiles_by_id(company_id: str, project_id: str, profile_ids: Iterable[str]) -> Iterator[Profile]:
    """The profiles among these ids that exist, in the order given (ids assumed unique): concurrent BatchGets.

    Ids are taken 100 at a time (one BatchGetItem); up to MAX_READ_THREADS batches are read at
    once and at most twice that many are held, so memory stays flat in the number of ids
    (issue 14: the export worker's reads). A reading error is raised here; closing the
    iterator early waits for the batches in flight and reads no more.
    """
    ids = iter(profile_ids)

    def read(batch: list[str]) -> tuple[list[str], dict[str, Profile]]:
        return batch, get_profiles(company_id, project_id, batch)

    # pynamodb builds its botocore client lazily and not thread-safely: build it here, once.
    _ = ProfileRow._get_connection().connection.client
    window: deque[Future[tuple[list[str], dict[str, Profile]]]] = deque()
    with ThreadPoolExecutor(max_workers=MAX_READ_THREADS, thread_name_prefix="profile-batch") as pool:
        try:
            while True:
                while len(window) < 2 * MAX_READ_THREADS and (batch := list(islice(ids, _BATCH_KEYS))):
                    window.append(pool.submit(read, batch))
                if not window:
                    return
                batch, found = window.popleft().result()
                for profile_id in batch:
                    if profile_id in found:
                        yield found[profile_id]
        finally:
            for future in window:
                future.cancel()


@dataclass(frozen=True, slots=True)
class Counts:
    """A project's exact sizes, summed from its counter items.

    ``profiles``: profiles stored; ``index_entries``: device-index entries (distinct
    matchable devices); ``seq``: the sum of the profile shards' change sequences, which moves
    on every profile write or delete (equal values mean nothing was written in between).
    """

    profiles: int
    index_entries: int
    seq: int


def counts(company_id: str, project_id: str, *, consistent_read: bool = False) -> Counts:
    """The project's counts from its 2 x ``counter_slots()`` counter items (at most 32): one BatchGet, never a Query of rows.

    A counter that was never written counts zero. Eventually consistent by default, as the
    reads of an evaluation are.
    """
    slots = counter_slots()
    kinds = {counter(company_id, project_id, kind, s): kind for kind in (PROFILE_COUNTER, INDEX_COUNTER) for s in range(slots)}
    totals: defaultdict[str, int] = defaultdict(int)
    seq = 0
    for row in CounterRow.batch_get(list(kinds), consistent_read=consistent_read):
        kind = kinds[(row.pk, row.sk)]
        totals[kind] += int(row.total)
        if kind == PROFILE_COUNTER:
            seq += int(row.seq)
    return Counts(profiles=totals[PROFILE_COUNTER], index_entries=totals[INDEX_COUNTER], seq=seq)


def _shard_page(company_id: str, project_id: str, shard: int, after_id: str, limit: int) -> list[Profile]:
    """Up to ``limit`` profiles of one shard in id order, after ``after_id`` (empty: from the first): one Query."""
    condition = ProfileRow.sk > after_id if after_id else None
    rows = ProfileRow.query(profile_pk(company_id, project_id, shard), condition, limit=limit, page_size=limit)
    return [_profile(row) for row in rows]


def list_page(
    company_id: str, project_id: str, limit: int, after: tuple[int, str] | None = None
) -> tuple[list[Profile], tuple[int, str] | None]:
    """One page of the project's profiles in a stable order: shard by shard, profile id order within one.

    ``after`` is the (shard, profile id) the previous page ended on. Returns the page (at most
    ``limit`` profiles) and the position to continue after, or None when the listing is
    through. A profile added behind the position is not listed; every profile that exists
    for the whole walk is listed exactly once (keys never move between shards). A full page
    may be followed by an empty last one. Reads: the position's shard first (one Query, up to
    ``limit`` items); when it runs short, the next shards up to MAX_READ_THREADS at a time in
    parallel, each asked for what the page still lacks and taken in shard order, so a small
    project's page waits for ceil(shards / MAX_READ_THREADS) + 1 round trips, not one a shard
    (64 shards: 9, was 64), at the price of reading up to MAX_READ_THREADS times the rest of
    the page in that round.
    """
    shards = _shards()
    start_shard, start_id = after if after is not None else (0, "")
    page = _shard_page(company_id, project_id, start_shard, start_id, limit)
    if len(page) >= limit:
        return page, (start_shard, page[-1].profile_id)
    next_shard = start_shard + 1
    with ThreadPoolExecutor(max_workers=MAX_READ_THREADS, thread_name_prefix="profile-list") as pool:
        while next_shard < shards:
            wanted = limit - len(page)
            batch = range(next_shard, min(next_shard + MAX_READ_THREADS, shards))
            pages = pool.map(partial(_shard_page, company_id, project_id, after_id="", limit=wanted), batch)
            for shard, found in zip(batch, pages, strict=True):
                page.extend(found[: limit - len(page)])
                if len(page) >= limit:
                    return page, (shard, page[-1].profile_id)
            next_shard = batch.stop
    return page, None
