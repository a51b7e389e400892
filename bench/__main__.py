"""``python -m bench [figure ...]``: print the figures (all by default), each from its own module.

``python -m bench core`` prints only the match core's figure.

A figure is a module with a ``run()`` that prints; add one by listing it in FIGURES.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from bench import bench_export, core, deletes, end_to_end, iam_check, imports, reads, schedule, stack, workflow, workflow_e2e

FIGURES: dict[str, Callable[[], None]] = {
    "core": core.run,
    "b": reads.run,
    "c": end_to_end.run,
    "e": bench_export.run,
    "f": iam_check.run,
    "deletes": deletes.run,
    "child": workflow.run_child,
    "projection": workflow.run_projection,
    "e2e": workflow_e2e.run,
    "stack": stack.run,
    "import": imports.run,
    "import-bounds": imports.run_bounds,
    "schedule": schedule.run,
}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        print(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    for name in names or list(FIGURES):
        start = time.perf_counter()
        FIGURES[name]()
        print(f"    [{time.perf_counter() - start:.0f} s]\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
