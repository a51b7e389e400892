"""The export queue's worker: one message names one export to produce."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.observability import logger, metrics, tracer
from segshare_core.workflows import export_file

processor = BatchProcessor(event_type=EventType.SQS)


def _record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    # A RetryLater propagates: the message returns to the queue and is retried, then dead-lettered.
    export_file.run(message["companyId"], message["projectId"], message["exportId"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))
