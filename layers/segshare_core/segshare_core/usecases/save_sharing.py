"""Save the Sharing tab: the caller's ticks applied, the shares it cannot see kept (API.md PUT .../sharing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from segshare_core.domain import sharing
from segshare_core.domain.errors import Conflict
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import segments
from segshare_core.usecases.own_segments import SAVE_ATTEMPTS, own_for_sharing
from segshare_core.usecases.projects import company_projects
from segshare_core.usecases.sharing_tab import SharingTab, tab_of

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@tracer.capture_method(capture_response=False)
def save_sharing(scope: ProjectScope, segment_id: str, project_ids: Iterable[str], version: int | None) -> SharingTab:
    """The tab after the save: shared with (hidden current shares) | (requested & visible), domain.sharing.plan_save.

    The segment's ``shared_with``, the targets' share items and a history line are written in
    one transaction conditioned on the share version read. With ``version``, a stale read or a
    lost race is 409 VERSION_CONFLICT; without it, a lost race is re-applied on fresh state (up
    to SAVE_ATTEMPTS), so a hidden share is never lost. Every accepted save moves the version
    and is recorded, even one that changes no share (API.md): a concurrent editor then learns
    the tab was saved under it. Refusals: a project the caller cannot access 403, the source
    itself 400 INVALID_TARGET, over 45 changes 400 TOO_MANY_CHANGES, a shared-in id 409
    CANNOT_RESHARE, an unknown one 404.
    """
    requested = list(project_ids)
    projects = company_projects(scope.caller, scope.company_id)
    visible = set(projects.visible)
    for _attempt in range(SAVE_ATTEMPTS):
        segment = own_for_sharing(scope, segment_id)
        if version is not None and version != segment.share_version:
            raise Conflict(f"version {version} is stale; the segment is at version {segment.share_version}", code="VERSION_CONFLICT")
        plan = sharing.plan_save(segment.shared_with, visible, requested, scope.project_id)
        try:
            saved = segments.save_sharing(scope.company_id, segment, plan, scope.caller.user_id)
        except segments.VersionMoved:
            if version is not None:
                raise Conflict("another save landed first; reload the Sharing tab", code="VERSION_CONFLICT") from None
            continue  # no version sent: re-apply this caller's change on the fresh state
        logger.info("share updated", segment_id=segment_id, added=len(plan.added), removed=len(plan.removed), version=saved.share_version)
        metrics.add_metric(name="SharesChanged", unit="Count", value=len(plan.added) + len(plan.removed))
        return tab_of(saved, projects)
    raise Conflict("the segment kept changing while saving; try again", code="VERSION_CONFLICT")
