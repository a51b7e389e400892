"""Handing an evaluation to the evaluation workflow: the cost model's choice and the Step Functions adapter.

Every path that evaluates (``POST .../evaluations``, the export worker, the schedule) asks
``predict`` first; one predicted above ``config.EVALUATION_INLINE_SECONDS`` records its
evaluation RUNNING and starts ``EvaluationStateMachine`` on it (``start_running``) instead of
evaluating inside its own Lambda, whose limit it would not meet at 10M x 10M.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

from segshare_core import config
from segshare_core.domain import scale
from segshare_core.domain.evaluations import Evaluation, Trigger
from segshare_core.domain.segments import SharedSegment
from segshare_core.observability import logger
from segshare_core.store import evaluations, profiles
from segshare_core.workflows.evaluate_sharded import Run


@cache
def _sfn() -> Any:
    return boto3.client("stepfunctions")


def start(run: Run) -> str:
    """Start the workflow for an evaluation recorded RUNNING; the execution's ARN.

    The execution is named after the evaluation, so one evaluation can never run twice
    (Step Functions refuses a second execution of one name). Raises botocore's ClientError.
    """
    response: dict[str, Any] = _sfn().start_execution(
        stateMachineArn=config.require("EVALUATION_STATE_MACHINE_ARN"), name=run.evaluationId, input=run.model_dump_json(exclude_none=True)
    )
    return str(response["executionArn"])


def predict(
    company_id: str, shared: SharedSegment, *, source: profiles.Counts | None = None, target: profiles.Counts | None = None
) -> scale.Prediction:
    """The in-request time the cost model predicts for this share, from both projects' counters.

    ``source``/``target`` are counts the caller already read (the schedule's fingerprint
    reads them); the others are read here (one BatchGet each). The read rate is the engine's:
    ``config.EVALUATION_ITEMS_PER_SECOND`` when set (the local stack's moto), else AWS's.
    """
    source = source or profiles.counts(company_id, shared.source_project_id)
    target = target or profiles.counts(company_id, shared.target_project_id)
    rate = config.EVALUATION_ITEMS_PER_SECOND or scale.ITEMS_PER_SECOND
    return scale.predict_in_request(
        source.profiles, source.index_entries, target.index_entries, shards=config.DEVICE_INDEX_SHARDS, items_per_second=rate
    )


def is_large(prediction: scale.Prediction) -> bool:
    """Too slow for one Lambda: above ``config.EVALUATION_INLINE_SECONDS`` (API.md: handed off, 202)."""
    return prediction.seconds > config.EVALUATION_INLINE_SECONDS


def start_running(
    company_id: str, shared: SharedSegment, running: Evaluation, *, inputs: str | None = None, export_id: str | None = None
) -> str:
    """Start the workflow on an evaluation already recorded RUNNING; the execution's ARN.

    ``inputs`` (a scheduled run's fingerprint) is recorded with the result and frees the
    tick's lease at the end; ``export_id`` names the export waiting for the result (the
    workflow queues it again when the evaluation ends). When the execution cannot be started
    the evaluation is recorded FAILED and the error re-raised.
    """
    run = Run(
        companyId=company_id,
        projectId=shared.target_project_id,
        sharedSegmentId=shared.shared_segment_id,
        evaluationId=running.evaluation_id,
        generation=shared.generation,
        trigger=running.trigger,
        inputs=inputs,
        exportId=export_id,
    )
    try:
        return start(run)
    except Exception:
        logger.exception("evaluation workflow not started", evaluation_id=running.evaluation_id)
        evaluations.fail(company_id, shared, running.evaluation_id, "the evaluation could not be started; retry")
        raise


def hand_off(company_id: str, shared: SharedSegment, trigger: Trigger) -> Evaluation | None:
    """Start the workflow when the in-request path is predicted too slow; the RUNNING evaluation, else None.

    Too slow: ``is_large`` (API.md: an evaluation too large to finish well inside API
    Gateway's 29 s is always handed off). When the execution cannot be started, the
    evaluation is recorded FAILED and the error re-raised.
    """
    predicted = predict(company_id, shared)
    if not is_large(predicted):
        return None
    running = evaluations.start(company_id, shared, trigger)
    start_running(company_id, shared, running)
    seconds = round(predicted.seconds, 2)
    logger.info("evaluation handed off", evaluation_id=running.evaluation_id, predicted_seconds=seconds, plan=predicted.plan)
    return running
