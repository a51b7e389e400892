"""Directory and profiles: health, the caller, companies, projects, user grants, profiles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, StrictBool

from segshare_core import config
from segshare_core.api import RequestBody, Strict, error_responses, make_resolver, no_content, principal, project_scope
from segshare_core.domain import access, cursors
from segshare_core.domain.directory import Company, Project
from segshare_core.domain.errors import InvalidInput, NotFound, TooLarge
from segshare_core.domain.ids import ID_PATTERN, new_id
from segshare_core.domain.profiles import MAX_BATCH, Profile, parse_profile
from segshare_core.domain.text import is_writable
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import directory, profiles

app = make_resolver()

Id = Annotated[str, Path(pattern=ID_PATTERN, max_length=63)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class CompanyIn(RequestBody):
    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None
    # Strict: "yes", 1 or "false" are schema violations, not booleans.
    sharedSegmentsEnabled: StrictBool = False


class CompanyPatch(RequestBody):
    name: Name | None = None
    sharedSegmentsEnabled: StrictBool | None = None


class ProjectIn(RequestBody):
    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None


class GrantIn(RequestBody):
    role: access.Role
    projectIds: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]], Field(max_length=1000)] = []


class ProfilesIn(RequestBody):
    # parse_profile checks each profile's text: one bad profile is rejected (INVALID_PROFILE), the rest lands.
    text_checked_per_item = frozenset({"profiles"})
    profiles: list[Any]


class CompanyOut(Strict):
    companyId: str
    name: str
    sharedSegmentsEnabled: bool


class ProjectOut(Strict):
    projectId: str
    companyId: str
    name: str


class ProjectRef(Strict):
    projectId: str
    name: str


class ProjectsOut(Strict):
    projects: list[ProjectOut]


class MeOut(Strict):
    userId: str
    companyId: str | None
    role: Literal["operator", "company_admin", "project_admin"] | None
    projects: list[ProjectRef]


class GrantOut(Strict):
    userId: str
    companyId: str
    role: access.Role
    projectIds: list[str]


class Rejection(Strict):
    index: int
    profileId: str | None
    code: str
    message: str


class UpsertOut(Strict):
    upserted: int
    rejected: list[Rejection]


class DeviceOut(Strict):
    platform: Literal["ios", "android"]
    id: str


class ProfileOut(Strict):
    profileId: str
    attributes: dict[str, Any]
    devices: list[DeviceOut]


class ProfilesOut(Strict):
    profiles: list[ProfileOut]
    nextCursor: str | None
    total: int


class Health(Strict):
    status: str


def _ok(model: Any) -> dict[int, Any]:
    """The 200 response of a route, declared beside its errors (a route's `responses` replaces the default)."""
    return {200: {"description": "ok", "content": {"application/json": {"model": model}}}}


def _company(company: Company) -> dict[str, Any]:
    return {"companyId": company.company_id, "name": company.name, "sharedSegmentsEnabled": company.shared_segments_enabled}


def _project(project: Project) -> dict[str, Any]:
    return {"projectId": project.project_id, "companyId": project.company_id, "name": project.name}


def _visible_company(caller: access.Principal, company_id: str) -> Company:
    access.require_company_visible(caller, company_id)
    company = directory.get_company(company_id)
    if company is None:
        raise NotFound(f"company {company_id!r} not found")
    return company


@app.get("/v1/health", responses={**_ok(Health), **error_responses()})
def health() -> Health:
    return Health(status="ok")


@app.get("/v1/me", responses={**_ok(MeOut), **error_responses()})
def me() -> MeOut:
    # A user with no grant is told so here rather than refused (API.md: 200, companyId and role null).
    caller = principal(app)
    projects: list[ProjectRef] = []
    if caller.company_id is not None:
        company_projects = directory.list_projects(caller.company_id)
        visible = set(access.visible_projects(caller, caller.company_id, [p.project_id for p in company_projects]))
        projects = [ProjectRef(projectId=p.project_id, name=p.name) for p in company_projects if p.project_id in visible]
    return MeOut(userId=caller.user_id, companyId=caller.company_id, role=caller.role_name, projects=projects)  # type: ignore[arg-type]


@app.post(
    "/v1/companies",
    responses={201: {"description": "created", "content": {"application/json": {"model": CompanyOut}}}, **error_responses(409)},
)
def create_company(body: Annotated[CompanyIn, Body()]) -> tuple[dict[str, Any], int]:
    access.require_operator(principal(app))
    company = directory.create_company(body.id or new_id("c"), body.name, body.sharedSegmentsEnabled)
    logger.info("company created", company_id=company.company_id)
    return _company(company), 201


@app.get("/v1/companies/<companyId>", responses={**_ok(CompanyOut), **error_responses(404)})
def get_company(companyId: Id) -> CompanyOut:
    return CompanyOut(**_company(_visible_company(principal(app), companyId)))


@app.patch("/v1/companies/<companyId>", responses={**_ok(CompanyOut), **error_responses(404)})
def patch_company(companyId: Id, body: Annotated[CompanyPatch, Body()]) -> CompanyOut:
    caller = principal(app)
    _visible_company(caller, companyId)
    access.require_operator(caller)
    company = directory.update_company(companyId, name=body.name, shared_segments_enabled=body.sharedSegmentsEnabled)
    logger.info("company updated", company_id=companyId, shared_segments_enabled=company.shared_segments_enabled)
    return CompanyOut(**_company(company))


@app.post(
    "/v1/companies/<companyId>/projects",
    responses={201: {"description": "created", "content": {"application/json": {"model": ProjectOut}}}, **error_responses(404, 409)},
)
def create_project(companyId: Id, body: Annotated[ProjectIn, Body()]) -> tuple[dict[str, Any], int]:
    caller = principal(app)
    _visible_company(caller, companyId)
    access.require_company_admin(caller, companyId)
    project = directory.create_project(companyId, body.id or new_id("p"), body.name)
    logger.info("project created", company_id=companyId, project_id=project.project_id)
    return _project(project), 201


@app.get("/v1/companies/<companyId>/projects", responses={**_ok(ProjectsOut), **error_responses(404)})
def list_projects(companyId: Id) -> ProjectsOut:
    caller = principal(app)
    _visible_company(caller, companyId)
    company_projects = directory.list_projects(companyId)
    visible = set(access.visible_projects(caller, companyId, [p.project_id for p in company_projects]))
    return ProjectsOut(projects=[ProjectOut(**_project(p)) for p in company_projects if p.project_id in visible])


@app.put("/v1/companies/<companyId>/users/<userId>", responses={**_ok(GrantOut), **error_responses(404, 409)})
def put_user(companyId: Id, userId: Id, body: Annotated[GrantIn, Body()]) -> GrantOut:
    caller = principal(app)
    _visible_company(caller, companyId)
    access.require_company_admin(caller, companyId)
    project_ids = sorted(set(body.projectIds)) if body.role == "project_admin" else []
    known = {p.project_id for p in directory.list_projects(companyId)}
    for project_id in project_ids:
        if project_id not in known:
            raise NotFound(f"project {project_id!r} not found")
    grant = directory.put_grant(userId, companyId, body.role, project_ids)
    logger.info("grant updated", company_id=companyId, role=grant.role, projects=len(project_ids))
    return GrantOut(userId=userId, companyId=companyId, role=grant.role, projectIds=project_ids)


@app.delete("/v1/companies/<companyId>/users/<userId>", responses={**no_content(), **error_responses(404)})
def delete_user(companyId: Id, userId: Id) -> Response[None]:
    caller = principal(app)
    _visible_company(caller, companyId)
    access.require_company_admin(caller, companyId)
    directory.delete_grant(userId, companyId)
    logger.info("grant deleted", company_id=companyId)
    return Response(status_code=204)


@app.put("/v1/projects/<projectId>/profiles", responses={**_ok(UpsertOut), **error_responses(404, 413)})
def upsert_profiles(projectId: Id, body: Annotated[ProfilesIn, Body()]) -> UpsertOut:
    company_id = project_scope(principal(app), projectId)
    if len(body.profiles) > MAX_BATCH:
        raise TooLarge(f"profiles: at most {MAX_BATCH} profiles a call, got {len(body.profiles)}")
    accepted: list[Profile] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    for index, raw in enumerate(body.profiles):
        raw_id = raw.get("profileId") if isinstance(raw, dict) else None
        # Echoed back only when it can be written (a lone surrogate has no UTF-8 form).
        shown_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= 63 and is_writable(raw_id) else None
        try:
            profile = parse_profile(raw)
            if profile.profile_id in seen:
                raise InvalidInput(f"profile {profile.profile_id!r} appears twice in the batch", code="DUPLICATE_PROFILE")
        except InvalidInput as exc:
            rejected.append(Rejection(index=index, profileId=shown_id, code=exc.code, message=exc.message))
            continue
        seen.add(profile.profile_id)
        accepted.append(profile)
    if accepted:
        profiles.upsert_profiles(company_id, projectId, directory.company_key(company_id), accepted)
    logger.info("profiles upserted", project_id=projectId, upserted=len(accepted), rejected=len(rejected))
    metrics.add_metric(name="ProfilesUpserted", unit="Count", value=len(accepted))
    return UpsertOut(upserted=len(accepted), rejected=rejected)


def _profile_out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        profileId=profile.profile_id,
        attributes=dict(profile.attributes),
        devices=[DeviceOut(platform=d.platform, id=d.id) for d in profile.devices],
    )


