"""Segments, the source project's Sharing tab, and shared segments in the target project."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field

from segshare_core.api import (
    Cursor,
    QueryInt,
    RequestBody,
    Strict,
    error_responses,
    make_resolver,
    no_content,
    principal,
    project_scope,
    require_shared_segments,
)
from segshare_core.api_models import EvaluationOut
from segshare_core.domain import access, cursors, sharing
from segshare_core.domain.access import Principal
from segshare_core.domain.directory import Project
from segshare_core.domain.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from segshare_core.domain.ids import ID_PATTERN, new_id
from segshare_core.domain.segments import (
    Segment,
    SharedSegment,
    is_shared_id,
    validate_own_id,
    validate_rule,
    validate_static,
)
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import directory, evaluations, segments

app = make_resolver()

#: A save that lost a race is re-applied on fresh state this many times before giving up.
SAVE_ATTEMPTS = 5

Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SegmentIn(RequestBody):
    # API.md: {name, id?, rule} or {name, id?, profileIds}; the schema says so, the handler enforces it.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["rule"]}, {"required": ["profileIds"]}]})

    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None
    rule: dict[str, Any] | None = None
    profileIds: list[Any] | None = None


class SegmentPatchIn(RequestBody):
    # API.md PATCH: {name?, rule?, profileIds?, version?}; what is absent stays as it is.
    name: Name | None = None
    rule: dict[str, Any] | None = None
    profileIds: list[Any] | None = None
    version: Annotated[int, Field(ge=0)] | None = None


class SharingIn(RequestBody):
    projectIds: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=200)]
    version: Annotated[int, Field(ge=0)] | None = None


class OwnSegmentOut(Strict):
    segmentId: str
    projectId: str
    name: str
    kind: Literal["rule", "static"]
    origin: Literal["own"]
    sharedWithCount: int
    createdAt: str
    version: int
    updatedAt: str
    rule: dict[str, Any] | None = None
    profileIds: list[str] | None = None


class SharedSegmentRefOut(Strict):
    segmentId: str
    projectId: str
    name: str
    origin: Literal["shared"]
    sourceProjectId: str
    sourceProjectName: str
    sharedAt: str


SegmentOut = OwnSegmentOut | SharedSegmentRefOut


class SegmentsOut(Strict):
    segments: list[SegmentOut]


class SharingProject(Strict):
    projectId: str
    name: str
    shared: bool


class SharingOut(Strict):
    segmentId: str
    version: int
    projects: list[SharingProject]
    hiddenSharedCount: int


class HistoryEntry(Strict):
    at: str
    userId: str
    added: list[str]
    removed: list[str]
    hiddenAdded: int
    hiddenRemoved: int


class HistoryOut(Strict):
    history: list[HistoryEntry]
    nextCursor: str | None


class SharedSegmentOut(Strict):
    sharedSegmentId: str
    name: str
    sourceProjectId: str
    sourceProjectName: str
    sharedAt: str
    lastEvaluation: dict[str, Any] | None


class SharedSegmentsOut(Strict):
    sharedSegments: list[SharedSegmentOut]


def _ok(model: type[Strict] | Any, description: str = "ok") -> dict[int, Any]:
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


# ---------------------------------------------------------------- helpers


def _company_projects(company_id: str) -> dict[str, Project]:
    return {p.project_id: p for p in directory.list_projects(company_id)}


def _visible(caller: Principal, company_id: str, projects: dict[str, Project]) -> list[str]:
    return access.visible_projects(caller, company_id, list(projects))


def _own_segment(company_id: str, project_id: str, segment_id: str) -> Segment:
    """The project's own segment; a shared-in id here is a re-share (409), anything else absent (404)."""
    if is_shared_id(segment_id) and segments.get_shared_in(company_id, project_id, segment_id) is not None:
        raise Conflict("a segment shared into this project cannot be shared on", code="CANNOT_RESHARE")
    segment = segments.get_segment(company_id, project_id, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id!r} not found")
    return segment


def _own_out(segment: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "segmentId": segment.segment_id,
        "projectId": segment.project_id,
        "name": segment.name,
        "kind": segment.kind,
        "origin": "own",
        "sharedWithCount": len(segment.shared_with),
        "createdAt": segment.created_at,
        "version": segment.version,
        "updatedAt": segment.updated_at or segment.created_at,
    }
    if segment.kind == "rule":
        out["rule"] = segment.rule
    else:
        out["profileIds"] = list(segment.profile_ids)
    return out


