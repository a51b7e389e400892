"""DynamoDB throttling, injected in moto below and above the retry budget.

moto has no fault injection: a method of ``moto.dynamodb.models.DynamoDBBackend`` is wrapped
so that its first ``n`` calls (on one table) raise ProvisionedThroughputExceededException
before anything is written, exactly what DynamoDB answers when it throttles. botocore's own
retry handler then runs (pynamodb's clients: standard mode, 4 attempts; the idempotency
store's client is configured the same). Only its sleep between attempts is shortened to 0,
so the attempt counting, the retry decision and the retry quota are botocore's own.

Below the budget the request succeeds as if nothing happened; above it the API answers 503
``RETRY_LATER`` with ``Retry-After``, and what is stored is exactly what was there before
(or, for an evaluation, a FAILED record beside the result still in service).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff
from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend

from segshare_core import config
from segshare_core.domain.devices import token
from segshare_core.store import directory, profiles
from segshare_core.store.models import DeviceIndexRow, HistoryRow, SharedRow
from tests.integration import hardening_world
from tests.integration.conftest import assert_error
from tests.integration.hardening_world import (
    ADMIN,
    SHARED_B,
    World,
    profile,
)

#: pynamodb's default max_retry_attempts: 1 call + 3 retries.
ATTEMPTS = 4
NEW_DEVICE = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"


class Throttled(DynamodbException):
    def __init__(self) -> None:
        super().__init__("com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException", "injected: rate exceeded")


def _tables_of(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> set[str]:
    if method == "transact_write_items":
        items = kwargs.get("transact_items", args[0] if args else [])
        return {body["TableName"] for item in items for body in item.values()}
    return {kwargs.get("table_name", args[0] if args else "")}


class Throttle:
    """Wraps DynamoDBBackend methods: the first `times` calls touching `table` raise before writing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls: dict[str, int] = {}

    def arm(self, method: str, times: int, table: str | None = None, error: Callable[[], Exception] = Throttled, after: int = 0) -> None:
        """Calls after+1 .. after+times touching `table` fail; the rest go through."""
        real = getattr(DynamoDBBackend, method)
        self.calls[method] = 0

        def throttled(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            if table is None or table in _tables_of(method, args, kwargs):
                self.calls[method] += 1
                if after < self.calls[method] <= after + times:
                    raise error()
            return real(backend, *args, **kwargs)

        self.monkeypatch.setattr(DynamoDBBackend, method, throttled)

    def disarm(self) -> None:
        self.monkeypatch.undo()
        self.monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda _self, _context: 0)


functions, world = hardening_world.functions, hardening_world.world  # this module's fixtures


@pytest.fixture
def throttle(monkeypatch: pytest.MonkeyPatch) -> Throttle:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda _self, _context: 0)
    return Throttle(monkeypatch)


def index_of(project: str) -> dict[str, set[str]]:
    prefix = f"C#acme#P#{project}#S#"
    return {row.sk: set(row.profiles or ()) for row in DeviceIndexRow.scan(consistent_read=True) if row.pk.startswith(prefix)}


# ------------------------------------------------------------------ profile upserts


def test_a_profile_upsert_throttled_within_the_budget_lands_whole(world: World, throttle: Throttle) -> None:
    # Given b-1 holding DEVICE, and its transaction throttled on every attempt but the last
    before = index_of("proj-b")
    throttle.arm("transact_write_items", ATTEMPTS - 1, config.PROFILES_TABLE)
    # When b-1 is replaced with a new country and a new device
    response = world.upsert("proj-b", [profile("b-1", country="FR", device=NEW_DEVICE)])
    # Then it landed, attributes, devices and index together
    assert response.status == 200, response.json
    assert response.json == {"upserted": 1, "rejected": []}
    assert throttle.calls["transact_write_items"] == ATTEMPTS
    stored = world.get_profile("proj-b", "b-1").json
    assert stored["attributes"] == {"country": "FR"}
    assert [d["id"].upper() for d in stored["devices"]] == [NEW_DEVICE]
    after = index_of("proj-b")
    assert set(after) != set(before)
    assert {p for holders in after.values() for p in holders} == {"b-1"}


