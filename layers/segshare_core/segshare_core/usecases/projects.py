"""The company's projects as one caller sees them: every project by id, and those it may access."""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.domain import access
from segshare_core.domain.access import Principal
from segshare_core.domain.directory import Project
from segshare_core.store import directory


@dataclass(frozen=True, slots=True)
class CompanyProjects:
    """``by_id``: every project of the company (one Query); ``visible``: the ids the caller may access, in the same order."""

    by_id: dict[str, Project]
    visible: list[str]

    def name_of(self, project_id: str) -> str:
        """A project's name, or ``""`` for one that is gone (a share may outlive nothing else, but never fails a read)."""
        project = self.by_id.get(project_id)
        return project.name if project else ""

    def visible_projects(self) -> list[Project]:
        return [self.by_id[p] for p in self.visible]


def company_projects(caller: Principal, company_id: str) -> CompanyProjects:
    """The company's projects and the ones ``caller`` may access (domain.access: admins all, project admins their grant)."""
    by_id = {p.project_id: p for p in directory.list_projects(company_id)}
    return CompanyProjects(by_id=by_id, visible=access.visible_projects(caller, company_id, list(by_id)))
