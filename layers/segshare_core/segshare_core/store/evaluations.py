"""Evaluation records, the result in service (LATEST pointer) and schedule-tick claims of a share.

Everything lives in the partition of one share *generation* (``...#X#<sharedSegmentId>#G#<gen>``):
a reshare mints a new generation, so the evaluations, pointer and claims of an ended share are
never listed or served, without deleting or remembering them (API.md "Revoking and resharing").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import boto3
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from segshare_core import config
from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import AlreadyExists, InFlight, ResultMoved, ShareEnded
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
from segshare_core.observability import logger
from segshare_core.store import keys, results, segments
from segshare_core.store.errors import condition_failed, failed_conditions
from segshare_core.store.models import EvaluationRow, LatestRow, LeaseRow, TickClaimRow, connection

#: The S3 object tag the bucket's lifecycle rule ``expire-retired-results`` expires on (template.yaml).
RETIRED_TAG = {"Key": "segshare-retired", "Value": "true"}


def _pk(company_id: str, shared: SharedSegment) -> str:
    return keys.evaluation_pk(company_id, shared.target_project_id, shared.shared_segment_id, shared.generation)


def _evaluation(shared_id: str, row: EvaluationRow) -> Evaluation:
    return Evaluation(
        evaluation_id=keys.evaluation_id_of(row.sk),
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
        reused=bool(row.reused),
    )


def _expires(moment: datetime) -> int:
    """The TTL attribute: epoch seconds EVALUATION_RETENTION_DAYS after ``moment`` (template: the table's TTL)."""
    return int((moment + timedelta(days=config.EVALUATION_RETENTION_DAYS)).timestamp())


@cache
def _s3() -> Any:
    return boto3.client("s3")


def retire_result(key: str) -> None:
    """Tag a result object no longer in service; S3's lifecycle expires it after ResultRetentionDays.

    Best effort: a result left untagged is only kept longer, never served wrongly, so a failure
    is logged and not raised.
    """
    try:
        for object_key in results.object_keys(key):
            _s3().put_object_tagging(Bucket=config.DATA_BUCKET, Key=object_key, Tagging={"TagSet": [RETIRED_TAG]})
    except Exception:
        logger.warning("result could not be tagged retired", exc_info=True)


def _running_row(company_id: str, shared: SharedSegment, trigger: Trigger) -> EvaluationRow:
    moment = now()
    # The id carries the same millisecond as startedAt, so the sort key orders by startedAt.
    return EvaluationRow(
        _pk(company_id, shared),
        keys.evaluation_sk(new_evaluation_id(moment)),
        trigger=trigger,
        status="RUNNING",
        started_at=moment,
        expires_at=_expires(moment),
    )


def start(company_id: str, shared: SharedSegment, trigger: Trigger) -> Evaluation:
    """Record a RUNNING evaluation of the share's current generation; its id sorts by its start."""
    row = _running_row(company_id, shared, trigger)
    row.save(condition=EvaluationRow.sk.does_not_exist())
    return _evaluation(shared.shared_segment_id, row)


def _lease_free(moment: datetime) -> Any:
    """No scheduled run holds the share: no lease, or one whose run is past RUNNING_DEADLINE (dead)."""
    return LeaseRow.sk.does_not_exist() | (LeaseRow.started_at < moment - RUNNING_DEADLINE)


def _tick_conflict(tick: str, claim_failed: bool, lease_failed: bool, exc: Exception) -> AlreadyExists | InFlight:
    if claim_failed:
        return AlreadyExists(f"tick {tick[: keys.TICK_CHARS]!r} already evaluated this share")
    if lease_failed:
        return InFlight("an earlier tick is still evaluating this share")
    raise exc


def start_for_tick(company_id: str, shared: SharedSegment, tick: str) -> Evaluation:
    """Claim ``tick``, take the share's lease and record a RUNNING ``schedule`` evaluation, together.

    AlreadyExists when the tick was claimed before (another execution of the same
    tick): a tick evaluates a share once. InFlight when an earlier tick's run still
    holds the lease (younger than RUNNING_DEADLINE): ticks never evaluate a share twice at once
    (issue 15 item 3); ``release`` frees it. The tick is only a dedup key: the evaluation's id
    and order come from its own start time.
    """
    row = _running_row(company_id, shared, "schedule")
    evaluation_id = keys.evaluation_id_of(row.sk)
    claim = TickClaimRow(row.pk, keys.tick_sk(tick), evaluation_id=evaluation_id, expires_at=row.expires_at)
    lease = LeaseRow(row.pk, keys.LEASE_SK, evaluation_id=evaluation_id, started_at=row.started_at, expires_at=row.expires_at)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(claim, condition=TickClaimRow.sk.does_not_exist())
            tx.save(lease, condition=_lease_free(row.started_at))
            tx.save(row, condition=EvaluationRow.sk.does_not_exist())
    except TransactWriteError as exc:
        claim_failed, lease_failed = (failed_conditions(exc) + [False] * 2)[:2]
        raise _tick_conflict(tick, claim_failed, lease_failed, exc) from exc
    return _evaluation(shared.shared_segment_id, row)


def release(company_id: str, shared: SharedSegment, evaluation_id: str) -> None:
    """Free the share's lease if ``evaluation_id``'s run holds it (a later run's lease stays)."""
    try:
        LeaseRow(_pk(company_id, shared), keys.LEASE_SK).delete(condition=LeaseRow.evaluation_id == evaluation_id)
    except DeleteError as exc:
        if not condition_failed(exc):
            raise


@dataclass(frozen=True, slots=True)
class Pointer:
    """The LATEST pointer: the evaluation in service, its result, and (for a reuse) its inputs and counts."""

    evaluation_id: str
    result_key: str
    inputs: str | None
    summary: MatchSummary | None


def pointer(company_id: str, shared: SharedSegment) -> Pointer | None:
    """The share generation's LATEST pointer with its inputs and counts (one GetItem), or None."""
    try:
        row = LatestRow.get(_pk(company_id, shared), keys.LATEST_SK, consistent_read=True)
    except DoesNotExist:
        return None
    summary = None
    if row.target_profiles is not None and row.matched_profiles is not None and row.matched_devices is not None:
        summary = MatchSummary(
            target_profiles=int(row.target_profiles),
            matched_profiles=int(row.matched_profiles),
            matched_devices=int(row.matched_devices),
            matched_by_platform={k: int(v) for k, v in (row.matched_by_platform or {}).items()},
        )
    return Pointer(row.evaluation_id, row.result_key, row.inputs, summary)


def reuse(company_id: str, shared: SharedSegment, tick: str, previous: Pointer) -> Evaluation:
    """Record a SUCCEEDED ``schedule`` evaluation repeating ``previous`` (its counts, its result object).

    One transaction and no read: the share still current, no run in flight (the lease), the tick
    unclaimed, and the pointer still on ``previous`` (so nothing newer is overwritten); the
    pointer then names the new evaluation with the same result key, so no second copy is stored
    (issue 15 items 2 and 5). AlreadyExists (tick claimed), InFlight (lease held),
    ShareEnded (the share ended) or ResultMoved (the pointer moved meanwhile), all Conflicts.
    """
    if previous.summary is None:
        raise ValueError("the pointer carries no counts to reuse")
    pk, moment = _pk(company_id, shared), now()
    evaluation_id = new_evaluation_id(moment)
    summary = previous.summary
    row = EvaluationRow(
        pk,
        keys.evaluation_sk(evaluation_id),
        trigger="schedule",
        status="SUCCEEDED",
        started_at=moment,
        finished_at=moment,
        duration_ms=0,
        target_profiles=summary.target_profiles,
        matched_profiles=summary.matched_profiles,
        matched_devices=summary.matched_devices,
        matched_by_platform=dict(summary.matched_by_platform),
        result_key=previous.result_key,
        inputs=previous.inputs,
        reused=True,
        expires_at=_expires(moment),
    )
    claim = TickClaimRow(pk, keys.tick_sk(tick), evaluation_id=evaluation_id, expires_at=row.expires_at)
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.condition_check(LeaseRow, pk, keys.LEASE_SK, condition=_lease_free(moment))
            tx.save(claim, condition=TickClaimRow.sk.does_not_exist())
            tx.save(row, condition=EvaluationRow.sk.does_not_exist())
            tx.update(
                LatestRow(pk, keys.LATEST_SK),
                actions=[LatestRow.evaluation_id.set(evaluation_id)],
                condition=LatestRow.evaluation_id == previous.evaluation_id,
            )
    except TransactWriteError as exc:
        share_ended, lease_held, claimed, _, moved = (failed_conditions(exc) + [False] * 5)[:5]
        if share_ended:
            raise ShareEnded(SHARE_ENDED) from exc
        if claimed or lease_held:
            raise _tick_conflict(tick, claimed, lease_held, exc) from exc
        if moved:
            raise ResultMoved("the result in service moved meanwhile") from exc
        raise
    return _evaluation(shared.shared_segment_id, row)


def claimed_by_tick(company_id: str, shared: SharedSegment, tick: str) -> str | None:
    """The id of the evaluation a tick started for this share generation, or None."""
    try:
        return str(TickClaimRow.get(_pk(company_id, shared), keys.tick_sk(tick), consistent_read=True).evaluation_id)
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
    *,
    inputs: str | None = None,
    retire: bool = False,
) -> Evaluation:
    """Mark SUCCEEDED and move the pointer in one transaction, once the results are complete in S3.

    The transaction is conditioned on the share's generation being current (a ConditionCheck
    on the share item): a share that ended meanwhile makes the run FAILED with SHARE_ENDED, and
    its result is never served. The pointer only moves to a run that started later (ids sort by
    startedAt, ties by id): a run overtaken by a newer one is SUCCEEDED and leaves the pointer.
    A run past its deadline is FAILED already (or is made so) and commits nothing.

    ``inputs`` (the inputs' fingerprint, ``domain.evaluations.inputs_fingerprint``) is stored on
    the run and the pointer with the counts, so a later unchanged tick can reuse them. With
    ``retire`` (the schedule: its role may tag results) the result the pointer leaves, and a
    result that never enters service, is tagged retired for the S3 lifecycle to expire.
    """
    pk = _pk(company_id, shared)
    before = pointer(company_id, shared) if retire else None
    row = EvaluationRow.get(pk, keys.evaluation_sk(evaluation.evaluation_id), consistent_read=True)
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
    if inputs is not None:
        actions.append(EvaluationRow.inputs.set(inputs))
    latest = LatestRow(
        pk,
        keys.LATEST_SK,
        evaluation_id=evaluation.evaluation_id,
        result_key=result_key,
        inputs=inputs,
        target_profiles=summary.target_profiles,
        matched_profiles=summary.matched_profiles,
        matched_devices=summary.matched_devices,
        matched_by_platform=dict(summary.matched_by_platform),
    )
    running = (EvaluationRow.status == "RUNNING") & (EvaluationRow.started_at > finished - RUNNING_DEADLINE)
    forward = LatestRow.evaluation_id.does_not_exist() | (LatestRow.evaluation_id < evaluation.evaluation_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.update(row, actions=actions, condition=running)
            tx.save(latest, condition=forward)
    except TransactWriteError as exc:
        failed = failed_conditions(exc)
        if not any(failed):
            raise
        if retire:  # the result never enters service, whatever follows
            retire_result(result_key)
        # pynamodb sends condition checks first, then deletes, puts and updates; the reasons follow.
        share_ended, overtaken, not_running = (failed + [False] * 3)[:3]
        if share_ended:
            return fail(company_id, shared, evaluation.evaluation_id, SHARE_ENDED) or evaluation
        if not_running:
            return get(company_id, shared, evaluation.evaluation_id) or evaluation
        if overtaken:
            _succeed_without_pointer(company_id, shared, row, actions, running)
        return get(company_id, shared, evaluation.evaluation_id) or evaluation
    if before is not None and before.result_key != result_key:
        retire_result(before.result_key)
    return get(company_id, shared, evaluation.evaluation_id) or evaluation


def _succeed_without_pointer(company_id: str, shared: SharedSegment, row: EvaluationRow, actions: list[Action], running: Any) -> None:
    """An overtaken run is recorded SUCCEEDED (still only while its share is current)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            segments.check_current(tx, company_id, shared)
            tx.update(row, actions=actions, condition=running)
    except TransactWriteError as exc:
        failed = failed_conditions(exc)
        if not any(failed):
            raise
        if failed[0]:  # the share check (condition checks come first)
            fail(company_id, shared, keys.evaluation_id_of(row.sk), SHARE_ENDED)


def fail(company_id: str, shared: SharedSegment, evaluation_id: str, error: str) -> Evaluation | None:
    """Mark a RUNNING evaluation FAILED (conditioned on it still RUNNING); the pointer stays."""
    try:
        row = EvaluationRow.get(_pk(company_id, shared), keys.evaluation_sk(evaluation_id), consistent_read=True)
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
        if not condition_failed(exc):
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
        row = EvaluationRow.get(_pk(company_id, shared), keys.evaluation_sk(evaluation_id), consistent_read=True)
    except DoesNotExist:
        return None
    return _evaluation(shared.shared_segment_id, _read(row))


def listing(
    company_id: str, shared: SharedSegment, limit: int, after: dict[str, Any] | None
) -> tuple[list[Evaluation], dict[str, Any] | None]:
    """The current generation's evaluations, latest startedAt first: (page, position after it or None)."""
    pk = _pk(company_id, shared)
    start_key = keys.exclusive_start(pk, str(after["sk"])) if after else None
    result = EvaluationRow.query(
        pk,
        EvaluationRow.sk.startswith(keys.EVALUATION_SK_PREFIX),
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
    latest = pointer(company_id, shared)
    return (latest.evaluation_id, latest.result_key) if latest else None


def in_service(company_id: str, shared: SharedSegment) -> Evaluation | None:
    """The evaluation the pointer names (API.md: the shared segment's ``lastEvaluation``), or None."""
    latest = latest_succeeded(company_id, shared)
    return get(company_id, shared, latest[0]) if latest else None


def result_key_of(company_id: str, shared: SharedSegment, evaluation_id: str) -> str | None:
    """The result key of a SUCCEEDED evaluation of the current generation, or None."""
    try:
        row = EvaluationRow.get(_pk(company_id, shared), keys.evaluation_sk(evaluation_id), consistent_read=True)
    except DoesNotExist:
        return None
    return row.result_key if row.status == "SUCCEEDED" else None
