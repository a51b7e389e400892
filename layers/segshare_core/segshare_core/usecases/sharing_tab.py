"""The source project's Sharing tab of one own segment, as one caller sees it (API.md GET .../sharing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core.domain import sharing
from segshare_core.domain.segments import Segment
from segshare_core.observability import tracer
from segshare_core.usecases.own_segments import own_for_sharing
from segshare_core.usecases.projects import CompanyProjects, company_projects

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class SharingTabProject:
    """One project the caller may share with: ticked (``shared``) or not."""

    project_id: str
    name: str
    shared: bool


@dataclass(frozen=True, slots=True)
class SharingTab:
    """The tab: every project the caller can access but the source, the share version, and shares it cannot see (counted)."""

    segment_id: str
    version: int
    projects: list[SharingTabProject]
    hidden_shared_count: int


def tab_of(segment: Segment, projects: CompanyProjects) -> SharingTab:
    """The Sharing tab of ``segment`` for the caller whose ``projects`` these are (domain.sharing.view decides)."""
    view = sharing.view(segment.shared_with, projects.visible, segment.project_id)
    return SharingTab(
        segment_id=segment.segment_id,
        version=segment.share_version,
        projects=[SharingTabProject(project_id=p, name=projects.name_of(p), shared=shared) for p, shared in view.shared.items()],
        hidden_shared_count=view.hidden_shared_count,
    )


@tracer.capture_method(capture_response=False)
def sharing_tab(scope: ProjectScope, segment_id: str) -> SharingTab:
    """The tab of an own segment; a shared-in id is 409 CANNOT_RESHARE, an unknown one 404."""
    segment = own_for_sharing(scope, segment_id)
    return tab_of(segment, company_projects(scope.caller, scope.company_id))
