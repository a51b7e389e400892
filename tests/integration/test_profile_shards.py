"""Profiles sharded like the device index, the shard counters, and index deletes inside the profile's transaction.

Inside one in-process moto for the module (creating the tables per test is slow); each test
writes its own project.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local import template as tpl
from local.resources import create_all
from segshare_core import config
from segshare_core.domain import match as matching
from segshare_core.domain.devices import normalise, shard_of, token
from segshare_core.domain.errors import NotFound
from segshare_core.domain.profiles import Profile, shard_of_profile
from segshare_core.domain.sharing import SavePlan
from segshare_core.store import directory, profiles, segments
from segshare_core.store.keys import index_pk, profile_pk
from segshare_core.store.models import ALL_MODELS, DeviceIndexRow, ProfileRow, connection
from segshare_core.workflows import evaluate_inline

COMPANY = "acme"
KEY = bytes(range(32))
_projects = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        create_all(tpl.load())
        yield


def new_project() -> str:
    return f"proj-{next(_projects)}"


def profile(profile_id: str, *android_ids: str) -> Profile:
    return Profile(profile_id=profile_id, attributes={"n": profile_id}, devices=tuple(normalise("android", a) for a in android_ids))


def stored_rows(project_id: str) -> dict[str, int]:
    """profile id -> its shard, for every profile row stored (a Query of every shard: the truth the counters are checked against)."""
    found: dict[str, int] = {}
    for shard in range(config.DEVICE_INDEX_SHARDS):
        for row in ProfileRow.query(profile_pk(COMPANY, project_id, shard), consistent_read=True):
            assert row.sk not in found
            found[row.sk] = shard
    return found


def stored_index(project_id: str) -> dict[str, set[str]]:
    """token -> profiles, for every index item stored in the project's shards (empty ones included, as set())."""
    entries: dict[str, set[str]] = {}
    for shard in range(config.DEVICE_INDEX_SHARDS):
        for row in DeviceIndexRow.query(index_pk(COMPANY, project_id, shard), consistent_read=True):
            assert shard_of(row.sk, config.DEVICE_INDEX_SHARDS) == shard
            entries[row.sk] = set(row.profiles or ())
    return entries


