"""The import state machine's Lambda tasks: split the upload, upsert one batch, finish, record a failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.domain.errors import RetryLater
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store.errors import is_retryable
from segshare_core.workflows import bulk_import


class RetryLaterError(Exception):
    """Raised to Step Functions by name ("RetryLater"), which its Retry clauses back off on."""


RetryLaterError.__name__ = "RetryLater"


def _run(action: str, event: dict[str, Any]) -> dict[str, Any]:
    if action == "split":
        return bulk_import.split(event["job"])
    if action == "batch":
        result = bulk_import.run_batch(event["item"])
        metrics.add_metric(name="ImportRows", unit="Count", value=result["rows"])
        return result
    if action == "finish":
        return bulk_import.finish(event["job"])
    if action == "fail":
        return bulk_import.fail(event["job"])
    raise ValueError(f"unknown action {action[:40]!r}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return _run(str(event.get("action")), event)
    except RetryLater as exc:
        raise RetryLaterError(exc.message) from exc
    except Exception as exc:
        if is_retryable(exc):
            raise RetryLaterError("a dependency is busy") from exc
        raise
