"""Delete an own segment, revoking its shares only when asked to and allowed to (API.md DELETE)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segshare_core.domain import sharing
from segshare_core.domain.errors import Conflict, Forbidden
from segshare_core.observability import logger, tracer
from segshare_core.store import segments
from segshare_core.usecases.own_segments import SAVE_ATTEMPTS, is_shared_in, read_own
from segshare_core.usecases.projects import company_projects

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@tracer.capture_method(capture_response=False)
def delete_segment(scope: ProjectScope, segment_id: str, *, force: bool) -> None:
    """Delete the segment and every share of it in one transaction.

    A shared-in id is 403 (its source deletes it); unknown is 404; a shared segment without
    ``force`` is 409 SEGMENT_SHARED carrying ``sharedWithCount``; with ``force``, a caller that
    cannot see every project it is shared with is 403 (a share is never removed by someone who
    cannot see it, domain.sharing). A lost race is retried on fresh state (SAVE_ATTEMPTS).
    """
    if is_shared_in(scope, segment_id):
        raise Forbidden("a shared segment is deleted by its source project, or unshared from its Sharing tab")
    for _attempt in range(SAVE_ATTEMPTS):
        segment = read_own(scope, segment_id)
        if segment.shared_with and not force:
            raise Conflict(
                f"segment is shared with {len(segment.shared_with)} project(s); delete with force=true to revoke them",
                code="SEGMENT_SHARED",
                sharedWithCount=len(segment.shared_with),
            )
        # An unshared segment needs no look at the projects (one Query saved).
        visible = set(company_projects(scope.caller, scope.company_id).visible) if segment.shared_with else set()
        if not sharing.can_force_delete(segment.shared_with, visible):
            raise Forbidden("the segment is shared with projects you cannot see; a company admin can delete it")
        try:
            segments.delete_segment(scope.company_id, segment)
        except segments.VersionMoved:
            continue
        logger.info("segment deleted", project_id=scope.project_id, segment_id=segment_id, revoked=len(segment.shared_with))
        return
    raise Conflict("the segment changed while deleting it; try again", code="VERSION_CONFLICT")