class Sent:
    """Requests per operation sent by every botocore client the store uses (before-send: retries count too)."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.queried: Counter[str] = Counter()
        self._clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}

    def on_send(self, event_name: str, **_: Any) -> None:
        self.ops[event_name.rsplit(".", 1)[-1]] += 1

    def on_query(self, params: dict[str, Any], **_: Any) -> None:
        self.queried[params["ExpressionAttributeValues"][":0"]["S"]] += 1

    def __enter__(self) -> Sent:
        for client in self._clients.values():
            client.meta.events.register("before-send.dynamodb", self.on_send)
            client.meta.events.register("before-parameter-build.dynamodb.Query", self.on_query)
        return self

    def __exit__(self, *_: object) -> None:
        for client in self._clients.values():
            client.meta.events.unregister("before-send.dynamodb", self.on_send)
            client.meta.events.unregister("before-parameter-build.dynamodb.Query", self.on_query)


# --- Counters equal the true counts ------------------------------------------------------

DEVICE_POOL = [f"{n + 1:x}" for n in range(10)] + ["9774d56d682e549c"]  # the last one is a placeholder, never indexed
PROFILE_POOL = [f"u-{n}" for n in range(8)]

upserts = st.lists(
    st.tuples(st.sampled_from(PROFILE_POOL), st.lists(st.sampled_from(DEVICE_POOL), max_size=5, unique=True)),
    min_size=1,
    max_size=6,
    unique_by=lambda p: p[0],
).map(lambda batch: ("upsert", batch))
deletes = st.sampled_from(PROFILE_POOL).map(lambda profile_id: ("delete", profile_id))


@pytest.mark.parametrize(("shards", "slots"), [(3, profiles.COUNTER_SLOTS), (5, 2)], ids=["a counter a shard", "shards sharing counters"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(st.one_of(upserts, deletes), min_size=1, max_size=8))
def test_counters_equal_the_true_counts_after_any_writes(operations: list[tuple[str, Any]], shards: int, slots: int) -> None:
    # Given a fresh project over few shards (so several profiles and entries share a counter), or
    # over more shards than counter slots (so shards 0, 2, 4 and shards 1, 3 each count on one item)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "DEVICE_INDEX_SHARDS", shards)
        patch.setattr(profiles, "COUNTER_SLOTS", slots)
        project = new_project()
        model: dict[str, set[str]] = {}  # what the project should hold: profile -> devices
        seq = profiles.counts(COMPANY, project, consistent_read=True).seq
        for kind, arg in operations:
            # When profiles are upserted (devices moving between profiles, shared, dropped) or deleted
            if kind == "upsert":
                profiles.upsert_profiles(COMPANY, project, KEY, [profile(pid, *devices) for pid, devices in arg])
                model.update({pid: set(devices) for pid, devices in arg})
                written = len(arg)
            elif arg in model:
                profiles.delete_profile(COMPANY, project, arg)
                del model[arg]
                written = 1
            else:
                with pytest.raises(NotFound):
                    profiles.delete_profile(COMPANY, project, arg)
                written = 0
            # Then the counters are the true counts of rows and index entries
            counts = profiles.counts(COMPANY, project, consistent_read=True)
            expected_index: dict[str, set[str]] = {}
            for pid, devices in model.items():
                for device in devices - {"9774d56d682e549c"}:
                    expected_index.setdefault(token(KEY, normalise("android", device)), set()).add(pid)
            assert set(stored_rows(project)) == set(model)
            assert stored_index(project) == expected_index  # no empty entry left behind
            assert counts.profiles == len(model)
            assert counts.index_entries == len(expected_index)
            # And the change sequence moved by one for every profile written or deleted, and only then
            assert counts.seq == seq + written
            seq = counts.seq


# --- Spread over shards, read back whole ---------------------------------------------------


def test_a_projects_profiles_are_spread_over_every_shard_and_read_back_completely() -> None:
    # Given 1,000 profiles of one project, each with a device (enough that no shard of 64 is left empty)
    project = new_project()
    written = [profile(f"user-{n:04d}", f"{n + 1:x}") for n in range(1000)]
    profiles.upsert_profiles(COMPANY, project, KEY, written)
    ids = {p.profile_id for p in written}
    shards = config.DEVICE_INDEX_SHARDS
    # Then each row sits in the shard its id hashes to, and every shard holds some
    rows = stored_rows(project)
    assert set(rows) == ids
    assert all(shard == shard_of_profile(pid, shards) for pid, shard in rows.items())
    assert set(rows.values()) == set(range(shards))
    # When the project is read whole
    before = threading.active_count()
    with Sent() as sent:
        read = list(profiles.iter_profiles(COMPANY, project))
    # Then every profile comes back once, whole, from one Query per shard partition, and no reader thread is left
    assert sorted(p.profile_id for p in read) == sorted(ids)
    assert {p.profile_id: p for p in read} == {p.profile_id: p for p in written}
    assert sent.ops == {"Query": shards}
    assert sent.queried == {profile_pk(COMPANY, project, s): 1 for s in range(shards)}
    assert threading.active_count() == before
    # And reads by id find them in their shards; the counters say 1,000
    assert set(profiles.get_profiles(COMPANY, project, [*sorted(ids)[:150], "nobody"])) == set(sorted(ids)[:150])
    assert profiles.get_profile(COMPANY, project, "user-0042") == written[42]
    assert profiles.counts(COMPANY, project).profiles == 1000


def test_a_count_is_one_batch_get_however_many_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 64 shards (the template's, issue 16) and 400 profiles with 2 devices each, over every shard
    monkeypatch.setattr(config, "DEVICE_INDEX_SHARDS", 64)
    project = new_project()
    profiles.upsert_profiles(COMPANY, project, KEY, [profile(f"user-{n:04d}", f"a{n:x}", f"b{n:x}") for n in range(400)])
    assert set(stored_rows(project).values()) == set(range(64))
    # When the project's counts are read
    with Sent() as sent:
        counts = profiles.counts(COMPANY, project, consistent_read=True)
    # Then they are exact, from one BatchGetItem (2 x 16 counter items: BatchGetItem takes 100 keys, 2 x 64 would be two)
    assert (counts.profiles, counts.index_entries) == (400, 800)
    assert sent.ops == {"BatchGetItem": 1}


def test_a_read_runs_shards_in_parallel_and_closing_it_early_stops_its_threads() -> None:
    # Given a project with more profiles than one hand-over chunk
    project = new_project()
    profiles.upsert_profiles(COMPANY, project, KEY, [profile(f"user-{n:04d}") for n in range(300)])
    before = threading.active_count()
    # When a reader takes one profile
    reader = profiles.iter_profiles(COMPANY, project)
    next(reader)
    # Then the shards are being read by parallel threads
    assert len([t for t in threading.enumerate() if t.name.startswith("profile-read")]) > 1
    # When it stops there
    reader.close()
    # Then no reading thread is left behind
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("profile-read")]


# --- Deletes inside the transaction (issue 11 item 8) ---------------------------------------


def test_replacing_20_devices_by_10_sends_no_delete_item_and_few_requests() -> None:
    # Given 60 profiles with 20 devices each
    project = new_project()
    devices = {n: [f"{n + 1:03x}{d:02x}" for d in range(20)] for n in range(60)}
    profiles.upsert_profiles(COMPANY, project, KEY, [profile(f"user-{n:02d}", *devices[n]) for n in range(60)])
    # When each keeps only its first 10 devices
    with Sent() as sent:
        profiles.upsert_profiles(COMPANY, project, KEY, [profile(f"user-{n:02d}", *devices[n][:10]) for n in range(60)])
    # Then no single DeleteItem is sent (the old path sent one per dropped device: 600); the
    # entries go inside the profiles' transactions. A transaction holds at least 6 such
    # profiles (11 rows each, plus at most 2 x 16 counters, within 100 items), and each costs
    # one consistent BatchGet of its entries, besides one BatchGet of the current rows.
    transactions = math.ceil(60 / 6)
    assert sent.ops["DeleteItem"] == 0
    assert sent.ops["TransactWriteItems"] <= transactions
    assert sum(sent.ops.values()) <= 2 * transactions + 1
    # And the index and the counters are exact
    expected = {token(KEY, normalise("android", d)): {f"user-{n:02d}"} for n in range(60) for d in devices[n][:10]}
    assert stored_index(project) == expected
    counts = profiles.counts(COMPANY, project, consistent_read=True)
    assert (counts.profiles, counts.index_entries) == (60, 600)


# --- The cost model is fed the real counts ---------------------------------------------------


def test_the_cost_model_gets_the_index_entry_count_and_the_configured_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 5 configured shards, a target whose 30 profiles hold 3 devices each, and a source sharing 10 of them
    monkeypatch.setattr(config, "DEVICE_INDEX_SHARDS", 5)
    company = f"cost-{next(_projects)}"
    directory.create_company(company, "Cost", True)
    for project in ("src", "dst"):
        directory.create_project(company, project, project)
    key = directory.company_key(company)
    target = [profile(f"t-{n:02d}", f"a{n:02x}1", f"a{n:02x}2", f"a{n:02x}3") for n in range(30)]
    source = [profile(f"s-{n:02d}", f"a{n:02x}1") for n in range(10)]
    profiles.upsert_profiles(company, "dst", key, target)
    profiles.upsert_profiles(company, "src", key, source)
    segment = segments.create_segment(
        company, "src", "s-all", "all", rule={"all": [{"attribute": "n", "op": "exists"}]}, profile_ids=None, user_id="test"
    )
    segments.save_sharing(company, segment, SavePlan(frozenset({"dst"}), frozenset({"dst"}), frozenset()), "test")
    shared = segments.list_shared_in(company, "dst")[0]
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    real = matching.choose_plan

    def spy(*args: Any, **kwargs: Any) -> matching.Plan:
        seen.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(matching, "choose_plan", spy)
    # When the shared segment is matched
    summary, matched = evaluate_inline.match_shared(company, shared)
    # Then the cost model was handed the target's 90 index entries (not its 30 profiles) and 5 shards
    [(args, kwargs)] = seen
    assert args[:2] == (10, 90)
    assert kwargs.get("shards") == 5
    # And the match is right, with the profile count from the counters
    assert matched == [f"t-{n:02d}" for n in range(10)]
    assert summary.target_profiles == 30


# --- A stale read of an index entry cannot skew a counter -----------------------------------


@pytest.mark.parametrize(
    ("first", "then", "stale"),
    [
        # u-a drops the shared device; the read says u-a holds it alone, so the entry would be deleted
        (["aa01", "aa02"], ["aa02"], {"u-a"}),
        # u-a takes up the shared device; the read says nobody holds it, so the entry would be created
        (["aa02"], ["aa01", "aa02"], set()),
    ],
)
def test_an_entry_changed_since_it_was_read_cancels_the_write_and_it_is_retried(
    monkeypatch: pytest.MonkeyPatch, first: list[str], then: list[str], stale: set[str]
) -> None:
    # Given u-b holding device aa01, and u-a holding `first`
    project = new_project()
    profiles.upsert_profiles(COMPANY, project, KEY, [profile("u-b", "aa01"), profile("u-a", *first)])
    shared = token(KEY, normalise("android", "aa01"))
    real = profiles._holders
    reads: list[int] = []

    def stale_once(company_id: str, project_id: str, tokens: Any) -> dict[str, set[str]]:
        # The first read of the entries misses u-b (as if read before u-b's write landed)
        holders = real(company_id, project_id, tokens)
        reads.append(1)
        if len(reads) == 1:
            holders.pop(shared, None)
            if stale:
                holders[shared] = set(stale)
        return holders

    monkeypatch.setattr(profiles, "_holders", stale_once)
    # When u-a is upserted with `then`
    profiles.upsert_profiles(COMPANY, project, KEY, [profile("u-a", *then)])
    # Then the conditioned write was refused and retried on a fresh read: the entry and the counters are exact
    assert len(reads) == 2
    held = {token(KEY, normalise("android", d)): {"u-a"} for d in then}
    held[shared] = {"u-b", "u-a"} if "aa01" in then else {"u-b"}
    assert stored_index(project) == held
    counts = profiles.counts(COMPANY, project, consistent_read=True)
    assert (counts.profiles, counts.index_entries) == (2, len(held))


# --- Import batches hold their counter moves and apply them once (issue 16) -----------------


class Crash(Exception):
    """An import batch's Lambda dying between two of its transactions."""


