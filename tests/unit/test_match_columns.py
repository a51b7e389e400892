"""The columnar match core (domain.match.join and its columns) against a brute-force set computation.

Tokens are drawn from tiny pools of high and low 64-bit words, so 64-bit collisions (one high
word, two low words), repeated tokens and repeated rows turn up in most examples.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segshare_core.domain.devices import PLATFORMS
from segshare_core.domain.match import (
    IndexEntry,
    MatchResult,
    TargetIndex,
    TokenSet,
    hex_words,
    join,
    match,
    words_of,
)

Token = tuple[int, int]
Row = tuple[Token, str]  # (token, profile id); the platform follows from the token

TOP = 2**64 - 1
HIGH = [0, 1, 2**63, TOP]
LOW = [0, 1, 2**32, TOP]
PROFILES = [f"p-{n}" for n in range(6)]

tokens_st = st.tuples(st.sampled_from(HIGH), st.sampled_from(LOW))
rows_st = st.lists(st.tuples(tokens_st, st.sampled_from(PROFILES)), max_size=25)
sources_st = st.lists(tokens_st, max_size=25)


def platform_of(t: Token) -> str:
    """A token hashes its platform, so a token has one platform: here a function of its words."""
    return PLATFORMS[(t[0] ^ t[1] ^ (t[1] >> 32)) & 1]


def hex_of(t: Token) -> str:
    return f"{t[0]:016x}{t[1]:016x}"


def words(tokens: list[Token]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([t[0] for t in tokens], dtype=np.uint64), np.array([t[1] for t in tokens], dtype=np.uint64)


def index_of(rows: list[Row]) -> TargetIndex:
    profile_ids = sorted({p for _, p in rows})
    position = {p: i for i, p in enumerate(profile_ids)}
    hi, lo = words([t for t, _ in rows])
    return TargetIndex.from_rows(
        hi,
        lo,
        np.array([PLATFORMS.index(platform_of(t)) for t, _ in rows], dtype=np.uint8),
        np.array([position[p] for _, p in rows], dtype=np.int32),
        profile_ids,
    )


def brute_force(source: list[Token], rows: list[Row]) -> MatchResult:
    """The rule with Python sets: a profile matches when ANY of its tokens is a source token."""
    wanted = set(source)
    devices = {t for t, _ in rows if t in wanted}
    by_platform = Counter(platform_of(t) for t in devices)
    return MatchResult(
        matched_profiles=frozenset(p for t, p in rows if t in wanted),
        matched_devices=len(devices),
        matched_by_platform={platform: by_platform[platform] for platform in PLATFORMS},
    )


def joined(source: list[Token], rows: list[Row], chunk: int) -> MatchResult:
    """The columnar core on the drawn sides, as a MatchResult."""
    target = index_of(rows)
    result = join(TokenSet.from_words(*words(source)), target, chunk=chunk)
    ids = target.ids(result.profiles)
    assert ids == sorted(set(ids)), "profiles come once each, in id order"
    return MatchResult(frozenset(ids), result.matched_devices, result.matched_by_platform)


def entries_of(rows: list[Row]) -> list[IndexEntry]:
    """The rows as the store's entries: one per row, so a repeated token gives repeated entries."""
    return [IndexEntry(hex_of(t), platform_of(t), (p,)) for t, p in rows]  # type: ignore[arg-type]


COLLISION = (2**63, 1), (2**63, TOP)  # one high word, two low words


@settings(max_examples=400, deadline=None)
@given(source=sources_st, rows=rows_st, chunk=st.sampled_from([1, 2, 3, 7, 65_536]), presorted=st.booleans())
# A 64-bit collision: the target's token shares the source's high word only.
@example(source=[COLLISION[0]], rows=[(COLLISION[1], "p-1")], chunk=65_536, presorted=False)
# The source holds both colliding tokens, the target the second: found past the first candidate.
@example(source=[COLLISION[0], COLLISION[1]], rows=[(COLLISION[1], "p-1")], chunk=65_536, presorted=False)
# One profile with devices of both platforms, one device held by two profiles, repeats on both sides.
@example(
    source=[(1, 0), (1, 0), (0, 1)],
    rows=[((1, 0), "p-0"), ((0, 0), "p-0"), ((0, 1), "p-0"), ((0, 1), "p-2"), ((0, 1), "p-2")],
    chunk=2,
    presorted=False,
)
@example(source=[], rows=[((0, 0), "p-0")], chunk=65_536, presorted=False)
@example(source=[(0, 0)], rows=[], chunk=65_536, presorted=False)
def test_the_core_equals_a_brute_force_set_computation(source: list[Token], rows: list[Row], chunk: int, presorted: bool) -> None:
    # Given random sides over tiny word pools, in any order or sorted (as a binary token file is)
    if presorted:
        source, rows = sorted(source), sorted(rows)
    expected = brute_force(source, rows)
    # When the columnar core joins them, and when match() gets them as hex strings and entries
    core = joined(source, rows, chunk)
    strings = match({hex_of(t) for t in source}, entries_of(rows))
    # Then both equal the brute force: profiles, distinct devices, devices by platform
    assert core == expected
    assert strings == expected


