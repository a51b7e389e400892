"""The import state machine's last task: apply leftover counter moves, sum the counts, write the errors file, SUCCEEDED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.store.errors import retry_later_when_busy
from segshare_core.workflows import bulk_import


@logger.inject_lambda_context(correlation_id_path="importId")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    with retry_later_when_busy():
        return bulk_import.finish(parse(event=event, model=bulk_import.Finishing))
