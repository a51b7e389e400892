"""DynamoDB keys: each layout as stored (data written under it must stay readable), and parsed back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segshare_core.domain.devices import shard_of
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.profiles import shard_of_profile
from segshare_core.store import keys

ids = st.from_regex(ID_PATTERN, fullmatch=True)


def test_every_layout_is_the_one_stored() -> None:
    # Given one company, project, segment, share and generation
    c, p, t, s = "acme", "proj-a", "proj-b", "shared-0123"
    # Then each key is spelled exactly as items already in the tables are
    assert keys.company(c) == ("C#acme", "COMPANY")
    assert keys.project(c, p) == ("C#acme", "P#proj-a")
    assert keys.project_registry(p) == ("PROJECT#proj-a", "PROJECT")
    assert keys.grant("u-1") == ("USER#u-1", "GRANT")
    assert keys.profile_pk(c, p, 7) == "C#acme#P#proj-a#S#007"
    assert keys.index_pk(c, p, 12) == "C#acme#P#proj-a#S#012"
    assert keys.counter(c, p, keys.INDEX_COUNTER, 3) == ("C#acme#P#proj-a#N#I#003", "N")
    assert keys.segment(c, p, "s-1") == ("C#acme#P#proj-a", "SEG#s-1")
    assert keys.shared(c, t, s) == ("C#acme#P#proj-b", "SHARED#shared-0123")
    assert keys.live_key(c, t, s) == "acme#proj-b#shared-0123"
    assert keys.history_pk(c, p, "s-1") == "C#acme#P#proj-a#H#s-1"
    assert keys.history_sk("2026-01-02T03:04:05.678Z", 42) == "2026-01-02T03:04:05.678Z#0000000042"
    assert keys.evaluation_pk(c, t, s, "g-1") == "C#acme#P#proj-b#X#shared-0123#G#g-1"
    assert keys.evaluation_sk("e-1") == "E#e-1"
    assert keys.tick_sk("t" * 80) == "TICK#" + "t" * 64
    assert (keys.LATEST_SK, keys.LEASE_SK) == ("LATEST", "LEASE")
    assert keys.export_record(c, t, "x-1") == ("C#acme#P#proj-b", "EXP#x-1")
    assert keys.import_record(c, p, "i-1") == ("C#acme#P#proj-a", "IMP#i-1")
    assert keys.exclusive_start("C#acme#P#proj-a", "IMP#i-1") == {"pk": {"S": "C#acme#P#proj-a"}, "sk": {"S": "IMP#i-1"}}


@given(company_id=ids, project_id=ids, other=ids, shard=st.integers(0, 999))
def test_company_and_project_come_back_from_every_key_led_by_them(company_id: str, project_id: str, other: str, shard: int) -> None:
    # Given every partition key that starts with a company and a project
    pks = [
        keys.project_pk(company_id, project_id),
        keys.profile_pk(company_id, project_id, shard),
        keys.index_pk(company_id, project_id, shard),
        keys.counter(company_id, project_id, keys.PROFILE_COUNTER, shard)[0],
        keys.history_pk(company_id, project_id, other),
        keys.evaluation_pk(company_id, project_id, other, "g-0"),
    ]
    for pk in pks:
        # Then both parse back from each
        assert keys.project_of(pk) == (company_id, project_id)
        assert keys.company_of(pk) == company_id
    assert keys.company_of(keys.company(company_id)[0]) == company_id


@given(company_id=ids, project_id=ids, item_id=ids)
def test_every_sort_key_id_comes_back(company_id: str, project_id: str, item_id: str) -> None:
    # Given an item id in each kind of sort key that names one
    # Then the id parses back from it
    assert keys.project_id_of(keys.project(company_id, item_id)[1]) == item_id
    assert keys.segment_id_of(keys.segment(company_id, project_id, item_id)[1]) == item_id
    assert keys.shared_id_of(keys.shared(company_id, project_id, item_id)[1]) == item_id
    assert keys.evaluation_id_of(keys.evaluation_sk(item_id)) == item_id
    assert keys.export_id_of(keys.export_record(company_id, project_id, item_id)[1]) == item_id
    assert keys.import_id_of(keys.import_record(company_id, project_id, item_id)[1]) == item_id


@given(seconds=st.integers(0, 10**9), version=st.integers(0, 10**10 - 1))
def test_a_history_line_gives_back_its_time(seconds: int, version: int) -> None:
    # Given a save's time as the API writes it and the version it made
    at = f"{seconds:010d}.000Z"
    # Then the time parses back from the line's sort key
    assert keys.history_at_of(keys.history_sk(at, version)) == at


def test_history_lines_sort_by_time_then_version() -> None:
    # Given lines of one time with growing versions, and a later time
    lines = [keys.history_sk("2026-01-01T00:00:00.000Z", v) for v in (2, 10, 9)] + [keys.history_sk("2026-01-01T00:00:00.001Z", 1)]
    # Then the sort key orders them as the saves happened (a Query returns them so)
    assert sorted(lines) == [lines[0], lines[2], lines[1], lines[3]]


def test_shard_partitions_sort_in_shard_order() -> None:
    # Given a project's shard partitions
    pks = [keys.index_pk("acme", "proj-a", shard) for shard in range(200)]
    # Then their string order is their shard order
    assert sorted(pks) == pks


@given(company_id=ids, project_id=ids, key=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32), shards=st.integers(1, 64))
def test_profile_and_index_items_land_in_the_shard_the_domain_picks(company_id: str, project_id: str, key: str, shards: int) -> None:
    # Given a profile id and a device token
    # Then the item's partition is the shard the domain's hash picks, the id or token its sort key
    profile_shard, index_shard = shard_of_profile(key, shards), shard_of(key, shards)
    assert keys.profile(company_id, project_id, key, shards) == (keys.profile_pk(company_id, project_id, profile_shard), key)
    assert keys.index_entry(company_id, project_id, key, shards) == (keys.index_pk(company_id, project_id, index_shard), key)


@given(company_id=ids)
def test_a_company_keeps_one_live_shares_part(company_id: str) -> None:
    # Given a company's live-shares part
    part = keys.live_part(company_id)
    # Then it is one of the LIVE_PARTS values the schedule queries, the same every time
    assert part in {keys.live_part_number(n) for n in range(keys.LIVE_PARTS)}
    assert keys.live_part(company_id) == part


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (keys.company_of, "USER#u-1"),
        (keys.project_of, "C#acme"),
        (keys.project_of, "PROJECT#proj-a"),
        (keys.segment_id_of, "SHARED#shared-1"),
        (keys.shared_id_of, "SEG#s-1"),
        (keys.evaluation_id_of, "LATEST"),
        (keys.export_id_of, "IMP#i-1"),
        (keys.import_id_of, "EXP#x-1"),
        (keys.project_id_of, "COMPANY"),
        (keys.history_at_of, "2026-01-01T00:00:00.000Z"),
    ],
)
def test_a_key_of_another_kind_is_refused(parse: Callable[[str], object], value: str) -> None:
    # Given a key of another kind than the parser reads
    # Then it is refused rather than read as something it is not
    with pytest.raises(ValueError):
        parse(value)
