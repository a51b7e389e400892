"""One local stack with the demo data for the whole e2e session, and unique ids so its tests stay independent.

Starting a demo stack costs about 15 s, so every test that needs no special settings shares
`stack` (session-scoped, demo data loaded). Tests on it never reset it: each makes what it
needs under ids of its own (`fresh_id`, tests/support/http.py) and reads only what it made, or counts what it reads
from the stack as it is (e.g. a project's profile count) rather than the demo's constants.
A test that needs a stack with other settings (limits, env vars, a narrowed template, `make
dev` itself) starts its own through tests/support/stacks.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stacks import LocalStack, running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The session's local stack with the demo data (local/demo.py); stopped at the end, which must exit 0."""
    with running_stack(demo=True) as running:
        yield running
