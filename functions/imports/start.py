"""S3 ObjectCreated on imports/uploads/: the upload landed, so its import starts on Step Functions."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import bulk_import


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = 0
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3_object = record["s3"]["object"]
        started += bulk_import.start(unquote_plus(s3_object["key"]), s3_object.get("versionId") or None)
    return {"started": started}
