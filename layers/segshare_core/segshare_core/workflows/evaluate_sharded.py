"""Evaluation as a workflow (issue 14): a hash join on the Step Functions Distributed Map.

The steps, one Lambda task each (``statemachines/evaluation.asl.json``):

1. ``plan``: checks the share, reads the target's counters, writes the two shard lists the
   Maps read (ItemReader ``s3:getObject``, JSON) and returns a small context: no list of
   any length travels in a state (Step Functions' 256 KB limit).
2. ``resolve_shard`` (Map over the source's profile shards): resolves the source segment on
   one shard into device tokens (the tokens each profile row stores, so no key and no HMAC)
   and writes one object, ``tokens/<source shard>.bin``: an offset table, then the tokens
   partitioned by target index shard, each part sorted, 16 binary bytes a token
   (``pack_parts``). One PUT a child rather than one a (source, target) pair: S3 bills a PUT
   12.5 times a GET. The object is written whatever it holds, so a missing one always means
   a failed child.
3. ``match_shard`` (Map over the target's index shards): reads its index shard (straight into
   the core's columns) and its part of every source shard's object (two ranged GETs: the
   offsets, then the part), joins them with the numpy core (``domain.match.join``) and writes
   ``matched/<shard>.json``: the matched profile ids and the device counts by platform.
4. ``merge``: checks that every shard's result is there (a missing one fails the
   evaluation: moto's interpreter lets a Map succeed with a failed child, AWS fails it),
   unions the ids (a profile whose devices fall in two shards counts once; a device lives in
   one shard, so device counts add up), writes the result (``results.put``) and commits
   (``evaluations.succeed``).
5. ``record_failure``: the Catch of every step; the evaluation turns FAILED and the previous
   result stays in service.

Work objects live under ``work/``; the bucket's lifecycle rule expires them.
Only membership crosses projects: token files hold keyed tokens of the source's devices,
never ids or attributes, and what is recorded names the target's own profiles.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, Literal

import boto3
import numpy as np
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from segshare_core import config
from segshare_core.domain import match as matching
from segshare_core.domain.devices import PLATFORMS, token
from segshare_core.domain.errors import DomainError, NotFound, SourceGone
from segshare_core.domain.evaluations import Trigger
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.domain.profiles import shard_of_profile
from segshare_core.domain.segments import Segment, SharedSegment
from segshare_core.observability import logger
from segshare_core.store import device_index, directory, evaluations, profiles, results, segments


class IncompleteEvaluation(DomainError):
    """A shard's result is missing at the merge: a child failed, so the evaluation does."""

    code = "INCOMPLETE_EVALUATION"


class Run(BaseModel):
    """The execution's input: which evaluation of which share (started RUNNING by the caller)."""

    model_config = ConfigDict(extra="ignore")
    companyId: str
    projectId: str
    sharedSegmentId: str
    evaluationId: str
    #: The share generation the evaluation belongs to (its records are keyed by it, its commit checks it).
    generation: str
    #: What started the evaluation (recorded on it already): a scheduled run frees its tick's lease at the end.
    trigger: Trigger = "manual"
    #: A scheduled run's inputs fingerprint, recorded with the result so a later unchanged tick reuses it.
    inputs: str | None = None
    #: The export waiting for this evaluation: the workflow queues it again when the evaluation ends.
    exportId: str | None = None

    def share(self) -> SharedSegment:
        """The share as the evaluations store keys it: target, shared id and generation (names unused)."""
        return SharedSegment(
            shared_segment_id=self.sharedSegmentId,
            target_project_id=self.projectId,
            source_project_id="",
            segment_id="",
            name="",
            shared_at="",
            generation=self.generation,
        )


class Context(Run):
    """What ``plan`` returns and every later step receives (small, whatever the sizes)."""

    sourceProjectId: str
    segmentId: str
    shards: int
    targetProfiles: int
    bucket: str
    prefix: str
    sourceShardsKey: str
    targetShardsKey: str


class ShardItem(BaseModel):
    """One Map child's input (``ItemSelector``): the context, one shard and the Map's stage."""

    model_config = ConfigDict(extra="ignore")
    context: Context
    shard: int
    #: Which Map: resolve a source profile shard, or match a target index shard (one function runs both).
    stage: Literal["resolve", "match"]


