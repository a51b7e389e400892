"""The audience preview route (API.md "Audiences"); ``app.py`` includes it."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from segshare_core.api import ApiModel, Id, InProject, RequestBody, error_responses, ok
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.templating import MAX_TEMPLATE_CHARS
from segshare_core.usecases.audiences import preview_audience as preview

# Powertools leaves Router.__init__ unannotated.
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


class PreviewIn(RequestBody):
    segmentIds: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]], Field(max_length=20)] = []
    match: Literal["all", "any"] = "all"
    template: Annotated[str, Field(max_length=MAX_TEMPLATE_CHARS)] = ""
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class SampleMessage(ApiModel):
    profile_id: str
    message: str


class PreviewOut(ApiModel):
    count: int
    sample: list[SampleMessage]


@router.post("/v1/projects/<projectId>/audiences/preview", responses={**ok(PreviewOut), **error_responses(404, 409)})
def preview_audience(projectId: Id, scope: InProject, body: Annotated[PreviewIn, Body()]) -> PreviewOut:
    # projectId is declared for its validation and the OpenAPI document; the scope read it.
    return PreviewOut.model_validate(preview(scope, body.segmentIds, body.match, body.template, body.limit))
