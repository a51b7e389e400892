"""The scheduled state machine's Lambda tasks: list the due shares to S3, evaluate one, record a failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import RetryLater
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store.errors import is_retryable
from segshare_core.workflows import scheduled_evaluation


class RetryLaterError(Exception):
    """Raised to Step Functions by name ("RetryLater"), which its Retry clause backs off on."""


RetryLaterError.__name__ = "RetryLater"


def _list(task: scheduled_evaluation.ListTask) -> dict[str, Any]:
    # The tick is the schedule's event time, so two executions for one tick share it.
    tick = str(task.input.get("time") or task.startTime or iso(now()))
    try:
        listed = scheduled_evaluation.write_due_list(tick)
    except Exception as exc:
        # Visible on every attempt: the state machine retries, then fails the execution (ListFailed).
        retryable = is_retryable(exc)
        metrics.add_metric(name="ScheduleListFailures", unit="Count", value=1)
        logger.exception("scheduled listing failed", tick=tick, retryable=retryable)
        if retryable:
            raise RetryLaterError("the live shares could not be listed; retry later") from exc
        raise
    metrics.add_metric(name="ScheduleDueShares", unit="Count", value=listed["count"])
    logger.info("scheduled evaluation listed", tick=tick, shares=listed["count"], companies=listed["companies"])
    return listed


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``action`` list -> the due list's place in S3; evaluate / fail -> one share's outcome (see ``scheduled_evaluation``).

    The event is parsed into ``scheduled_evaluation.ScheduleTask`` (Powertools parser): an
    unknown action or a malformed item fails the task with a validation error.
    """
    task = parse(event=event, model=scheduled_evaluation.ScheduleTask).root
    if isinstance(task, scheduled_evaluation.ListTask):
        return _list(task)
    if isinstance(task, scheduled_evaluation.FailTask):
        return scheduled_evaluation.record_scheduled_failure(task.item, task.tick, task.error)
    try:
        result = scheduled_evaluation.evaluate_scheduled(task.item, task.tick)
    except RetryLater as exc:
        raise RetryLaterError(exc.message) from exc
    metrics.add_metric(name="ScheduledEvaluations", unit="Count", value=1)
    if result.get("reused"):
        metrics.add_metric(name="ScheduledEvaluationsReused", unit="Count", value=1)
    if result.get("handedOff"):
        metrics.add_metric(name="ScheduledEvaluationsHandedOff", unit="Count", value=1)
    return result