def _shared_ref_out(shared: SharedSegment, projects: dict[str, Project]) -> dict[str, Any]:
    """Target side: the source's id and name and the segment's name; nothing else of the source."""
    source = projects.get(shared.source_project_id)
    return {
        "segmentId": shared.shared_segment_id,
        "projectId": shared.target_project_id,
        "name": shared.name,
        "origin": "shared",
        "sourceProjectId": shared.source_project_id,
        "sourceProjectName": source.name if source else "",
        "sharedAt": shared.shared_at,
    }


def _shared_out(company_id: str, shared: SharedSegment, projects: dict[str, Project]) -> dict[str, Any]:
    source = projects.get(shared.source_project_id)
    return {
        "sharedSegmentId": shared.shared_segment_id,
        "name": shared.name,
        "sourceProjectId": shared.source_project_id,
        "sourceProjectName": source.name if source else "",
        "sharedAt": shared.shared_at,
        "lastEvaluation": _last_evaluation(company_id, shared),
    }


def _last_evaluation(company_id: str, shared: SharedSegment) -> dict[str, Any] | None:
    """API.md: the result in service, i.e. the SUCCEEDED evaluation of this share that started last."""
    in_service = evaluations.in_service(company_id, shared)
    return EvaluationOut.model_validate(in_service).model_dump(mode="json", by_alias=True) if in_service else None


def _sharing_out(caller: Principal, company_id: str, segment: Segment, projects: dict[str, Project]) -> dict[str, Any]:
    tab = sharing.view(segment.shared_with, _visible(caller, company_id, projects), segment.project_id)
    return {
        "segmentId": segment.segment_id,
        "version": segment.share_version,
        "projects": [{"projectId": p, "name": projects[p].name, "shared": shared} for p, shared in tab.shared.items()],
        "hiddenSharedCount": tab.hidden_shared_count,
    }


# ---------------------------------------------------------------- segments


@app.post(
    "/v1/projects/<projectId>/segments",
    responses={201: {"description": "created", "content": {"application/json": {"model": OwnSegmentOut}}}, **error_responses(404, 409)},
)
def create_segment(projectId: Id, body: Annotated[SegmentIn, Body()]) -> tuple[dict[str, Any], int]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    if (body.rule is None) == (body.profileIds is None):
        raise InvalidInput("body: give either rule or profileIds")
    segment_id = body.id or new_id("s")
    validate_own_id(segment_id)
    rule = dict(validate_rule(body.rule)) if body.rule is not None else None
    profile_ids = validate_static(body.profileIds) if body.profileIds is not None else None
    segment = segments.create_segment(
        company_id, projectId, segment_id, body.name, rule=rule, profile_ids=profile_ids, user_id=caller.user_id
    )
    logger.info("segment created", project_id=projectId, segment_id=segment_id, kind=segment.kind)
    return _own_out(segment), 201


@app.get("/v1/projects/<projectId>/segments", responses={**_ok(SegmentsOut), **error_responses(404)})
def list_segments(projectId: Id) -> dict[str, Any]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    out = [_own_out(s) for s in segments.list_segments(company_id, projectId)]
    if directory.shared_segments_on(company_id):
        projects = _company_projects(company_id)
        shared_in = segments.with_source_names(company_id, segments.list_shared_in(company_id, projectId))
        out += [_shared_ref_out(s, projects) for s in shared_in]
    return {"segments": out}


@app.get("/v1/projects/<projectId>/segments/<segmentId>", responses={**_ok(SegmentOut), **error_responses(404)})
def get_segment(projectId: Id, segmentId: Id) -> dict[str, Any]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    if is_shared_id(segmentId):
        shared = segments.get_shared_in(company_id, projectId, segmentId)
        if shared is not None:
            require_shared_segments(company_id)
            (shared,) = segments.with_source_names(company_id, [shared])
            return _shared_ref_out(shared, _company_projects(company_id))
    segment = segments.get_segment(company_id, projectId, segmentId)
    if segment is None:
        raise NotFound(f"segment {segmentId!r} not found")
    return _own_out(segment)


