"""Companies and their projects (API.md, Directory)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from directory_models import CompanyIn, CompanyOut, CompanyPatch, ProjectIn, ProjectOut, ProjectsOut

from segshare_core.api import CallerDep, Id, error_responses, ok
from segshare_core.usecases import companies

router = Router()  # type: ignore[no-untyped-call]  # Powertools' Router.__init__ is unannotated


@router.post("/v1/companies", responses={**ok(CompanyOut, "created", 201), **error_responses(409)})
def create_company(body: Annotated[CompanyIn, Body()], caller: CallerDep) -> Response[CompanyOut]:
    company = companies.create_company(caller, body.id, body.name, body.sharedSegmentsEnabled)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=CompanyOut.model_validate(company))


@router.get("/v1/companies/<companyId>", responses={**ok(CompanyOut), **error_responses(404)})
def get_company(companyId: Id, caller: CallerDep) -> CompanyOut:
    return CompanyOut.model_validate(companies.visible_company(caller, companyId))


@router.patch("/v1/companies/<companyId>", responses={**ok(CompanyOut), **error_responses(404)})
def patch_company(companyId: Id, body: Annotated[CompanyPatch, Body()], caller: CallerDep) -> CompanyOut:
    company = companies.update_company(caller, companyId, name=body.name, shared_segments_enabled=body.sharedSegmentsEnabled)
    return CompanyOut.model_validate(company)


@router.post("/v1/companies/<companyId>/projects", responses={**ok(ProjectOut, "created", 201), **error_responses(404, 409)})
def create_project(companyId: Id, body: Annotated[ProjectIn, Body()], caller: CallerDep) -> Response[ProjectOut]:
    project = companies.create_project(caller, companyId, body.id, body.name)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=ProjectOut.model_validate(project))


@router.get("/v1/companies/<companyId>/projects", responses={**ok(ProjectsOut), **error_responses(404)})
def list_projects(companyId: Id, caller: CallerDep) -> ProjectsOut:
    return ProjectsOut(projects=[ProjectOut.model_validate(p) for p in companies.list_projects(caller, companyId)])
