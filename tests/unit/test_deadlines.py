"""The deadlines of RUNNING evaluations and unfinished exports follow from template.yaml's timeouts.

A RUNNING evaluation reads as FAILED past RUNNING_DEADLINE, and a PENDING or RUNNING export
past EXPORT_DEADLINE: that is exact only while no run can still be alive then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from local import template as tpl
from segshare_core.domain.evaluations import RUNNING_DEADLINE, timed_out
from segshare_core.domain.exports import EXPORT_DEADLINE, export_timed_out

TEMPLATE = tpl.load()
RESOURCES: dict[str, Any] = TEMPLATE.resources
GLOBAL_TIMEOUT = int(TEMPLATE.body.get("Globals", {}).get("Function", {}).get("Timeout", 3))  # Lambda's default is 3 s
#: Every function that runs an evaluation (evaluation.evaluate): HTTP, the schedule's task, the export worker.
EVALUATING = ("EvaluateFunction", "ScheduledEvaluateFunction", "ExportWorkerFunction")


def _timeout(logical_id: str) -> int:
    props = RESOURCES[logical_id]["Properties"]
    return int(props.get("Timeout", GLOBAL_TIMEOUT))


def test_no_evaluating_function_outlives_the_running_deadline() -> None:
    # Given the functions that run evaluations and their Lambda timeouts
    timeouts = {f: _timeout(f) for f in EVALUATING}
    # Then each is cut before API.md's 15 minutes, so a run RUNNING past it is dead
    assert timedelta(minutes=15) == RUNNING_DEADLINE
    assert max(timeouts.values()) < RUNNING_DEADLINE.total_seconds(), timeouts


def test_no_export_attempt_outlives_the_export_deadline() -> None:
    # Given the export queue's redrive and visibility and the worker's timeout
    queue = RESOURCES["ExportQueue"]["Properties"]
    attempts = int(queue["RedrivePolicy"]["maxReceiveCount"])
    visibility = int(queue["VisibilityTimeout"])
    worker = _timeout("ExportWorkerFunction")
    # Then the last attempt has ended (each is hidden for the visibility timeout, cut at the worker's)
    assert worker <= visibility
    assert attempts * visibility + worker < EXPORT_DEADLINE.total_seconds()


def test_running_reads_failed_only_past_the_deadline() -> None:
    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # A RUNNING evaluation at exactly its deadline is still RUNNING; a moment later it is not
    assert not timed_out("RUNNING", start, start + RUNNING_DEADLINE)
    assert timed_out("RUNNING", start, start + RUNNING_DEADLINE + timedelta(milliseconds=1))
    # An evaluation that ended is never touched
    for status in ("SUCCEEDED", "FAILED"):
        assert not timed_out(status, start, start + timedelta(days=1))
    # Exports likewise, from PENDING or RUNNING only
    assert export_timed_out("PENDING", start, start + EXPORT_DEADLINE + timedelta(seconds=1))
    assert export_timed_out("RUNNING", start, start + EXPORT_DEADLINE + timedelta(seconds=1))
    assert not export_timed_out("RUNNING", start, start + EXPORT_DEADLINE)
    for status in ("READY", "FAILED"):
        assert not export_timed_out(status, start, start + timedelta(days=1))
