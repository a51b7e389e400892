"""The match core of a shared-segment evaluation, and the cost model that picks how to read.

The rule: a profile of the target project matches when ANY of its devices is also a device
of ANY member of the source segment. Devices are compared by token (see
``domain.devices.token``): the token is a keyed hash of the platform and the normalised id,
so equal tokens mean the same platform and the same id (an Android ID never equals an IDFV),
and placeholder ids are never indexed, so they never match.

Only membership crosses projects: the core takes the source side as bare tokens and returns
target profile ids and target device counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Literal

from segshare_core.domain.devices import PLATFORMS, Platform


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One entry of a project's device index: a device token and the profiles holding it.

    A token is the index's key, so one project's entries hold each token once. An entry
    whose profile set became empty (a lingering delete) holds no device of any profile.
    """

    token: str
    platform: Platform
    profile_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What an evaluation reports about the target project; nothing of the source side."""

    matched_profiles: frozenset[str]
    matched_devices: int
    matched_by_platform: Mapping[str, int]  # every platform of PLATFORMS, zero included


# C-level accessors: after the one pass over the target, only the hits are touched, and
# only through map/set/frozenset, so the core stays close to a bare set intersection.
_TOKEN = attrgetter("token")
_PLATFORM = attrgetter("platform")
_PROFILE_IDS = attrgetter("profile_ids")
_FIRST = itemgetter(0)


def match(source_tokens: set[str] | frozenset[str], target_entries: Iterable[IndexEntry]) -> MatchResult:
    """Match the target project's index entries against the source segment's device tokens.

    A target profile matches when ANY of its devices is also a device of ANY source member
    (same platform and normalised id, which equal tokens guarantee). ``matched_devices``
    counts the distinct target tokens that matched, ``matched_by_platform`` splits that
    count by platform, and a token held by several target profiles matches all of them and
    counts once. Entries without profiles are ignored. Time is one membership test per
    target entry plus work proportional to the hits.
    """
    # The only Python-level loop; `and e.profile_ids` runs for hits only, so it is free.
    hits = [e for e in target_entries if e.token in source_tokens and e.profile_ids]
    devices = set(map(_TOKEN, hits))
    if len(devices) == len(hits):
        platforms = list(map(_PLATFORM, hits))
    else:
        # A token listed twice (callers concatenating reads) still counts once.
        platforms = list(dict(zip(map(_TOKEN, hits), map(_PLATFORM, hits), strict=True)).values())
    held_by = list(map(_PROFILE_IDS, hits))
    # When every hit is held by exactly one profile (the usual case), skip chaining tuples.
    single = sum(map(len, held_by)) == len(held_by)
    profiles = frozenset(map(_FIRST, held_by)) if single else frozenset(chain.from_iterable(held_by))
    return MatchResult(
        matched_profiles=profiles,
        matched_devices=len(devices),
        matched_by_platform={platform: platforms.count(platform) for platform in PLATFORMS},
    )


# --- Plan choice -------------------------------------------------------------------------

PlanName = Literal["probe", "scan"]

#: BatchGetItem takes at most 100 keys a request.
BATCH_GET_KEYS = 100
#: A Query returns at most 1 MB a page (counted here as 1 MiB, which is 256 read units).
PAGE_BYTES = 1_048_576
#: A read unit covers 4 KB: a strongly consistent read of up to 4 KB; eventually consistent reads cost half.
READ_UNIT_BYTES = 4096
#: Size of one index item in DynamoDB's accounting (key names and values, platform, one profile id).
AVG_ENTRY_BYTES = 100
#: The device index's shard count by default (config.DEVICE_INDEX_SHARDS); callers pass the configured one.
DEFAULT_SHARDS = 16
#: What one request weighs against one read unit when the plans are compared. DynamoDB bills
#: read units, not requests; a request costs a round trip instead. A ~10 ms round trip of a
#: 1 GB arm64 Lambda costs about $1.3e-7, one on-demand read unit $1.25e-7, so one to one.
REQUEST_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class Cost:
    """The estimated price of one way to read: requests and read units."""

    requests: int
    read_units: float

    @property
    def weighted(self) -> float:
        """Read units plus REQUEST_WEIGHT per request: the figure the plans are compared by."""
        return self.read_units + REQUEST_WEIGHT * self.requests


@dataclass(frozen=True, slots=True)
class Plan:
    """The chosen way to read the target index, with the estimates of both ways."""

    name: PlanName
    probe: Cost
    scan: Cost

    @property
    def chosen(self) -> Cost:
        return self.probe if self.name == "probe" else self.scan


def _unit_factor(consistent: bool) -> float:
    return 1.0 if consistent else 0.5


def probe_cost(source_token_count: int, *, consistent: bool = False) -> Cost:
    """BatchGet the target index with the source tokens.

    One request per 100 tokens; one read unit per token (each item, found or not, is
    rounded up to 4 KB), half of that when eventually consistent.
    """
    tokens = max(source_token_count, 0)
    return Cost(requests=math.ceil(tokens / BATCH_GET_KEYS), read_units=tokens * _unit_factor(consistent))


def scan_cost(
    target_entry_count: int,
    *,
    avg_entry_bytes: int = AVG_ENTRY_BYTES,
    shards: int = DEFAULT_SHARDS,
    consistent: bool = False,
) -> Cost:
    """Query every shard of the target index to its end.

    Tokens are uniform, so each shard holds an equal share of the bytes. A shard costs one
    request per started 1 MB page and at least one; its read units are its bytes in 4 KB
    units, at least one (an empty Query still costs a unit), half when eventually consistent.
    """
    shard_bytes = max(target_entry_count, 0) * max(avg_entry_bytes, 1) / shards
    pages = max(1, math.ceil(shard_bytes / PAGE_BYTES))
    units = max(1, math.ceil(shard_bytes / READ_UNIT_BYTES))
    return Cost(requests=shards * pages, read_units=shards * units * _unit_factor(consistent))


def choose_plan(
    source_token_count: int,
    target_entry_count: int,
    avg_entry_bytes: int = AVG_ENTRY_BYTES,
    *,
    shards: int = DEFAULT_SHARDS,
    consistent: bool = False,
) -> Plan:
    """Pick the cheaper read by weighted cost (read units + REQUEST_WEIGHT x requests).

    Probing grows with the source's tokens and scanning with the target's entries, so for
    a given target there is one source size below which probing wins, and it never flips
    back. Ties go to the probe (it reads no more items than the source holds).
    DynamoDB cannot count a partition's items cheaply: the caller passes the target's entry
    count from what it knows (e.g. the target project's profile count times its devices).
    """
    probe = probe_cost(source_token_count, consistent=consistent)
    scan = scan_cost(target_entry_count, avg_entry_bytes=avg_entry_bytes, shards=shards, consistent=consistent)
    return Plan(name="probe" if probe.weighted <= scan.weighted else "scan", probe=probe, scan=scan)
