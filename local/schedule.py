"""The schedule: moto's Step Functions interpreter runs the template's state machine on a timer.

EventBridge schedules never fire in moto, so a timer starts an execution every
SEGSHARE_SCHEDULE_SECONDS (the first one interval after start) with the input an EventBridge
schedule would give: ``{"time": ...}``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import uuid
from typing import Any

import boto3
import requests

from local import sfn_fixes
from local.template import Template, state_machines

LOG = logging.getLogger("segshare.local.schedule")
ROLE_ARN = "arn:aws:iam::123456789012:role/segshare-local-state-machine"


def enable_interpreter(moto_endpoint: str) -> None:
    """Executions really run (instead of staying RUNNING), Lambda tasks never try Docker, AWS's limits hold (local.sfn_fixes)."""
    sfn_fixes.apply()
    # moto's Distributed Map recurses once per item a worker runs: past ~990 items per worker
    # (due shares / MaxConcurrency) the worker dies and the execution hangs RUNNING for ever
    # (../shared/TOOLING-NOTES-distributed-map.md); the schedule's due lists can be that long.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 30_000))
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    requests.post(f"{moto_endpoint}/moto-api/config", json=config, timeout=10).raise_for_status()


def create_state_machines(template: Template) -> dict[str, str]:
    """logical id -> ARN of every state machine of the template, created in moto."""
    sfn = boto3.client("stepfunctions")
    return {
        machine.logical_id: sfn.create_state_machine(name=machine.logical_id, definition=machine.definition, roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
        for machine in state_machines(template)
    }


def start_tick(state_machine_arn: str, tick: str | None = None) -> str:
    moment = tick or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    response: dict[str, Any] = boto3.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=f"tick-{uuid.uuid4().hex}", input=json.dumps({"time": moment})
    )
    return str(response["executionArn"])


class Timer:
    def __init__(self, state_machine_arn: str, seconds: float) -> None:
        self.arn = state_machine_arn
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                LOG.info("scheduled evaluation started: %s", start_tick(self.arn))
            except Exception:
                LOG.exception("could not start the scheduled evaluation")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
