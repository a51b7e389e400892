"""An own segment of the scope's project, told apart from a segment shared into it.

Shared-in ids start with ``shared-`` (domain.segments); what a route answers for one differs
(a re-share is 409 CANNOT_RESHARE, an edit 409 CANNOT_EDIT_SHARED, a delete 403), so this
module only reads, and each use case raises its own error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segshare_core.domain.errors import Conflict, NotFound
from segshare_core.domain.segments import Segment, is_shared_id
from segshare_core.store import segments

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope

#: A save (edit, delete, sharing) that lost a race is re-applied on fresh state this many times before 409.
SAVE_ATTEMPTS = 5


def is_shared_in(scope: ProjectScope, segment_id: str) -> bool:
    """Whether ``segment_id`` names a segment shared into the scope's project (one GetItem, only for a shared- id)."""
    return is_shared_id(segment_id) and segments.get_shared_in(scope.company_id, scope.project_id, segment_id) is not None


def read_own(scope: ProjectScope, segment_id: str) -> Segment:
    """The project's own segment (consistent read); NotFound when there is none."""
    segment = segments.get_segment(scope.company_id, scope.project_id, segment_id)
    if segment is None:
        raise NotFound(f"segment {segment_id!r} not found")
    return segment


def own_for_sharing(scope: ProjectScope, segment_id: str) -> Segment:
    """The own segment whose Sharing tab is asked for; a shared-in id is a re-share (409 CANNOT_RESHARE, API.md)."""
    if is_shared_in(scope, segment_id):
        raise Conflict("a segment shared into this project cannot be shared on", code="CANNOT_RESHARE")
    return read_own(scope, segment_id)
