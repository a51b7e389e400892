"""Bulk imports over HTTP: start one (202 with a presigned PUT), read one, list them (API.md "Bulk import")."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from segshare_core.api import Strict, error_responses, make_resolver, principal, project_scope
from segshare_core.domain import cursors
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import NotFound
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.imports import Import
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import directory, imports

app = make_resolver()

Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]
Cursor = Annotated[str | None, Query(max_length=cursors.MAX_CURSOR_CHARS)]
Status = Literal["WAITING_FOR_UPLOAD", "RUNNING", "SUCCEEDED", "FAILED"]


class ImportIn(Strict):
    format: Literal["jsonl", "csv"]


class ImportStarted(Strict):
    importId: str
    status: Status
    format: Literal["jsonl", "csv"]
    uploadUrl: str
    expiresAt: str


class ImportOut(Strict):
    importId: str
    status: Status
    format: Literal["jsonl", "csv"]
    rows: int | None
    upserted: int | None
    rejected: int | None
    errorsUrl: str | None
    createdAt: str
    finishedAt: str | None
    error: str | None = None


class ImportsOut(Strict):
    imports: list[ImportOut]
    nextCursor: str | None


def _ok(model: Any, status: int = 200) -> dict[int, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"model": model}}}}


def _out(record: Import, *, with_url: bool = False) -> dict[str, Any]:
    url = None
    if with_url and record.status == "SUCCEEDED" and record.errors_key:
        # Issued only here, after the caller's access to the project was checked.
        url = imports.download_url(record.errors_key)
    out = {
        "importId": record.import_id,
        "status": record.status,
        "format": record.format,
        "rows": record.rows,
        "upserted": record.upserted,
        "rejected": record.rejected,
        "errorsUrl": url,
        "createdAt": record.created_at,
        "finishedAt": record.finished_at,
    }
    if record.error:
        out["error"] = record.error
    return out


@app.post("/v1/projects/<projectId>/imports", responses={**_ok(ImportStarted, 202), **error_responses(404)})
def create_import(projectId: Id, body: Annotated[ImportIn, Body()]) -> tuple[dict[str, Any], int]:
    """API.md: 202 with a presigned PUT (15 minutes); the upload's S3 event starts the import."""
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    record = imports.create(company_id, projectId, body.format, caller.user_id)
    key = imports.upload_key(company_id, projectId, record.import_id, body.format)
    url = imports.upload_url(key)
    logger.info("import requested", project_id=projectId, import_id=record.import_id, format=body.format)
    metrics.add_metric(name="ImportsRequested", unit="Count", value=1)
    started = {
        "importId": record.import_id,
        "status": record.status,
        "format": record.format,
        "uploadUrl": url,
        "expiresAt": iso(now() + timedelta(seconds=imports.UPLOAD_URL_SECONDS)),
    }
    return started, 202


@app.get("/v1/projects/<projectId>/imports/<importId>", responses={**_ok(ImportOut), **error_responses(404)})
def get_import(projectId: Id, importId: Id) -> dict[str, Any]:
    company_id = project_scope(principal(app), projectId)
    record = imports.get(company_id, projectId, importId)
    if record is None:
        raise NotFound(f"import {importId!r} not found")
    return _out(record, with_url=True)


@app.get("/v1/projects/<projectId>/imports", responses={**_ok(ImportsOut), **error_responses(404)})
def list_imports(projectId: Id, limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: Cursor = None) -> dict[str, Any]:
    """The project's imports, newest first (no download links: read one import for its errorsUrl)."""
    company_id = project_scope(principal(app), projectId)
    key = directory.company_key(company_id)
    listing = f"imports:{projectId}"
    after = str(cursors.decode(key, listing, cursor).get("importId", "")) if cursor else None
    page, last = imports.list_for(company_id, projectId, limit, after or None)
    return {"imports": [_out(r) for r in page], "nextCursor": cursors.encode(key, listing, {"importId": last}) if last else None}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
