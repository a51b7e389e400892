"""Export records, the export queue, and export objects in S3 (multipart, never half-visible)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from segshare_core import config
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import ShareEnded
from segshare_core.domain.exports import EXPORT_SHARE_ENDED, EXPORT_TIMED_OUT, Export, Format, export_timed_out, new_export_id
from segshare_core.domain.filenames import content_disposition
from segshare_core.domain.segments import SharedSegment
from segshare_core.domain.sharing import LEGACY_GENERATION
from segshare_core.store import keys, segments
from segshare_core.store.errors import failed_conditions, update_if
from segshare_core.store.models import ExportRow, connection

#: S3 parts are at least 5 MB (but the last); 8 MB keeps memory flat and requests few.
PART_BYTES = 8 * 1024 * 1024


@cache
def _s3() -> Any:
    # SigV4 explicitly: botocore presigns S3 with SigV2 by default in the older regions, which
    # S3 refuses for newer buckets and which carries no X-Amz-Expires (the URL's lifetime).
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def _export(row: ExportRow) -> Export:
    return Export(
        export_id=keys.export_id_of(row.sk),
        project_id=keys.project_of(row.pk)[1],
        shared_segment_id=row.shared_segment_id,
        status=row.status,  # type: ignore[arg-type]
        format=row.format,  # type: ignore[arg-type]
        attributes=tuple(row.attributes) if row.attributes is not None else None,
        created_at=iso(row.created_at),
        row_count=int(row.row_count) if row.row_count is not None else None,
        bytes=int(row.bytes) if row.bytes is not None else None,
        ready_at=iso(row.ready_at) if row.ready_at else None,
        error=row.error,
        evaluation_id=row.evaluation_id,
        object_key=row.object_key,
        generation=row.generation or LEGACY_GENERATION,
    )


def _read(row: ExportRow) -> ExportRow:
    """A PENDING or RUNNING export past its deadline is written FAILED (only from those) and read so."""
    if export_timed_out(row.status, row.created_at, now()):
        company_id, project_id = keys.project_of(row.pk)
        mark_failed(company_id, project_id, keys.export_id_of(row.sk), EXPORT_TIMED_OUT)
        row.refresh(consistent_read=True)
    return row


def object_key(company_id: str, project_id: str, export_id: str, fmt: Format) -> str:
    """Under a prefix of company and project; the export id names the record it finalises."""
    return f"exports/{company_id}/{project_id}/{export_id}.{fmt}"


def parse_object_key(key: str) -> tuple[str, str, str] | None:
    """(company, project, export id) of an export object key, or None for anything else."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "exports" or "." not in parts[3]:
        return None
    return parts[1], parts[2], parts[3].rsplit(".", 1)[0]


def create(company_id: str, shared: SharedSegment, fmt: Format, attributes: list[str] | None, user_id: str) -> Export:
    """Record a PENDING export of the share's current generation (it is served only under it)."""
    moment = now()
    row = ExportRow(
        *keys.export_record(company_id, shared.target_project_id, new_export_id(moment)),
        shared_segment_id=shared.shared_segment_id,
        generation=shared.generation,
        status="PENDING",
        format=fmt,
        attributes=attributes,
        created_at=moment,
        created_by=user_id,
    )
    row.save(condition=ExportRow.sk.does_not_exist())
    return _export(row)


def enqueue(company_id: str, project_id: str, export_id: str) -> None:
    """Queue the export for the worker: one SendMessage to the URL the template passes (no lookup)."""
    body = json.dumps({"companyId": company_id, "projectId": project_id, "exportId": export_id})
    boto3.client("sqs").send_message(QueueUrl=config.require("EXPORT_QUEUE_URL"), MessageBody=body)


def get(company_id: str, project_id: str, export_id: str) -> Export | None:
    """The export record as it stands (whatever its share's generation), or None."""
    try:
        return _export(_read(ExportRow.get(*keys.export_record(company_id, project_id, export_id), consistent_read=True)))
    except DoesNotExist:
        return None


def _of_generation(generation: str) -> Condition:
    if generation == LEGACY_GENERATION:  # exports from before generations hold none
        return ExportRow.generation.does_not_exist()
    return ExportRow.generation == generation


def list_for(company_id: str, shared: SharedSegment, limit: int = 20, after: str | None = None) -> tuple[list[Export], str | None]:
    """The share's exports of its current generation, newest first: (page, id to continue after, or None)."""
    rows = ExportRow.query(
        keys.project_pk(company_id, shared.target_project_id),
        ExportRow.sk.startswith(keys.EXPORT_SK_PREFIX),
        filter_condition=(ExportRow.shared_segment_id == shared.shared_segment_id) & _of_generation(shared.generation),
        scan_index_forward=False,
        consistent_read=True,
        last_evaluated_key=keys.exclusive_start(*keys.export_record(company_id, shared.target_project_id, after)) if after else None,
    )
    out: list[Export] = []
    for row in rows:
        if len(out) >= limit:  # one more exists: the page ends here
            return out, out[-1].export_id
        out.append(_export(_read(row)))
    return out, None


