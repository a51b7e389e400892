"""S3 ObjectCreated on the exports prefix: the object landed whole, so its export becomes READY."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import export_file


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    finalised = 0
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        finalised += export_file.finalise(unquote_plus(record["s3"]["object"]["key"]))
    return {"finalised": finalised}
