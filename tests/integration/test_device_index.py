"""Device-index reads inside moto: probe and scan agree, match finds the expected profiles, requests are minimal."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto import mock_aws

from local import template as tpl
from local.resources import create_all
from segshare_core import config
from segshare_core.domain.devices import Device, normalise, shard_of, token
from segshare_core.domain.match import BATCH_GET_KEYS, MatchResult, match
from segshare_core.domain.profiles import Profile
from segshare_core.store import device_index
from segshare_core.store.keys import index_pk
from segshare_core.store.models import DeviceIndexRow
from segshare_core.store.profiles import delete_profile, upsert_profiles

COMPANY = "acme"
SOURCE, TARGET, OTHER = "proj-a", "proj-b", "proj-c"
KEY = bytes(range(100, 132))
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
PLACEHOLDER = ("android", "9774d56d682e549c")
SHARED_FILLERS = range(100, 150)  # target fillers whose device the source also holds


def profile(profile_id: str, *devices: tuple[str, str]) -> Profile:
    return Profile(profile_id=profile_id, attributes={}, devices=tuple(normalise(p, d) for p, d in devices))


def tokens_of(profiles: list[Profile]) -> set[str]:
    return {token(KEY, d) for p in profiles for d in p.matchable_devices()}


@dataclass
class Requests:
    """What the device index's botocore client sent: requests per operation (before-send, so retries
    count too) and Queries per partition key (before-parameter-build)."""

    sent: Counter[str] = field(default_factory=Counter)
    queried: Counter[str] = field(default_factory=Counter)

    def on_send(self, event_name: str, **_: Any) -> None:
        self.sent[event_name.rsplit(".", 1)[-1]] += 1

    def on_query(self, params: dict[str, Any], **_: Any) -> None:
        self.queried[next(v["S"] for v in params["ExpressionAttributeValues"].values())] += 1


@pytest.fixture
def dynamodb() -> Iterator[Requests]:
    seen = Requests()
    # pynamodb keeps one botocore client per model class (built on first use); hook that one.
    events = DeviceIndexRow._get_connection().connection.client.meta.events
    events.register("before-send.dynamodb", seen.on_send)
    events.register("before-parameter-build.dynamodb.Query", seen.on_query)
    yield seen
    events.unregister("before-send.dynamodb", seen.on_send)
    events.unregister("before-parameter-build.dynamodb.Query", seen.on_query)


@dataclass
class Projects:
    source: list[Profile]
    target: list[Profile]


@pytest.fixture(scope="module")
def projects() -> Iterator[Projects]:
    """Two projects of one company whose devices overlap; both written through upsert_profiles.

    Written once for the module (transactions are slow in moto); tests that write use other projects.
    """
    source = [
        profile("s-1", ("ios", IDFV.upper())),
        profile("s-2", ("android", "000000000000abcd")),
        profile("s-3", PLACEHOLDER, ("ios", "00000000-0000-0000-0000-000000000000")),
        *(profile(f"s-fill-{i}", ("android", format(0x1000 + i, "x"))) for i in range(SHARED_FILLERS.start, 360)),
    ]
    target = [
        profile("t-1", ("ios", IDFV.lower()), ("android", "1234")),
        profile("t-2", ("android", "ABCD")),
        profile("t-3", PLACEHOLDER, ("ios", "00000000-0000-0000-0000-000000000000"), ("ios", "11111111-2222-3333-4444-555555555555")),
        profile("t-4", ("ios", IDFV)),
        profile("t-5", ("android", "abc"), ("ios", "22222222-2222-3333-4444-555555555555")),
        *(profile(f"t-fill-{i}", ("android", format(0x1000 + i, "x"))) for i in range(SHARED_FILLERS.stop)),
    ]
    with mock_aws():
        create_all(tpl.load())
        assert upsert_profiles(COMPANY, SOURCE, KEY, source) == len(source)
        assert upsert_profiles(COMPANY, TARGET, KEY, target) == len(target)
        yield Projects(source=source, target=target)


EXPECTED = MatchResult(
    matched_profiles=frozenset({"t-1", "t-2", "t-4", *(f"t-fill-{i}" for i in SHARED_FILLERS)}),
    matched_devices=2 + len(SHARED_FILLERS),  # the IDFV (held by t-1 and t-4), abcd, the fillers
    matched_by_platform={"ios": 1, "android": 1 + len(SHARED_FILLERS)},
)


def test_probe_and_scan_return_the_same_entries(projects: Projects) -> None:
    # Given the target project's index
    # When it is scanned whole, and probed with every token it holds plus some it does not
    scanned = device_index.query_all_shards(COMPANY, TARGET)
    probed = device_index.probe(COMPANY, TARGET, [e.token for e in scanned] + sorted(tokens_of(projects.source)))
    # Then both give the same entries: one per matchable device, none of the source project's
    assert sorted(probed, key=lambda e: e.token) == sorted(scanned, key=lambda e: e.token)
    assert {e.token for e in scanned} == tokens_of(projects.target)
    assert len(scanned) == len({e.token for e in scanned})


def test_match_over_either_read_finds_exactly_the_expected_profiles(projects: Projects) -> None:
    # Given the source segment's tokens
    source = tokens_of(projects.source)
    # When the target is read both ways and matched
    by_probe = match(source, device_index.probe(COMPANY, TARGET, source))
    by_scan = match(source, device_index.query_all_shards(COMPANY, TARGET))
    # Then both find the profiles sharing a device, and neither the placeholder holder t-3 nor t-5
    assert by_probe == EXPECTED
    assert by_scan == EXPECTED


def test_a_device_held_by_two_profiles_is_one_entry_naming_both(projects: Projects) -> None:
    # Given the IDFV written in two spellings by t-1 and t-4
    idfv = token(KEY, Device("ios", IDFV.lower()))
    # When it is probed
    entries = device_index.probe(COMPANY, TARGET, [idfv])
    # Then one entry holds both profiles
    assert [(e.platform, e.profile_ids) for e in entries] == [("ios", ("t-1", "t-4"))]


def test_placeholders_are_not_in_the_index(projects: Projects) -> None:
    # Given placeholders held by s-3 and t-3
    placeholders = {token(KEY, normalise(*PLACEHOLDER)), token(KEY, normalise("ios", "00000000-0000-0000-0000-000000000000"))}
    # When the index is read both ways
    # Then neither shows them
    assert device_index.probe(COMPANY, TARGET, placeholders) == []
    assert not placeholders & {e.token for e in device_index.query_all_shards(COMPANY, TARGET)}


def test_a_deleted_profile_and_a_lingering_empty_entry_stop_matching(projects: Projects) -> None:
    # Given a third project where p-2 was deleted, and an entry whose profile set emptied but was not cleaned up
    kept, deleted = profile("p-1", ("ios", IDFV)), profile("p-2", ("android", "abcd"))
    upsert_profiles(COMPANY, OTHER, KEY, [kept, deleted])
    delete_profile(COMPANY, OTHER, "p-2")
    lingering = token(KEY, normalise("android", "dead"))
    DeviceIndexRow(index_pk(COMPANY, OTHER, shard_of(lingering, config.DEVICE_INDEX_SHARDS)), lingering, platform="android").save()
    source = tokens_of(projects.source) | {lingering}
    # When it is read both ways and matched
    results = [match(source, device_index.probe(COMPANY, OTHER, source)), match(source, device_index.query_all_shards(COMPANY, OTHER))]
    # Then neither p-2's device nor the empty entry counts
    for result in results:
        assert result == MatchResult(frozenset({"p-1"}), 1, {"ios": 1, "android": 0})


@pytest.mark.parametrize("count", [1, 100, 101, 250])
def test_a_probe_sends_one_batch_get_per_100_tokens(projects: Projects, dynamodb: Requests, count: int) -> None:
    # Given `count` distinct tokens, some in the index and some not, listed twice
    tokens = sorted(tokens_of(projects.source))[:count]
    # When they are probed
    device_index.probe(COMPANY, TARGET, tokens + tokens)
    # Then DynamoDB saw ceil(count / 100) BatchGetItem requests and nothing else
    assert dynamodb.sent == {"BatchGetItem": math.ceil(count / BATCH_GET_KEYS)}


def test_an_empty_probe_sends_nothing(projects: Projects, dynamodb: Requests) -> None:
    # Given no tokens
    # When they are probed
    entries = device_index.probe(COMPANY, TARGET, [])
    # Then nothing is asked of DynamoDB
    assert entries == []
    assert dynamodb.sent == {}


def test_a_scan_queries_every_shard_once_and_leaves_no_thread(projects: Projects, dynamodb: Requests) -> None:
    # Given a target index much smaller than a page per shard
    before = threading.active_count()
    # When it is scanned
    device_index.query_all_shards(COMPANY, TARGET)
    # Then each shard partition got exactly one Query, and every worker thread has ended
    shards = config.DEVICE_INDEX_SHARDS
    assert dynamodb.sent == {"Query": shards}
    assert dynamodb.queried == {index_pk(COMPANY, TARGET, s): 1 for s in range(shards)}
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("index-query")]


def test_a_scan_of_an_unknown_project_is_empty(projects: Projects, dynamodb: Requests) -> None:
    # Given a project without profiles
    # When its index is scanned
    entries = device_index.query_all_shards(COMPANY, "proj-empty")
    # Then it is empty, still at one request per shard
    assert entries == []
    assert dynamodb.sent == {"Query": config.DEVICE_INDEX_SHARDS}
