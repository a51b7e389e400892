"""(d) Peak memory per device: what the core allocates while matching, and what its inputs hold."""

from __future__ import annotations

import tracemalloc

from bench.data import sides
from segshare_core.domain.match import match

SOURCE = 200_000
TARGET = 200_000
TARGET_BYTES_PER_DEVICE = 120


def run() -> None:
    tracemalloc.start()
    try:
        data = sides(SOURCE, TARGET)
        inputs, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = match(data.source, data.target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    core = peak - inputs
    devices = data.devices
    print(f"(d) peak memory, {SOURCE:,} source tokens x {TARGET:,} target entries (tracemalloc)")
    print(f"    core while matching (result included): {core / 1e6:6.1f} MB = {core / devices:5.1f} B per device (source + target),")
    print(f"        {core / TARGET:5.1f} B per target entry (target <= {TARGET_BYTES_PER_DEVICE} B per device)")
    print(f"    inputs held as Python objects:         {inputs / 1e6:6.1f} MB = {inputs / devices:5.1f} B per device")
    print(f"    whole evaluation in memory:            {peak / 1e6:6.1f} MB = {peak / devices:5.1f} B per device")
    print(f"    ({len(result.matched_profiles):,} profiles matched)")
