"""Bulk imports over HTTP: start one (202 with a presigned PUT), read one, list them (API.md "Bulk import")."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field

from segshare_core.api import ApiModel, Cursor, Id, InProject, QueryInt, RequestBody, error_responses, make_resolver, ok
from segshare_core.api_models import always_written
from segshare_core.domain.imports import Import
from segshare_core.observability import logger, metrics, tracer
from segshare_core.usecases.create_import import create_import as create
from segshare_core.usecases.imports_page import import_with_errors_url, imports_page

app = make_resolver()

Status = Literal["WAITING_FOR_UPLOAD", "RUNNING", "SUCCEEDED", "FAILED"]


class ImportIn(RequestBody):
    format: Literal["jsonl", "csv"]


class ImportStarted(ApiModel):
    import_id: str
    status: Status
    format: Literal["jsonl", "csv"]
    upload_url: str
    expires_at: str


class ImportOut(ApiModel):
    """An import as API.md writes it; ``errorsUrl`` is null but on a SUCCEEDED import with rejected rows, read by id."""

    model_config = ApiModel.model_config | ConfigDict(json_schema_extra=always_written("errorsUrl"))

    import_id: str
    status: Status
    format: Literal["jsonl", "csv"]
    rows: int | None
    upserted: int | None
    rejected: int | None
    errors_url: str | None = None
    created_at: str
    finished_at: str | None
    error: str | None = Field(default=None, exclude_if=lambda value: not value)

    @classmethod
    def of(cls, record: Import, errors_url: str | None = None) -> Self:
        """The import as written, with its errors file link when one was issued (a SUCCEEDED import read by id)."""
        out = cls.model_validate(record)
        return out if errors_url is None else out.model_copy(update={"errors_url": errors_url})


class ImportsOut(ApiModel):
    imports: list[ImportOut]
    next_cursor: str | None


# projectId is declared for its validation and the OpenAPI document; the scope read it.


@app.post("/v1/projects/<projectId>/imports", responses={**ok(ImportStarted, status=202), **error_responses(404)})
def create_import(projectId: Id, scope: InProject, body: Annotated[ImportIn, Body()]) -> tuple[ImportStarted, int]:
    """API.md: 202 with a presigned PUT (15 minutes); the upload's S3 event starts the import."""
    return ImportStarted.model_validate(create(scope, body.format)), 202


@app.get("/v1/projects/<projectId>/imports/<importId>", responses={**ok(ImportOut), **error_responses(404)})
def get_import(projectId: Id, importId: Id, scope: InProject) -> ImportOut:
    return ImportOut.of(*import_with_errors_url(scope, importId))


@app.get("/v1/projects/<projectId>/imports", responses={**ok(ImportsOut), **error_responses(404)})
def list_imports(
    projectId: Id, scope: InProject, limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20, cursor: Cursor = None
) -> ImportsOut:
    """The project's imports, newest first (no download links: read one import for its errorsUrl)."""
    return ImportsOut.model_validate(imports_page(scope, limit, cursor))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
