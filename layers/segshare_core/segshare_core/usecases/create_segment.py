"""Create an own segment: a rule or a static list, validated as API.md's Segments section says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.ids import new_id
from segshare_core.domain.segments import Segment, validate_own_id, validate_rule, validate_static
from segshare_core.observability import logger, tracer
from segshare_core.store import segments

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@tracer.capture_method(capture_response=False)
def create_segment(
    scope: ProjectScope, name: str, segment_id: str | None, rule: dict[str, Any] | None, profile_ids: Sequence[object] | None
) -> Segment:
    """The new segment, version 1, shared with nobody.

    Exactly one of ``rule`` and ``profile_ids`` (422 otherwise); no id draws one (``s-...``);
    an id starting ``shared-`` is 422 (reserved for shared segments), an existing one 409
    ALREADY_EXISTS; a bad rule is 422 INVALID_RULE naming its path; a static list keeps its
    first occurrence of each id, at most 5,000 (domain.segments).
    """
    if (rule is None) == (profile_ids is None):
        raise InvalidInput("body: give either rule or profileIds")
    segment_id = segment_id or new_id("s")
    validate_own_id(segment_id)
    checked_rule = dict(validate_rule(rule)) if rule is not None else None
    checked_ids = validate_static(profile_ids) if profile_ids is not None else None
    segment = segments.create_segment(
        scope.company_id,
        scope.project_id,
        segment_id,
        name,
        rule=checked_rule,
        profile_ids=checked_ids,
        user_id=scope.caller.user_id,
    )
    logger.info("segment created", project_id=scope.project_id, segment_id=segment_id, kind=segment.kind)
    return segment
