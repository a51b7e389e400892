"""Evaluating a shared segment: resolve the source segment now, match it against the target, record it.

Only the fact of membership crosses projects: the source's members are turned into device
tokens here and never leave this function; what is stored and returned counts and names the
target project's own profiles and devices only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from segshare_core import config
from segshare_core.domain import match as matching
from segshare_core.domain.devices import token
from segshare_core.domain.errors import DomainError, RetryLater
from segshare_core.domain.evaluations import Evaluation, Trigger
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import Segment, SharedSegment
from segshare_core.observability import logger
from segshare_core.store import device_index, directory, evaluations, profiles, results, segments
from segshare_core.store.errors import is_retryable


class SourceGone(DomainError):
    code = "SOURCE_SEGMENT_GONE"


def _source_members(company_id: str, segment: Segment) -> Iterable[Profile]:
    """The source segment's members now: a static list is read by id, a rule over every profile."""
    if segment.kind == "static":
        return profiles.get_profiles(company_id, segment.project_id, segment.profile_ids).values()
    return (p for p in profiles.iter_profiles(company_id, segment.project_id) if segment.contains(p))


def source_tokens(company_id: str, segment: Segment, company_key: bytes) -> set[str]:
    """Tokens of every matchable device of every current member of the source segment."""
    return {token(company_key, d) for p in _source_members(company_id, segment) for d in p.matchable_devices()}


def match_shared(company_id: str, shared: SharedSegment) -> tuple[MatchSummary, list[str]]:
    """Match a shared segment against its target project now: (summary, matched target profile ids)."""
    segment = segments.get_segment(company_id, shared.source_project_id, shared.segment_id)
    if segment is None or shared.target_project_id not in segment.shared_with:
        raise SourceGone("the source segment was deleted or is no longer shared with this project")
    key = directory.company_key(company_id)
    tokens = source_tokens(company_id, segment, key)
    # Counts come from the target's shard counters; the cost model weighs index entries, not profiles.
    target = profiles.counts(company_id, shared.target_project_id)
    target_profiles = target.profiles
    plan = matching.choose_plan(len(tokens), target.index_entries, shards=config.DEVICE_INDEX_SHARDS)
    if not tokens or not target.index_entries:
        entries: list[matching.IndexEntry] = []
    elif plan.name == "probe":
        entries = device_index.probe(company_id, shared.target_project_id, tokens)
    else:
        entries = list(device_index.scan(company_id, shared.target_project_id, config.DEVICE_INDEX_SHARDS))
    result = matching.match(tokens, entries)
    summary = MatchSummary(
        target_profiles=target_profiles,
        matched_profiles=len(result.matched_profiles),
        matched_devices=result.matched_devices,
        matched_by_platform=dict(result.matched_by_platform),
    )
    logger.info("shared segment matched", shared_segment_id=shared.shared_segment_id, plan=plan.name, matched=summary.matched_profiles)
    return summary, sorted(result.matched_profiles)


def evaluate(company_id: str, shared: SharedSegment, trigger: Trigger, *, tick: str | None = None) -> Evaluation:
    """Run one evaluation of the share's current generation to its end and record it.

    The results go to S3 under the evaluation's id first; only then do the record turn
    SUCCEEDED and the pointer move, in one transaction conditioned on the share's generation
    (a share that ended meanwhile makes the run FAILED). Any failure records FAILED with a clear
    error and leaves the previous result in service; throttling is re-raised as RetryLater after
    it is recorded. With ``tick`` (the schedule) the tick is claimed first: Conflict
    ``ALREADY_EXISTS`` when that tick already evaluated this share generation.
    """
    return finish(company_id, shared, begin(company_id, shared, trigger, tick=tick))


def begin(company_id: str, shared: SharedSegment, trigger: Trigger, *, tick: str | None = None) -> Evaluation:
    """Record the RUNNING evaluation (claiming ``tick`` first when given): the first half of ``evaluate``."""
    if tick is None:
        return evaluations.start(company_id, shared, trigger)
    return evaluations.start_for_tick(company_id, shared, tick)


