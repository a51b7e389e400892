"""The match core (the ANY-device rule over tokens) and the plan choice."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segshare_core.domain.devices import PLATFORMS, Device, Platform, normalise, token
from segshare_core.domain.match import (
    BATCH_GET_KEYS,
    DEFAULT_SHARDS,
    PAGE_BYTES,
    READ_UNIT_BYTES,
    IndexEntry,
    MatchResult,
    choose_plan,
    match,
    probe_cost,
    scan_cost,
)
from segshare_core.domain.profiles import Profile

KEY = bytes(range(32))
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"


def device(platform: str, raw: str) -> Device:
    return normalise(platform, raw)


def profile(profile_id: str, *devices: Device) -> Profile:
    return Profile(profile_id=profile_id, attributes={}, devices=tuple(devices))


def source_tokens(members: Iterable[Profile], key: bytes = KEY) -> frozenset[str]:
    """What the evaluator computes from the source segment's members."""
    return frozenset(token(key, d) for p in members for d in p.matchable_devices())


def index_of(profiles: Iterable[Profile], key: bytes = KEY) -> list[IndexEntry]:
    """The target project's device index as store.profiles writes it: matchable devices only."""
    held: dict[str, tuple[Platform, set[str]]] = {}
    for p in profiles:
        for d in p.matchable_devices():
            held.setdefault(token(key, d), (d.platform, set()))[1].add(p.profile_id)
    return [IndexEntry(t, platform, tuple(sorted(ids))) for t, (platform, ids) in sorted(held.items())]


def nothing() -> MatchResult:
    return MatchResult(matched_profiles=frozenset(), matched_devices=0, matched_by_platform={"ios": 0, "android": 0})


# --- the rule -----------------------------------------------------------------------------


def test_a_profile_matches_when_any_of_its_devices_is_shared() -> None:
    # Given a target profile with three devices, only one of which a source member holds
    shared = device("android", "9a3f5e2b7c1d4e60")
    target = [
        profile("t-1", device("ios", IDFV), device("android", "1234"), shared),
        profile("t-2", device("android", "abcdef")),
    ]
    source = [profile("s-1", device("ios", "11111111-2222-3333-4444-555555555555")), profile("s-2", shared)]
    # When they are matched
    result = match(source_tokens(source), index_of(target))
    # Then the profile matches on that one device, and the other target profile does not
    assert result == MatchResult(frozenset({"t-1"}), 1, {"ios": 0, "android": 1})


def test_an_android_id_never_matches_an_idfv() -> None:
    # Given an Android ID whose hex digits also open an IDFV, and the same string under both platforms
    source = [profile("s-1", device("android", "e621e1f8c36c495a"))]
    target = [profile("t-1", device("ios", IDFV))]
    same_string = "e621e1f8c36c495a"
    # When they are matched
    result = match(source_tokens(source), index_of(target))
    # Then nothing matches: the platform is part of every token
    assert result == nothing()
    assert token(KEY, Device("ios", same_string)) != token(KEY, Device("android", same_string))


@pytest.mark.parametrize(
    ("platform", "placeholder"),
    [("ios", "00000000-0000-0000-0000-000000000000"), ("android", "9774d56d682e549c"), ("android", "0"), ("android", "0000")],
)
def test_placeholders_are_never_indexed_so_never_match(platform: str, placeholder: str) -> None:
    # Given a source member and a target profile that both report the same placeholder id
    source = [profile("s-1", device(platform, placeholder))]
    target = [profile("t-1", device(platform, placeholder.upper()))]
    # When the target is indexed and matched
    entries = index_of(target)
    result = match(source_tokens(source), entries)
    # Then the placeholder has no index entry and nothing matches
    assert entries == []
    assert result == nothing()


@pytest.mark.parametrize(
    ("platform", "in_source", "in_target"),
    [
        ("ios", IDFV, IDFV.lower()),
        ("ios", "e621E1F8-c36C-495a-93Fc-0C247A3E6E5F", IDFV),
        ("android", "00000A3F5E2B7C1D", "a3f5e2b7c1d"),
        ("android", "000ABC", "abc"),
    ],
)
def test_case_and_leading_zeros_do_not_matter(platform: str, in_source: str, in_target: str) -> None:
    # Given the same device written differently in the two projects
    source = [profile("s-1", device(platform, in_source))]
    target = [profile("t-1", device(platform, in_target))]
    # When they are matched
    result = match(source_tokens(source), index_of(target))
    # Then the normalised ids give equal tokens and the profile matches
    assert token(KEY, device(platform, in_source)) == token(KEY, device(platform, in_target))
    assert result.matched_profiles == {"t-1"}
    assert result.matched_devices == 1


