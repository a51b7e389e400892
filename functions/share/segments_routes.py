"""Segments of a project: create, list, read, edit, delete (API.md, Segments)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from share_models import OwnSegmentOut, SegmentIn, SegmentOut, SegmentPatchIn, SegmentsOut, own_segment_out, segment_out

from segshare_core.api import CompanyOfProject, Id, InProject, error_responses, no_content, ok
from segshare_core.usecases.create_segment import create_segment
from segshare_core.usecases.delete_segment import delete_segment
from segshare_core.usecases.edit_segment import edit_segment
from segshare_core.usecases.segment_listing import get_segment, list_segments

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.post("/v1/projects/<projectId>/segments", responses={**ok(OwnSegmentOut, "created", 201), **error_responses(404, 409)})
def create(projectId: Id, body: Annotated[SegmentIn, Body()], scope: InProject) -> Response[OwnSegmentOut]:
    segment = create_segment(scope, body.name, body.id, body.rule, body.profileIds)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=own_segment_out(segment))


@router.get("/v1/projects/<projectId>/segments", responses={**ok(SegmentsOut), **error_responses(404)})
def list_all(projectId: Id, scope: InProject, company: CompanyOfProject) -> SegmentsOut:
    return SegmentsOut.model_validate(list_segments(scope, company.company))


@router.get("/v1/projects/<projectId>/segments/<segmentId>", responses={**ok(SegmentOut), **error_responses(404)})
def get(projectId: Id, segmentId: Id, scope: InProject) -> SegmentOut:
    return segment_out(get_segment(scope, segmentId))


@router.patch("/v1/projects/<projectId>/segments/<segmentId>", responses={**ok(OwnSegmentOut), **error_responses(404, 409)})
def edit(projectId: Id, segmentId: Id, body: Annotated[SegmentPatchIn, Body()], scope: InProject) -> OwnSegmentOut:
    """API.md PATCH: replace the name, the rule or the static list of an own segment (usecases.edit_segment)."""
    edited = edit_segment(scope, segmentId, name=body.name, rule=body.rule, profile_ids=body.profileIds, version=body.version)
    return own_segment_out(edited)


@router.delete("/v1/projects/<projectId>/segments/<segmentId>", responses={**no_content(), **error_responses(404, 409)})
def delete(projectId: Id, segmentId: Id, scope: InProject, force: Annotated[bool, Query()] = False) -> Response[str]:
    delete_segment(scope, segmentId, force=force)
    # A 204 carries no content (RFC 9110); returning None would send the JSON text "null".
    return Response(status_code=204, content_type=None, body="")
