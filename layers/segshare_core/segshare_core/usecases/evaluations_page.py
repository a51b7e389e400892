"""Read a shared segment's evaluations: a page of them, newest first, or one by id (API.md "Evaluations")."""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.api import SharedSegmentScope
from segshare_core.domain import cursors
from segshare_core.domain.errors import NotFound
from segshare_core.domain.evaluations import Evaluation
from segshare_core.observability import tracer
from segshare_core.store import directory, evaluations


@dataclass(frozen=True, slots=True)
class EvaluationsPage:
    """Evaluations of the current share, latest ``started_at`` first; ``next_cursor`` None on the last page."""

    evaluations: list[Evaluation]
    next_cursor: str | None


@tracer.capture_method
def evaluations_page(scope: SharedSegmentScope, limit: int, cursor: str | None) -> EvaluationsPage:
    """Up to ``limit`` evaluations of the share in service, after ``cursor`` (the previous page's ``next_cursor``).

    Cursors are signed for this listing and bound to the share's generation (``domain.cursors``):
    a forged one or one of another listing raises InvalidCursor (400); one of a share that
    ended raises NotFound (404, API.md "Revoking and resharing").
    """
    shared = scope.shared
    key = directory.company_key(scope.company_id)
    listing = f"evaluations:{scope.project_id}:{shared.shared_segment_id}"
    after = cursors.decode_in(key, listing, shared.generation, cursor) if cursor else None
    page, last = evaluations.listing(scope.company_id, shared, limit, after)
    return EvaluationsPage(page, cursors.encode_in(key, listing, shared.generation, last) if last else None)


@tracer.capture_method
def evaluation(scope: SharedSegmentScope, evaluation_id: str) -> Evaluation:
    """One evaluation of the share in service; NotFound (404) for another share's or an unknown id."""
    found = evaluations.get(scope.company_id, scope.shared, evaluation_id)
    if found is None:
        raise NotFound(f"evaluation {evaluation_id!r} not found")
    return found
