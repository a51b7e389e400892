"""Every environment variable the service reads, read once at import.

template.yaml sets each of them (shared ones under Globals); the local stack and the
tests set the same names before anything of ours is imported.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DIRECTORY_TABLE = os.environ.get("DIRECTORY_TABLE", "DirectoryTable")
PROFILES_TABLE = os.environ.get("PROFILES_TABLE", "ProfilesTable")
DEVICE_INDEX_TABLE = os.environ.get("DEVICE_INDEX_TABLE", "DeviceIndexTable")
SEGMENTS_TABLE = os.environ.get("SEGMENTS_TABLE", "SegmentsTable")
EVALUATIONS_TABLE = os.environ.get("EVALUATIONS_TABLE", "EvaluationsTable")
EXPORTS_TABLE = os.environ.get("EXPORTS_TABLE", "ExportsTable")
IMPORTS_TABLE = os.environ.get("IMPORTS_TABLE", "ImportsTable")
IDEMPOTENCY_TABLE = os.environ.get("IDEMPOTENCY_TABLE", "IdempotencyTable")
DATA_BUCKET = os.environ.get("DATA_BUCKET", "segshare-data")
#: The export queue's URL (template: ``!Ref ExportQueue``), so sending needs sqs:SendMessage alone.
EXPORT_QUEUE_URL = os.environ.get("EXPORT_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/ExportQueue")
#: The bulk import state machine (template: ``!Ref ImportStateMachine``), started by the upload's S3 event.
IMPORT_STATE_MACHINE_ARN = os.environ.get(
    "IMPORT_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:ImportStateMachine"
)
#: Presigned download URLs live at most 15 minutes.
DOWNLOAD_URL_SECONDS = min(_int("DOWNLOAD_URL_SECONDS", 900), 900)

#: Shards of a project's device index partition; evaluations read them in parallel.
DEVICE_INDEX_SHARDS = _int("DEVICE_INDEX_SHARDS", 16)
#: Largest request body accepted, in bytes (API Gateway allows more; nothing here needs it).
MAX_BODY_BYTES = _int("MAX_BODY_BYTES", 1_048_576)
#: The evaluation workflow (template: ``!Ref EvaluationStateMachine``), started for a large evaluation.
EVALUATION_STATE_MACHINE_ARN = os.environ.get(
    "EVALUATION_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:EvaluationStateMachine"
)
#: An evaluation predicted to take longer than this (seconds) is handed to the workflow (202).
EVALUATION_INLINE_SECONDS = float(os.environ.get("EVALUATION_INLINE_SECONDS", "5"))

#: Days an evaluation record (and a tick claim, a lease) is kept: the evaluations table's TTL.
EVALUATION_RETENTION_DAYS = _int("EVALUATION_RETENTION_DAYS", 90)
#: Most shares of one company a schedule tick evaluates; the rest rotate into later ticks.
SCHEDULE_MAX_PER_COMPANY = _int("SCHEDULE_MAX_PER_COMPANY", 2000)
