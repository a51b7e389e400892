"""Waiting for a condition with a deadline, never for a fixed time: a fast machine goes on at once, a slow one still passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3


def wait_for[T](read: Callable[[], T], done: Callable[[T], bool], seconds: float, what: str, every: float = 0.3) -> T:
    """Call `read()` until `done` holds for its value, at most `seconds` (wall clock); that value.

    Raises AssertionError naming `what` and the last value read when the deadline passes.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s; last read {value!r}"[:2000])
        time.sleep(every)


def finished_execution(execution_arn: str, seconds: float = 120, sfn: Any = None) -> dict[str, Any]:
    """The Step Functions execution as DescribeExecution gives it, once it stopped (moto's interpreter, in process).

    moto sets the status before the output or error: the execution counts as finished once one
    of them is there. `sfn` is the Step Functions client to ask (default: a new one). Raises
    AssertionError after `seconds`.
    """
    sfn = sfn or boto3.client("stepfunctions")
    return wait_for(
        lambda: dict(sfn.describe_execution(executionArn=execution_arn)),
        lambda d: d["status"] != "RUNNING" and ("output" in d or "error" in d),
        seconds,
        f"execution {execution_arn.rsplit(':', 1)[-1]} to stop",
        every=0.2,
    )
