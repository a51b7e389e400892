"""`deletes:` Dropping devices: 500 profiles go from 20 devices to 10, before (single DeleteItems) and after (inside the transaction).

Before (issue 11 item 8): each profile's transaction took it out of its 10 dropped entries
(UpdateItem DELETE), then ``_drop_empty_index_entries`` sent one conditional DeleteItem per
emptied entry, one after another: 5,000 here. That path is kept below only as the baseline.
After: ``store.profiles.upsert_profiles`` reads the entries the group touches (one
consistent BatchGet) and deletes the emptied ones inside the profiles' transaction, with
the counter updates. Both start from the same stored state, written directly (BatchWrite);
requests are counted with a botocore hook on every client the store uses. Seconds are wall
clock on moto in-process, whose per-request cost is not DynamoDB's, so the request ratio is
the figure that carries over; a projection at an assumed round trip is printed and labelled.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from pynamodb.exceptions import DeleteError
from pynamodb.transactions import TransactWrite

from bench.aws import moto_tables
from segshare_core import config
from segshare_core.domain.clock import now
from segshare_core.domain.devices import Device, shard_of, token
from segshare_core.domain.profiles import Profile, shard_of_profile
from segshare_core.store import directory, profiles
from segshare_core.store.keys import INDEX_COUNTER, PROFILE_COUNTER, counter, index_pk, profile_pk
from segshare_core.store.models import ALL_MODELS, CounterRow, DeviceIndexRow, ProfileRow, connection

COMPANY = "bench"
PROFILES, BEFORE, AFTER = 500, 20, 10
#: Assumed DynamoDB round trip of one request from a Lambda in the same region (a projection, not measured).
ROUND_TRIP_MS = 5.0


def _devices(n: int) -> list[Device]:
    return [Device("android", f"{n + 1:04x}{d:02x}") for d in range(BEFORE)]


def _load(project: str, key: bytes) -> None:
    """500 profiles of 20 devices each, their index entries and counters, as the write transactions leave them."""
    shards = config.DEVICE_INDEX_SHARDS
    totals: Counter[tuple[str, int]] = Counter()
    with ProfileRow.batch_write() as rows, DeviceIndexRow.batch_write() as index:
        for n in range(PROFILES):
            profile_id = f"user-{n:04d}"
            tokens = {token(key, d): d for d in _devices(n)}
            shard = shard_of_profile(profile_id, shards)
            totals[(PROFILE_COUNTER, shard)] += 1
            rows.save(
                ProfileRow(
                    profile_pk(COMPANY, project, shard),
                    profile_id,
                    attributes={},
                    devices=[[d.platform, d.id] for d in _devices(n)],
                    tokens=sorted(tokens),
                    updated_at=now(),
                    version=1,
                )
            )
            for device_token in tokens:
                totals[(INDEX_COUNTER, shard_of(device_token, shards))] += 1
                index.save(
                    DeviceIndexRow(
                        index_pk(COMPANY, project, shard_of(device_token, shards)), device_token, platform="android", profiles={profile_id}
                    )
                )
    with CounterRow.batch_write() as counters:
        for (kind, shard), total in totals.items():
            counters.save(CounterRow(*counter(COMPANY, project, kind, shard), total=total, seq=total))


def _replacements() -> list[Profile]:
    return [Profile(f"user-{n:04d}", {}, tuple(_devices(n)[:AFTER])) for n in range(PROFILES)]


def _old_path(project: str, key: bytes, replacements: list[Profile]) -> None:
    """The replaced code path, as it was: transactions of whole profiles, then one DeleteItem per emptied entry."""
    shards = config.DEVICE_INDEX_SHARDS

    def index_key(device_token: str) -> tuple[str, str]:
        return index_pk(COMPANY, project, shard_of(device_token, shards)), device_token

    keys = [(profile_pk(COMPANY, project, shard_of_profile(p.profile_id, shards)), p.profile_id) for p in replacements]
    existing = {row.sk: row for row in ProfileRow.batch_get(keys)}
    work: list[tuple[ProfileRow, list[str]]] = []
    for p in replacements:
        current = existing[p.profile_id]
        new_tokens = {token(key, d) for d in p.matchable_devices()}
        row = ProfileRow(
            current.pk,
            p.profile_id,
            attributes={},
            devices=[[d.platform, d.id] for d in p.devices],
            tokens=sorted(new_tokens),
            updated_at=now(),
        )
        row.version = current.version
        work.append((row, sorted({str(t) for t in current.tokens} - new_tokens)))
    emptied: list[str] = []
    group: list[tuple[ProfileRow, list[str]]] = []
    items = 0
    for change in [*work, None]:
        if change is None or items + 1 + len(change[1]) > 100:
            with TransactWrite(connection=connection()) as tx:
                for row, removed in group:
                    tx.save(row)
                    for device_token in removed:
                        tx.update(DeviceIndexRow(*index_key(device_token)), actions=[DeviceIndexRow.profiles.delete({row.sk})])
            emptied.extend(t for _, removed in group for t in removed)
            group, items = [], 0
        if change is not None:
            group.append(change)
            items += 1 + len(change[1])
    for device_token in emptied:
        with contextlib.suppress(DeleteError):
            DeviceIndexRow(*index_key(device_token)).delete(condition=DeviceIndexRow.profiles.does_not_exist())


@contextmanager
def _counted() -> Iterator[Counter[str]]:
    """Requests per operation on every botocore client the store uses (each model's and the transactions')."""
    sent: Counter[str] = Counter()

    def on_send(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}
    with ExitStack() as stack:
        for client in clients.values():
            client.meta.events.register("before-send.dynamodb", on_send)
            stack.callback(client.meta.events.unregister, "before-send.dynamodb", on_send)
        yield sent


def _measure(run: Callable[[], object]) -> tuple[Counter[str], float]:
    with _counted() as sent:
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
    return sent, seconds


def _index(project: str) -> dict[str, set[str]]:
    entries: dict[str, set[str]] = {}
    for shard in range(config.DEVICE_INDEX_SHARDS):
        for row in DeviceIndexRow.query(index_pk(COMPANY, project, shard)):
            if row.profiles:
                entries[row.sk] = set(row.profiles)
    return entries


def _ops(sent: Counter[str]) -> str:
    return ", ".join(f"{op} {n:,}" for op, n in sorted(sent.items()))


def run() -> None:
    with moto_tables():
        directory.create_company(COMPANY, "Bench", True)
        key = directory.company_key(COMPANY)
        for project in ("old", "new"):
            directory.create_project(COMPANY, project, project)
            _load(project, key)
        replacements = _replacements()
        old_sent, old_seconds = _measure(lambda: _old_path("old", key, replacements))
        new_sent, new_seconds = _measure(lambda: profiles.upsert_profiles(COMPANY, "new", key, replacements))
        same = _index("old") == _index("new")
        counts = profiles.counts(COMPANY, "new", consistent_read=True)
    old_requests, new_requests = sum(old_sent.values()), sum(new_sent.values())
    print(f"{PROFILES} profiles go from {BEFORE} to {AFTER} devices ({PROFILES * (BEFORE - AFTER):,} index entries emptied), on moto")
    print(f"    before: {old_requests:6,} requests  {old_seconds:6.2f} s   ({_ops(old_sent)})")
    print(f"    after:  {new_requests:6,} requests  {new_seconds:6.2f} s   ({_ops(new_sent)})")
    print(
        f"    projected on DynamoDB at an assumed {ROUND_TRIP_MS:.0f} ms a sequential round trip, a transaction as one (not measured): "
        f"before {old_requests * ROUND_TRIP_MS / 1000:.1f} s, after {new_requests * ROUND_TRIP_MS / 1000:.1f} s"
    )
    print(
        f"deletes: before/after {old_requests / new_requests:.0f}x requests, {old_seconds / new_seconds:.1f}x time on moto;"
        f" same index: {'yes' if same else 'NO'}; counters after: {counts.profiles} profiles, {counts.index_entries:,} entries"
        f" (expected {PROFILES}, {PROFILES * AFTER:,})"
    )