def _listing_position(key: bytes, listing: str, cursor: str) -> tuple[int, str]:
    """(shard, last profile id) of a cursor this listing issued; InvalidCursor for anything else."""
    position = cursors.decode(key, listing, cursor)
    shard, after = position.get("s"), position.get("k")
    if not isinstance(shard, int) or not isinstance(after, str) or not 0 <= shard < config.DEVICE_INDEX_SHARDS:
        raise cursors.InvalidCursor("cursor: not a cursor of this listing")
    return shard, after


@app.get("/v1/projects/<projectId>/profiles", responses={**_ok(ProfilesOut), **error_responses(404)})
def list_profiles(
    projectId: Id,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR_CHARS)] = None,
) -> ProfilesOut:
    """API.md: a page of the project's profiles in a stable order, signed cursors, ``total`` from the shard counters."""
    company_id = project_scope(principal(app), projectId)
    key = directory.company_key(company_id)
    listing = f"profiles:{projectId}"
    after = _listing_position(key, listing, cursor) if cursor else None
    page, last = profiles.list_page(company_id, projectId, limit, after)
    total = profiles.counts(company_id, projectId).profiles
    next_cursor = cursors.encode(key, listing, {"s": last[0], "k": last[1]}) if last else None
    return ProfilesOut(profiles=[_profile_out(p) for p in page], nextCursor=next_cursor, total=total)


@app.get("/v1/projects/<projectId>/profiles/<profileId>", responses={**_ok(ProfileOut), **error_responses(404)})
def get_profile(projectId: Id, profileId: Id) -> ProfileOut:
    company_id = project_scope(principal(app), projectId)
    profile = profiles.get_profile(company_id, projectId, profileId)
    if profile is None:
        raise NotFound(f"profile {profileId!r} not found")
    return _profile_out(profile)


@app.delete("/v1/projects/<projectId>/profiles/<profileId>", responses={**no_content(), **error_responses(404)})
def delete_profile(projectId: Id, profileId: Id) -> Response[None]:
    company_id = project_scope(principal(app), projectId)
    profiles.delete_profile(company_id, projectId, profileId)
    logger.info("profile deleted", project_id=projectId)
    # A 204 carries no content: not even the JSON "null" a None body would serialise to.
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
