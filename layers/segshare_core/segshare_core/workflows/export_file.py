"""Running an export (the queue worker) and finalising it (the S3 ObjectCreated event).

The worker evaluates the shared segment afresh (trigger ``export``). A share the cost model
calls small is evaluated inside the worker and its matched ids, in hand, go straight to the
file. A large one (``handoff.is_large``) is handed to the evaluation workflow with the
export's id; the worker records the evaluation on the export and returns, and the workflow,
once the evaluation ended, queues the export again: the worker then writes the file from the
stored result (read block by block) or records the export FAILED. Either way the target
project's own matched profiles are read by concurrent BatchGets and spooled to a temporary
file (memory stays flat in the row count, and the row count and columns are known before the
upload starts), then streamed to S3 as a multipart upload whose metadata carries the row
count. It never marks the export READY: the object's ObjectCreated event does, so an export
is never READY without its object.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from segshare_core.domain.errors import DomainError, RetryLater, ShareEnded
from segshare_core.domain.exports import CONTENT_TYPES, EXPORT_SHARE_ENDED, Export, columns, csv_lines, jsonl_lines
from segshare_core.domain.segments import SharedSegment
from segshare_core.observability import logger
from segshare_core.store import directory, evaluations, exports, profiles, results, segments
from segshare_core.store.errors import is_retryable
from segshare_core.workflows import evaluate_inline, handoff

SPOOL_IN_MEMORY_BYTES = 4 * 1024 * 1024


def _spool(company_id: str, project_id: str, matched: Iterable[str], spool: IO[str]) -> tuple[int, set[str]]:
    """Write one JSON line per matched profile still present, in id order; return (rows, attribute keys seen).

    The ids stream from the stored result; the profiles are read by concurrent BatchGets
    (``profiles.iter_profiles_by_id``): memory stays flat in the row count.
    """
    rows, keys = 0, set[str]()
    for profile in profiles.iter_profiles_by_id(company_id, project_id, matched):
        spool.write(json.dumps([profile.profile_id, dict(profile.attributes)]) + "\n")
        keys.update(profile.attributes)
        rows += 1
    return rows, keys


def _rows(spool: IO[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    spool.seek(0)
    for line in spool:
        profile_id, attributes = json.loads(line)
        yield profile_id, attributes


def run(company_id: str, project_id: str, export_id: str) -> Export | None:
    """Produce the export's object, or hand its evaluation to the workflow; on failure record FAILED.

    A PENDING export (the queue's first message) is evaluated inline, or, when the cost model
    calls the share large, started on the evaluation workflow (the export turns RUNNING with
    the evaluation's id and the message is done). An export that names its evaluation (the
    workflow's message at the end, or a retry) writes its file from that evaluation's stored
    result when it SUCCEEDED, waits (returns) while it is RUNNING, and is FAILED when it
    failed. Returns the export as it stands; throttling is re-raised (RetryLater) for a retry.
    """
    record = exports.get(company_id, project_id, export_id)
    if record is None or record.status not in ("PENDING", "RUNNING"):
        logger.info("export skipped", export_id=export_id, status=record.status if record else None)
        return record
    try:
        # Turned off after the request was accepted: no cross-project evaluation runs (as for the schedule).
        if not directory.shared_segments_on(company_id):
            raise DomainError("shared segments were turned off for this company before the export ran")
        shared = _current_share(company_id, record)
        if shared is None:
            raise DomainError(EXPORT_SHARE_ENDED)
        if record.evaluation_id:
            if not _write_from_evaluation(company_id, shared, record, record.evaluation_id):
                return record
        elif handoff.is_large(handoff.predict(company_id, shared)):
            running = evaluations.start(company_id, shared, "export")
            if not exports.mark_running(company_id, project_id, export_id, running.evaluation_id):
                # The export ended meanwhile (dead-lettered, expired): its evaluation is not worth running.
                evaluations.fail(company_id, shared, running.evaluation_id, "the export ended before its evaluation started")
                return exports.get(company_id, project_id, export_id)
            handoff.start_running(company_id, shared, running, export_id=export_id)
            logger.info("export evaluation handed off", export_id=export_id, evaluation_id=running.evaluation_id)
        else:
            if not exports.mark_running(company_id, project_id, export_id):
                # The export ended meanwhile (dead-lettered, expired): nothing to evaluate for.
                logger.info("export ended before its evaluation", export_id=export_id)
                return exports.get(company_id, project_id, export_id)
            done, matched = evaluate_inline.evaluate_with_members(company_id, shared, "export")
            if done.status != "SUCCEEDED" or matched is None:
                raise DomainError(f"the evaluation failed: {done.error or 'unknown error'}")
            _write(company_id, record, done.evaluation_id, matched)
    except RetryLater:
        raise
    except DomainError as exc:
        exports.mark_failed(company_id, project_id, export_id, exc.message)
    except Exception as exc:
        if is_retryable(exc):
            raise RetryLater() from exc
        logger.exception("export failed", export_id=export_id)
        exports.mark_failed(company_id, project_id, export_id, "the export failed while writing the file; start a new export")
    return exports.get(company_id, project_id, export_id)


def _write_from_evaluation(company_id: str, shared: SharedSegment, record: Export, evaluation_id: str) -> bool:
    """Write the file from the named evaluation's stored result; False while that evaluation still runs.

    Raises DomainError when the evaluation failed or is gone (the export then fails with it).
    """
    evaluation = evaluations.get(company_id, shared, evaluation_id)
    if evaluation is None:
        raise DomainError("the export's evaluation is gone; start a new export")
    if evaluation.status == "RUNNING":
        # The workflow queues the export again when the evaluation ends (or it times out to FAILED).
        logger.info("export waits for its evaluation", export_id=record.export_id, evaluation_id=evaluation_id)
        return False
    if evaluation.status != "SUCCEEDED":
        raise DomainError(f"the evaluation failed: {evaluation.error or 'unknown error'}")
    # An export's own evaluation stores its result under its own id (never a reused one).
    key = results.result_key(company_id, record.project_id, record.shared_segment_id, evaluation_id)
    _write(company_id, record, evaluation_id, results.open(key).iter_ids())
    return True


def _write(company_id: str, record: Export, evaluation_id: str, matched: Iterable[str]) -> None:
    """Spool the matched profiles still present, then stream the file to S3 (the finaliser marks it READY).

    Writes nothing when the export is no longer RUNNING (``exports.mark_uploading`` is False):
    another delivery of its message already wrote it (READY), or it ended meanwhile (FAILED by
    the dead-letter handler, or gone). A second file would replace the one a READY export's row
    count and size describe, or leave an object no export owns.
    """
    project_id, export_id = record.project_id, record.export_id
    key = exports.object_key(company_id, project_id, export_id, record.format)
    if not exports.mark_uploading(company_id, project_id, export_id, evaluation_id, key):
        logger.info("export no longer running: file not written", export_id=export_id)
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+", encoding="utf-8") as spool:
        row_count, keys = _spool(company_id, project_id, matched, spool)
        requested = list(record.attributes) if record.attributes is not None else None
        lines = csv_lines(columns(requested, keys), _rows(spool)) if record.format == "csv" else jsonl_lines(requested, _rows(spool))
        size = exports.upload(key, lines, CONTENT_TYPES[record.format], {"row-count": str(row_count), "export-id": export_id})
    logger.info("export uploaded", export_id=export_id, rows=row_count, bytes=size)


def _current_share(company_id: str, record: Export) -> SharedSegment | None:
    """The export's share while the generation it was made under is still the live one."""
    shared = segments.get_shared_in(company_id, record.project_id, record.shared_segment_id)
    return shared if shared is not None and shared.generation == record.generation else None


def finalise(key: str) -> bool:
    """An export object landed: mark its export READY with row count, bytes and time.

    READY is written in one transaction with a check that the export's share generation is
    still current; an export whose share ended is FAILED instead and never gets a link. An
    object that no export record is writing is ignored (and logged).
    """
    parsed = exports.parse_object_key(key)
    if parsed is None:
        logger.warning("object is not an export", key_prefix=key.split("/", 1)[0])
        return False
    company_id, project_id, export_id = parsed
    facts = exports.object_facts(key)
    if facts is None:
        logger.warning("export object vanished before finalising", export_id=export_id)
        return False
    row_count, size = facts
    record = exports.get(company_id, project_id, export_id)
    if record is None:
        logger.warning("object has no export record waiting for it", export_id=export_id)
        return False
    shared = _current_share(company_id, record)
    try:
        if shared is None:
            raise ShareEnded(EXPORT_SHARE_ENDED)
        ready = exports.mark_ready(company_id, shared, export_id, key, row_count, size)
    except ShareEnded:
        if exports.mark_failed(company_id, project_id, export_id, EXPORT_SHARE_ENDED):
            logger.info("export failed: share ended", export_id=export_id)
        return False
    if not ready:
        logger.warning("object has no export record waiting for it", export_id=export_id)
        return False
    logger.info("export ready", export_id=export_id, rows=row_count, bytes=size)
    return True
