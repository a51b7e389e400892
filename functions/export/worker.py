"""The export queue's worker: each message names one export to produce (``segshare_core.messages``).

Powertools' ``BatchProcessor`` parses every record as an ``ExportMessageRecord`` and answers a
partial batch response (``ReportBatchItemFailures`` on the event source): a record that fails,
malformed or throttled (RetryLater), returns to the queue alone, to be retried and after
``maxReceiveCount`` dead-lettered; the others of the batch are done and deleted.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.messages import ExportMessageRecord
from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import export_file

processor = BatchProcessor(event_type=EventType.SQS, model=ExportMessageRecord)


@tracer.capture_method
def produce(record: ExportMessageRecord) -> None:
    """Produce the export the record names; a RetryLater propagates, so the record is reported as failed."""
    message = record.body
    logger.append_keys(company_id=message.company_id, project_id=message.project_id, export_id=message.export_id)
    export_file.run(message.company_id, message.project_id, message.export_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=produce, processor=processor, context=context))
