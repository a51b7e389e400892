"""Evaluating a shared segment: resolve the source segment now, match it against the target, record it.

Only the fact of membership crosses projects: the source's members are turned into device
tokens here and never leave this function; what is stored and returned counts and names the
target project's own profiles and devices only.
"""

from __future__ import annotations

from collections.abc import Iterable

from segshare_core import config
from segshare_core.domain import match as matching
from segshare_core.domain.devices import token
from segshare_core.domain.errors import DomainError, RetryLater, SourceGone
from segshare_core.domain.evaluations import Evaluation, Trigger
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import Segment, SharedSegment
from segshare_core.observability import logger
from segshare_core.store import device_index, directory, evaluations, profiles, results, segments
from segshare_core.store.errors import is_retryable


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
        entries = list(device_index.query_all_shards(company_id, shared.target_project_id, config.DEVICE_INDEX_SHARDS))
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


def evaluate_with_members(company_id: str, shared: SharedSegment, trigger: Trigger) -> tuple[Evaluation, list[str] | None]:
    """As ``evaluate``, handing back the sorted matched ids it stored as well (None unless it SUCCEEDED).

    For a caller that goes on to use them (the export file): the ids are in hand, so neither
    the evaluation row nor the result object is read back (issue 13 item 4).
    """
    return _finish(company_id, shared, begin(company_id, shared, trigger))


def begin(company_id: str, shared: SharedSegment, trigger: Trigger, *, tick: str | None = None) -> Evaluation:
    """Record the RUNNING evaluation (claiming ``tick`` first when given): the first half of ``evaluate``."""
    if tick is None:
        return evaluations.start(company_id, shared, trigger)
    return evaluations.start_for_tick(company_id, shared, tick)


def finish(company_id: str, shared: SharedSegment, running: Evaluation, *, inputs: str | None = None) -> Evaluation:
    """Match, write the results and commit (or record FAILED): the second half of ``evaluate``.

    ``shared`` is the share as it was when the run began: the commit checks that its generation
    is still the live one. ``inputs``, the inputs' fingerprint taken before matching (the
    schedule's, ``scheduling``), is recorded with the result so a later unchanged tick reuses it.
    """
    return _finish(company_id, shared, running, inputs=inputs)[0]


def _finish(
    company_id: str, shared: SharedSegment, running: Evaluation, *, inputs: str | None = None
) -> tuple[Evaluation, list[str] | None]:
    """``finish``, with the matched ids it stored when the evaluation SUCCEEDED (else None)."""
    target = shared.target_project_id
    try:
        summary, matched = match_shared(company_id, shared)
        key = results.result_key(company_id, target, shared.shared_segment_id, running.evaluation_id)
        results.put(key, matched)
        # Only the schedule retires results: its role may tag them, and it is what piles them up.
        done = evaluations.succeed(company_id, shared, running, summary, key, inputs=inputs, retire=inputs is not None)
        return done, matched if done.status == "SUCCEEDED" else None
    except DomainError as exc:
        failed = evaluations.fail(company_id, shared, running.evaluation_id, exc.message)
        if isinstance(exc, RetryLater):
            raise
        return failed or running, None
    except Exception as exc:
        retryable = is_retryable(exc)
        message = "a dependency was busy; the evaluation can be retried" if retryable else "the evaluation failed; see the logs"
        logger.exception("evaluation failed", shared_segment_id=shared.shared_segment_id, evaluation_id=running.evaluation_id)
        failed = evaluations.fail(company_id, shared, running.evaluation_id, message)
        if retryable:
            raise RetryLater() from exc
        return failed or running, None


def members_of_latest(company_id: str, shared: SharedSegment) -> tuple[str, list[str]] | None:
    """(evaluation id, matched profile ids) of the result in service of the current generation, or None."""
    latest = evaluations.latest_succeeded(company_id, shared)
    if latest is None:
        return None
    evaluation_id, key = latest
    return evaluation_id, results.get(key)
