"""Import records, the import's objects in S3 (upload, batch files, errors file), and its state machine.

Keys (the prefixes the template's grants and the upload's S3 event name):

- ``imports/uploads/<company>/<project>/<importId>.<format>``: the caller's upload (presigned PUT);
  its ObjectCreated event starts the import;
- ``imports/work/<company>/<project>/<importId>/``: the manifest the Distributed Map reads,
  the batch files, each batch's result and rejections;
- ``imports/errors/<company>/<project>/<importId>.csv``: the errors file (presigned GET).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from segshare_core import config
from segshare_core.domain.clock import iso, now
from segshare_core.domain.filenames import content_disposition
from segshare_core.domain.imports import Format, Import, new_import_id
from segshare_core.store import keys
from segshare_core.store.errors import update_if
from segshare_core.store.models import ImportRow

UPLOADS = "imports/uploads/"
#: API.md: the upload URL lives 15 minutes.
UPLOAD_URL_SECONDS = 900


@cache
def _s3() -> Any:
    # SigV4 explicitly, as for export downloads: the URL's lifetime is carried in X-Amz-Expires.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def _import(row: ImportRow) -> Import:
    return Import(
        import_id=keys.import_id_of(row.sk),
        project_id=keys.project_of(row.pk)[1],
        status=row.status,  # type: ignore[arg-type]
        format=row.format,  # type: ignore[arg-type]
        created_at=iso(row.created_at),
        rows=int(row.rows) if row.rows is not None else None,
        upserted=int(row.upserted) if row.upserted is not None else None,
        rejected=int(row.rejected) if row.rejected is not None else None,
        finished_at=iso(row.finished_at) if row.finished_at else None,
        error=row.error,
        errors_key=row.errors_key,
    )


def upload_key(company_id: str, project_id: str, import_id: str, fmt: Format) -> str:
    return f"{UPLOADS}{company_id}/{project_id}/{import_id}.{fmt}"


def parse_upload_key(key: str) -> tuple[str, str, str] | None:
    """(company, project, import id) of an upload key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}/" != UPLOADS or "." not in parts[4]:
        return None
    return parts[2], parts[3], parts[4].rsplit(".", 1)[0]


def work_prefix(company_id: str, project_id: str, import_id: str) -> str:
    return f"imports/work/{company_id}/{project_id}/{import_id}/"


def errors_key(company_id: str, project_id: str, import_id: str) -> str:
    return f"imports/errors/{company_id}/{project_id}/{import_id}.csv"


# ------------------------------------------------------------------ records


def create(company_id: str, project_id: str, fmt: Format, user_id: str) -> Import:
    moment = now()
    import_id = new_import_id(moment)
    row = ImportRow(
        *keys.import_record(company_id, project_id, import_id),
        status="WAITING_FOR_UPLOAD",
        format=fmt,
        object_key=upload_key(company_id, project_id, import_id, fmt),
        created_at=moment,
        created_by=user_id,
    )
    row.save(condition=ImportRow.sk.does_not_exist())
    return _import(row)


def get(company_id: str, project_id: str, import_id: str) -> Import | None:
    try:
        return _import(ImportRow.get(*keys.import_record(company_id, project_id, import_id), consistent_read=True))
    except DoesNotExist:
        return None


def list_for(company_id: str, project_id: str, limit: int = 20, after: str | None = None) -> tuple[list[Import], str | None]:
    """The project's imports, newest first: (page, the id to continue after, or None at the end)."""
    rows = ImportRow.query(
        keys.project_pk(company_id, project_id),
        ImportRow.sk.startswith(keys.IMPORT_SK_PREFIX),
        scan_index_forward=False,
        consistent_read=True,
        last_evaluated_key=keys.exclusive_start(*keys.import_record(company_id, project_id, after)) if after else None,
    )
    out: list[Import] = []
    for row in rows:
        if len(out) >= limit:  # one more exists: the page ends here
            return out, out[-1].import_id
        out.append(_import(row))
    return out, None


