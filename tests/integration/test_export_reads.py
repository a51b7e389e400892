"""The export worker reads the matched profiles by concurrent BatchGets, in id order, memory bounded (issue 14 item 4).

The worker's spooling step (``export_file._spool``) over 1,000 matched ids of which 900 are
profiles, inside moto. A botocore hook on the profiles client slows each BatchGetItem a
little and records how many were in flight at once.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from segshare_core.domain.profiles import Profile
from segshare_core.store import profiles
from segshare_core.store.models import ProfileRow
from segshare_core.workflows import export_file

COMPANY, PROJECT = "acme", "proj-b"
KEY = bytes(range(32))
MATCHED = [f"p-{n:04d}" for n in range(1000)]
#: Every tenth matched id is no profile (deleted since the evaluation): the export leaves it out.
STORED = [p for n, p in enumerate(MATCHED) if n % 10 != 3]


class InFlight:
    """BatchGetItem calls of the profiles client: started, and the most at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = 0
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def before(self, **_: Any) -> None:
        with self._lock:
            self.started += 1
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self.delay)  # a network round trip, so overlapping requests can be seen

    def after(self, **_: Any) -> None:
        with self._lock:
            self.now -= 1


@pytest.fixture
def stored(aws: None) -> None:
    batch = [Profile(profile_id=p, attributes={"name": f"N{p}"}, devices=()) for p in STORED]
    for start in range(0, len(batch), 100):
        profiles.upsert_profiles(COMPANY, PROJECT, KEY, batch[start : start + 100])


@pytest.fixture
def in_flight() -> Iterator[InFlight]:
    probe = InFlight(delay=0.02)
    events = ProfileRow._get_connection().connection.client.meta.events
    events.register("before-call.dynamodb.BatchGetItem", probe.before)
    events.register("after-call.dynamodb.BatchGetItem", probe.after)
    yield probe
    events.unregister("before-call.dynamodb.BatchGetItem", probe.before)
    events.unregister("after-call.dynamodb.BatchGetItem", probe.after)


def test_the_export_spool_reads_profiles_by_concurrent_batches_in_id_order(stored: None, in_flight: InFlight) -> None:
    # When the worker spools the 1,000 matched ids
    with tempfile.SpooledTemporaryFile(mode="w+", encoding="utf-8") as spool:
        rows, keys = export_file._spool(COMPANY, PROJECT, MATCHED, spool)
        spool.seek(0)
        lines = [json.loads(line) for line in spool]
    # Then every stored profile is a row, in id order, with its attributes; the missing ones are left out
    assert rows == len(STORED)
    assert [line[0] for line in lines] == STORED
    assert lines[0] == [STORED[0], {"name": f"N{STORED[0]}"}]
    assert keys == {"name"}
    # And the reads were BatchGets of 100 keys, several in flight at once
    assert in_flight.started == len(MATCHED) // 100
    assert in_flight.most >= 4, in_flight.most


def test_reading_profiles_by_id_holds_a_bounded_window_of_batches(stored: None, in_flight: InFlight) -> None:
    # When a reader of 10,000 ids (all but the first no profile) has handed over only its first profile
    ids = [STORED[0], *(f"q-{n:05d}" for n in range(9_999))]
    reader = profiles.iter_profiles_by_id(COMPANY, PROJECT, iter(ids))
    assert next(reader).profile_id == STORED[0]
    time.sleep(0.3)  # what did not happen (no read past the window) shows only after a while: no condition to poll for
    # Then no more than twice the read threads' batches (of 100 ids) were requested: memory is bounded, not the id count
    assert in_flight.started <= 2 * profiles.MAX_READ_THREADS, in_flight.started
    # And closing it early stops the reading
    reader.close()
    started = in_flight.started
    time.sleep(0.1)  # the same: no read started after close() can only be seen by waiting
    assert in_flight.started == started
