"""The scheduled evaluation (issue 15): list the due shares to S3, evaluate one share, record a failure.

The state machine (``statemachines/scheduled_evaluation.asl.json``) runs ``write_due_list``
once per tick; its Distributed Map reads the list from S3 (an ItemReader) and runs
``evaluate_scheduled`` per share, so no state ever holds the list (Step Functions' 256 KB).

A share whose inputs are unchanged since its last succeeded evaluation (the inputs'
fingerprint: the source segment's definition, both projects' change sequences, the share
generation) is *reused*: recorded SUCCEEDED with the same counts and result in five read
requests, without reading either project. A share an earlier tick is still evaluating is
skipped (its lease), and a tick evaluates a share at most once (its claim).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

import boto3
from pydantic import BaseModel, ConfigDict, Field, RootModel

from segshare_core import config
from segshare_core.domain.errors import AlreadyExists, DomainError, InFlight, ShareEnded
from segshare_core.domain.evaluations import inputs_fingerprint
from segshare_core.domain.scheduling import fair_order
from segshare_core.domain.segments import Segment, SharedSegment
from segshare_core.observability import logger
from segshare_core.store import directory, evaluations, profiles, segments
from segshare_core.workflows import evaluate_inline, handoff

#: Where each tick's due list is written (the bucket's lifecycle rule ``expire-due-lists``).
DUE_PREFIX = "schedule/"


@cache
def _s3() -> Any:
    return boto3.client("s3")


# ---------------------------------------------------------------- the task events


class DueShare(BaseModel):
    """One item of a tick's due list (what ``due_shares`` writes and the Map's ItemReader hands a child)."""

    model_config = ConfigDict(extra="ignore")
    companyId: str
    projectId: str
    sharedSegmentId: str
    #: The share generation listed; a share granted again since is skipped. Absent on lists written before generations.
    generation: str | None = None


class ListTask(BaseModel):
    """``ListDue``'s payload: the schedule's event (``input.time``, the tick) and the execution's start time."""

    action: Literal["list"]
    input: dict[str, Any] = {}
    startTime: str | None = None


class EvaluateTask(BaseModel):
    """``Evaluate``'s payload: one due share of one tick."""

    action: Literal["evaluate"]
    item: DueShare
    tick: str


class FailTask(BaseModel):
    """``RecordFailed``'s payload: the share, the tick and Step Functions' error (``{"Error", "Cause"}``)."""

    action: Literal["fail"]
    item: DueShare
    tick: str
    error: dict[str, Any] | None = None


class ScheduleTask(RootModel[Annotated[ListTask | EvaluateTask | FailTask, Field(discriminator="action")]]):
    """What the scheduled state machine sends its Lambda task (``root``), told apart by ``action``."""


# ---------------------------------------------------------------- the list step


def due_shares(live: Iterable[tuple[str, SharedSegment]]) -> dict[str, list[dict[str, Any]]]:
    """Company id -> due-list items of its live shares, for companies with the feature on.

    One GetItem per company for the feature flag (cached per call), none per share.
    """
    enabled: dict[str, bool] = {}
    due: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for company_id, shared in live:
        if company_id not in enabled:
            enabled[company_id] = directory.shared_segments_on(company_id)
        if enabled[company_id]:
            due[company_id].append(
                {
                    "companyId": company_id,
                    "projectId": shared.target_project_id,
                    "sharedSegmentId": shared.shared_segment_id,
                    "generation": shared.generation,
                }
            )
    return dict(due)


def write_due_list(tick: str) -> dict[str, Any]:
    """List the tick's due shares (``segments.live_shares``) into one JSON array in S3.

    Returns ``{"bucket", "key", "count", "companies", "tick"}`` (a few hundred bytes whatever the
    count): the Distributed Map's ItemReader reads ``key``. JSON, not JSON lines: moto's
    ItemReader reads only JSON and CSV. Raises what the store raises (throttling included).
    """
    due = due_shares(segments.live_shares())
    items = fair_order(due, config.SCHEDULE_MAX_PER_COMPANY, tick)
    key = f"{DUE_PREFIX}{tick[:64]}/{uuid.uuid4().hex}.json"
    body = json.dumps(items, separators=(",", ":")).encode()
    _s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body, ContentType="application/json", ServerSideEncryption="AES256")
    return {"bucket": config.DATA_BUCKET, "key": key, "count": len(items), "companies": len(due), "tick": tick}


# ---------------------------------------------------------------- one share of a tick


def _listed_share(item: DueShare) -> SharedSegment | None:
    """The share the item was listed for, while that generation is still the live one."""
    shared = segments.get_shared_in(item.companyId, item.projectId, item.sharedSegmentId)
    if shared is None or shared.generation != (item.generation or shared.generation):
        return None
    return shared


def definition(segment: Segment) -> dict[str, Any]:
    """What of a segment decides its members: its kind, rule and static profile ids (not its name)."""
    return {"kind": segment.kind, "rule": segment.rule, "profileIds": list(segment.profile_ids)}


