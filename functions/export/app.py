"""Exports of a shared segment over HTTP: start one (202, handed to the export queue), read one, list them."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field

from segshare_core.api import (
    ApiModel,
    Cursor,
    Id,
    InSharedSegment,
    InSharingProject,
    QueryInt,
    RequestBody,
    error_responses,
    make_resolver,
    ok,
)
from segshare_core.api_models import always_written
from segshare_core.domain.exports import Export
from segshare_core.idempotency import IdempotencyKey
from segshare_core.observability import logger, metrics, tracer
from segshare_core.usecases import create_export as creating
from segshare_core.usecases.exports_page import DownloadLink, export_with_link, exports_page

app = make_resolver()

AttributeName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]


class ExportIn(RequestBody):
    format: Literal["csv", "jsonl"] = "csv"
    attributes: Annotated[list[AttributeName], Field(max_length=100)] | None = None


class ExportOut(ApiModel):
    """An export as API.md writes it; ``downloadUrl`` and ``expiresAt`` are null but on a READY export read by id."""

    model_config = ApiModel.model_config | ConfigDict(json_schema_extra=always_written("downloadUrl", "expiresAt"))

    export_id: str
    shared_segment_id: str
    status: Literal["PENDING", "RUNNING", "READY", "FAILED"]
    format: Literal["csv", "jsonl"]
    attributes: list[str] | None
    row_count: int | None
    bytes: int | None
    created_at: str
    ready_at: str | None
    download_url: str | None = None
    expires_at: str | None = None
    error: str | None = Field(default=None, exclude_if=lambda value: not value)

    @classmethod
    def of(cls, export: Export, link: DownloadLink | None = None) -> Self:
        """The export as written, with its download link when one was issued (a READY export read by id)."""
        out = cls.model_validate(export)
        return out if link is None else out.model_copy(update={"download_url": link.url, "expires_at": link.expires_at})


class ExportsOut(ApiModel):
    exports: list[ExportOut]
    next_cursor: str | None


# projectId and sharedSegmentId are declared for their validation and the OpenAPI document;
# the scope reads them once the caller's access (and the share) were checked.


@app.post(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/exports",
    responses={**ok(ExportOut, status=202), **error_responses(404, 409)},
)
def create_export(
    projectId: Id, sharedSegmentId: Id, scope: InSharedSegment, body: Annotated[ExportIn, Body()], idempotency_key: IdempotencyKey = None
) -> tuple[ExportOut, int]:
    return ExportOut.of(creating.create_export(scope, body.format, body.attributes, idempotency_key)), 202


@app.get("/v1/projects/<projectId>/exports/<exportId>", responses={**ok(ExportOut), **error_responses(404)})
def get_export(projectId: Id, exportId: Id, scope: InSharingProject) -> ExportOut:
    return ExportOut.of(*export_with_link(scope, exportId))


@app.get(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/exports",
    responses={**ok(ExportsOut), **error_responses(404)},
)
def list_exports(
    projectId: Id,
    sharedSegmentId: Id,
    scope: InSharedSegment,
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> ExportsOut:
    return ExportsOut.model_validate(exports_page(scope, limit, cursor))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    creating.idempotency.register_lambda_context(context)
    return app.resolve(event, context)
