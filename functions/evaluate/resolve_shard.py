"""The evaluation workflow's first Map: resolve the source segment on one profile shard into token files."""

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
    return evaluate_sharded.resolve_shard(parse(event=event, model=evaluate_sharded.ShardItem))
