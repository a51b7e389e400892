"""Edit an own segment's name, rule or static list (API.md PATCH), optimistically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segshare_core.domain.errors import BadRequest, Conflict
from segshare_core.domain.segments import Segment, validate_rule, validate_static
from segshare_core.observability import logger, tracer
from segshare_core.store import segments
from segshare_core.usecases.own_segments import SAVE_ATTEMPTS, is_shared_in, read_own

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@tracer.capture_method(capture_response=False)
def edit_segment(
    scope: ProjectScope,
    segment_id: str,
    *,
    name: str | None,
    rule: dict[str, Any] | None,
    profile_ids: Sequence[object] | None,
    version: int | None,
) -> Segment:
    """The segment after the edit; what is None stays as it is.

    Validated as on create (rule errors 422 with their path, static list limits). The kind
    stays: a ``rule`` for a static segment or ``profile_ids`` for a rule segment is 400
    CANNOT_CHANGE_KIND. A shared-in id is 409 CANNOT_EDIT_SHARED, an unknown one 404. With
    ``version``, an edit made on a stale read is 409 VERSION_CONFLICT; without it, a lost race
    is re-applied on fresh state (up to SAVE_ATTEMPTS reads), as the Sharing tab's save does.
    Nothing to change is no write (the version stays). Shares and their history are not touched.
    """
    if is_shared_in(scope, segment_id):
        raise Conflict("a segment shared into this project is edited by its source project", code="CANNOT_EDIT_SHARED")
    checked_rule = dict(validate_rule(rule)) if rule is not None else None
    checked_ids = validate_static(profile_ids) if profile_ids is not None else None
    for _attempt in range(SAVE_ATTEMPTS):
        segment = read_own(scope, segment_id)
        if version is not None and version != segment.version:
            raise Conflict(f"version {version} is stale; the segment is at version {segment.version}", code="VERSION_CONFLICT")
        if (checked_rule is not None and segment.kind == "static") or (checked_ids is not None and segment.kind == "rule"):
            field = "rule" if checked_rule is not None else "profileIds"
            raise BadRequest(f"{field}: a {segment.kind} segment stays {segment.kind}; create a new segment", code="CANNOT_CHANGE_KIND")
        if name is None and checked_rule is None and checked_ids is None:
            return segment
        try:
            edited = segments.edit_segment(scope.company_id, segment, name=name, rule=checked_rule, profile_ids=checked_ids)
        except segments.VersionMoved:
            if version is not None:
                raise Conflict("another edit landed first; reload the segment", code="VERSION_CONFLICT") from None
            continue  # no version sent: apply this caller's change on the fresh state
        logger.info("segment edited", project_id=scope.project_id, segment_id=segment_id, kind=edited.kind, version=edited.version)
        return edited
    raise Conflict("the segment kept changing while saving; try again", code="VERSION_CONFLICT")