def _transition(company_id: str, project_id: str, import_id: str, allowed: tuple[str, ...], actions: list[Any]) -> bool:
    """Apply a change only from the allowed states; False when the record was elsewhere (or absent)."""
    row = ImportRow(*keys.import_record(company_id, project_id, import_id))
    return update_if(row, actions, ImportRow.pk.exists() & ImportRow.status.is_in(*allowed))


def mark_running(company_id: str, project_id: str, import_id: str) -> bool:
    return _transition(company_id, project_id, import_id, ("WAITING_FOR_UPLOAD",), [ImportRow.status.set("RUNNING")])


def mark_succeeded(company_id: str, project_id: str, import_id: str, rows: int, upserted: int, rejected: int, key: str) -> bool:
    """SUCCEEDED with its counts and errors file; a second finish of the same run sets the same values."""
    actions = [
        ImportRow.status.set("SUCCEEDED"),
        ImportRow.rows.set(rows),
        ImportRow.upserted.set(upserted),
        ImportRow.rejected.set(rejected),
        ImportRow.errors_key.set(key),
        ImportRow.finished_at.set(now()),
    ]
    return _transition(company_id, project_id, import_id, ("RUNNING", "SUCCEEDED"), actions)


def mark_failed(company_id: str, project_id: str, import_id: str, error: str) -> bool:
    actions = [ImportRow.status.set("FAILED"), ImportRow.error.set(error[:500]), ImportRow.finished_at.set(now())]
    return _transition(company_id, project_id, import_id, ("WAITING_FOR_UPLOAD", "RUNNING"), actions)


# ------------------------------------------------------------------ the state machine


def start_execution(job: dict[str, Any]) -> bool:
    """Start the import's execution, named for the import: a second start of one import is refused by name.

    Step Functions keeps an execution name for 90 days (AWS documents StartExecution as
    idempotent for a name and input while the execution runs, ExecutionAlreadyExists
    otherwise). Returns False when an execution of this import exists already.
    """
    client = boto3.client("stepfunctions")
    try:
        client.start_execution(stateMachineArn=config.require("IMPORT_STATE_MACHINE_ARN"), name=job["importId"], input=json.dumps(job))
    except client.exceptions.ExecutionAlreadyExists:
        return False
    return True


# ------------------------------------------------------------------ objects


def upload_url(key: str) -> str:
    """A presigned PUT of the upload (15 minutes, API.md); S3 takes up to 5 GB in one PUT (AWS documented limit)."""
    params = {"Bucket": config.DATA_BUCKET, "Key": key}
    return str(_s3().generate_presigned_url("put_object", Params=params, ExpiresIn=UPLOAD_URL_SECONDS))


def download_url(key: str, filename: str) -> str:
    """A presigned GET (at most 15 minutes, API.md) that downloads as ``filename`` (domain.filenames).

    S3 answers it with ``Content-Disposition`` from ``ResponseContentDisposition``, which is
    signed into the URL, so the name holds across origins where a link's ``download`` does not.
    """
    params = {"Bucket": config.DATA_BUCKET, "Key": key, "ResponseContentDisposition": content_disposition(filename)}
    return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=config.DOWNLOAD_URL_SECONDS))


def open_object(key: str, version_id: str | None = None) -> IO[bytes]:
    """The object's bytes as a stream (read as it arrives; memory stays flat in its size)."""
    params = {"Bucket": config.DATA_BUCKET, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    body: IO[bytes] = _s3().get_object(**params)["Body"]
    return body


def object_size(key: str, version_id: str | None = None) -> int:
    params = {"Bucket": config.DATA_BUCKET, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    return int(_s3().head_object(**params)["ContentLength"])


def put_file(key: str, body: IO[bytes] | bytes, content_type: str) -> None:
    """One PUT (the work files are a few MB; S3 takes 5 GB in one PUT)."""
    _s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256")


def read_text(key: str) -> str | None:
    """The object as text, or None when it does not exist."""
    try:
        return str(_s3().get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read().decode())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise


def iter_lines(key: str) -> Iterator[str]:
    """The object's lines (UTF-8), streamed."""
    for line in _s3().get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].iter_lines(chunk_size=65536, keepends=True):
        yield line.decode()
