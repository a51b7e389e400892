"""The caller as the API sees it, and user grants (API.md, Identity and roles; Directory)."""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.domain import access
from segshare_core.domain.access import Grant, Principal, Role
from segshare_core.domain.directory import Project
from segshare_core.domain.errors import NotFound
from segshare_core.observability import logger, tracer
from segshare_core.store import directory
from segshare_core.usecases.companies import visible_company
from segshare_core.usecases.projects import company_projects


@dataclass(frozen=True, slots=True)
class Me:
    """``GET /v1/me``: who the caller is, its company and role (None without a grant), and the projects it may access."""

    user_id: str
    company_id: str | None
    role: str | None
    projects: list[Project]


@tracer.capture_method(capture_response=False)
def me(caller: Principal) -> Me:
    """A user with no grant is told so rather than refused (API.md: 200, companyId and role null, no projects)."""
    projects = company_projects(caller, caller.company_id).visible_projects() if caller.company_id is not None else []
    return Me(user_id=caller.user_id, company_id=caller.company_id, role=caller.role_name, projects=projects)


@tracer.capture_method(capture_response=False)
def put_grant(caller: Principal, company_id: str, user_id: str, role: Role, project_ids: list[str]) -> Grant:
    """Set a user's grant in the company (company admins and operators).

    A project admin's projects are kept once each, sorted; a company admin holds none (they are
    ignored). A project that is not the company's is 404; a user held by another company 409
    ALREADY_EXISTS (store.directory.put_grant, which names no company).
    """
    visible_company(caller, company_id)
    access.require_company_admin(caller, company_id)
    granted = sorted(set(project_ids)) if role == "project_admin" else []
    known = {p.project_id for p in directory.list_projects(company_id)}
    for project_id in granted:
        if project_id not in known:
            raise NotFound(f"project {project_id!r} not found")
    grant = directory.put_grant(user_id, company_id, role, granted)
    logger.info("grant updated", company_id=company_id, role=grant.role, projects=len(granted))
    return grant


@tracer.capture_method(capture_response=False)
def delete_grant(caller: Principal, company_id: str, user_id: str) -> None:
    """Take a user's grant in the company back (company admins and operators); its next request has none. 404 when it holds none here."""
    visible_company(caller, company_id)
    access.require_company_admin(caller, company_id)
    directory.delete_grant(user_id, company_id)
    logger.info("grant deleted", company_id=company_id)
