"""The export queue's dead letters: an export whose worker failed every attempt is marked FAILED.

Powertools' ``BatchProcessor`` with a partial batch response (``ReportBatchItemFailures`` on
the event source): a record whose write fails (DynamoDB throttled) returns to the dead-letter
queue alone and is tried again. A malformed body is logged (its message id, never the body)
and let go: nothing can be marked for it, and it has already failed on the export queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from segshare_core.messages import ExportMessage
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import exports

processor = BatchProcessor(event_type=EventType.SQS)

EVERY_ATTEMPT_FAILED = "the export failed on every attempt; start a new export"


@tracer.capture_method
def mark_failed(record: SQSRecord) -> None:
    """Mark the export the dead letter names FAILED (an export already READY or FAILED is left as it is)."""
    try:
        message = ExportMessage.model_validate_json(record.body)
    except ValidationError:
        logger.error("malformed dead letter dropped", message_id=record.message_id)
        return
    if exports.mark_failed(message.company_id, message.project_id, message.export_id, EVERY_ATTEMPT_FAILED):
        logger.warning("export dead-lettered", company_id=message.company_id, export_id=message.export_id)
        metrics.add_metric(name="ExportsDeadLettered", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=mark_failed, processor=processor, context=context))
