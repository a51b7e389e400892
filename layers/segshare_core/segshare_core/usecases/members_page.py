"""A page of a shared segment's members: the target project's own profiles the result in service matched.

Only the page's block(s) of the stored result and the page's profiles are read (issue 14
item 4): the result's blocks from S3 by range, the profiles by one BatchGet per 100 ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.api import SharedSegmentScope
from segshare_core.domain import cursors
from segshare_core.domain.errors import Conflict, NotFound
from segshare_core.domain.profiles import Profile
from segshare_core.observability import tracer
from segshare_core.store import directory, evaluations, profiles, results


@dataclass(frozen=True, slots=True)
class MembersPage:
    """One page: the evaluation it comes from, its profiles (result order) and the cursor of the next (None on the last)."""

    evaluation_id: str
    members: list[Profile]
    next_cursor: str | None


@tracer.capture_method
def members_page(scope: SharedSegmentScope, limit: int, cursor: str | None) -> MembersPage:
    """Up to ``limit`` members of the latest succeeded evaluation, or of the one ``cursor`` pages through.

    Pages on through the evaluation the first page came from, even if a newer one landed since,
    never through one of a share that ended. A profile deleted since the evaluation is left out
    (the page still advances by ``limit``, so cursors stay stable). Raises Conflict
    ``NOT_EVALUATED`` (409) with no succeeded evaluation yet, NotFound (404) when the cursor's
    evaluation or share is gone, InvalidCursor (400) for a forged cursor (API.md "Evaluations").
    """
    shared = scope.shared
    key = directory.company_key(scope.company_id)
    listing = f"members:{scope.project_id}:{shared.shared_segment_id}"
    if cursor:
        position = cursors.decode_in(key, listing, shared.generation, cursor)
        evaluation_id, offset = str(position["e"]), int(position["o"])
        result_key = evaluations.result_key_of(scope.company_id, shared, evaluation_id)
        if result_key is None:
            raise NotFound("the evaluation this cursor pages through is gone; start again without a cursor")
    else:
        latest = evaluations.latest_succeeded(scope.company_id, shared)
        if latest is None:
            raise Conflict("this shared segment has no succeeded evaluation yet; evaluate it first", code="NOT_EVALUATED")
        (evaluation_id, result_key), offset = latest, 0
    page = results.page(result_key, offset=offset, limit=limit)
    found = profiles.get_profiles(scope.company_id, scope.project_id, page.ids)
    end = offset + limit
    next_cursor = cursors.encode_in(key, listing, shared.generation, {"e": evaluation_id, "o": end}) if end < page.count else None
    return MembersPage(evaluation_id, [found[p] for p in page.ids if p in found], next_cursor)
