"""Medians of interleaved runs, in CPU time of this process.

These machines share two cores with other work, which stretches wall-clock times by up to
2x from one run to the next; what is measured here is single-threaded and CPU-bound, so
the process's CPU time (time.process_time) leaves out the time it waits for a core.
Candidates take turns within each run, so they share whatever cache pressure remains.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median: float
    fastest: float


def timings(candidates: Mapping[str, Callable[[], object]], runs: int) -> dict[str, Timing]:
    """CPU seconds per candidate over `runs`: the median is the figure, the fastest run shows the noise."""
    seconds: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(runs):
        for name, candidate in candidates.items():
            gc.collect()
            start = time.process_time()
            candidate()
            seconds[name].append(time.process_time() - start)
    return {name: Timing(statistics.median(values), min(values)) for name, values in seconds.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"
