"""HTTP wiring shared by every function: the resolver, the caller, and the error body.

Every non-2xx response has the body ``{"error": {"code": ..., "message": ...}}`` (API.md).
Domain errors are mapped to a status here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Depends, Request, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from segshare_core import config
from segshare_core.domain import access, sharing
from segshare_core.domain.directory import Company
from segshare_core.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RetryLater,
    TooLarge,
    Unauthenticated,
)
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.segments import SharedSegment
from segshare_core.domain.text import first_unwritable
from segshare_core.observability import logger
from segshare_core.store import directory, segments
from segshare_core.store.errors import to_domain

STATUS: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    InvalidInput: 422,
    RetryLater: 503,
}


class Strict(BaseModel):
    """Request bodies refuse unknown fields: extra ``companyId`` or ``version`` is a 422, never applied."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RequestBody(Strict):
    """A request body: unknown fields refused, types strict, every text writable.

    Strict: ``true`` or ``"3"`` is not an integer, ``1`` not a boolean (422). Every string,
    key or value, at any depth, must have a UTF-8 form (no lone surrogate): API.md has such
    text rejected at ingest in every field the API stores (422 VALIDATION_ERROR naming where).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)
    #: Fields a handler checks item by item instead, so one bad item does not refuse the whole
    #: body (profiles: that profile is rejected with INVALID_PROFILE, the rest lands).
    text_checked_per_item: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _writable_text(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            where = first_unwritable({k: v for k, v in data.items() if k not in cls.text_checked_per_item})
            if where is not None:
                # The location only, never the text: messages and logs carry no submitted value.
                message = "{where}: not valid Unicode text (it holds a lone surrogate)"
                raise PydanticCustomError("unwritable_text", message, {"where": where})
        return data


def _digits_only(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[0-9]+", value):
        raise PydanticCustomError("int_parsing", "Input should be a valid integer, written in digits")
    return value


#: An integer query parameter: written in digits only (``3``), never ``true``, ``3.0`` or `` 3``.
QueryInt = Annotated[int, BeforeValidator(_digits_only)]

#: The ``cursor`` query parameter of every listing. No max_length: a cursor over 2,048
#: characters is a forged one, 400 INVALID_CURSOR from cursors.decode like any bad cursor
#: (API.md), never a 422.
Cursor = Annotated[str | None, Query(description="opaque; the nextCursor of the previous page")]


#: A path id (project, segment, shared segment, evaluation, export, import): API.md's id rule.
Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]

#: A display name (segment, company, project): 1 to 200 characters, no control characters (API.md).
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ApiModel(BaseModel):
    """A response body: snake_case fields written camelCase on the wire (API.md's field names).

    ``from_attributes`` builds one straight from a domain object
    (``SegmentOut.model_validate(segment)``), so there are no hand-written dict mappers.
    Powertools serialises a returned model by alias.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True, extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "malformed request",
    401: "missing or invalid bearer token",
    403: "not allowed",
    404: "not found, or not visible to the caller",
    409: "conflict",
    413: "body or batch over the limit",
    415: "a request body that is not application/json",
    422: "invalid input",
    503: "a dependency is busy; retry after Retry-After seconds",
}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI declarations of the error responses a route can give (plus the ones every route can)."""
    every = {400, 401, 403, 413, 415, 422, 503}
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorBody}}}
        for status in sorted(every | set(statuses))
    }


def ok(model: Any, description: str = "ok", status: int = 200) -> dict[int, OpenAPIResponse]:
    """The success response of a route for OpenAPI, declared beside its ``error_responses``.

    A route's ``responses`` replaces Powertools' default 200, so each route declares its own.
    """
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def no_content(description: str = "deleted") -> dict[int, OpenAPIResponse]:
    """A 204 declared with no body (RFC 9110: 204 has no content).

    The explicit empty ``content`` matters: without it Powertools documents the handler's
    return type as an ``application/json`` body, which a 204 never has.
    """
    return {204: {"description": description, "content": {}}}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response[str]:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": body}),
        headers=dict(headers or {}),
    )


def _status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def _domain_response(exc: DomainError) -> Response[str]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
    return error_response(_status_of(exc), exc.code, exc.message, headers, **exc.extra)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errs = exc.errors()
    first = errs[0] if errs else {}
    if first.get("type") == "json_invalid":
        return 400, "MALFORMED_JSON", "request body is not valid JSON"
    location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = str(first.get("msg", "invalid request"))
    return 422, "VALIDATION_ERROR", f"{location}: {message}" if location else message


def _refused_body(event: Mapping[str, Any]) -> Response[str] | None:
    """Every body is JSON (API.md): over the size limit 413, another media type 415, not UTF-8 400.

    Checked before Powertools reads the body: its request validation runs before any
    middleware, parses form and multipart bodies, and raises (a 500) on a multipart body
    without a boundary or a base64 body that is not UTF-8.
    """
    body = str(event.get("body") or "")
    if len(body) > config.MAX_BODY_BYTES:
        return error_response(413, "TOO_LARGE", f"request body is over {config.MAX_BODY_BYTES} bytes")
    if not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip()
    # Powertools' own rule for a JSON body, so the two never disagree.
    if content_type and not content_type.startswith("application/json"):
        return error_response(415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json")
    if event.get("isBase64Encoded"):
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return error_response(400, "MALFORMED_JSON", "request body is not UTF-8 JSON")
    return None


class JsonResolver(APIGatewayHttpResolver):
    """The HTTP API resolver, refusing a body it cannot read as JSON before anything reads it."""

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = _refused_body(event)
        if refused is None:
            return super().resolve(event, context)
        return {
            "statusCode": refused.status_code,
            "headers": {"Content-Type": content_types.APPLICATION_JSON, **(refused.headers or {})},
            "body": refused.body,
            "isBase64Encoded": False,
            "cookies": [],
        }


def _json_body(text: str) -> Any:
    """json.loads, but any body it cannot turn into a value is a JSONDecodeError (400 MALFORMED_JSON).

    Powertools only maps JSONDecodeError; json.loads also raises a plain ValueError (an integer
    over Python's 4,300-digit limit) and RecursionError (arrays nested thousands deep), which
    would otherwise surface as a 500.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise json.JSONDecodeError("unparseable JSON value", text, 0) from exc


def make_resolver() -> JsonResolver:
    """A resolver with request validation, API.md's error body and the body checks."""
    app = JsonResolver(enable_validation=True, json_body_deserializer=_json_body)

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response[str]:
        return _domain_response(exc)

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(_exc: RequestUnsupportedContentType) -> Response[str]:
        return error_response(415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json")

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.not_found
    def _no_route(_exc: Exception) -> Response[str]:
        return error_response(404, "NOT_FOUND", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        translated = to_domain(exc)
        if translated is not None:
            logger.warning("dependency unavailable", error_type=type(exc).__name__)
            return _domain_response(translated)
        logger.exception("unhandled error")
        return error_response(500, "INTERNAL", "internal error; the request id is in the logs")

    return app


def require_shared_segments(company_id: str) -> None:
    """Every sharing and shared-segment route answers 403 FEATURE_DISABLED while the feature is off."""
    sharing.require_enabled(directory.shared_segments_on(company_id))


def project_scope(caller: access.Principal, project_id: str) -> str:
    """The company of a project the caller may access; NotFound otherwise (existence never leaks)."""
    access.require_known(caller)
    if caller.is_operator:
        company_id = directory.project_company(project_id)
    elif caller.company_id is not None and directory.get_project(caller.company_id, project_id) is not None:
        company_id = caller.company_id
    else:
        company_id = None
    return access.require_project(caller, company_id, project_id)


# ---------------------------------------------------------------- per-request dependencies
#
# Resolved once per request by Powertools' Depends (its per-invocation cache): the caller, the
# project's company and the feature flag are read once however many routes or dependencies
# ask for them. Each raises a DomainError; Powertools unwraps its DependencyResolutionError,
# so the error is answered as if the route had raised it (API.md's body and status).


def current_caller(request: Request) -> access.Principal:
    """The caller of this request (401 without verified claims; grant read once)."""
    authorizer = (request.resolved_event.get("requestContext") or {}).get("authorizer") or {}
    found = (authorizer.get("jwt") or {}).get("claims") or {}
    if not found.get("sub"):
        raise Unauthenticated("a valid bearer token is required")
    return access.principal_from(dict(found), directory.get_grant(str(found["sub"])))


class ProjectScope(BaseModel):
    """The project of the path (``projectId``) as the caller may use it: ``caller``, ``company_id``, ``project_id``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    caller: access.Principal
    company_id: str
    project_id: str


def project_in_scope(request: Request, caller: Annotated[access.Principal, Depends(current_caller)]) -> ProjectScope:
    """The path's project if the caller may access it; 404 NOT_FOUND otherwise (existence never leaks).

    Adds ``company_id`` and ``project_id`` to every log line of the request.
    """
    project_id = str(request.path_parameters.get("projectId", ""))
    company_id = project_scope(caller, project_id)
    logger.append_keys(company_id=company_id, project_id=project_id)
    return ProjectScope(caller=caller, company_id=company_id, project_id=project_id)


@dataclass(frozen=True, slots=True)
class ScopeCompany:
    """The company of the path's project as stored: its settings and its device-token key (never logged)."""

    company: Company
    key: bytes = field(repr=False)


def company_of_project(scope: Annotated[ProjectScope, Depends(project_in_scope)]) -> ScopeCompany:
    """The scope's company row, read once a request for the feature flag and the key alike (404 if it is gone)."""
    found = directory.company_and_key(scope.company_id)
    if found is None:
        raise NotFound(f"project {scope.project_id!r} not found")
    return ScopeCompany(*found)


#: ``def route(company: CompanyOfProject)``: the scope's company, from the same one read as ``InSharingProject``'s check.
CompanyOfProject = Annotated[ScopeCompany, Depends(company_of_project)]


def project_with_shared_segments(
    scope: Annotated[ProjectScope, Depends(project_in_scope)],
    company: Annotated[ScopeCompany, Depends(company_of_project)],
) -> ProjectScope:
    """``project_in_scope`` for the sharing and shared-segment routes: 403 FEATURE_DISABLED while the feature is off."""
    sharing.require_enabled(company.company.shared_segments_enabled)
    return scope


#: Route parameter annotations: ``def route(scope: InProject)``.
CallerDep = Annotated[access.Principal, Depends(current_caller)]
InProject = Annotated[ProjectScope, Depends(project_in_scope)]
InSharingProject = Annotated[ProjectScope, Depends(project_with_shared_segments)]


class SharedSegmentScope(ProjectScope):
    """``ProjectScope`` plus the path's live shared segment (``sharedSegmentId``) of that project."""

    shared: SharedSegment


def shared_segment_in_scope(request: Request, scope: InSharingProject) -> SharedSegmentScope:
    """The path's shared segment while its share is live in the path's project; 404 NOT_FOUND otherwise.

    After ``project_with_shared_segments`` (404 for a project out of reach, then 403
    FEATURE_DISABLED), as API.md orders them; a share that ended reads as never existing
    ("Revoking and resharing"). Adds ``shared_segment_id`` to the request's log keys.
    """
    shared_id = str(request.path_parameters.get("sharedSegmentId", ""))
    shared = segments.get_shared_in(scope.company_id, scope.project_id, shared_id)
    if shared is None:
        raise NotFound(f"shared segment {shared_id!r} not found")
    logger.append_keys(shared_segment_id=shared_id)
    return SharedSegmentScope(caller=scope.caller, company_id=scope.company_id, project_id=scope.project_id, shared=shared)


#: ``def route(scope: InSharedSegment)``: caller, project, feature flag and the live shared segment.
InSharedSegment = Annotated[SharedSegmentScope, Depends(shared_segment_in_scope)]
