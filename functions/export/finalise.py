"""S3 ObjectCreated on the exports prefix: the object landed whole, so its export becomes READY.

The event is read with Powertools' ``S3Event`` data class. S3 invokes this asynchronously: an
exception fails the whole event, which Lambda retries and then keeps in the function's
dead-letter queue (template.yaml), so nothing here swallows an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import export_file


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    """``{"finalised": n}``: how many of the event's objects made their export READY."""
    finalised = 0
    for record in event.records:
        if not record.event_name.startswith("ObjectCreated"):
            continue
        # S3 writes the key URL-encoded in its events ("+" for a space).
        finalised += export_file.finalise(unquote_plus(record.s3.get_object.key))
    return {"finalised": finalised}