@app.patch(
    "/v1/projects/<projectId>/segments/<segmentId>",
    responses={**_ok(OwnSegmentOut), **error_responses(404, 409)},
)
def edit_segment(projectId: Id, segmentId: Id, body: Annotated[SegmentPatchIn, Body()]) -> dict[str, Any]:
    """API.md PATCH: replace the name, the rule or the static list of an own segment.

    Validated as on create (rule errors 422 with their path, static list limits). The kind
    stays: a ``rule`` for a static segment or ``profileIds`` for a rule segment is 400
    CANNOT_CHANGE_KIND. A shared-in id is 409 CANNOT_EDIT_SHARED. With ``version``, an edit
    made on a stale read is 409 VERSION_CONFLICT; without it, a lost race is re-applied on
    fresh state, as the Sharing tab's save does. Shares and their history are not touched.
    """
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    if is_shared_id(segmentId) and segments.get_shared_in(company_id, projectId, segmentId) is not None:
        raise Conflict("a segment shared into this project is edited by its source project", code="CANNOT_EDIT_SHARED")
    rule = dict(validate_rule(body.rule)) if body.rule is not None else None
    profile_ids = validate_static(body.profileIds) if body.profileIds is not None else None
    for _attempt in range(SAVE_ATTEMPTS):
        segment = segments.get_segment(company_id, projectId, segmentId)
        if segment is None:
            raise NotFound(f"segment {segmentId!r} not found")
        if body.version is not None and body.version != segment.version:
            raise Conflict(f"version {body.version} is stale; the segment is at version {segment.version}", code="VERSION_CONFLICT")
        if (rule is not None and segment.kind == "static") or (profile_ids is not None and segment.kind == "rule"):
            field = "rule" if rule is not None else "profileIds"
            raise BadRequest(f"{field}: a {segment.kind} segment stays {segment.kind}; create a new segment", code="CANNOT_CHANGE_KIND")
        if body.name is None and rule is None and profile_ids is None:
            return _own_out(segment)  # nothing to change: no write, the version stays
        try:
            edited = segments.edit_segment(company_id, segment, name=body.name, rule=rule, profile_ids=profile_ids)
        except segments.VersionMoved:
            if body.version is not None:
                raise Conflict("another edit landed first; reload the segment", code="VERSION_CONFLICT") from None
            continue  # no version sent: apply this caller's change on the fresh state
        logger.info("segment edited", project_id=projectId, segment_id=segmentId, kind=edited.kind, version=edited.version)
        return _own_out(edited)
    raise Conflict("the segment kept changing while saving; try again", code="VERSION_CONFLICT")


@app.delete(
    "/v1/projects/<projectId>/segments/<segmentId>",
    responses={**no_content(), **error_responses(404, 409)},
)
def delete_segment(projectId: Id, segmentId: Id, force: Annotated[bool, Query()] = False) -> Response[str]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    if is_shared_id(segmentId) and segments.get_shared_in(company_id, projectId, segmentId) is not None:
        raise Forbidden("a shared segment is deleted by its source project, or unshared from its Sharing tab")
    for _attempt in range(SAVE_ATTEMPTS):
        segment = segments.get_segment(company_id, projectId, segmentId)
        if segment is None:
            raise NotFound(f"segment {segmentId!r} not found")
        if segment.shared_with and not force:
            raise Conflict(
                f"segment is shared with {len(segment.shared_with)} project(s); delete with force=true to revoke them",
                code="SEGMENT_SHARED",
                sharedWithCount=len(segment.shared_with),
            )
        visible = set(_visible(caller, company_id, _company_projects(company_id)))
        if not sharing.can_force_delete(segment.shared_with, visible):
            raise Forbidden("the segment is shared with projects you cannot see; a company admin can delete it")
        try:
            segments.delete_segment(company_id, segment)
        except segments.VersionMoved:
            continue
        logger.info("segment deleted", project_id=projectId, segment_id=segmentId, revoked=len(segment.shared_with))
        # A 204 carries no content (RFC 9110); returning None would send the JSON text "null".
        return Response(status_code=204, content_type=None, body="")
    raise Conflict("the segment changed while deleting it; try again", code="VERSION_CONFLICT")


# ---------------------------------------------------------------- sharing tab