def _transition(company_id: str, project_id: str, export_id: str, allowed: tuple[str, ...], actions: list[Any]) -> bool:
    """Apply a status change only from the allowed states; False when the record was elsewhere."""
    row = ExportRow(*keys.export_record(company_id, project_id, export_id))
    return update_if(row, actions, ExportRow.pk.exists() & ExportRow.status.is_in(*allowed))


def mark_running(company_id: str, project_id: str, export_id: str, evaluation_id: str | None = None) -> bool:
    actions = [ExportRow.status.set("RUNNING")]
    if evaluation_id:
        actions.append(ExportRow.evaluation_id.set(evaluation_id))
    return _transition(company_id, project_id, export_id, ("PENDING", "RUNNING"), actions)


def mark_uploading(company_id: str, project_id: str, export_id: str, evaluation_id: str, key: str) -> bool:
    return _transition(
        company_id,
        project_id,
        export_id,
        ("RUNNING",),
        [ExportRow.evaluation_id.set(evaluation_id), ExportRow.object_key.set(key)],
    )


def mark_failed(company_id: str, project_id: str, export_id: str, error: str) -> bool:
    return _transition(
        company_id, project_id, export_id, ("PENDING", "RUNNING"), [ExportRow.status.set("FAILED"), ExportRow.error.set(error[:500])]
    )


def mark_ready(company_id: str, shared: SharedSegment, export_id: str, key: str, row_count: int, size: int) -> bool:
    """READY only from RUNNING, only for the object this export is writing, only while its share is current.

    One transaction with a ConditionCheck on the share item (API.md "Revoking and resharing");
    False when the export was elsewhere, ShareEnded when the share's generation ended.
    """
    row = ExportRow(*keys.export_record(company_id, shared.target_project_id, export_id))
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.update(
                row,
                actions=[
                    ExportRow.status.set("READY"),
                    ExportRow.row_count.set(row_count),
                    ExportRow.bytes.set(size),
                    ExportRow.ready_at.set(now()),
                ],
                condition=(ExportRow.status == "RUNNING") & (ExportRow.object_key == key),
            )
    except TransactWriteError as exc:
        reasons = failed_conditions(exc)
        if not any(reasons):
            raise
        if reasons[0]:  # the share check (condition checks come first)
            raise ShareEnded(EXPORT_SHARE_ENDED) from exc
        return False
    return True


def upload(key: str, chunks: Iterator[str], content_type: str, metadata: dict[str, str]) -> int:
    """Stream text to one S3 object as a multipart upload; return its size in bytes.

    Memory holds one part at a time. On any failure the upload is aborted, so no object (and
    no ObjectCreated event) ever exists for a half-written export.
    """
    s3 = _s3()
    upload_id = s3.create_multipart_upload(
        Bucket=config.DATA_BUCKET, Key=key, ContentType=content_type, Metadata=metadata, ServerSideEncryption="AES256"
    )["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer = bytearray()
    size = 0

    def flush() -> None:
        response = s3.upload_part(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id, PartNumber=len(parts) + 1, Body=bytes(buffer))
        parts.append({"PartNumber": len(parts) + 1, "ETag": response["ETag"]})
        buffer.clear()

    try:
        for chunk in chunks:
            data = chunk.encode()
            buffer += data
            size += len(data)
            if len(buffer) >= PART_BYTES:
                flush()
        if buffer or not parts:
            flush()
        s3.complete_multipart_upload(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        s3.abort_multipart_upload(Bucket=config.DATA_BUCKET, Key=key, UploadId=upload_id)
        raise
    return size


def object_facts(key: str) -> tuple[int, int] | None:
    """(row count from the object's metadata, size in bytes), or None when the object is gone."""
    try:
        head = _s3().head_object(Bucket=config.DATA_BUCKET, Key=key)
    except _s3().exceptions.ClientError:
        return None
    return int(head.get("Metadata", {}).get("row-count", "0")), int(head["ContentLength"])


def download_url(key: str, filename: str) -> str:
    """A presigned GET (at most 15 minutes, API.md) that downloads as ``filename`` (domain.filenames).

    S3 answers it with ``Content-Disposition`` from ``ResponseContentDisposition``, which is
    signed into the URL, so the name holds across origins where a link's ``download`` does not.
    """
    params = {"Bucket": config.DATA_BUCKET, "Key": key, "ResponseContentDisposition": content_disposition(filename)}
    return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=config.DOWNLOAD_URL_SECONDS))