class Failure(Run):
    """The Catch's input: the run and Step Functions' error (``{"Error", "Cause"}``)."""

    error: dict[str, Any] = {}


#: S3 requests a match or merge child keeps in flight (each waits on the network; botocore's pool holds 10).
S3_THREADS = 8


@cache
def _s3() -> Any:
    return boto3.client("s3")


def work_prefix(run: Run) -> str:
    """Where one run's working objects go (the S3 prefix ``work/``, expired by the bucket's lifecycle)."""
    return f"work/{run.companyId}/{run.projectId}/{run.sharedSegmentId}/{run.evaluationId}/"


def tokens_key(context: Context, source_shard: int) -> str:
    """The one object a resolve child writes: its tokens for every target shard (``pack_parts``)."""
    return f"{context.prefix}tokens/{source_shard:03d}.bin"


#: An offset in a token object's table: 8 bytes, big-endian.
_OFFSET = np.dtype(">u8")


def pack_parts(parts: list[bytes]) -> bytes:
    """One object of ``len(parts)`` parts: ``len(parts) + 1`` offsets (from the object's start), then the parts.

    Part ``i`` is bytes ``offsets[i]`` to ``offsets[i + 1]`` (exclusive), so a reader takes the
    table with one ranged GET and its part with another, however many parts there are.
    """
    header = _OFFSET.itemsize * (len(parts) + 1)
    offsets = np.cumsum([header, *map(len, parts)], dtype=np.uint64).astype(_OFFSET)
    return offsets.tobytes() + b"".join(parts)


def matched_key(context: Context, target_shard: int) -> str:
    return f"{context.prefix}matched/{target_shard:03d}.json"


def _put(key: str, body: bytes, content_type: str) -> None:
    _s3().put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256")


def _get(key: str, first: int | None = None, last: int | None = None) -> bytes | None:
    """The object's bytes (``first`` to ``last`` inclusive when given: a ranged GET), or None when it does not exist.

    S3 answers a GET of a missing key with 403 AccessDenied, not 404, to a role without
    s3:ListBucket on the bucket (S3 user guide, GetObject permissions); the functions have
    s3:GetObject on ``work/*`` alone, so both answers mean "not there".
    """
    ranged = {"Range": f"bytes={first}-{last}"} if first is not None else {}
    try:
        body: bytes = _s3().get_object(Bucket=config.DATA_BUCKET, Key=key, **ranged)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "AccessDenied"):
            return None
        raise
    return body


def _segment(company_id: str, project_id: str, shared_id: str, generation: str) -> tuple[str, Segment]:
    """(source project, source segment) of a live share; SourceGone when it was deleted, unshared or granted again."""
    shared = segments.get_shared_in(company_id, project_id, shared_id)
    if shared is None or shared.generation != generation:
        raise SourceGone("the shared segment no longer exists")
    segment = segments.get_segment(company_id, shared.source_project_id, shared.segment_id)
    if segment is None or project_id not in segment.shared_with:
        raise SourceGone("the source segment was deleted or is no longer shared with this project")
    return shared.source_project_id, segment


# ---------------------------------------------------------------- 1. plan


def plan(run: Run) -> Context:
    """Check the share, write both shard lists to S3 (``[{"shard": 0}, ...]``), return the context.

    Raises SourceGone when the share or its source segment is gone.
    """
    source_project, segment = _segment(run.companyId, run.projectId, run.sharedSegmentId, run.generation)
    shards = config.DEVICE_INDEX_SHARDS
    target = profiles.counts(run.companyId, run.projectId)
    prefix = work_prefix(run)
    listing = json.dumps([{"shard": s} for s in range(shards)]).encode()
    source_key, target_key = f"{prefix}source-shards.json", f"{prefix}target-shards.json"
    # Both stages have one item per shard: profiles and index entries share the shard count.
    _put(source_key, listing, "application/json")
    _put(target_key, listing, "application/json")
    logger.info("evaluation planned", evaluation_id=run.evaluationId, shards=shards, target_profiles=target.profiles)
    return Context(
        **run.model_dump(),
        sourceProjectId=source_project,
        segmentId=segment.segment_id,
        shards=shards,
        targetProfiles=target.profiles,
        bucket=config.DATA_BUCKET,
        prefix=prefix,
        sourceShardsKey=source_key,
        targetShardsKey=target_key,
    )


# ---------------------------------------------------------------- 2. resolve one source shard