def test_empty_source_matches_nothing() -> None:
    # Given a target with devices and a source segment without members
    target = [profile("t-1", device("ios", IDFV))]
    # When they are matched
    result = match(frozenset(), index_of(target))
    # Then nothing matches, and both platforms are reported as zero
    assert result == nothing()


def test_empty_target_matches_nothing() -> None:
    # Given source tokens and a target project without devices
    source = [profile("s-1", device("ios", IDFV))]
    # When they are matched
    result = match(source_tokens(source), [])
    # Then nothing matches
    assert result == nothing()


def test_a_device_held_by_two_target_profiles_matches_both_and_counts_once() -> None:
    # Given a shared tablet in the target project, held by two profiles
    tablet = device("android", "5eed")
    target = [profile("t-1", tablet), profile("t-2", tablet, device("ios", IDFV)), profile("t-3", device("android", "ff"))]
    source = [profile("s-1", tablet)]
    # When they are matched
    result = match(source_tokens(source), index_of(target))
    # Then both holders match, on one device
    assert result == MatchResult(frozenset({"t-1", "t-2"}), 1, {"ios": 0, "android": 1})


def test_matched_devices_are_counted_per_platform() -> None:
    # Given two iOS devices and one Android device shared between the projects, and one not shared
    ios_a, ios_b = device("ios", IDFV), device("ios", "11111111-2222-3333-4444-555555555555")
    android = device("android", "abc")
    target = [profile("t-1", ios_a, android), profile("t-2", ios_b), profile("t-3", device("android", "def"))]
    source = [profile("s-1", ios_a), profile("s-2", ios_b, android)]
    # When they are matched
    result = match(source_tokens(source), index_of(target))
    # Then the counts split by platform and add up to the distinct devices
    assert result.matched_profiles == {"t-1", "t-2"}
    assert result.matched_devices == 3
    assert result.matched_by_platform == {"ios": 2, "android": 1}


def test_tokens_of_another_company_never_match() -> None:
    # Given the same device in two companies (each has its own key)
    same = device("ios", IDFV)
    # When a source of one company is matched against an index of the other
    result = match(source_tokens([profile("s-1", same)], key=b"a" * 32), index_of([profile("t-1", same)], key=b"b" * 32))
    # Then nothing matches
    assert result == nothing()


def test_an_entry_without_profiles_cannot_be_built() -> None:
    # Given an index item whose profile set emptied (the store skips these)
    # When an entry is built from it
    # Then it is refused: it is no device of anyone
    with pytest.raises(ValueError, match="at least one profile"):
        IndexEntry(token(KEY, device("android", "dead")), "android", ())


def test_the_target_may_be_any_iterable() -> None:
    # Given the index entries as a generator (a caller streaming shards)
    target = [profile("t-1", device("ios", IDFV))]
    source = [profile("s-1", device("ios", IDFV))]
    # When they are matched
    result = match(set(source_tokens(source)), (e for e in index_of(target)))
    # Then the result is the same as from a list
    assert result.matched_profiles == {"t-1"}


# --- property: the core equals a brute-force reference ------------------------------------

IDS = {
    "ios": [f"{n:08x}-0000-4000-8000-{n:012x}" for n in range(6)] + ["00000000-0000-0000-0000-000000000000"],
    "android": [format(n, "x") for n in (1, 2, 0xABC, 0x9A3F5E2B7C1D4E60)] + ["0", "9774d56d682e549c"],
}
devices_st = st.sampled_from(PLATFORMS).flatmap(
    lambda p: st.tuples(st.just(p), st.sampled_from(IDS[p]), st.sampled_from(["lower", "upper", "zeros"]))
)


def raw(platform: str, device_id: str, spelling: str) -> Device:
    """The same id as a client might send it: any case, Android IDs with leading zeros."""
    if spelling == "upper":
        return normalise(platform, device_id.upper())
    if spelling == "zeros" and platform == "android":
        return normalise(platform, device_id.rjust(16, "0"))
    return normalise(platform, device_id)


profiles_st = st.lists(st.lists(devices_st, max_size=4), max_size=8)
Drawn = list[list[tuple[str, str, str]]]


def brute_force(source: list[Profile], target: list[Profile]) -> MatchResult:
    """The rule written out: nested loops over profiles and devices, comparing platform and id."""
    matched: set[str] = set()
    devices: set[tuple[str, str]] = set()
    for t in target:
        for td in t.devices:
            for s in source:
                for sd in s.devices:
                    if (td.platform, td.id) == (sd.platform, sd.id) and not td.is_placeholder:
                        matched.add(t.profile_id)
                        devices.add((td.platform, td.id))
    by_platform = {p: sum(1 for platform, _ in devices if platform == p) for p in PLATFORMS}
    return MatchResult(frozenset(matched), len(devices), by_platform)


