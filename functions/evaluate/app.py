"""Evaluations of shared segments, their members, and audience previews (own and shared segments)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

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
from segshare_core.domain import access, cursors
from segshare_core.domain.errors import Conflict, NotFound
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.segments import Segment, SharedSegment, is_shared_id
from segshare_core.domain.templating import MAX_TEMPLATE_CHARS, render
from segshare_core.idempotency import IdempotencyKey, IdempotentOperation
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import directory, evaluations, segments
from segshare_core.usecases import audiences
from segshare_core.workflows import evaluate_inline, handoff

app = make_resolver()
_evaluate_once = IdempotentOperation("evaluate.create_evaluation")

Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]


class EvaluationOut(Strict):
    evaluationId: str
    sharedSegmentId: str
    trigger: Literal["manual", "schedule", "export"]
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    startedAt: str
    finishedAt: str | None
    durationMs: int | None
    targetProfiles: int | None
    matchedProfiles: int | None
    matchedDevices: int | None
    matchedByPlatform: dict[str, int] | None
    error: str | None = None
    reused: bool = Field(
        default=False,
        description="present and true when a scheduled run found the inputs unchanged since the last succeeded "
        "evaluation (the source segment's definition, both projects' change sequences, the share) and recorded its "
        "counts and result again without reading either project; absent otherwise",
    )


class EvaluationsOut(Strict):
    evaluations: list[EvaluationOut]
    nextCursor: str | None


class Member(Strict):
    profileId: str
    attributes: dict[str, Any]


class MembersOut(Strict):
    evaluationId: str
    members: list[Member]
    nextCursor: str | None


class PreviewIn(RequestBody):
    segmentIds: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]], Field(max_length=20)] = []
    match: Literal["all", "any"] = "all"
    template: Annotated[str, Field(max_length=MAX_TEMPLATE_CHARS)] = ""
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class SampleMessage(Strict):
    profileId: str
    message: str


class PreviewOut(Strict):
    count: int
    sample: list[SampleMessage]


def _ok(model: Any, status: int = 200) -> dict[int, Any]:
    return {status: {"description": "ok", "content": {"application/json": {"model": model}}}}


def _shared(projectId: str, sharedSegmentId: str, caller: access.Principal | None = None) -> tuple[str, SharedSegment]:
    """The caller's company and the live shared segment; 404 when absent or not the caller's to see."""
    company_id = project_scope(caller or principal(app), projectId)
    require_shared_segments(company_id)
    shared = segments.get_shared_in(company_id, projectId, sharedSegmentId)
    if shared is None:
        raise NotFound(f"shared segment {sharedSegmentId!r} not found")
    return company_id, shared


@app.post(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/evaluations",
    # 201 the finished evaluation, or 202 RUNNING when it was handed off (API.md).
    responses={**_ok(EvaluationOut, 201), **_ok(EvaluationOut, 202), **error_responses(404, 409)},
)
def create_evaluation(projectId: Id, sharedSegmentId: Id, idempotency_key: IdempotencyKey = None) -> tuple[dict[str, Any], int]:
    caller = principal(app)
    company_id, shared = _shared(projectId, sharedSegmentId, caller)

    def work() -> dict[str, Any]:
        # API.md: 201 with the finished evaluation, or 202 RUNNING when the cost model hands it to the workflow.
        running = handoff.hand_off(company_id, shared, "manual")
        if running is not None:
            metrics.add_metric(name="EvaluationsHandedOff", unit="Count", value=1)
            return {"status": 202, "evaluation": running.to_api()}
        done = evaluate_inline.evaluate(company_id, shared, "manual")
        metrics.add_metric(name="Evaluations", unit="Count", value=1)
        return {"status": 201, "evaluation": done.to_api()}

    # The generation too: a repeat after the share ended and was granted again is new work, since
    # the first response's result belongs to an ended share (API.md "Revoking and resharing").
    scope = {
        "companyId": company_id,
        "projectId": projectId,
        "userId": caller.user_id,
        "sharedSegmentId": sharedSegmentId,
        "generation": shared.generation,
    }
    answer = _evaluate_once(work, idempotency_key, scope)
    return answer["evaluation"], int(answer["status"])


@app.get(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/evaluations",
    description="The current share's evaluations, latest startedAt first. Records are kept 90 days after their start "
    "(DynamoDB TTL, template parameter EvaluationRetentionDays); the evaluation in service is renewed by every "
    "scheduled tick (reused when nothing changed).",
    responses={**_ok(EvaluationsOut), **error_responses(404)},
)
def list_evaluations(
    projectId: Id, sharedSegmentId: Id, limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20, cursor: Cursor = None
) -> dict[str, Any]:
    company_id, shared = _shared(projectId, sharedSegmentId)
    key = directory.company_key(company_id)
    listing = f"evaluations:{projectId}:{sharedSegmentId}"
    generation = shared.generation
    after = cursors.decode_in(key, listing, generation, cursor) if cursor else None
    page, last = evaluations.listing(company_id, shared, limit, after)
    return {"evaluations": [e.to_api() for e in page], "nextCursor": cursors.encode_in(key, listing, generation, last) if last else None}


@app.get(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/evaluations/<evaluationId>",
    responses={**_ok(EvaluationOut), **error_responses(404)},
)
def get_evaluation(projectId: Id, sharedSegmentId: Id, evaluationId: Id) -> dict[str, Any]:
    company_id, shared = _shared(projectId, sharedSegmentId)
    found = evaluations.get(company_id, shared, evaluationId)
    if found is None:
        raise NotFound(f"evaluation {evaluationId!r} not found")
    return found.to_api()


@app.get(
    "/v1/projects/<projectId>/shared-segments/<sharedSegmentId>/members",
    responses={**_ok(MembersOut), **error_responses(404, 409)},
)
def list_members(
    projectId: Id, sharedSegmentId: Id, limit: Annotated[QueryInt, Query(ge=1, le=1000)] = 50, cursor: Cursor = None
) -> MembersOut:
    company_id, shared = _shared(projectId, sharedSegmentId)
    key = directory.company_key(company_id)
    listing = f"members:{projectId}:{sharedSegmentId}"
    if cursor:
        # Page on through the evaluation the first page came from, even if a newer one landed
        # since; never through one of a share that ended (404, API.md).
        position = cursors.decode_in(key, listing, shared.generation, cursor)
        evaluation_id, offset = str(position["e"]), int(position["o"])
        result_key = evaluations.result_key_of(company_id, shared, evaluation_id)
        if result_key is None:
            raise NotFound("the evaluation this cursor pages through is gone; start again without a cursor")
    else:
        latest = evaluations.latest_succeeded(company_id, shared)
        if latest is None:
            raise Conflict("this shared segment has no succeeded evaluation yet; evaluate it first", code="NOT_EVALUATED")
        (evaluation_id, result_key), offset = latest, 0
    # Only the page's block(s) of the result and the page's profiles are read (issue 14 item 4).
    page = audiences.members_page(company_id, projectId, result_key, offset, limit)
    members = [Member(profileId=p.profile_id, attributes=dict(p.attributes)) for p in page.members]
    position = {"e": evaluation_id, "o": page.next_offset}
    next_cursor = cursors.encode_in(key, listing, shared.generation, position) if page.next_offset is not None else None
    return MembersOut(evaluationId=evaluation_id, members=members, nextCursor=next_cursor)


@app.post("/v1/projects/<projectId>/audiences/preview", responses={**_ok(PreviewOut), **error_responses(404, 409)})
def preview_audience(projectId: Id, body: Annotated[PreviewIn, Body()]) -> PreviewOut:
    company_id = project_scope(principal(app), projectId)
    shared_keys: list[str] = []
    own: list[Segment] = []
    for segment_id in dict.fromkeys(body.segmentIds):
        shared_key = _shared_result(company_id, projectId, segment_id)
        if shared_key is not None:
            shared_keys.append(shared_key)
            continue
        segment = segments.get_segment(company_id, projectId, segment_id)
        if segment is None:
            raise NotFound(f"segment {segment_id!r} not found")
        own.append(segment)
    audience = audiences.preview(company_id, projectId, shared_keys, own, body.match, body.limit)
    sample = [SampleMessage(profileId=p.profile_id, message=render(body.template, p.attributes)) for p in audience.sample]
    logger.info("audience previewed", project_id=projectId, segments=len(shared_keys) + len(own), count=audience.count)
    return PreviewOut(count=audience.count, sample=sample)


def _shared_result(company_id: str, project_id: str, segment_id: str) -> str | None:
    """The result key of a shared segment's result in service; None when the id is no live shared segment."""
    shared = segments.get_shared_in(company_id, project_id, segment_id) if is_shared_id(segment_id) else None
    if shared is None:
        return None
    require_shared_segments(company_id)
    latest = evaluations.latest_succeeded(company_id, shared)
    if latest is None:
        raise Conflict(f"shared segment {segment_id!r} has no succeeded evaluation yet", code="NOT_EVALUATED")
    return latest[1]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _evaluate_once.register_lambda_context(context)
    return app.resolve(event, context)