def _member_tokens(company_id: str, segment: Segment, shard: int, shards: int) -> Iterator[bytes]:
    """The device tokens (16 binary bytes each, concatenated) of each current member whose row lives in this shard, as read.

    A rule segment reads the shard whole with the tokens its rows store; a static one (at most
    5,000 ids) reads its members by id and keys their devices here.
    """
    if segment.kind == "static":
        mine = [p for p in segment.profile_ids if shard_of_profile(p, shards) == shard]
        key = directory.company_key(company_id)
        for profile in profiles.get_profiles(company_id, segment.project_id, mine).values():
            yield bytes.fromhex("".join(token(key, device) for device in profile.matchable_devices()))
        return
    for profile, tokens in profiles.iter_profile_shard_tokens(company_id, segment.project_id, shard):
        if segment.contains(profile):
            yield tokens


def partition_tokens(raw: bytes | bytearray, shards: int) -> list[bytes]:
    """Binary tokens (16 bytes each) split by index shard, each part sorted and without repeats.

    Part ``i`` holds the tokens ``domain.devices.shard_of`` puts in index shard ``i`` (the
    first 32 bits of a token, modulo ``shards``), as 16-byte big-endian tokens in byte order.
    """
    hi, lo = matching.words_of(bytes(raw))
    part = (hi >> np.uint64(32)) % np.uint64(shards)
    out = []
    for s in range(shards):
        chosen = part == s
        tokens = matching.TokenSet.from_words(hi[chosen], lo[chosen])
        out.append(np.stack([tokens.hi, tokens.lo], axis=1).astype(">u8").tobytes())
    return out


def resolve_shard(item: ShardItem) -> dict[str, int]:
    """Resolve the source segment on one profile shard; write its tokens for every target shard in one object.

    Returns ``{"shard", "tokens"}`` (tokens written, all partitions). Raises SourceGone when
    the segment went away since the plan.
    """
    context = item.context
    _source, segment = _segment(context.companyId, context.projectId, context.sharedSegmentId, context.generation)
    # Tokens are gathered as bytes while the pages stream past: memory holds tokens, not profiles.
    gathered = bytearray()
    members = 0
    for tokens in _member_tokens(context.companyId, segment, item.shard, context.shards):
        members += 1
        gathered += tokens
    parts = partition_tokens(gathered, context.shards)
    _put(tokens_key(context, item.shard), pack_parts(parts), "application/octet-stream")
    written = sum(len(b) for b in parts) // 16
    logger.info("source shard resolved", evaluation_id=context.evaluationId, shard=item.shard, members=members, tokens=written)
    return {"shard": item.shard, "tokens": written}


# ---------------------------------------------------------------- 3. match one target shard


class MissingTokens(DomainError):
    """A source shard's token file for this target shard is missing: its resolve child failed."""

    code = "INCOMPLETE_EVALUATION"


def _part(context: Context, source_shard: int, target_shard: int) -> bytes:
    """The tokens a source shard resolved for one target shard: two ranged GETs (offsets, part); MissingTokens when absent."""
    key = tokens_key(context, source_shard)
    table = _get(key, 0, _OFFSET.itemsize * (context.shards + 1) - 1)
    if table is None:
        raise MissingTokens(f"the tokens of source shard {source_shard} are missing")
    offsets = np.frombuffer(table, dtype=_OFFSET)
    start, end = int(offsets[target_shard]), int(offsets[target_shard + 1])
    if start == end:
        return b""
    body = _get(key, start, end - 1)
    if body is None:
        raise MissingTokens(f"the tokens of source shard {source_shard} are missing")
    return body


def match_shard(item: ShardItem) -> dict[str, int]:
    """Join one target index shard with the source tokens of that shard; write ``matched/<shard>.json``.

    The object is ``{"profiles": [sorted ids], "matchedDevices": n, "matchedByPlatform":
    {platform: n}}``. Raises MissingTokens when a source shard's token file is absent.
    """
    context, shard = item.context, item.shard
    # S3 requests wait on the network: several in flight (map keeps the source shards' order).
    with ThreadPoolExecutor(max_workers=S3_THREADS, thread_name_prefix="token-parts") as pool:
        parts = list(pool.map(lambda source_shard: _part(context, source_shard, shard), range(context.shards)))
    source = matching.TokenSet.from_words(*matching.words_of(b"".join(parts)))
    if len(source):
        target = device_index.query_shard_columns(context.companyId, context.projectId, shard)
    else:
        target = matching.TargetIndex.from_entries([])
    joined = matching.join(source, target)
    body = json.dumps(
        {
            "profiles": sorted(target.ids(joined.profiles)),
            "matchedDevices": joined.matched_devices,
            "matchedByPlatform": joined.matched_by_platform,
        },
        separators=(",", ":"),
    ).encode()
    _put(matched_key(context, shard), body, "application/json")
    logger.info("target shard matched", evaluation_id=context.evaluationId, shard=shard, matched=len(joined.profiles))
    return {"shard": shard, "matched": len(joined.profiles)}


