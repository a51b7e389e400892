"""Read exports: one with its download link once READY, or a page of a shared segment's exports (API.md "Exports")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from segshare_core import config
from segshare_core.api import ProjectScope, SharedSegmentScope
from segshare_core.domain import cursors
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import NotFound
from segshare_core.domain.exports import Export
from segshare_core.domain.filenames import file_name
from segshare_core.domain.segments import SharedSegment
from segshare_core.observability import tracer
from segshare_core.store import directory, evaluations, exports, segments


@dataclass(frozen=True, slots=True)
class ExportsPage:
    """Exports of the current share, newest first; ``next_cursor`` None on the last page."""

    exports: list[Export]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class DownloadLink:
    """A presigned GET of a READY export's file (``url``) and when it stops working (``expires_at``, ISO-8601 UTC)."""

    url: str
    expires_at: str


@tracer.capture_method
def export_with_link(scope: ProjectScope, export_id: str) -> tuple[Export, DownloadLink | None]:
    """The project's export and, once it is READY, a download link (None before).

    An export is served only while the share generation it was made under is current (API.md
    "Revoking and resharing"): after an unshare, even a reshare, it is NotFound (404) and no
    link is issued. The link is issued here only, after the caller's access was checked, and
    lasts ``config.DOWNLOAD_URL_SECONDS`` (at most 15 minutes, API.md). The file downloads as
    "<segment name> <day>.<format>" (issue 17 item 10), never the export id.
    """
    export = exports.get(scope.company_id, scope.project_id, export_id)
    shared = segments.get_shared_in(scope.company_id, scope.project_id, export.shared_segment_id) if export else None
    if export is None or shared is None or shared.generation != export.generation:
        raise NotFound(f"export {export_id!r} not found")
    if export.status == "RUNNING" and export.evaluation_id and not export.object_key:
        export = _failed_with_its_evaluation(scope.company_id, shared, export)
    if export.status != "READY" or not export.object_key:
        return export, None
    expires_at = iso(now() + timedelta(seconds=config.DOWNLOAD_URL_SECONDS))
    day = (export.ready_at or export.created_at)[:10]
    # Named after the segment as it is called now (a rename shows at once, API.md PATCH), not the grant's copy.
    (named,) = segments.with_source_names(scope.company_id, [shared])
    return export, DownloadLink(exports.download_url(export.object_key, file_name(named.name, day, export.format)), expires_at)


def _failed_with_its_evaluation(company_id: str, shared: SharedSegment, export: Export) -> Export:
    """The export as it stands once its workflow's evaluation is read: FAILED with it if that evaluation failed.

    A large export waits RUNNING for the evaluation workflow to queue it again at its end. A
    workflow that died before its last state queues nothing, but its evaluation reads FAILED
    ("timed out") 15 minutes after its start (``store.evaluations``): the export is FAILED with
    it at its next read, not at the 4-hour rule (``domain.exports.EXPORT_DEADLINE``). FAILED is
    written only while the export is still RUNNING, so a worker that got there first wins.
    """
    evaluation = evaluations.get(company_id, shared, export.evaluation_id) if export.evaluation_id else None
    if evaluation is None or evaluation.status != "FAILED":
        return export
    exports.mark_failed(company_id, export.project_id, export.export_id, f"the evaluation failed: {evaluation.error or 'unknown error'}")
    return exports.get(company_id, export.project_id, export.export_id) or export


@tracer.capture_method
def exports_page(scope: SharedSegmentScope, limit: int, cursor: str | None) -> ExportsPage:
    """Up to ``limit`` exports of the share in service, newest first, after ``cursor``.

    Raises InvalidCursor (400) for a forged cursor or one of another listing, NotFound (404)
    for one of a share that ended (``domain.cursors``).
    """
    shared = scope.shared
    key = directory.company_key(scope.company_id)
    listing = f"exports:{scope.project_id}:{shared.shared_segment_id}"
    after = str(cursors.decode_in(key, listing, shared.generation, cursor).get("exportId", "")) if cursor else None
    page, last = exports.list_for(scope.company_id, shared, limit, after or None)
    return ExportsPage(page, cursors.encode_in(key, listing, shared.generation, {"exportId": last}) if last else None)