def test_a_64_bit_collision_never_adds_a_profile() -> None:
    # Given source and target tokens that share their high 64 bits and differ in the low ones
    source = [(2**63, 1), (5, 5)]
    rows = [((2**63, 2), "p-0"), ((5, 5), "p-1"), ((2**63, 1), "p-2")]
    # When they are joined
    result = joined(source, rows, chunk=65_536)
    # Then only the tokens equal on all 128 bits match
    assert result.matched_profiles == {"p-1", "p-2"}
    assert result.matched_devices == 2


def test_a_repeated_entry_counts_its_device_once() -> None:
    # Given the same index entry twice (two overlapping reads) and its token in the source
    entry = IndexEntry("ab" * 16, "ios", ("p-0", "p-1"))
    # When they are matched
    result = match({"ab" * 16}, [entry, entry])
    # Then its holders match and the device counts once
    assert result == MatchResult(frozenset({"p-0", "p-1"}), 1, {"ios": 1, "android": 0})


def test_words_keep_the_tokens_byte_order() -> None:
    # Given hex tokens whose order is decided by the high word, then by the low word
    tokens = ["ff" + "00" * 15, "00" * 8 + "ff" + "00" * 7, "00" * 15 + "01"]
    # When they become columns
    hi, lo = hex_words(tokens)
    source = TokenSet.from_hex(tokens)
    # Then the words are the big-endian halves, and sorting by (high, low) sorts the hex strings
    assert (hi.tolist(), lo.tolist()) == ([0xFF << 56, 0, 0], [0, 0xFF << 56, 1])
    assert [f"{h:016x}{w:016x}" for h, w in zip(source.hi.tolist(), source.lo.tolist(), strict=True)] == sorted(tokens)


@pytest.mark.parametrize(
    "tokens",
    [["ab" * 15], ["ab" * 17], ["ab" * 15 + "a", "ab" * 16 + "a"], ["ab " * 10 + "ab"], ["zz" * 16]],
    ids=["short", "long", "short-and-long", "whitespace", "not-hex"],
)
def test_a_token_that_is_not_32_hex_digits_is_refused(tokens: list[str]) -> None:
    # Given tokens of the wrong length or alphabet, even ones whose total length is right
    # When they are turned into columns
    # Then they are refused rather than shifted into other tokens' words
    with pytest.raises(ValueError, match="32 hex digits"):
        hex_words(tokens)


def test_raw_tokens_are_whole_16_byte_records() -> None:
    # Given a binary token file cut short
    # When it is read as words
    # Then it is refused
    with pytest.raises(ValueError, match="16 bytes"):
        words_of(b"\x00" * 17)


def test_one_token_with_two_platforms_is_refused() -> None:
    # Given two rows of one token that disagree on its platform (a token hashes its platform)
    hi, lo = words([(1, 1), (1, 1)])
    # When the index is built
    # Then it is refused as corrupt
    with pytest.raises(ValueError, match="two platforms"):
        TargetIndex.from_rows(hi, lo, np.array([0, 1], dtype=np.uint8), np.array([0, 0], dtype=np.int32), ["p-0"])


@pytest.mark.parametrize(("platform", "profile"), [(2, 0), (0, 1), (0, -1)])
def test_a_row_out_of_range_is_refused(platform: int, profile: int) -> None:
    # Given a row whose platform code or profile position points nowhere
    hi, lo = words([(1, 1)])
    # When the index is built
    # Then it is refused
    with pytest.raises(ValueError, match="out of range"):
        TargetIndex.from_rows(hi, lo, np.array([platform], dtype=np.uint8), np.array([profile], dtype=np.int32), ["p-0"])


def test_a_repeated_profile_id_is_refused() -> None:
    # Given two positions naming one profile (it would count twice)
    hi, lo = words([(1, 1), (2, 2)])
    # When the index is built
    # Then it is refused
    with pytest.raises(ValueError, match="repeats"):
        TargetIndex.from_rows(hi, lo, np.array([0, 0], dtype=np.uint8), np.array([0, 1], dtype=np.int32), ["p-0", "p-0"])


def test_a_chunk_holds_at_least_one_row() -> None:
    # Given a source and a target
    source, target = TokenSet.from_words(*words([(1, 1)])), index_of([((1, 1), "p-0")])
    # When they are joined in chunks of no rows
    # Then the call is refused rather than looping for ever
    with pytest.raises(ValueError, match="at least one row"):
        join(source, target, chunk=0)