def finish(company_id: str, shared: SharedSegment, running: Evaluation) -> Evaluation:
    """Match, write the results and commit (or record FAILED): the second half of ``evaluate``.

    ``shared`` is the share as it was when the run began: the commit checks that its generation
    is still the live one.
    """
    target = shared.target_project_id
    try:
        summary, matched = match_shared(company_id, shared)
        key = results.result_key(company_id, target, shared.shared_segment_id, running.evaluation_id)
        results.put(key, matched)
        return evaluations.succeed(company_id, shared, running, summary, key)
    except DomainError as exc:
        failed = evaluations.fail(company_id, shared, running.evaluation_id, exc.message)
        if isinstance(exc, RetryLater):
            raise
        return failed or running
    except Exception as exc:
        retryable = is_retryable(exc)
        message = "a dependency was busy; the evaluation can be retried" if retryable else "the evaluation failed; see the logs"
        logger.exception("evaluation failed", shared_segment_id=shared.shared_segment_id, evaluation_id=running.evaluation_id)
        failed = evaluations.fail(company_id, shared, running.evaluation_id, message)
        if retryable:
            raise RetryLater() from exc
        return failed or running


def members_of_latest(company_id: str, shared: SharedSegment) -> tuple[str, list[str]] | None:
    """(evaluation id, matched profile ids) of the result in service of the current generation, or None."""
    latest = evaluations.latest_succeeded(company_id, shared)
    if latest is None:
        return None
    evaluation_id, key = latest
    return evaluation_id, results.get(key)


# ---------------------------------------------------------------- the scheduled state machine


def due_items(tick: str) -> list[dict[str, Any]]:
    """Every live share of every company with the feature on, tagged with the tick and its generation."""
    enabled: dict[str, bool] = {}
    items = []
    for company_id, shared in segments.all_live_shares():
        if company_id not in enabled:
            enabled[company_id] = directory.shared_segments_on(company_id)
        if enabled[company_id]:
            items.append(
                {
                    "companyId": company_id,
                    "projectId": shared.target_project_id,
                    "sharedSegmentId": shared.shared_segment_id,
                    "generation": shared.generation,
                    "tick": tick,
                }
            )
    return items


def _listed_share(item: dict[str, Any]) -> SharedSegment | None:
    """The share the item was listed for, while that generation is still the live one."""
    shared = segments.get_shared_in(item["companyId"], item["projectId"], item["sharedSegmentId"])
    if shared is None or shared.generation != item.get("generation", shared.generation):
        return None
    return shared


def evaluate_scheduled(item: dict[str, Any]) -> dict[str, Any]:
    """One share of one tick: evaluated once however often the tick runs (trigger ``schedule``)."""
    shared = _listed_share(item)
    if shared is None:
        return {"evaluationId": None, "status": "SKIPPED", "reason": "no longer shared"}
    try:
        done = evaluate(item["companyId"], shared, "schedule", tick=str(item["tick"]))
    except DomainError as exc:
        if exc.code != "ALREADY_EXISTS":
            raise
        return {"evaluationId": evaluations.claimed_by_tick(item["companyId"], shared, str(item["tick"])), "status": "DUPLICATE"}
    return {"evaluationId": done.evaluation_id, "status": done.status}


def record_scheduled_failure(item: dict[str, Any]) -> dict[str, Any]:
    """The Catch branch: the run the tick started, if any, is marked FAILED (if still RUNNING).

    A share that ended meanwhile needs nothing: its generation's evaluations are never served,
    and a RUNNING one reads FAILED past its deadline anyway.
    """
    shared = _listed_share(item)
    evaluation_id = evaluations.claimed_by_tick(item["companyId"], shared, str(item["tick"])) if shared else None
    if shared is None or evaluation_id is None:
        return {"evaluationId": None, "status": "NOT_STARTED"}
    error = item.get("error") or {}
    message = f"scheduled evaluation failed: {str(error.get('Error', 'unknown error'))[:100]}"
    failed = evaluations.fail(item["companyId"], shared, evaluation_id, message)
    return {"evaluationId": evaluation_id, "status": failed.status if failed else "NOT_STARTED"}
