"""The match core of a shared-segment evaluation, and the cost model that picks how to read.

The rule: a profile of the target project matches when ANY of its devices is also a device
of ANY member of the source segment. Devices are compared by token (see
``domain.devices.token``): the token is a keyed hash of the platform and the normalised id,
so equal tokens mean the same platform and the same id (an Android ID never equals an IDFV),
and placeholder ids are never indexed, so they never match.

Only membership crosses projects: the core takes the source side as bare tokens and returns
target profile ids and target device counts.

The core is columnar (DESIGN.md, "Columnar core"; issue 14): a 16-byte token is held as two
``uint64`` words, the high 64 bits (the join key) and the low 64 bits, in numpy arrays sorted
by (high, low), which is the tokens' byte order and so their hex order. The join looks each
target word up in the source's sorted high words (``searchsorted``) and then compares the low
words of every candidate, so two tokens that share their high 64 bits (a collision, about
N*M/2^64 likely) are never taken for one. This module is the only one of the domain that
imports numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from segshare_core.domain.devices import PLATFORMS, TOKEN_BYTES, Platform

Words = NDArray[np.uint64]

#: Target tokens joined per step. It bounds the join's temporary arrays (about 20 bytes per
#: token of a step) whatever the target's size, and keeps a step's arrays within the cache.
CHUNK = 1 << 16

_PLATFORM_CODE: dict[str, int] = {platform: code for code, platform in enumerate(PLATFORMS)}


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


# --- Columns -------------------------------------------------------------------------------


def words_of(raw: bytes) -> tuple[Words, Words]:
    """(high, low) 64-bit words of concatenated 16-byte tokens, in the tokens' order.

    ``raw`` is n x 16 bytes (a binary token file, or ``bytes.fromhex`` of n tokens); both
    arrays have n native-endian ``uint64`` values. The words are read big-endian, so sorting
    by (high, low) sorts the tokens by their bytes. Raises ValueError when the length is not
    a multiple of 16.
    """
    if len(raw) % TOKEN_BYTES:
        raise ValueError(f"tokens are {TOKEN_BYTES} bytes each; got {len(raw)} bytes")
    pairs = np.frombuffer(raw, dtype=">u8").reshape(-1, 2)
    return pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64)


def hex_words(tokens: Iterable[str]) -> tuple[Words, Words]:
    """(high, low) words of hex tokens (``domain.devices.token``: 32 hex digits each), in order.

    Raises ValueError for a token that is not 32 hex digits.
    """
    listed = tokens if isinstance(tokens, list | tuple) else list(tokens)
    width = 2 * TOKEN_BYTES
    # Every length is checked: one short and one long token would otherwise join to a valid total.
    if set(map(len, listed)) - {width}:
        raise ValueError(f"a token is {width} hex digits")
    try:
        raw = bytes.fromhex("".join(listed))
    except ValueError:
        raise ValueError(f"a token is {width} hex digits") from None
    # fromhex skips whitespace, which would shift every later token.
    if len(raw) != TOKEN_BYTES * len(listed):
        raise ValueError(f"a token is {width} hex digits")
    return words_of(raw)


def _token_order(hi: Words, lo: Words) -> NDArray[np.intp] | None:
    """The permutation that sorts tokens by (high, low), or None when they are sorted already."""
    hi_up = hi[1:] >= hi[:-1]
    if hi_up.all() and (lo[1:] >= lo[:-1])[hi[1:] == hi[:-1]].all():
        return None  # e.g. a sorted binary token file: nothing to sort
    order = np.argsort(hi, kind="stable")
    ranked_hi, ranked_lo = hi[order], lo[order]
    ties = ranked_hi[1:] == ranked_hi[:-1]
    # Only tokens sharing their high word (a 64-bit collision, or one token twice) need the
    # low word to order them; sorting by both words only then keeps the common case cheap.
    if (ties & (ranked_lo[1:] != ranked_lo[:-1])).any():
        order = np.lexsort((lo, hi))
    return order


def _same_as_previous(hi: Words, lo: Words) -> NDArray[np.bool_]:
    """For sorted tokens: whether each equals the one before it (False for the first)."""
    same = np.zeros(len(hi), dtype=np.bool_)
    same[1:] = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
    return same


@dataclass(frozen=True, slots=True, eq=False)
class TokenSet:
    """The source side: distinct tokens as (high, low) words sorted by (high, low).

    Build it with ``from_hex`` or ``from_words`` (they sort and drop repeats); the arrays are
    then 16 bytes per distinct token. ``high_collisions`` says whether two of them share a
    high word, which sends the join's rare slow path looking past the first candidate.
    """

    hi: Words
    lo: Words
    high_collisions: bool

    @classmethod
    def from_words(cls, hi: Words, lo: Words) -> TokenSet:
        """Tokens from (high, low) words in any order, repeats allowed (see ``words_of``)."""
        if len(hi) != len(lo):
            raise ValueError("the high and low words differ in length")
        order = _token_order(hi, lo)
        if order is not None:
            hi, lo = hi[order], lo[order]
        repeat = _same_as_previous(hi, lo)
        if repeat.any():
            hi, lo = hi[~repeat], lo[~repeat]
        return cls(hi=hi, lo=lo, high_collisions=bool((hi[1:] == hi[:-1]).any()))

    @classmethod
    def from_hex(cls, tokens: Iterable[str]) -> TokenSet:
        """Tokens from hex strings (``domain.devices.token``), repeats allowed."""
        return cls.from_words(*hex_words(tokens))

    def __len__(self) -> int:
        return len(self.hi)


@dataclass(frozen=True, slots=True, eq=False)
class TargetIndex:
    """The target project's device index, one row per (token, holding profile), sorted by token.

    Columns, all of one length n (about 22 bytes a row): ``hi``/``lo`` the token's words;
    ``platform`` its index in PLATFORMS; ``profile`` the holder's position in ``profile_ids``;
    ``first`` whether the row is its token's first (a device held by two profiles has two
    rows, and counts once). ``profile_ids`` are distinct, in any order (``from_rows`` is
    given them sorted where sorted positions should give sorted ids). Build it with
    ``from_rows`` or ``from_entries``.
    """

    hi: Words
    lo: Words
    platform: NDArray[np.uint8]
    profile: NDArray[np.int32]
    first: NDArray[np.bool_]
    profile_ids: tuple[str, ...]

    @classmethod
    def from_rows(
        cls,
        hi: Words,
        lo: Words,
        platform: NDArray[np.uint8],
        profile: NDArray[np.int32],
        profile_ids: Sequence[str],
    ) -> TargetIndex:
        """An index from rows in any order: token words, platform code, holder position.

        ``profile_ids`` are distinct (``profile`` indexes them). A row may repeat
        (overlapping reads): a device still counts once. Raises ValueError when the columns
        differ in length, a platform code or holder position is out of range, a profile id
        repeats, or one token comes with two platforms (a token hashes its platform, so that
        is corrupt input).
        """
        n = len(hi)
        if not len(lo) == len(platform) == len(profile) == n:
            raise ValueError("the index columns differ in length")
        if n and (int(platform.max()) >= len(PLATFORMS) or int(profile.min()) < 0 or int(profile.max()) >= len(profile_ids)):
            raise ValueError("a platform code or a profile position is out of range")
        if len(set(profile_ids)) != len(profile_ids):
            raise ValueError("a profile id repeats")
        order = _token_order(hi, lo)
        if order is not None:
            hi, lo, platform, profile = hi[order], lo[order], platform[order], profile[order]
        repeat = _same_as_previous(hi, lo)
        if (platform[1:] != platform[:-1])[repeat[1:]].any():
            raise ValueError("one token comes with two platforms")
        return cls(hi=hi, lo=lo, platform=platform, profile=profile, first=~repeat, profile_ids=tuple(profile_ids))

    @classmethod
    def from_entries(cls, entries: Iterable[IndexEntry]) -> TargetIndex:
        """An index from the store's entries (``store.device_index``), one row per holder.

        Profile positions follow first appearance (sorting them would cost more than the join).
        """
        listed = list(entries)
        position: dict[str, int] = {}
        # A comprehension rather than a loop of appends: this conversion, not the join, is the
        # cost of matching entries that come as Python objects.
        holders = [position.setdefault(profile_id, len(position)) for entry in listed for profile_id in entry.profile_ids]
        per_entry = np.array([len(entry.profile_ids) for entry in listed], dtype=np.intp)
        platform = np.array([_PLATFORM_CODE[entry.platform] for entry in listed], dtype=np.uint8)
        hi, lo = hex_words([entry.token for entry in listed])
        return cls.from_rows(
            np.repeat(hi, per_entry),
            np.repeat(lo, per_entry),
            np.repeat(platform, per_entry),
            np.array(holders, dtype=np.int32),
            list(position),
        )

    def __len__(self) -> int:
        return len(self.hi)

    def ids(self, positions: NDArray[np.intp]) -> list[str]:
        """The profile ids at the given positions (e.g. ``Joined.profiles``), in that order."""
        ids = self.profile_ids
        return [ids[i] for i in positions.tolist()]


@dataclass(frozen=True, slots=True, eq=False)
class Joined:
    """The columnar result: target profile positions and target device counts, nothing of the source."""

    profiles: NDArray[np.intp]  # sorted positions in TargetIndex.profile_ids, each matched profile once
    matched_devices: int  # distinct target devices (tokens) also in the source
    matched_by_platform: dict[str, int]  # every platform of PLATFORMS, zero included


def _hits(source: TokenSet, hi: Words, lo: Words) -> NDArray[np.bool_]:
    """Which of the sorted target tokens (hi, lo) are in the source, comparing all 128 bits."""
    # The chunk's tokens are sorted, so they fall within one stretch of the source: searching
    # only that stretch shortens every search and keeps it in the cache.
    start = int(np.searchsorted(source.hi, hi[0], side="left"))
    stop = int(np.searchsorted(source.hi, hi[-1], side="right"))
    if start == stop:
        return np.zeros(len(hi), dtype=np.bool_)
    span_hi, span_lo = source.hi[start:stop], source.lo[start:stop]
    at = np.searchsorted(span_hi, hi, side="left")
    np.minimum(at, len(span_hi) - 1, out=at)
    same_high: NDArray[np.bool_] = span_hi[at] == hi
    hit: NDArray[np.bool_] = same_high & (span_lo[at] == lo)
    if source.high_collisions:
        # Several source tokens share this high word: the first was compared, look at the
        # rest of that run (sorted by low word). Only 64-bit collisions reach this loop.
        for i in np.flatnonzero(same_high & ~hit).tolist():
            first, end = int(at[i]), int(np.searchsorted(span_hi, hi[i], side="right"))
            run = span_lo[first:end]
            j = int(np.searchsorted(run, lo[i]))
            hit[i] = j < len(run) and run[j] == lo[i]
    return hit


def join(source: TokenSet, target: TargetIndex, *, chunk: int = CHUNK) -> Joined:
    """The match core: the target profiles holding ANY device whose token is in ``source``.

    Exact on all 128 bits of a token. A device held by several target profiles matches all
    of them; a profile with several matched devices counts once; ``matched_devices`` counts
    distinct target tokens. Time: one binary search per target row within the source's
    sorted high words, plus work in proportion to the hits; memory: a byte per target
    profile plus temporaries for ``chunk`` target rows (default CHUNK), whatever the sizes
    of both sides. Raises ValueError for a chunk below 1.
    """
    if chunk < 1:
        raise ValueError("a chunk holds at least one row")
    counts = np.zeros(len(PLATFORMS), dtype=np.int64)
    matched = np.zeros(len(target.profile_ids), dtype=np.bool_)
    if len(source) and len(target):
        for start in range(0, len(target), chunk):
            stop = start + chunk
            hit = _hits(source, target.hi[start:stop], target.lo[start:stop])
            matched[target.profile[start:stop][hit]] = True
            devices = hit & target.first[start:stop]
            counts += np.bincount(target.platform[start:stop][devices], minlength=len(PLATFORMS))
    return Joined(
        profiles=np.flatnonzero(matched),
        matched_devices=int(counts.sum()),
        matched_by_platform={platform: int(n) for platform, n in zip(PLATFORMS, counts.tolist(), strict=True)},
    )


def match(source_tokens: Iterable[str], target_entries: Iterable[IndexEntry]) -> MatchResult:
    """Match the target project's index entries against the source segment's device tokens.

    A target profile matches when ANY of its devices is also a device of ANY source member
    (same platform and normalised id, which equal tokens guarantee). A device held by
    several target profiles matches all of them. ``matched_devices`` counts the distinct
    target devices that matched and ``matched_by_platform`` splits that count by platform;
    an entry repeated (overlapping reads) counts once. Tokens are 32 hex digits
    (``domain.devices.token``); ValueError otherwise.

    This converts both sides to columns and runs ``join``; callers holding columns already
    (binary token files) call ``join`` directly.
    """
    target = TargetIndex.from_entries(target_entries)
    joined = join(TokenSet.from_hex(source_tokens), target)
    return MatchResult(
        matched_profiles=frozenset(target.ids(joined.profiles)),
        matched_devices=joined.matched_devices,
        matched_by_platform=joined.matched_by_platform,
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
#: The device index's shard count by default (template.yaml's DeviceIndexShards); callers pass the configured one.
DEFAULT_SHARDS = 64
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
