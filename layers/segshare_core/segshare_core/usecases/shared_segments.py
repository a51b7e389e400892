"""Segments shared into a project, as the target project sees them (API.md, Shared segments).

The target sees the segment's name (read from the source, so an edit shows at once), the
source project's id and name, when it was shared, and its own last evaluation: never the
source's rule, profiles, devices or counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core.domain.errors import NotFound
from segshare_core.domain.evaluations import Evaluation
from segshare_core.domain.segments import SharedSegment
from segshare_core.observability import tracer
from segshare_core.store import evaluations, segments
from segshare_core.usecases.projects import company_projects

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class SharedSegmentView:
    """One shared segment in the target project; ``last_evaluation`` is the result in service, when asked for."""

    shared_segment_id: str
    target_project_id: str
    source_project_id: str
    source_project_name: str
    name: str
    shared_at: str
    last_evaluation: Evaluation | None = None


def views(scope: ProjectScope, shares: Iterable[SharedSegment], *, with_evaluations: bool) -> list[SharedSegmentView]:
    """``shares`` with their current names (one BatchGet) and source names (one Query, only when there are shares).

    With ``with_evaluations``, each carries the evaluation the shared segment's pointer names
    (API.md ``lastEvaluation``: the SUCCEEDED one that started last), or None.
    """
    named = segments.with_source_names(scope.company_id, shares)
    if not named:
        return []
    projects = company_projects(scope.caller, scope.company_id)
    return [
        SharedSegmentView(
            shared_segment_id=s.shared_segment_id,
            target_project_id=s.target_project_id,
            source_project_id=s.source_project_id,
            source_project_name=projects.name_of(s.source_project_id),
            name=s.name,
            shared_at=s.shared_at,
            last_evaluation=evaluations.in_service(scope.company_id, s) if with_evaluations else None,
        )
        for s in named
    ]


@tracer.capture_method(capture_response=False)
def list_shared_segments(scope: ProjectScope) -> list[SharedSegmentView]:
    """Every segment shared into the scope's project, each with its last evaluation."""
    return views(scope, segments.list_shared_in(scope.company_id, scope.project_id), with_evaluations=True)


@tracer.capture_method(capture_response=False)
def get_shared_segment(scope: ProjectScope, shared_segment_id: str) -> SharedSegmentView:
    """One segment shared into the scope's project with its last evaluation; NotFound when it is not (or no longer) shared."""
    shared = segments.get_shared_in(scope.company_id, scope.project_id, shared_segment_id)
    if shared is None:
        raise NotFound(f"shared segment {shared_segment_id!r} not found")
    (view,) = views(scope, [shared], with_evaluations=True)
    return view
