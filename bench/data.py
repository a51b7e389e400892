"""Generated data shaped like a real evaluation: uniform tokens, a share of them on both sides."""

from __future__ import annotations

import random
from dataclasses import dataclass

from segshare_core.domain.match import IndexEntry

#: Share of iOS devices among the target's devices.
IOS_SHARE = 0.6
#: Every this many target devices, one is held by two profiles (a shared tablet).
SHARED_DEVICE_EVERY = 100


@dataclass(frozen=True)
class Sides:
    source: frozenset[str]
    target: list[IndexEntry]
    overlap: int

    @property
    def devices(self) -> int:
        return len(self.source) + len(self.target)


def sides(source_count: int, target_count: int, overlap: float = 0.3, seed: int = 4) -> Sides:
    """Source tokens and target index entries; ``overlap`` of the target's devices are also in the source.

    Both sides get their own string objects, as two reads would give them. Target profiles
    hold four devices per three profiles, and one device in SHARED_DEVICE_EVERY is held by
    two profiles.
    """
    rng = random.Random(seed)
    common = min(int(target_count * overlap), source_count)
    source_raw = [rng.randbytes(16) for _ in range(source_count)]
    target_raw = source_raw[:common] + [rng.randbytes(16) for _ in range(target_count - common)]
    rng.shuffle(target_raw)
    source = frozenset(raw.hex() for raw in source_raw)
    target = []
    for i, raw in enumerate(target_raw):
        owner = i * 3 // 4
        ids = (f"u-{owner:09d}", f"u-{owner + 1:09d}") if i % SHARED_DEVICE_EVERY == 0 else (f"u-{owner:09d}",)
        target.append(IndexEntry(raw.hex(), "ios" if rng.random() < IOS_SHARE else "android", ids))
    return Sides(source=source, target=target, overlap=common)