def test_a_profile_upsert_throttled_past_the_budget_is_503_and_changes_nothing(world: World, throttle: Throttle) -> None:
    # Given b-1 as stored, and every attempt of the upsert's transaction throttled
    before_profile = world.get_profile("proj-b", "b-1").json
    before_index = index_of("proj-b")
    throttle.arm("transact_write_items", 100, config.PROFILES_TABLE)
    # When b-1 is replaced and a new profile is added in the same call
    response = world.upsert("proj-b", [profile("b-1", country="FR", device=NEW_DEVICE), profile("b-new")])
    # Then 503 RETRY_LATER with Retry-After, after botocore gave up
    assert_error(response, 503, "RETRY_LATER")
    assert throttle.calls["transact_write_items"] == ATTEMPTS
    # And nothing was half-written: b-1 and the index are as before, b-new does not exist
    throttle.disarm()
    assert world.get_profile("proj-b", "b-1").json == before_profile
    assert index_of("proj-b") == before_index
    assert_error(world.get_profile("proj-b", "b-new"), 404, "NOT_FOUND")
    # And the same call, retried once DynamoDB has capacity again, lands
    assert world.upsert("proj-b", [profile("b-1", country="FR", device=NEW_DEVICE), profile("b-new")]).json["upserted"] == 2


def _many_devices(profile_id: str, generation: int) -> dict[str, Any]:
    """A profile with 20 devices: 21 transaction items, so five of them need two transactions."""
    devices = [{"platform": "android", "id": f"{generation:02x}{int(profile_id[-1]):02x}{n:04x}"} for n in range(20)]
    return {"profileId": profile_id, "attributes": {"generation": generation}, "devices": devices}


def _index_matches_rows(project: str) -> dict[str, int]:
    """Each stored profile's index entries are exactly its devices' tokens; returns each profile's generation."""
    key = directory.company_key("acme")
    stored = {p.profile_id: p for p in profiles.iter_profiles("acme", project)}
    held: dict[str, set[str]] = {}
    for device_token, holders in index_of(project).items():
        for profile_id in holders:
            held.setdefault(profile_id, set()).add(device_token)
    assert set(held) <= set(stored)
    for profile_id, found in stored.items():
        assert held.get(profile_id, set()) == {token(key, d) for d in found.matchable_devices()}, profile_id
    return {profile_id: int(found.attributes.get("generation", -1)) for profile_id, found in stored.items()}


def test_a_batch_throttled_past_the_budget_halfway_leaves_every_profile_whole(world: World, throttle: Throttle) -> None:
    # Given five profiles of 20 devices each, stored as generation 1
    ids = [f"m-{n}" for n in range(5)]
    assert world.upsert("proj-c", [_many_devices(p, 1) for p in ids]).json["upserted"] == 5
    assert set(_index_matches_rows("proj-c").values()) == {-1, 1}
    # When generation 2 is sent and its second transaction is throttled on every attempt
    throttle.arm("transact_write_items", 100, config.PROFILES_TABLE, after=1)
    response = world.upsert("proj-c", [_many_devices(p, 2) for p in ids])
    throttle.disarm()
    # Then 503, and each profile is wholly generation 1 or wholly generation 2, its index entries with it
    assert_error(response, 503, "RETRY_LATER")
    generations = _index_matches_rows("proj-c")
    assert {generations[p] for p in ids} == {1, 2}
    # And the same call retried (an upsert replaces whole, so a repeat is harmless) brings them all to 2
    assert world.upsert("proj-c", [_many_devices(p, 2) for p in ids]).json["upserted"] == 5
    assert {generation for p, generation in _index_matches_rows("proj-c").items() if p in ids} == {2}


@pytest.mark.parametrize("reason", ["ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"])
def test_a_transaction_cancelled_for_throughput_or_a_conflict_is_503_not_500(world: World, throttle: Throttle, reason: str) -> None:
    # DynamoDB reports throttling inside a transaction as a cancellation reason, which botocore does not retry.
    before = world.get_profile("proj-b", "b-1").json

    def cancelled() -> Exception:
        return TransactionCanceledException([(reason, "injected", None), (None, None, None)])

    throttle.arm("transact_write_items", 1, config.PROFILES_TABLE, error=cancelled)
    assert_error(world.upsert("proj-b", [profile("b-1", country="FR")]), 503, "RETRY_LATER")
    assert world.get_profile("proj-b", "b-1").json == before


def test_a_read_throttled_past_the_budget_is_503(world: World, throttle: Throttle) -> None:
    # The caller's grant is read on every request (GetItem on the directory table)
    throttle.arm("get_item", 100, config.DIRECTORY_TABLE)
    assert_error(world.get_profile("proj-b", "b-1"), 503, "RETRY_LATER")
    throttle.disarm()
    assert world.get_profile("proj-b", "b-1").status == 200


# ------------------------------------------------------------------ sharing saves


def _share_rows() -> tuple[set[str], int]:
    shared = {row.pk for row in SharedRow.scan(consistent_read=True) if row.pk.startswith("C#acme#")}
    history = sum(1 for row in HistoryRow.scan(consistent_read=True) if row.pk.startswith("C#acme#"))
    return shared, history


