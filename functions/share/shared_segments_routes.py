"""Segments shared into the target project (API.md, Shared segments)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from share_models import SharedSegmentOut, SharedSegmentsOut

from segshare_core.api import Id, InSharingProject, error_responses, ok
from segshare_core.usecases.shared_segments import get_shared_segment, list_shared_segments

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.get("/v1/projects/<projectId>/shared-segments", responses={**ok(SharedSegmentsOut), **error_responses(404)})
def list_all(projectId: Id, scope: InSharingProject) -> SharedSegmentsOut:
    return SharedSegmentsOut(shared_segments=[SharedSegmentOut.model_validate(s) for s in list_shared_segments(scope)])


@router.get("/v1/projects/<projectId>/shared-segments/<sharedSegmentId>", responses={**ok(SharedSegmentOut), **error_responses(404)})
def get(projectId: Id, sharedSegmentId: Id, scope: InSharingProject) -> SharedSegmentOut:
    return SharedSegmentOut.model_validate(get_shared_segment(scope, sharedSegmentId))
