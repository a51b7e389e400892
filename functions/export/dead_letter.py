"""The export queue's dead letters: an export whose worker failed every attempt is marked FAILED."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import exports


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = 0
    for record in event.get("Records", []):
        message = json.loads(record["body"])
        if exports.mark_failed(
            message["companyId"], message["projectId"], message["exportId"], "the export failed on every attempt; start a new export"
        ):
            failed += 1
            logger.warning("export dead-lettered", export_id=message["exportId"])
    return {"failed": failed}
