"""The evaluation workflow's Map children: one child's source profile shards resolved, or its target index shards matched.

One function for both Maps (the item's ``stage`` says which), so the match stage's children
run in the containers the resolve stage warmed rather than starting cold.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import evaluate_sharded


@logger.inject_lambda_context(correlation_id_path="context.evaluationId")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    item = parse(event=event, model=evaluate_sharded.ChildItem)
    if item.stage == "resolve":
        return evaluate_sharded.resolve_child(item)
    return evaluate_sharded.match_child(item)