def dying_commit(real: Any, dies_after: int | None, committed: list[str]) -> Any:
    """``profiles._commit`` that commits ``dies_after`` groups (all when None), noting their profiles, then raises Crash."""
    commits = 0

    def commit(company_id: str, project_id: str, group: Any, held: Any = None) -> None:
        nonlocal commits
        if dies_after is not None and commits == dies_after:
            raise Crash()
        real(company_id, project_id, group, held)
        commits += 1
        committed.extend(change.profile_id for change in group)

    return commit


def held_totals(project_id: str) -> tuple[int, int, int]:
    """(profiles, index entries, seq) the project's held-moves items still hold back from the counters."""
    from segshare_core.store.keys import held_moves_pk
    from segshare_core.store.models import HeldMovesRow

    totals = {"P": [0, 0], "I": [0, 0]}
    for row in HeldMovesRow.query(held_moves_pk(COMPANY, project_id), consistent_read=True):
        for name, (delta, steps) in row.moves.items():
            totals[name.split("#")[0]][0] += delta
            totals[name.split("#")[0]][1] += steps
    return totals["P"][0], totals["I"][0], totals["P"][1]


def index_of(model: dict[str, set[str]]) -> dict[str, set[str]]:
    """token -> profiles, as the index should hold them for these profiles' devices (placeholders never indexed)."""
    expected: dict[str, set[str]] = {}
    for pid, devices in model.items():
        for device in devices - {"9774d56d682e549c"}:
            expected.setdefault(token(KEY, normalise("android", device)), set()).add(pid)
    return expected


