"""``core:`` the columnar match core at 1M x 1M tokens (30% overlap) against a bare ``np.intersect1d``.

Run only this figure with ``python -m bench core`` (or ``python -m bench.core``); ``make bench``
runs it with the others. It prints CPU times (median of RUNS interleaved runs, see
bench.timing), so the ratios come from one run on one machine. The core does no linear
algebra, so the OPENBLAS_* / OMP_* thread settings do not change these figures.

What is timed, on inputs already in columns (as a workflow child holds them after reading a
sorted binary token file):
- the core: ``domain.match.join`` (join on the high words, the low words of every candidate
  compared, hits mapped to target profiles, devices counted once and by platform);
- bare: ``np.intersect1d`` of the same two uint64 arrays (the source's high words and the
  target's distinct high words), in both of numpy's forms; the ratio is taken against the
  faster one. ``intersect1d`` sorts its inputs again, which the core need not do, so a floor
  is printed too: one ``searchsorted`` of the target's high words in the source's and an
  equality test, what any join of sorted arrays must do at least.
Building the columns from unsorted rows, and from today's hex strings, is timed once and
printed apart: it is a conversion at the read, not the join.
Peak bytes are numpy's allocations as tracemalloc sees them (numpy reports its data buffers
to it), over the join alone, divided by the devices of both sides.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from bench.timing import ms, timings
from segshare_core.domain.match import TargetIndex, TokenSet, join, words_of

SOURCE = 1_000_000
TARGET = 1_000_000
OVERLAP = 0.3
RUNS = 5
#: Share of iOS devices among the target's devices (bench.data uses the same).
IOS_SHARE = 0.6
#: Every this many target devices, one is held by two profiles (a shared tablet).
SHARED_DEVICE_EVERY = 100

TARGET_TOKENS_PER_S = 15e6
TARGET_RATIO = 1.25
TARGET_BYTES_PER_DEVICE = 25


@dataclass(frozen=True)
class Columns:
    """Both sides in columns, as given to the core, and what the answer must be."""

    source: TokenSet
    target: TargetIndex
    target_distinct_hi: np.ndarray
    expected_devices: int
    expected_by_platform: dict[str, int]
    expected_profiles: int
    build_seconds: dict[str, float]


def columns(seed: int = 14) -> Columns:
    """1M source tokens; 1M target devices, OVERLAP of them in the source, 4 devices per 3 profiles.

    Rows arrive shuffled, so building the columns includes their sort.
    """
    rng = np.random.default_rng(seed)
    common = int(TARGET * OVERLAP)
    source_raw = rng.bytes(16 * SOURCE)
    target_raw = source_raw[: 16 * common] + rng.bytes(16 * (TARGET - common))
    s_hi, s_lo = words_of(source_raw)
    order = rng.permutation(SOURCE)
    s_hi, s_lo = s_hi[order], s_lo[order]
    t_hi, t_lo = words_of(target_raw)
    order = rng.permutation(TARGET)
    t_hi, t_lo = t_hi[order], t_lo[order]
    shared = order < common  # the first `common` target tokens were the source's
    platform = (rng.random(TARGET) >= IOS_SHARE).astype(np.uint8)  # 0 ios, 1 android
    owner = (np.arange(TARGET, dtype=np.int64) * 3 // 4).astype(np.int32)
    tablet = np.arange(0, TARGET, SHARED_DEVICE_EVERY)
    rows_hi = np.concatenate([t_hi, t_hi[tablet]])
    rows_lo = np.concatenate([t_lo, t_lo[tablet]])
    rows_platform = np.concatenate([platform, platform[tablet]])
    rows_profile = np.concatenate([owner, owner[tablet] + 1])
    rows_shared = np.concatenate([shared, shared[tablet]])
    shuffle = rng.permutation(len(rows_hi))
    profile_ids = [f"u-{n:09d}" for n in range(int(owner[-1]) + 2)]

    build: dict[str, float] = {}
    start = time.process_time()
    source = TokenSet.from_words(s_hi, s_lo)
    build["source TokenSet.from_words (unsorted)"] = time.process_time() - start
    start = time.process_time()
    target = TargetIndex.from_rows(rows_hi[shuffle], rows_lo[shuffle], rows_platform[shuffle], rows_profile[shuffle], profile_ids)
    build["target TargetIndex.from_rows (unsorted)"] = time.process_time() - start
    hexes = [source_raw[i : i + 16].hex() for i in range(0, len(source_raw), 16)]
    start = time.process_time()
    TokenSet.from_hex(hexes)
    build["source TokenSet.from_hex (today's strings)"] = time.process_time() - start
    del hexes

    by_platform = np.bincount(platform[shared], minlength=2)
    return Columns(
        source=source,
        target=target,
        target_distinct_hi=target.hi[target.first],
        expected_devices=common,
        expected_by_platform={"ios": int(by_platform[0]), "android": int(by_platform[1])},
        expected_profiles=len(np.unique(rows_profile[rows_shared])),
        build_seconds=build,
    )


def bare_lookup(source_hi: np.ndarray, target_hi: np.ndarray) -> np.ndarray:
    """The least a join on sorted arrays does: which target high words the source holds (no low words, no profiles)."""
    at = np.searchsorted(source_hi, target_hi)
    np.minimum(at, len(source_hi) - 1, out=at)
    held: np.ndarray = source_hi[at] == target_hi
    return held


def peak_bytes(data: Columns) -> int:
    """Bytes numpy and Python allocate during one join at its peak, above what was held before."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        join(data.source, data.target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def run() -> None:
    data = columns()
    source, target, target_hi = data.source, data.target, data.target_distinct_hi
    joined = join(source, target)
    # The figure is worthless if the core is wrong: check it against what the data was built to hold.
    assert joined.matched_devices == data.expected_devices, "the core missed or invented devices"
    assert joined.matched_by_platform == data.expected_by_platform, "the core split devices wrongly"
    assert len(joined.profiles) == data.expected_profiles, "the core missed or invented profiles"
    assert len(np.intersect1d(source.hi, target_hi, assume_unique=True)) == data.expected_devices

    core = "core: join(source, target)"
    bare_unique = "bare: np.intersect1d(source_hi, target_hi, assume_unique=True)"
    bare_default = "bare: np.intersect1d(source_hi, target_hi)"
    lookup = "floor: searchsorted + compare of the high words only, no chunks"
    times = timings(
        {
            core: lambda: join(source, target),
            bare_unique: lambda: np.intersect1d(source.hi, target_hi, assume_unique=True),
            bare_default: lambda: np.intersect1d(source.hi, target_hi),
            "core, then the matched ids as str": lambda: target.ids(join(source, target).profiles),
            lookup: lambda: bare_lookup(source.hi, target_hi),
        },
        RUNS,
    )
    mine = times[core]
    bare_name = min((bare_unique, bare_default), key=lambda name: times[name].median)
    bare = times[bare_name]
    tokens = len(target_hi)
    devices = len(source) + tokens
    rate = tokens / mine.median
    ratio = mine.median / bare.median
    peak = peak_bytes(data)
    per_device = peak / devices
    held = sum(a.nbytes for a in (source.hi, source.lo, target.hi, target.lo, target.platform, target.profile, target.first))

    print(f"core: the match core, {len(source):,} source tokens x {tokens:,} target tokens ({len(target):,} index rows),")
    print(f"    {data.expected_devices:,} shared ({OVERLAP:.0%}); CPU time, median of {RUNS} runs (fastest run)")
    for name, t in times.items():
        note = f"   {t.median / bare.median:4.2f}x the faster bare" if name != bare_name else ""
        print(f"    {name:66s} {ms(t.median)} ({ms(t.fastest).strip()}){note}")
    print("    building the columns, once (not part of the core):")
    for name, seconds in data.build_seconds.items():
        print(f"    {name:66s} {ms(seconds)}")
    print(f"    core / floor: {mine.median / times[lookup].median:.2f}x (what the exact 128-bit compare, the profiles and the counts add)")
    print(f"    target tokens per second: {rate / 1e6:.1f}M (target >= {TARGET_TOKENS_PER_S / 1e6:.0f}M)")
    print(f"    core / {bare_name.removeprefix('bare: ')}: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    print(
        f"    peak allocated by the join: {peak / 1e6:.1f} MB = {per_device:.1f} B per device of both sides"
        f" (target <= {TARGET_BYTES_PER_DEVICE} B); the columns it reads hold {held / devices:.1f} B per device,"
        f" {(held + peak) / devices:.1f} B with them (the profile id strings not counted)"
    )
    print(
        f"    matched {len(joined.profiles):,} profiles on {joined.matched_devices:,} devices {joined.matched_by_platform},"
        " equal to the planted answer"
    )
    met = rate >= TARGET_TOKENS_PER_S and ratio <= TARGET_RATIO and per_device <= TARGET_BYTES_PER_DEVICE
    print(
        f"core: {len(source) / 1e6:g}M x {tokens / 1e6:g}M tokens, {OVERLAP:.0%} overlap: {rate / 1e6:.1f}M target tokens/s"
        f" (>= {TARGET_TOKENS_PER_S / 1e6:.0f}M), {ratio:.2f}x np.intersect1d (<= {TARGET_RATIO}x),"
        f" {per_device:.1f} B/device peak (<= {TARGET_BYTES_PER_DEVICE}): {'all targets met' if met else 'NOT all targets met'}"
    )


if __name__ == "__main__":
    run()
