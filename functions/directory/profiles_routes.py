"""A project's profiles: batch upsert, listing, one profile, delete (API.md, Profiles)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from directory_models import ProfileOut, ProfilesIn, ProfilesOut, UpsertOut

from segshare_core.api import CompanyOfProject, Id, InProject, error_responses, no_content, ok
from segshare_core.domain import cursors
from segshare_core.usecases import profile_listing
from segshare_core.usecases.upsert_profiles import upsert_profiles

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.put("/v1/projects/<projectId>/profiles", responses={**ok(UpsertOut), **error_responses(404, 413)})
def upsert(projectId: Id, body: Annotated[ProfilesIn, Body()], scope: InProject, company: CompanyOfProject) -> UpsertOut:
    return UpsertOut.model_validate(upsert_profiles(scope, company.key, body.profiles))


@router.get("/v1/projects/<projectId>/profiles", responses={**ok(ProfilesOut), **error_responses(404)})
def list_page(
    projectId: Id,
    scope: InProject,
    company: CompanyOfProject,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR_CHARS)] = None,
) -> ProfilesOut:
    return ProfilesOut.model_validate(profile_listing.list_profiles(scope, company.key, limit, cursor))


@router.get("/v1/projects/<projectId>/profiles/<profileId>", responses={**ok(ProfileOut), **error_responses(404)})
def get(projectId: Id, profileId: Id, scope: InProject) -> ProfileOut:
    return ProfileOut.model_validate(profile_listing.get_profile(scope, profileId))


@router.delete("/v1/projects/<projectId>/profiles/<profileId>", responses={**no_content(), **error_responses(404)})
def delete(projectId: Id, profileId: Id, scope: InProject) -> Response[None]:
    profile_listing.delete_profile(scope, profileId)
    # A 204 carries no content: not even the JSON "null" a None body would serialise to.
    return Response(status_code=204)