@app.get("/v1/projects/<projectId>/segments/<segmentId>/sharing", responses={**_ok(SharingOut), **error_responses(404, 409)})
def get_sharing(projectId: Id, segmentId: Id) -> SharingOut:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    segment = _own_segment(company_id, projectId, segmentId)
    return SharingOut(**_sharing_out(caller, company_id, segment, _company_projects(company_id)))


@app.put("/v1/projects/<projectId>/segments/<segmentId>/sharing", responses={**_ok(SharingOut), **error_responses(404, 409)})
def put_sharing(projectId: Id, segmentId: Id, body: Annotated[SharingIn, Body()]) -> SharingOut:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    projects = _company_projects(company_id)
    visible = set(_visible(caller, company_id, projects))
    for _attempt in range(SAVE_ATTEMPTS):
        segment = _own_segment(company_id, projectId, segmentId)
        if body.version is not None and body.version != segment.share_version:
            raise Conflict(
                f"version {body.version} is stale; the segment is at version {segment.share_version}",
                code="VERSION_CONFLICT",
            )
        # Every accepted save moves the version and is recorded, even one that changes no share
        # (API.md): a concurrent editor then learns the tab was saved under it.
        plan = sharing.plan_save(segment.shared_with, visible, body.projectIds, projectId)
        try:
            saved = segments.save_sharing(company_id, segment, plan, caller.user_id)
        except segments.VersionMoved:
            if body.version is not None:
                raise Conflict("another save landed first; reload the Sharing tab", code="VERSION_CONFLICT") from None
            continue  # no version sent: re-apply this caller's change on the fresh state
        logger.info("share updated", segment_id=segmentId, added=len(plan.added), removed=len(plan.removed), version=saved.share_version)
        metrics.add_metric(name="SharesChanged", unit="Count", value=len(plan.added) + len(plan.removed))
        return SharingOut(**_sharing_out(caller, company_id, saved, projects))
    raise Conflict("the segment kept changing while saving; try again", code="VERSION_CONFLICT")


@app.get(
    "/v1/projects/<projectId>/segments/<segmentId>/sharing/history",
    responses={**_ok(HistoryOut), **error_responses(404, 409)},
)
def get_sharing_history(
    projectId: Id,
    segmentId: Id,
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> HistoryOut:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    _own_segment(company_id, projectId, segmentId)
    key = directory.company_key(company_id)
    listing = f"history:{projectId}:{segmentId}"
    after = cursors.decode(key, listing, cursor) if cursor else None
    entries, last = segments.history(company_id, projectId, segmentId, limit, after)
    visible = set(_visible(caller, company_id, _company_projects(company_id)))
    lines = []
    for entry in entries:
        line = sharing.history_line(entry["added"], entry["removed"], visible)
        lines.append(
            HistoryEntry(
                at=entry["at"],
                userId=entry["userId"],
                added=line.added,
                removed=line.removed,
                hiddenAdded=line.hidden_added,
                hiddenRemoved=line.hidden_removed,
            )
        )
    return HistoryOut(history=lines, nextCursor=cursors.encode(key, listing, last) if last else None)


# ---------------------------------------------------------------- target side


@app.get("/v1/projects/<projectId>/shared-segments", responses={**_ok(SharedSegmentsOut), **error_responses(404)})
def list_shared_segments(projectId: Id) -> dict[str, Any]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    projects = _company_projects(company_id)
    shared_in = segments.with_source_names(company_id, segments.list_shared_in(company_id, projectId))
    return {"sharedSegments": [_shared_out(company_id, s, projects) for s in shared_in]}


@app.get("/v1/projects/<projectId>/shared-segments/<sharedSegmentId>", responses={**_ok(SharedSegmentOut), **error_responses(404)})
def get_shared_segment(projectId: Id, sharedSegmentId: Id) -> dict[str, Any]:
    caller = principal(app)
    company_id = project_scope(caller, projectId)
    require_shared_segments(company_id)
    shared = segments.get_shared_in(company_id, projectId, sharedSegmentId)
    if shared is None:
        raise NotFound(f"shared segment {sharedSegmentId!r} not found")
    (shared,) = segments.with_source_names(company_id, [shared])
    return _shared_out(company_id, shared, _company_projects(company_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
