"""Evaluation records, the result in service (LATEST pointer) and schedule-tick claims of a share.

Everything lives in the partition of one share *generation* (``...#X#<sharedSegmentId>#G#<gen>``):
a reshare mints a new generation, so the evaluations, pointer and claims of an ended share are
never listed or served, without deleting or remembering them (API.md "Revoking and resharing").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import Conflict
from segshare_core.domain.evaluations import (
    RUNNING_DEADLINE,
    SHARE_ENDED,
    TIMED_OUT,
    Evaluation,
    Trigger,
    new_evaluation_id,
    timed_out,
)
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.domain.segments import SharedSegment
from segshare_core.store import segments
from segshare_core.store.models import EvaluationRow, LatestRow, TickClaimRow, connection, project_pk

_LATEST = "LATEST"


class ShareEnded(Exception):
    """The share's generation was no longer current when a commit was tried."""


def _pk(company_id: str, shared: SharedSegment) -> str:
    return f"{project_pk(company_id, shared.target_project_id)}#X#{shared.shared_segment_id}#G#{shared.generation}"


def _evaluation(shared_id: str, row: EvaluationRow) -> Evaluation:
    return Evaluation(
        evaluation_id=row.sk.removeprefix("E#"),
        shared_segment_id=shared_id,
        trigger=row.trigger,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        started_at=iso(row.started_at),
        finished_at=iso(row.finished_at) if row.finished_at else None,
        duration_ms=int(row.duration_ms) if row.duration_ms is not None else None,
        target_profiles=int(row.target_profiles) if row.target_profiles is not None else None,
        matched_profiles=int(row.matched_profiles) if row.matched_profiles is not None else None,
        matched_devices=int(row.matched_devices) if row.matched_devices is not None else None,
        matched_by_platform=dict(row.matched_by_platform or {}),
        error=row.error,
    )


def _cancelled(exc: TransactWriteError) -> list[bool]:
    """Per item of the cancelled transaction, in pynamodb's request order: did its condition fail?"""
    return [r is not None and r.code == "ConditionalCheckFailed" for r in getattr(exc, "cancellation_reasons", None) or []]


def _running_row(company_id: str, shared: SharedSegment, trigger: Trigger) -> EvaluationRow:
    moment = now()
    # The id carries the same millisecond as startedAt, so the sort key orders by startedAt.
    return EvaluationRow(_pk(company_id, shared), f"E#{new_evaluation_id(moment)}", trigger=trigger, status="RUNNING", started_at=moment)


def start(company_id: str, shared: SharedSegment, trigger: Trigger) -> Evaluation:
    """Record a RUNNING evaluation of the share's current generation; its id sorts by its start."""
    row = _running_row(company_id, shared, trigger)
    row.save(condition=EvaluationRow.sk.does_not_exist())
    return _evaluation(shared.shared_segment_id, row)


def start_for_tick(company_id: str, shared: SharedSegment, tick: str) -> Evaluation:
    """Claim ``tick`` for this share generation and record a RUNNING ``schedule`` evaluation, together.

    Conflict ``ALREADY_EXISTS`` when the tick was claimed before (another execution of the same
    tick): a tick evaluates a share once. The tick is only a dedup key: the evaluation's id and
    order come from its own start time, so a tick in the past or future orders nothing.
    """
    row = _running_row(company_id, shared, "schedule")
    claim = TickClaimRow(row.pk, f"TICK#{tick[:64]}", evaluation_id=row.sk.removeprefix("E#"))
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(claim, condition=TickClaimRow.sk.does_not_exist())
            tx.save(row, condition=EvaluationRow.sk.does_not_exist())
    except TransactWriteError as exc:
        if any(_cancelled(exc)):
            raise Conflict(f"tick {tick[:64]!r} already evaluated this share", code="ALREADY_EXISTS") from exc
        raise
    return _evaluation(shared.shared_segment_id, row)


def claimed_by_tick(company_id: str, shared: SharedSegment, tick: str) -> str | None:
    """The id of the evaluation a tick started for this share generation, or None."""
    try:
        return str(TickClaimRow.get(_pk(company_id, shared), f"TICK#{tick[:64]}", consistent_read=True).evaluation_id)
    except DoesNotExist:
        return None


def _duration(started_at: datetime, finished_at: datetime) -> int:
    return int((finished_at - started_at).total_seconds() * 1000)


