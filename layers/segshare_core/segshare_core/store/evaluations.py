"""Evaluation records and the latest-succeeded pointer of each shared segment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import Conflict
from segshare_core.domain.evaluations import Evaluation, Trigger, new_evaluation_id
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.store.models import EvaluationRow, LatestRow, connection, project_pk

_LATEST = "LATEST"


def _pk(company_id: str, project_id: str, shared_id: str) -> str:
    return f"{project_pk(company_id, project_id)}#X#{shared_id}"


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


def start(company_id: str, project_id: str, shared_id: str, trigger: Trigger, *, evaluation_id: str | None = None) -> Evaluation:
    """Record a RUNNING evaluation."""
    moment = now()
    row = EvaluationRow(
        _pk(company_id, project_id, shared_id),
        f"E#{evaluation_id or new_evaluation_id(moment)}",
        trigger=trigger,
        status="RUNNING",
        started_at=moment,
    )
    try:
        row.save(condition=EvaluationRow.sk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"evaluation {row.sk.removeprefix('E#')!r} already exists", code="ALREADY_EXISTS") from exc
        raise
    return _evaluation(shared_id, row)


def _duration(started_at: datetime, finished_at: datetime) -> int:
    return int((finished_at - started_at).total_seconds() * 1000)


def succeed(
    company_id: str,
    project_id: str,
    shared_id: str,
    evaluation: Evaluation,
    summary: MatchSummary,
    result_key: str,
) -> Evaluation:
    """Mark SUCCEEDED and move the latest pointer together, once the results are complete in S3.

    Runs can overlap (a schedule tick and a manual run): the pointer only moves forward, to a
    run that started later than the one it holds (ids sort by start time). A run overtaken by
    a newer one is recorded SUCCEEDED and leaves the pointer on the newer result.
    """
    pk = _pk(company_id, project_id, shared_id)
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
    running = EvaluationRow.status == "RUNNING"
    forward = LatestRow.evaluation_id.does_not_exist() | (LatestRow.evaluation_id < evaluation.evaluation_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(row, actions=actions, condition=running)
            tx.save(LatestRow(pk, _LATEST, evaluation_id=evaluation.evaluation_id, result_key=result_key), condition=forward)
    except TransactWriteError as exc:
        if not _overtaken(exc, company_id, project_id, shared_id, evaluation.evaluation_id):
            raise
        row.update(actions=actions, condition=running)
    return get(company_id, project_id, shared_id, evaluation.evaluation_id) or evaluation


def _overtaken(exc: TransactWriteError, company_id: str, project_id: str, shared_id: str, evaluation_id: str) -> bool:
    """The switch was refused on a condition because a newer run already holds the pointer."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    if not any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons):
        return False
    latest = latest_succeeded(company_id, project_id, shared_id)
    return latest is not None and latest[0] > evaluation_id


def fail(company_id: str, project_id: str, shared_id: str, evaluation_id: str, error: str) -> Evaluation | None:
    """Mark a RUNNING evaluation FAILED; the latest pointer stays where it was."""
    pk = _pk(company_id, project_id, shared_id)
    try:
        row = EvaluationRow.get(pk, f"E#{evaluation_id}", consistent_read=True)
    except DoesNotExist:
        return None
    if row.status != "RUNNING":
        return _evaluation(shared_id, row)
    finished = now()
    row.update(
        actions=[
            EvaluationRow.status.set("FAILED"),
            EvaluationRow.finished_at.set(finished),
            EvaluationRow.duration_ms.set(_duration(row.started_at, finished)),
            EvaluationRow.error.set(error[:500]),
        ],
        condition=EvaluationRow.status == "RUNNING",
    )
    return _evaluation(shared_id, row)


def get(company_id: str, project_id: str, shared_id: str, evaluation_id: str) -> Evaluation | None:
    try:
        return _evaluation(shared_id, EvaluationRow.get(_pk(company_id, project_id, shared_id), f"E#{evaluation_id}", consistent_read=True))
    except DoesNotExist:
        return None


def listing(
    company_id: str, project_id: str, shared_id: str, limit: int, after: dict[str, Any] | None
) -> tuple[list[Evaluation], dict[str, Any] | None]:
    """Evaluations newest first: (page, position after it or None at the end)."""
    pk = _pk(company_id, project_id, shared_id)
    start = {"pk": {"S": pk}, "sk": {"S": str(after["sk"])}} if after else None
    result = EvaluationRow.query(
        pk, EvaluationRow.sk.startswith("E#"), scan_index_forward=False, limit=limit, last_evaluated_key=start, page_size=limit
    )
    page = [_evaluation(shared_id, row) for row in result]
    last = result.last_evaluated_key
    return page, ({"sk": last["sk"]["S"]} if last else None)


def newest(company_id: str, project_id: str, shared_id: str) -> Evaluation | None:
    page, _ = listing(company_id, project_id, shared_id, 1, None)
    return page[0] if page else None


def latest_succeeded(company_id: str, project_id: str, shared_id: str) -> tuple[str, str] | None:
    """(evaluation id, result key) of the evaluation members are served from, or None."""
    try:
        row = LatestRow.get(_pk(company_id, project_id, shared_id), _LATEST, consistent_read=True)
    except DoesNotExist:
        return None
    return row.evaluation_id, row.result_key


def result_key_of(company_id: str, project_id: str, shared_id: str, evaluation_id: str) -> str | None:
    try:
        row = EvaluationRow.get(_pk(company_id, project_id, shared_id), f"E#{evaluation_id}", consistent_read=True)
    except DoesNotExist:
        return None
    return row.result_key if row.status == "SUCCEEDED" else None
