"""The scheduled state machine's Lambda tasks: list the due shares, evaluate one, record a failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core import evaluation
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import RetryLater
from segshare_core.observability import logger, metrics, tracer


class RetryLaterError(Exception):
    """Raised to Step Functions by name ("RetryLater"), which its Retry clause backs off on."""


RetryLaterError.__name__ = "RetryLater"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action")
    if action == "list":
        # The tick is the schedule's event time, so two executions for one tick share it.
        tick = str((event.get("input") or {}).get("time") or event.get("startTime") or iso(now()))
        items = evaluation.due_items(tick)
        logger.info("scheduled evaluation listed", tick=tick, shares=len(items))
        return {"items": items}
    if action == "evaluate":
        try:
            result = evaluation.evaluate_scheduled(event["item"])
        except RetryLater as exc:
            raise RetryLaterError(exc.message) from exc
        metrics.add_metric(name="ScheduledEvaluations", unit="Count", value=1)
        return result
    if action == "fail":
        return evaluation.record_scheduled_failure(event["item"])
    raise ValueError(f"unknown action {str(action)[:40]!r}")
