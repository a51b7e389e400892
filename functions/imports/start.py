"""S3 ObjectCreated on imports/uploads/: the upload landed, so its import starts on Step Functions."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import bulk_import


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    started = 0
    for record in event.records:
        if not record.event_name.startswith("ObjectCreated"):
            continue
        # S3 event notifications carry the key URL-encoded (spaces as "+"); the data class leaves it so.
        started += bulk_import.start(unquote_plus(record.s3.get_object.key), record.s3.get_object.version_id or None)
    return {"started": started}
