"""The evaluation workflow's first task: check the share, write the children list the Maps read, return the context."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import evaluate_sharded


@logger.inject_lambda_context(correlation_id_path="evaluationId")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return evaluate_sharded.plan(parse(event=event, model=evaluate_sharded.Run)).model_dump()
