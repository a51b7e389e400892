"""A project's segments: its own, and (while the feature is on) the ones shared into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core.domain import sharing
from segshare_core.domain.directory import Company
from segshare_core.domain.segments import Segment, is_shared_id
from segshare_core.observability import tracer
from segshare_core.store import directory, segments
from segshare_core.usecases.own_segments import read_own
from segshare_core.usecases.shared_segments import SharedSegmentView, views

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class SegmentListing:
    """Own segments first, then the shared-in ones (name and source only)."""

    own: list[Segment]
    shared: list[SharedSegmentView]

    @property
    def segments(self) -> list[Segment | SharedSegmentView]:
        """The list as API.md gives it: own segments, then shared-in ones."""
        return [*self.own, *self.shared]


@tracer.capture_method(capture_response=False)
def list_segments(scope: ProjectScope, company: Company) -> SegmentListing:
    """The project's own segments, and the shared-in ones when ``company`` has the feature on (API.md GET .../segments)."""
    own = segments.list_segments(scope.company_id, scope.project_id)
    if not company.shared_segments_enabled:
        return SegmentListing(own=own, shared=[])
    shared = views(scope, segments.list_shared_in(scope.company_id, scope.project_id), with_evaluations=False)
    return SegmentListing(own=own, shared=shared)


@tracer.capture_method(capture_response=False)
def get_segment(scope: ProjectScope, segment_id: str) -> Segment | SharedSegmentView:
    """An own segment, or a shared-in one (403 FEATURE_DISABLED while the feature is off); NotFound otherwise.

    The company row is read only for a shared-in id, so reading an own segment costs no flag.
    """
    shared = segments.get_shared_in(scope.company_id, scope.project_id, segment_id) if is_shared_id(segment_id) else None
    if shared is not None:
        sharing.require_enabled(directory.shared_segments_on(scope.company_id))
        (view,) = views(scope, [shared], with_evaluations=False)
        return view
    return read_own(scope, segment_id)
