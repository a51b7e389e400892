"""(a) The match core against a bare Python set intersection of the same tokens."""

from __future__ import annotations

from bench.data import sides
from bench.timing import ms, timings
from segshare_core.domain.match import match

SOURCE = 200_000
TARGET = 200_000
OVERLAP = 0.3
RUNS = 5
TARGET_RATIO = 1.25


def run() -> None:
    data = sides(SOURCE, TARGET, OVERLAP)
    source, entries = data.source, data.target
    target_tokens = frozenset(e.token for e in entries)
    core = "core: match(source, entries)"
    candidates = {
        core: lambda: match(source, entries),
        "bare, same inputs: {t for e in entries if (t := e.token) in source}": lambda: {t for e in entries if (t := e.token) in source},
        "bare, same inputs: source & {e.token for e in entries}": lambda: source & {e.token for e in entries},
        "bare, both sets prebuilt: source & target_tokens": lambda: source & target_tokens,
    }
    result = match(source, entries)
    assert result.matched_devices == len(source & target_tokens) == data.overlap, "the core and the bare intersection disagree"
    times = timings(candidates, RUNS)
    mine = times.pop(core)
    print(f"(a) match core, {SOURCE:,} source tokens x {TARGET:,} target entries, {data.overlap:,} shared")
    print(f"    CPU time, median of {RUNS} runs (fastest run)")
    print(f"    {core:70s} {ms(mine.median)} ({ms(mine.fastest).strip()})")
    for name, bare in times.items():
        ratio = f"core/bare {mine.median / bare.median:4.2f}x ({mine.fastest / bare.fastest:4.2f}x)"
        print(f"    {name:70s} {ms(bare.median)} ({ms(bare.fastest).strip()})   {ratio}")
    fastest_bare = min((t for name, t in times.items() if "same inputs" in name), key=lambda t: t.median)
    print(
        f"    against the fastest bare intersection of the same inputs: {mine.median / fastest_bare.median:.2f}x"
        f" ({mine.fastest / fastest_bare.fastest:.2f}x fastest runs); target <= {TARGET_RATIO}"
    )
    print(f"    matched {len(result.matched_profiles):,} profiles on {result.matched_devices:,} devices {dict(result.matched_by_platform)}")