# ---------------------------------------------------------------- 4. merge and commit


def merge(context: Context) -> dict[str, Any]:
    """Every shard's result present, unioned, written and committed; ``{"evaluationId", "status"}``.

    Raises IncompleteEvaluation when a shard's result is missing (the evaluation then fails
    through the Catch, and the previous result stays in service).
    """
    matched: set[str] = set()
    by_platform: Counter[str] = Counter(dict.fromkeys(PLATFORMS, 0))
    devices = 0
    with ThreadPoolExecutor(max_workers=S3_THREADS, thread_name_prefix="shard-results") as pool:
        # Fetched S3_THREADS at a time ahead of the union, in shard order.
        bodies = pool.map(lambda shard: _get(matched_key(context, shard)), range(context.shards))
        for shard, body in enumerate(bodies):
            if body is None:
                raise IncompleteEvaluation(f"the result of target shard {shard} is missing")
            part = json.loads(body)
            matched.update(part["profiles"])
            devices += int(part["matchedDevices"])
            by_platform.update({p: int(n) for p, n in part["matchedByPlatform"].items()})
    running = evaluations.get(context.companyId, context.share(), context.evaluationId)
    if running is None:
        raise NotFound(f"evaluation {context.evaluationId!r} not found")
    key = results.result_key(context.companyId, context.projectId, context.sharedSegmentId, context.evaluationId)
    results.put(key, sorted(matched))
    summary = MatchSummary(
        target_profiles=context.targetProfiles,
        matched_profiles=len(matched),
        matched_devices=devices,
        matched_by_platform=dict(by_platform),
    )
    scheduled = context.trigger == "schedule"
    # Recorded as the in-Lambda path records a run of the same trigger (evaluate_inline.finish):
    # only the schedule stores the fingerprint and retires the result the pointer leaves.
    done = evaluations.succeed(context.companyId, context.share(), running, summary, key, inputs=context.inputs, retire=scheduled)
    if scheduled:
        evaluations.release(context.companyId, context.share(), context.evaluationId)
    logger.info("evaluation merged", evaluation_id=context.evaluationId, matched=len(matched), status=done.status)
    return {"evaluationId": done.evaluation_id, "status": done.status}


# ---------------------------------------------------------------- 5. the Catch

#: Step Functions error names (the exception's class name a task raised) -> the message recorded.
_MESSAGES = {
    "SourceGone": "the source segment was deleted or is no longer shared with this project",
    "IncompleteEvaluation": "a shard of the evaluation failed; the previous result stays in service",
    "MissingTokens": "a shard of the evaluation failed; the previous result stays in service",
    "RetryLater": "a dependency was busy; the evaluation can be retried",
    "States.Timeout": "a step of the evaluation timed out",
    # AWS fails a Map whose child failed (ToleratedFailureCount 0) with this error.
    "States.ExceedToleratedFailureThreshold": "a shard of the evaluation failed; the previous result stays in service",
}


def record_failure(failure: Failure) -> dict[str, Any]:
    """Mark the run FAILED with a message naming no internals; ``{"evaluationId", "status"}``."""
    name = str(failure.error.get("Error", ""))
    message = _MESSAGES.get(name, "the evaluation failed; see the logs")
    logger.warning("evaluation workflow failed", evaluation_id=failure.evaluationId, error_type=name[:100])
    failed = evaluations.fail(failure.companyId, failure.share(), failure.evaluationId, message)
    if failure.trigger == "schedule":
        evaluations.release(failure.companyId, failure.share(), failure.evaluationId)
    return {"evaluationId": failure.evaluationId, "status": failed.status if failed else "NOT_STARTED"}