batches = st.tuples(
    st.lists(
        st.tuples(st.sampled_from(PROFILE_POOL), st.lists(st.sampled_from(DEVICE_POOL), max_size=4, unique=True)),
        min_size=1,
        max_size=6,
        unique_by=lambda p: p[0],
    ),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3)),  # the batch dies after this many transactions, or not
).map(lambda batch: ("import", batch))
retries = st.just(("retry", None))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(st.one_of(upserts, deletes, batches, retries), min_size=1, max_size=8))
def test_counters_equal_the_true_counts_after_import_batches_that_die_and_are_retried(operations: list[tuple[str, Any]]) -> None:
    # Given a fresh project over 3 shards, and transactions small enough that a batch takes several
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "DEVICE_INDEX_SHARDS", 3)
        patch.setattr(profiles, "_TX_ITEMS", 8)
        project = new_project()
        model: dict[str, set[str]] = {}
        seq = profiles.counts(COMPANY, project, consistent_read=True).seq
        dead: list[tuple[str, list[tuple[str, list[str]]]]] = []  # batches that died, to be retried
        real_commit = profiles._commit
        committed: list[str] = []
        for number, (kind, arg) in enumerate(operations):
            written = 0
            # When profiles are upserted or deleted alone, or an import batch runs (holding its moves) and maybe dies
            if kind == "upsert":
                profiles.upsert_profiles(COMPANY, project, KEY, [profile(pid, *devices) for pid, devices in arg])
                model.update({pid: set(devices) for pid, devices in arg})
                written = len(arg)
            elif kind == "delete":
                if arg in model:
                    profiles.delete_profile(COMPANY, project, arg)
                    del model[arg]
                    written = 1
            else:
                if kind == "import":
                    rows, dies_after = arg
                    owner = f"i-{number}#00000"
                else:
                    if not dead:
                        continue
                    owner, rows = dead.pop(0)
                    dies_after = None
                committed.clear()
                patch.setattr(profiles, "_commit", dying_commit(real_commit, dies_after, committed))
                held = profiles.hold_moves(COMPANY, project, owner)
                try:
                    profiles.upsert_profiles(
                        COMPANY, project, KEY, [profile(pid, *devices) for pid, devices in rows], held=held, skip_unchanged=True
                    )
                    profiles.release_moves(held)
                except Crash:
                    dead.append((owner, rows))
                finally:
                    patch.setattr(profiles, "_commit", real_commit)
                wanted = dict(rows)
                model.update({pid: set(wanted[pid]) for pid in committed})
                written = len(committed)
            # Then the counters plus what batches hold are the true counts, at every step
            counts = profiles.counts(COMPANY, project, consistent_read=True)
            held_profiles, held_entries, held_seq = held_totals(project)
            expected_index = index_of(model)
            assert set(stored_rows(project)) == set(model)
            assert stored_index(project) == expected_index
            assert counts.profiles + held_profiles == len(model)
            assert counts.index_entries + held_entries == len(expected_index)
            assert counts.seq + held_seq == seq + written
            seq += written
        # And once every dead batch was retried (or its import ended), nothing is held: the counters alone are exact
        profiles.release_all_moves(COMPANY, project, "i-")
        counts = profiles.counts(COMPANY, project, consistent_read=True)
        assert held_totals(project) == (0, 0, 0)
        assert (counts.profiles, counts.index_entries, counts.seq) == (len(model), len(index_of(model)), seq)


