"""The source project's Sharing tab of a segment and its history (API.md, Sharing)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from share_models import HistoryOut, SharingIn, SharingOut

from segshare_core.api import CompanyOfProject, Cursor, Id, InSharingProject, QueryInt, error_responses, ok
from segshare_core.usecases.save_sharing import save_sharing
from segshare_core.usecases.sharing_history import sharing_history
from segshare_core.usecases.sharing_tab import sharing_tab

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.get("/v1/projects/<projectId>/segments/<segmentId>/sharing", responses={**ok(SharingOut), **error_responses(404, 409)})
def get_tab(projectId: Id, segmentId: Id, scope: InSharingProject) -> SharingOut:
    return SharingOut.model_validate(sharing_tab(scope, segmentId))


@router.put("/v1/projects/<projectId>/segments/<segmentId>/sharing", responses={**ok(SharingOut), **error_responses(404, 409)})
def save_tab(projectId: Id, segmentId: Id, body: Annotated[SharingIn, Body()], scope: InSharingProject) -> SharingOut:
    return SharingOut.model_validate(save_sharing(scope, segmentId, body.projectIds, body.version))


@router.get("/v1/projects/<projectId>/segments/<segmentId>/sharing/history", responses={**ok(HistoryOut), **error_responses(404, 409)})
def history(
    projectId: Id,
    segmentId: Id,
    scope: InSharingProject,
    company: CompanyOfProject,
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> HistoryOut:
    return HistoryOut.model_validate(sharing_history(scope, company.key, segmentId, limit, cursor))