@dataclass(frozen=True, slots=True)
class _Inputs:
    fingerprint: str
    segment: Segment
    source: profiles.Counts
    target: profiles.Counts


def _inputs(company_id: str, shared: SharedSegment) -> _Inputs | None:
    """The inputs' fingerprint now (three reads: the segment and both projects' counters), or None when the source is gone."""
    segment = segments.get_segment(company_id, shared.source_project_id, shared.segment_id)
    if segment is None or shared.target_project_id not in segment.shared_with:
        return None
    # Consistent reads: a stale sequence could make a changed project look unchanged.
    source = profiles.counts(company_id, shared.source_project_id, consistent_read=True)
    target = profiles.counts(company_id, shared.target_project_id, consistent_read=True)
    return _Inputs(inputs_fingerprint(definition(segment), source.seq, target.seq, shared.generation), segment, source, target)


def evaluate_scheduled(item: DueShare, tick: str) -> dict[str, Any]:
    """One share of one tick: reused when unchanged, evaluated in full otherwise, at most once per tick.

    Returns ``{"evaluationId", "status", ...}``: status SUCCEEDED/FAILED (``reused`` says
    which path), RUNNING (``handedOff``: the cost model called it large, so the evaluation
    workflow runs it and records it as it records a manual one, freeing the lease at its
    end; the tick does not wait), DUPLICATE (the tick did it already), IN_FLIGHT (an earlier
    tick's run holds the share) or SKIPPED (the share ended). Raises RetryLater when throttled,
    and what starting the workflow raises (the evaluation is then FAILED and the lease freed).
    """
    company_id = item.companyId
    shared = _listed_share(item)
    if shared is None:
        return {"evaluationId": None, "status": "SKIPPED", "reason": "no longer shared"}
    inputs = _inputs(company_id, shared)
    previous = evaluations.pointer(company_id, shared)
    if inputs is not None and previous is not None and previous.summary is not None and previous.inputs == inputs.fingerprint:
        try:
            reused = evaluations.reuse(company_id, shared, tick, previous)
            return {"evaluationId": reused.evaluation_id, "status": reused.status, "reused": True}
        except DomainError as exc:
            skipped = _skipped(company_id, shared, tick, exc)
            if skipped is not None:
                return skipped
            # MOVED: another run committed meanwhile; evaluate in full below.
    try:
        running = evaluations.start_for_tick(company_id, shared, tick)
    except DomainError as exc:
        skipped = _skipped(company_id, shared, tick, exc)
        if skipped is None:
            raise
        return skipped
    # A share whose source is gone (inputs None) fails fast inline, whatever its size.
    if inputs is not None and handoff.is_large(handoff.predict(company_id, shared, source=inputs.source, target=inputs.target)):
        try:
            handoff.start_running(company_id, shared, running, inputs=inputs.fingerprint)
        except Exception:
            evaluations.release(company_id, shared, running.evaluation_id)
            raise
        logger.info("scheduled evaluation handed off", evaluation_id=running.evaluation_id)
        return {"evaluationId": running.evaluation_id, "status": running.status, "reused": False, "handedOff": True}
    try:
        done = evaluate_inline.finish(company_id, shared, running, inputs=inputs.fingerprint if inputs else None)
    finally:
        evaluations.release(company_id, shared, running.evaluation_id)
    return {"evaluationId": done.evaluation_id, "status": done.status, "reused": False}


def _skipped(company_id: str, shared: SharedSegment, tick: str, exc: DomainError) -> dict[str, Any] | None:
    if isinstance(exc, AlreadyExists):
        return {"evaluationId": evaluations.claimed_by_tick(company_id, shared, tick), "status": "DUPLICATE"}
    if isinstance(exc, InFlight):
        logger.info("share skipped: an earlier tick is evaluating it", shared_segment_id=shared.shared_segment_id)
        return {"evaluationId": None, "status": "IN_FLIGHT"}
    if isinstance(exc, ShareEnded):
        return {"evaluationId": None, "status": "SKIPPED", "reason": "no longer shared"}
    return None


def record_scheduled_failure(item: DueShare, tick: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """The Catch branch: the run the tick started, if any, is marked FAILED (if still RUNNING) and its lease freed.

    A share that ended meanwhile needs nothing: its generation's evaluations are never served,
    and a RUNNING one reads FAILED past its deadline anyway.
    """
    shared = _listed_share(item)
    evaluation_id = evaluations.claimed_by_tick(item.companyId, shared, tick) if shared else None
    if shared is None or evaluation_id is None:
        return {"evaluationId": None, "status": "NOT_STARTED"}
    message = f"scheduled evaluation failed: {str((error or {}).get('Error', 'unknown error'))[:100]}"
    failed = evaluations.fail(item.companyId, shared, evaluation_id, message)
    evaluations.release(item.companyId, shared, evaluation_id)
    return {"evaluationId": evaluation_id, "status": failed.status if failed else "NOT_STARTED"}
