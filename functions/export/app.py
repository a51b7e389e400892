"""Exports of a shared segment: start one (202, handed to the export queue), read one, list them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from segshare_core import config
from segshare_core.api import (
    Cursor,
    QueryInt,
    RequestBody,
    Strict,
    error_responses,
    make_resolver,
    principal,
    project_scope,
    require_shared_segments,
)
from segshare_core.domain import cursors
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import NotFound, RetryLater
from segshare_core.domain.exports import Export
from segshare_core.domain.filenames import file_name
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.segments import SharedSegment
from segshare_core.idempotency import IdempotencyKey, IdempotentOperation
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import directory, exports, segments

app = make_resolver()
_export_once = IdempotentOperation("export.create_export")

Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]
AttributeName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]


class ExportIn(RequestBody):
    format: Literal["csv", "jsonl"] = "csv"
    attributes: Annotated[list[AttributeName], Field(max_length=100)] | None = None


class ExportOut(Strict):
    exportId: str
    sharedSegmentId: str
    status: Literal["PENDING", "RUNNING", "READY", "FAILED"]
    format: Literal["csv", "jsonl"]
    attributes: list[str] | None
    rowCount: int | None
    bytes: int | None
    createdAt: str
    readyAt: str | None
    downloadUrl: str | None
    expiresAt: str | None
    error: str | None = None


class ExportsOut(Strict):
    exports: list[ExportOut]
    nextCursor: str | None


def _ok(model: Any, status: int = 200) -> dict[int, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"model": model}}}}


def _out(export: Export, *, segment_name: str | None = None) -> dict[str, Any]:
    """The export as API.md gives it; with ``segment_name`` (one export read), a READY one's download link too.

    The file downloads as "<segment name> <day>.<format>" (issue 17 item 10), never the export id.
    """
    url = expires = None
    if segment_name is not None and export.status == "READY" and export.object_key:
        # Issued only here, after the caller's access to the project was checked.
        day = (export.ready_at or export.created_at)[:10]
        url = exports.download_url(export.object_key, file_name(segment_name, day, export.format))
        expires = iso(now() + timedelta(seconds=config.DOWNLOAD_URL_SECONDS))
    out = {
        "exportId": export.export_id,
        "sharedSegmentId": export.shared_segment_id,
        "status": export.status,
        "format": export.format,
        "attributes": list(export.attributes) if export.attributes is not None else None,
        "rowCount": export.row_count,
        "bytes": export.bytes,
        "createdAt": export.created_at,
        "readyAt": export.ready_at,
        "downloadUrl": url,
        "expiresAt": expires,
    }
    if export.error:
        out["error"] = export.error
    return out


def _live_share(company_id: str, project_id: str, shared_id: str) -> SharedSegment:
    shared = segments.get_shared_in(company_id, project_id, shared_id)
    if shared is None:
        raise NotFound(f"shared segment {shared_id!r} not found")
    return shared


def _scope(projectId: str) -> tuple[str, str]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    return company_id, caller.user_id


@app.post(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/exports",
    responses={**_ok(ExportOut, 202), **error_responses(404, 409)},
)
def create_export(
    projectId: Id, sharedSegmentId: Id, body: Annotated[ExportIn, Body()], idempotency_key: IdempotencyKey = None
) -> tuple[dict[str, Any], int]:
    company_id, user_id = _scope(projectId)
    shared = _live_share(company_id, projectId, sharedSegmentId)

    def work() -> dict[str, Any]:
        export = exports.create(company_id, shared, body.format, body.attributes, user_id)
        try:
            exports.enqueue(company_id, projectId, export.export_id)
        except Exception as exc:
            exports.mark_failed(company_id, projectId, export.export_id, "could not hand the export to its worker")
            raise RetryLater("the export queue is unavailable; try again shortly") from exc
        logger.info("export requested", project_id=projectId, export_id=export.export_id, format=body.format)
        metrics.add_metric(name="ExportsRequested", unit="Count", value=1)
        return _out(export)

    # The generation too: a repeat after the share ended and was granted again is new work, since
    # the first response's result belongs to an ended share (API.md "Revoking and resharing").
    scope = {
        "companyId": company_id,
        "projectId": projectId,
        "userId": user_id,
        "sharedSegmentId": sharedSegmentId,
        "generation": shared.generation,
    }
    return _export_once(work, idempotency_key, scope, body.model_dump(mode="json")), 202


@app.get("/v1/projects/<projectId>/exports/<exportId>", responses={**_ok(ExportOut), **error_responses(404)})
def get_export(projectId: Id, exportId: Id) -> dict[str, Any]:
    company_id, _user = _scope(projectId)
    export = exports.get(company_id, projectId, exportId)
    # An export is served only while the share generation it was made under is current
    # (API.md "Revoking and resharing"): after an unshare, even a reshare, it is 404, no link.
    shared = segments.get_shared_in(company_id, projectId, export.shared_segment_id) if export else None
    if export is None or shared is None or shared.generation != export.generation:
        raise NotFound(f"export {exportId!r} not found")
    return _out(export, segment_name=shared.name)


@app.get(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/exports",
    responses={**_ok(ExportsOut), **error_responses(404)},
)
def list_exports(
    projectId: Id, sharedSegmentId: Id, limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20, cursor: Cursor = None
) -> dict[str, Any]:
    company_id, _user = _scope(projectId)
    shared = _live_share(company_id, projectId, sharedSegmentId)
    key = directory.company_key(company_id)
    listing = f"exports:{projectId}:{sharedSegmentId}"
    after = str(cursors.decode_in(key, listing, shared.generation, cursor).get("exportId", "")) if cursor else None
    page, last = exports.list_for(company_id, shared, limit, after or None)
    next_cursor = cursors.encode_in(key, listing, shared.generation, {"exportId": last}) if last else None
    return {"exports": [_out(e) for e in page], "nextCursor": next_cursor}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _export_once.register_lambda_context(context)
    return app.resolve(event, context)