def test_held_moves_applied_by_a_sweep_while_the_batch_still_runs_are_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an import batch of 20 profiles that takes several transactions (8 items each)
    monkeypatch.setattr(profiles, "_TX_ITEMS", 8)
    project = new_project()
    batch = [profile(f"u-{n:02d}", f"{n + 1:x}") for n in range(20)]
    real = profiles._commit
    commits = 0

    def sweeping_commit(company_id: str, project_id: str, group: Any, held: Any = None) -> None:
        nonlocal commits
        real(company_id, project_id, group, held)
        commits += 1
        if commits == 2:
            # the import's finish or Catch applies what the batch holds while the batch still runs
            assert profiles.release_all_moves(COMPANY, project, "i-1#") == 1

    monkeypatch.setattr(profiles, "_commit", sweeping_commit)
    # When the batch writes them and then applies its moves
    held = profiles.hold_moves(COMPANY, project, "i-1#00000")
    written = profiles.upsert_profiles(COMPANY, project, KEY, batch, held=held, skip_unchanged=True)
    profiles.release_moves(held)
    # Then its transaction after the sweep lost the race on the held item and was redone on a
    # fresh read, and every move reached the counters once: by the sweep or by the batch
    assert written == 20
    counts = profiles.counts(COMPANY, project, consistent_read=True)
    assert (counts.profiles, counts.index_entries, counts.seq) == (20, 20, 20)
    assert held_totals(project) == (0, 0, 0)
    assert set(stored_rows(project)) == {p.profile_id for p in batch}
