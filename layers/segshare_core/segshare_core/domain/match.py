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
from operator import attrgetter, countOf
from typing import Literal

from segshare_core.domain.devices import PLATFORMS, Platform


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One entry of a project's device index: a device token and the profiles holding it.

    The token is the index's key, so every read of one project's index (a probe, a scan,
    one shard of a scan) holds each token once. An entry names at least one profile: an
    index item whose profile set became empty (a delete not cleaned up yet) is no device
    of anyone, and the store skips it rather than build an entry.
    """

    token: str
    platform: Platform
    profile_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        # Checked once here, so the match loop never has to look at an entry's profiles.
        if not self.profile_ids:
            raise ValueError("an index entry names at least one profile")


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What an evaluation reports about the target project; nothing of the source side."""

    matched_profiles: frozenset[str]
    matched_devices: int
    matched_by_platform: Mapping[str, int]  # every platform of PLATFORMS, zero included


_PLATFORM = attrgetter("platform")


def match(source_tokens: set[str] | frozenset[str], target_entries: Iterable[IndexEntry]) -> MatchResult:
    """Match the target project's index entries against the source segment's device tokens.

    A target profile matches when ANY of its devices is also a device of ANY source member
    (same platform and normalised id, which equal tokens guarantee). A device held by
    several target profiles matches all of them. ``matched_devices`` counts the target
    devices that matched and ``matched_by_platform`` splits that count by platform; they
    count entries, which are distinct devices because ``target_entries`` hold each token
    once (one read of one index; do not concatenate overlapping reads).

    Time: one set membership test per target entry, then work proportional to the hits,
    which is all this adds to a bare intersection of the same tokens.
    """
    # The one pass over the target, touching nothing of an entry but its token.
    hits = [e for e in target_entries if e.token in source_tokens]
    # Every hit has one of PLATFORMS, so the last platform's count is what the others leave.
    *counted, rest = PLATFORMS
    by_platform: dict[str, int] = {platform: countOf(map(_PLATFORM, hits), platform) for platform in counted}
    by_platform[rest] = len(hits) - sum(by_platform.values())
    return MatchResult(
        matched_profiles=frozenset([profile_id for e in hits for profile_id in e.profile_ids]),
        matched_devices=len(hits),
        matched_by_platform=by_platform,
    )


# --- Plan choice -------------------------------------------------------------------------

PlanName = Literal["probe", "scan"]

#: BatchGetItem takes at most 100 keys a request.
BATCH_GET_KEYS = 100
#: A Query returns at most 1 MB a page; counted as 10^6 bytes, which never underestimates pages.
PAGE_BYTES = 1_000_000
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
    request per started 1 MB page and at least one; each page costs its bytes in 4 KB read
    units, at least one (an empty Query still costs a unit), half when eventually consistent.
    """
    shard_bytes = math.ceil(max(target_entry_count, 0) * max(avg_entry_bytes, 1) / shards)
    full_pages, rest = divmod(shard_bytes, PAGE_BYTES)
    pages = max(1, full_pages + (rest > 0))
    units = max(1, full_pages * math.ceil(PAGE_BYTES / READ_UNIT_BYTES) + math.ceil(rest / READ_UNIT_BYTES))
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
    Reads are assumed eventually consistent, as store.device_index makes them; that halves
    both plans' units alike, so it moves the boundary only through the request weight.
    """
    probe = probe_cost(source_token_count, consistent=consistent)
    scan = scan_cost(target_entry_count, avg_entry_bytes=avg_entry_bytes, shards=shards, consistent=consistent)
    return Plan(name="probe" if probe.weighted <= scan.weighted else "scan", probe=probe, scan=scan)