def profiles_from(drawn: Drawn, prefix: str) -> list[Profile]:
    return [profile(f"{prefix}-{i}", *dict.fromkeys(raw(*d) for d in devices)) for i, devices in enumerate(drawn)]


@settings(max_examples=300, deadline=None)
@given(source_drawn=profiles_st, target_drawn=profiles_st)
def test_the_core_equals_a_brute_force_reference(source_drawn: Drawn, target_drawn: Drawn) -> None:
    # Given random source members and target profiles over a small pool of devices
    source = profiles_from(source_drawn, "s")
    target = profiles_from(target_drawn, "t")
    # When the core matches their tokens
    result = match(source_tokens(source), index_of(target))
    # Then it agrees with the rule evaluated by brute force
    assert result == brute_force(source, target)


# --- plan choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_tokens_count", "target_entries", "expected"),
    [
        (0, 1_000_000, "probe"),
        (1, 0, "probe"),
        (10, 1_000_000, "probe"),
        (5_000, 1_000_000, "probe"),
        (1_000_000, 100, "scan"),
        (100_000, 1_000_000, "scan"),
        (20_000, 20_000, "scan"),
        (500, 0, "scan"),
    ],
)
def test_the_cheaper_plan_is_chosen(source_tokens_count: int, target_entries: int, expected: str) -> None:
    # Given the sizes of both sides
    # When a plan is chosen
    plan = choose_plan(source_tokens_count, target_entries)
    # Then it is the expected one, and the cheaper of the two estimates
    assert plan.name == expected
    assert plan.chosen.weighted == min(plan.probe.weighted, plan.scan.weighted)


@pytest.mark.parametrize("target_entries", [0, 1_000, 50_000, 1_000_000, 20_000_000])
def test_a_growing_source_switches_from_probe_to_scan_once(target_entries: int) -> None:
    # Given a fixed target and a source growing from nothing
    # When a plan is chosen for each size
    names = [choose_plan(n, target_entries).name for n in range(0, 2_000_000, 997)]
    # Then the probes come first, then the scans, and it never flips back
    switch = names.index("scan")
    assert set(names[:switch]) == {"probe"}
    assert set(names[switch:]) == {"scan"}


@pytest.mark.parametrize("source_count", [1, 100, 5_000, 200_000])
def test_a_growing_target_switches_from_scan_to_probe_once(source_count: int) -> None:
    # Given a fixed source and a target growing from nothing
    # When a plan is chosen for each size
    names = [choose_plan(source_count, m).name for m in range(0, 50_000_000, 99_991)]
    # Then any scans come first, then the probes, and it never flips back
    first_probe = names.index("probe")
    assert set(names[:first_probe]) <= {"scan"}
    assert set(names[first_probe:]) == {"probe"}


def test_probe_estimate() -> None:
    # Given 250 source tokens
    # When the probe is estimated
    eventual, consistent = probe_cost(250), probe_cost(250, consistent=True)
    # Then it is 3 BatchGets and a read unit per token, half of that eventually consistent
    assert (eventual.requests, eventual.read_units) == (3, 125.0)
    assert (consistent.requests, consistent.read_units) == (math.ceil(250 / BATCH_GET_KEYS), 250.0)
    assert probe_cost(0).requests == 0


def test_scan_estimate() -> None:
    # Given an empty target, and one whose shards each hold two and a half pages
    empty = scan_cost(0)
    entries = int(DEFAULT_SHARDS * 2.5 * PAGE_BYTES / 100)
    full = scan_cost(entries, avg_entry_bytes=100, consistent=True)
    # When they are estimated
    # Then every shard costs at least one request and one unit (half eventually consistent)...
    assert (empty.requests, empty.read_units) == (DEFAULT_SHARDS, DEFAULT_SHARDS * 0.5)
    # ...and each started page is a request, billed by its bytes in 4 KB units
    assert full.requests == DEFAULT_SHARDS * 3
    per_page = math.ceil(PAGE_BYTES / READ_UNIT_BYTES)
    assert full.read_units == DEFAULT_SHARDS * (2 * per_page + math.ceil(PAGE_BYTES / 2 / READ_UNIT_BYTES))
    assert scan_cost(entries).read_units == full.read_units / 2
    assert scan_cost(entries, shards=4).requests < scan_cost(entries, shards=64).requests


def test_more_shards_make_scanning_a_small_target_dearer() -> None:
    # Given a small target and a small source
    # When the plans are chosen with one shard and with many
    few, many = choose_plan(40, 100, shards=1), choose_plan(40, 100, shards=64)
    # Then the per-shard minimum request tips the choice
    assert few.scan.weighted < many.scan.weighted
    assert (few.name, many.name) == ("scan", "probe")