def test_a_sharing_save_throttled_within_the_budget_applies_once(world: World, throttle: Throttle) -> None:
    # Given s-irish shared with B and C (version 1), and the save's transaction throttled but for its last attempt
    before = world.sharing()
    throttle.arm("transact_write_items", ATTEMPTS - 1, config.SEGMENTS_TABLE)
    # When the company admin unshares C
    response = world.put_sharing(["proj-b"])
    # Then the save applied once: one version step and one history line
    assert response.status == 200, response.json
    assert throttle.calls["transact_write_items"] == ATTEMPTS
    assert response.json["version"] == before["version"] + 1
    assert {p["projectId"]: p["shared"] for p in world.sharing()["projects"]} == {"proj-b": True, "proj-c": False}
    assert len(world.history()) == 2
    assert world.shared_tab("proj-c") == []


def test_a_sharing_save_throttled_past_the_budget_is_503_and_changes_nothing(world: World, throttle: Throttle) -> None:
    # Given the stored sharing state
    before, rows_before = world.sharing(), _share_rows()
    history_before = world.history()
    throttle.arm("transact_write_items", 100, config.SEGMENTS_TABLE)
    # When the company admin unshares C and B
    response = world.put_sharing([])
    # Then 503 RETRY_LATER, and the source, the targets' share items and the history are untouched
    assert_error(response, 503, "RETRY_LATER")
    assert throttle.calls["transact_write_items"] == ATTEMPTS
    throttle.disarm()
    assert world.sharing() == before
    assert _share_rows() == rows_before
    assert world.history() == history_before
    assert world.shared_tab("proj-b") == [SHARED_B]


# ------------------------------------------------------------------ evaluations


def test_an_evaluation_throttled_within_the_budget_succeeds(world: World, throttle: Throttle) -> None:
    # The source segment's rule is resolved with a Query of A's profiles
    throttle.arm("query", ATTEMPTS - 1, config.PROFILES_TABLE)
    response = world.evaluate()
    assert response.status == 201, response.json
    assert response.json["status"] == "SUCCEEDED"
    assert response.json["matchedProfiles"] == 1
    assert throttle.calls["query"] >= ATTEMPTS


def test_an_evaluation_throttled_past_the_budget_is_503_recorded_failed_and_keeps_the_result_in_service(
    world: World, throttle: Throttle
) -> None:
    # Given a succeeded evaluation serving b-1
    first = world.evaluate()
    assert first.json["status"] == "SUCCEEDED"
    # When the next one is throttled past the budget while it resolves the source
    throttle.arm("query", 100, config.PROFILES_TABLE)
    response = world.evaluate()
    throttle.disarm()
    # Then 503, the run is recorded FAILED (not left RUNNING), and the members are still the first run's
    assert_error(response, 503, "RETRY_LATER")
    newest = world.evaluations()
    assert [e["status"] for e in newest] == ["FAILED", "SUCCEEDED"]
    assert newest[0]["error"] and "injected" not in newest[0]["error"]
    members = world.members().json
    assert members["evaluationId"] == first.json["evaluationId"]
    assert [m["profileId"] for m in members["members"]] == ["b-1"]


def test_an_evaluation_whose_record_cannot_be_written_is_503_and_records_nothing(world: World, throttle: Throttle) -> None:
    throttle.arm("put_item", 100, config.EVALUATIONS_TABLE)
    assert_error(world.evaluate(), 503, "RETRY_LATER")
    throttle.disarm()
    assert world.evaluations() == []
    assert_error(world.members(), 409, "NOT_EVALUATED")


def test_a_throttled_idempotency_store_is_503_and_nothing_is_evaluated(world: World, throttle: Throttle) -> None:
    # Given the idempotency table throttled on every attempt
    throttle.arm("put_item", 100, config.IDEMPOTENCY_TABLE)
    # When an evaluation is posted with a key
    response = world.evaluate(key="k-1", who=ADMIN)
    # Then 503 after the same budget, and no evaluation ran
    assert_error(response, 503, "RETRY_LATER")
    assert throttle.calls["put_item"] == ATTEMPTS
    throttle.disarm()
    assert world.evaluations() == []
    # And within the budget the key works as usual
    throttle.arm("put_item", ATTEMPTS - 1, config.IDEMPOTENCY_TABLE)
    first = world.evaluate(key="k-1")
    assert first.status == 201, first.json
    throttle.disarm()
    assert world.evaluate(key="k-1").json == first.json
    assert len(world.evaluations()) == 1