def succeed(
    company_id: str,
    shared: SharedSegment,
    evaluation: Evaluation,
    summary: MatchSummary,
    result_key: str,
) -> Evaluation:
    """Mark SUCCEEDED and move the pointer in one transaction, once the results are complete in S3.

    The transaction is conditioned on the share's generation being current (a ConditionCheck
    on the share item): a share that ended meanwhile makes the run FAILED with SHARE_ENDED, and
    its result is never served. The pointer only moves to a run that started later (ids sort by
    startedAt, ties by id): a run overtaken by a newer one is SUCCEEDED and leaves the pointer.
    A run past its deadline is FAILED already (or is made so) and commits nothing.
    """
    pk = _pk(company_id, shared)
    row = EvaluationRow.get(pk, f"E#{evaluation.evaluation_id}", consistent_read=True)
    finished = now()
    actions: list[Action] = [
        EvaluationRow.status.set("SUCCEEDED"),
        EvaluationRow.finished_at.set(finished),
        EvaluationRow.duration_ms.set(_duration(row.started_at, finished)),
        EvaluationRow.target_profiles.set(summary.target_profiles),
        EvaluationRow.matched_profiles.set(summary.matched_profiles),
        EvaluationRow.matched_devices.set(summary.matched_devices),
        EvaluationRow.matched_by_platform.set(summary.matched_by_platform),
        EvaluationRow.result_key.set(result_key),
    ]
    running = (EvaluationRow.status == "RUNNING") & (EvaluationRow.started_at > finished - RUNNING_DEADLINE)
    forward = LatestRow.evaluation_id.does_not_exist() | (LatestRow.evaluation_id < evaluation.evaluation_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.update(row, actions=actions, condition=running)
            tx.save(LatestRow(pk, _LATEST, evaluation_id=evaluation.evaluation_id, result_key=result_key), condition=forward)
    except TransactWriteError as exc:
        failed = _cancelled(exc)
        if not any(failed):
            raise
        # pynamodb sends condition checks first, then deletes, puts and updates; the reasons follow.
        share_ended, overtaken, not_running = (failed + [False] * 3)[:3]
        if share_ended:
            return fail(company_id, shared, evaluation.evaluation_id, SHARE_ENDED) or evaluation
        if not_running:
            return get(company_id, shared, evaluation.evaluation_id) or evaluation
        if overtaken:
            _succeed_without_pointer(company_id, shared, row, actions, running)
    return get(company_id, shared, evaluation.evaluation_id) or evaluation


def _succeed_without_pointer(company_id: str, shared: SharedSegment, row: EvaluationRow, actions: list[Action], running: Any) -> None:
    """An overtaken run is recorded SUCCEEDED (still only while its share is current)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.update(row, actions=actions, condition=running)
    except TransactWriteError as exc:
        failed = _cancelled(exc)
        if not any(failed):
            raise
        if failed[0]:  # the share check (condition checks come first)
            fail(company_id, shared, row.sk.removeprefix("E#"), SHARE_ENDED)


def fail(company_id: str, shared: SharedSegment, evaluation_id: str, error: str) -> Evaluation | None:
    """Mark a RUNNING evaluation FAILED (conditioned on it still RUNNING); the pointer stays."""
    try:
        row = EvaluationRow.get(_pk(company_id, shared), f"E#{evaluation_id}", consistent_read=True)
    except DoesNotExist:
        return None
    return _evaluation(shared.shared_segment_id, _mark_failed(row, error))


def _mark_failed(row: EvaluationRow, error: str) -> EvaluationRow:
    if row.status != "RUNNING":
        return row
    finished = now()
    try:
        row.update(
            actions=[
                EvaluationRow.status.set("FAILED"),
                EvaluationRow.finished_at.set(finished),
                EvaluationRow.duration_ms.set(_duration(row.started_at, finished)),
                EvaluationRow.error.set(error[:500]),
            ],
            condition=EvaluationRow.status == "RUNNING",
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        row.refresh(consistent_read=True)  # it ended meanwhile: read how
    return row


def _read(row: EvaluationRow) -> EvaluationRow:
    """A RUNNING row past its deadline is written FAILED (only if still RUNNING) and read so."""
    if timed_out(row.status, row.started_at, now()):
        return _mark_failed(row, TIMED_OUT)
    return row


def get(company_id: str, shared: SharedSegment, evaluation_id: str) -> Evaluation | None:
    """One evaluation of the share's current generation, or None (also for an ended generation's)."""
    try:
        row = EvaluationRow.get(_pk(company_id, shared), f"E#{evaluation_id}", consistent_read=True)
    except DoesNotExist:
        return None
    return _evaluation(shared.shared_segment_id, _read(row))


def listing(
    company_id: str, shared: SharedSegment, limit: int, after: dict[str, Any] | None
) -> tuple[list[Evaluation], dict[str, Any] | None]:
    """The current generation's evaluations, latest startedAt first: (page, position after it or None)."""
    pk = _pk(company_id, shared)
    start_key = {"pk": {"S": pk}, "sk": {"S": str(after["sk"])}} if after else None
    result = EvaluationRow.query(
        pk,
        EvaluationRow.sk.startswith("E#"),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
        page_size=limit,
        consistent_read=True,
    )
    page = [_evaluation(shared.shared_segment_id, _read(row)) for row in result]
    last = result.last_evaluated_key
    return page, ({"sk": last["sk"]["S"]} if last else None)


def latest_succeeded(company_id: str, shared: SharedSegment) -> tuple[str, str] | None:
    """(evaluation id, result key) of the result in service: the SUCCEEDED run that started last."""
    try:
        row = LatestRow.get(_pk(company_id, shared), _LATEST, consistent_read=True)
    except DoesNotExist:
        return None
    return row.evaluation_id, row.result_key


def in_service(company_id: str, shared: SharedSegment) -> Evaluation | None:
    """The evaluation the pointer names (API.md: the shared segment's ``lastEvaluation``), or None."""
    latest = latest_succeeded(company_id, shared)
    return get(company_id, shared, latest[0]) if latest else None


def result_key_of(company_id: str, shared: SharedSegment, evaluation_id: str) -> str | None:
    """The result key of a SUCCEEDED evaluation of the current generation, or None."""
    try:
        row = EvaluationRow.get(_pk(company_id, shared), f"E#{evaluation_id}", consistent_read=True)
    except DoesNotExist:
        return None
    return row.result_key if row.status == "SUCCEEDED" else None
