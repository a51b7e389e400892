"""Routes of a shared segment's evaluations and members (API.md "Evaluations"); ``app.py`` includes them."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from segshare_core.api import ApiModel, Cursor, Id, InSharedSegment, QueryInt, error_responses, ok
from segshare_core.api_models import EvaluationOut
from segshare_core.idempotency import IdempotencyKey
from segshare_core.usecases.create_evaluation import create_evaluation as create
from segshare_core.usecases.evaluations_page import evaluation, evaluations_page
from segshare_core.usecases.members_page import members_page

# Powertools leaves Router.__init__ unannotated.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]

SHARED = "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>"


class EvaluationsOut(ApiModel):
    evaluations: list[EvaluationOut]
    next_cursor: str | None


class Member(ApiModel):
    profile_id: str
    attributes: dict[str, object]


class MembersOut(ApiModel):
    evaluation_id: str
    members: list[Member]
    next_cursor: str | None


# projectId and sharedSegmentId are declared for their validation and the OpenAPI document;
# the scope (InSharedSegment) reads them once the caller's access and the share were checked.


@router.post(
    f"{SHARED}/evaluations",
    # 201 the finished evaluation, or 202 RUNNING when it was handed off (API.md).
    responses={**ok(EvaluationOut, status=201), **ok(EvaluationOut, status=202), **error_responses(404, 409)},
)
def create_evaluation(
    projectId: Id, sharedSegmentId: Id, scope: InSharedSegment, idempotency_key: IdempotencyKey = None
) -> tuple[EvaluationOut, int]:
    created = create(scope, idempotency_key)
    return EvaluationOut.model_validate(created.evaluation), 202 if created.handed_off else 201


@router.get(
    f"{SHARED}/evaluations",
    description="The current share's evaluations, latest startedAt first. Records are kept 90 days after their start "
    "(DynamoDB TTL, template parameter EvaluationRetentionDays); the evaluation in service is renewed by every "
    "scheduled tick (reused when nothing changed).",
    responses={**ok(EvaluationsOut), **error_responses(404)},
)
def list_evaluations(
    projectId: Id,
    sharedSegmentId: Id,
    scope: InSharedSegment,
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> EvaluationsOut:
    return EvaluationsOut.model_validate(evaluations_page(scope, limit, cursor))


@router.get(f"{SHARED}/evaluations/<evaluationId>", responses={**ok(EvaluationOut), **error_responses(404)})
def get_evaluation(projectId: Id, sharedSegmentId: Id, evaluationId: Id, scope: InSharedSegment) -> EvaluationOut:
    return EvaluationOut.model_validate(evaluation(scope, evaluationId))


@router.get(f"{SHARED}/members", responses={**ok(MembersOut), **error_responses(404, 409)})
def list_members(
    projectId: Id,
    sharedSegmentId: Id,
    scope: InSharedSegment,
    limit: Annotated[QueryInt, Query(ge=1, le=1000)] = 50,
    cursor: Cursor = None,
) -> MembersOut:
    return MembersOut.model_validate(members_page(scope, limit, cursor))
