"""Companies and their projects (API.md, Directory): who may see, create and change them."""

from __future__ import annotations

from segshare_core.domain import access
from segshare_core.domain.access import Principal
from segshare_core.domain.directory import Company, Project
from segshare_core.domain.errors import NotFound
from segshare_core.domain.ids import new_id
from segshare_core.observability import logger, tracer
from segshare_core.store import directory
from segshare_core.usecases.projects import company_projects


def visible_company(caller: Principal, company_id: str) -> Company:
    """The company if the caller may see it (operators every one, others their own); NotFound otherwise, existence never leaks."""
    access.require_company_visible(caller, company_id)
    company = directory.get_company(company_id)
    if company is None:
        raise NotFound(f"company {company_id!r} not found")
    return company


@tracer.capture_method(capture_response=False)
def create_company(caller: Principal, company_id: str | None, name: str, shared_segments_enabled: bool) -> Company:
    """A new company with a fresh device-token key (operators only, 403 otherwise; an existing id 409 ALREADY_EXISTS)."""
    access.require_operator(caller)
    company = directory.create_company(company_id or new_id("c"), name, shared_segments_enabled)
    logger.info("company created", company_id=company.company_id)
    return company


@tracer.capture_method(capture_response=False)
def update_company(caller: Principal, company_id: str, *, name: str | None, shared_segments_enabled: bool | None) -> Company:
    """Rename a company or turn shared segments on or off (operators only; a company out of sight is 404 first)."""
    visible_company(caller, company_id)
    access.require_operator(caller)
    company = directory.update_company(company_id, name=name, shared_segments_enabled=shared_segments_enabled)
    logger.info("company updated", company_id=company_id, shared_segments_enabled=company.shared_segments_enabled)
    return company


@tracer.capture_method(capture_response=False)
def create_project(caller: Principal, company_id: str, project_id: str | None, name: str) -> Project:
    """A new project (company admins and operators; the id is unique across the deployment, 409 ALREADY_EXISTS)."""
    visible_company(caller, company_id)
    access.require_company_admin(caller, company_id)
    project = directory.create_project(company_id, project_id or new_id("p"), name)
    logger.info("project created", company_id=company_id, project_id=project.project_id)
    return project


@tracer.capture_method(capture_response=False)
def list_projects(caller: Principal, company_id: str) -> list[Project]:
    """The company's projects the caller may access (a project admin only its grant's)."""
    visible_company(caller, company_id)
    return company_projects(caller, company_id).visible_projects()
