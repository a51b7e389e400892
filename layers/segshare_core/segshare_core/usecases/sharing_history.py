"""A page of an own segment's sharing history as one caller may read it (API.md GET .../sharing/history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core.domain import cursors, sharing
from segshare_core.observability import tracer
from segshare_core.store import segments
from segshare_core.usecases.own_segments import own_for_sharing
from segshare_core.usecases.projects import company_projects

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class HistoryEntryView:
    """One accepted save: projects the reader cannot see are never named, only counted (domain.sharing.history_line)."""

    at: str
    user_id: str
    added: list[str]
    removed: list[str]
    hidden_added: int
    hidden_removed: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Saves newest first, and the signed cursor of the next page (None on the last)."""

    history: list[HistoryEntryView]
    next_cursor: str | None


@tracer.capture_method(capture_response=False)
def sharing_history(scope: ProjectScope, company_key: bytes, segment_id: str, limit: int, cursor: str | None) -> HistoryPage:
    """``limit`` saves (1 to 100) after ``cursor``, signed with ``company_key`` and bound to this segment's listing.

    A cursor of another listing or a forged one is 400 INVALID_CURSOR (domain.cursors); a
    shared-in id 409 CANNOT_RESHARE, an unknown one 404.
    """
    own_for_sharing(scope, segment_id)
    listing = f"history:{scope.project_id}:{segment_id}"
    after = cursors.decode(company_key, listing, cursor) if cursor else None
    changes, last = segments.history(scope.company_id, scope.project_id, segment_id, limit, after)
    visible = set(company_projects(scope.caller, scope.company_id).visible)
    entries = []
    for change in changes:
        line = sharing.history_line(change.added, change.removed, visible)
        entries.append(HistoryEntryView(change.at, change.user_id, line.added, line.removed, line.hidden_added, line.hidden_removed))
    return HistoryPage(history=entries, next_cursor=cursors.encode(company_key, listing, last) if last else None)
