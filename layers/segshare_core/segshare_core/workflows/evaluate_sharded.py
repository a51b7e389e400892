"""Evaluation as a workflow (issue 14): a hash join on the Step Functions Distributed Map.

Storage partitions and Map children are two numbers. A project's profiles and its index
entries are each spread over ``config.DEVICE_INDEX_SHARDS`` partition keys (the write bound:
DynamoDB's 1,000 WCU/s a partition caps a bulk import, issue 16); each Map runs
``config.EVALUATION_CHILDREN`` children (at most one a shard), and child ``c`` takes the
shards ``s`` with ``s % children == c`` (``shards_of_child``). A child is a fixed cost (a
transition, a start, a cold container, its S3 requests grow with the children squared), so
more partitions do not make more children. Modulo rather than contiguous ranges: both give
each child ``shards // children`` shards or one more, but a token's child is then one
expression, ``(its shard) % children``, on both sides of the join (``partition_tokens``, the
match child's shards), with no range table to agree on.

The steps, one Lambda task each (``statemachines/evaluation.asl.json``):

1. ``plan``: checks the share, reads the target's counters, writes the list of children the
   Maps read (ItemReader ``s3:getObject``, JSON) and returns a small context: no list of
   any length travels in a state (Step Functions' 256 KB limit).
2. ``resolve_child`` (Map over the children): resolves the source segment on the child's
   source profile shards into device tokens (the tokens each profile row stores, so no key
   and no HMAC) and writes one object, ``tokens/<child>.bin``: an offset table, then the
   tokens partitioned by match child, each part sorted, 16 binary bytes a token
   (``pack_parts``). One PUT a child rather than one a (source, target) pair: S3 bills a PUT
   12.5 times a GET. The object is written whatever it holds, so a missing one always means
   a failed child.
3. ``match_child`` (Map over the children): reads its part of every resolve child's object
   (two ranged GETs each: the offsets, then the part), then each of its target index shards
   (straight into the core's columns, one shard at a time), joins them with the numpy core
   (``domain.match.join``) and writes ``matched/<child>.json``: the matched profile ids and
   the device counts by platform.
4. ``merge``: checks that every child's result is there (a missing one fails the
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
    """A match child's result is missing at the merge: a child failed, so the evaluation does."""

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
    #: Partitions of each project's profiles and index (config.DEVICE_INDEX_SHARDS when planned).
    shards: int
    #: Children of each Map (``plan_children``): child c takes the shards ``shards_of_child``.
    children: int
    targetProfiles: int
    bucket: str
    prefix: str
    #: The list both Maps read (ItemReader): ``[{"child": 0}, ..., {"child": children - 1}]``.
    childrenKey: str


class ChildItem(BaseModel):
    """One Map child's input (``ItemSelector``): the context, the child's number and the Map's stage."""

    model_config = ConfigDict(extra="ignore")
    context: Context
    child: int
    #: Which Map: resolve the child's source profile shards, or match its target index shards (one function runs both).
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


def plan_children(shards: int, wanted: int) -> int:
    """Children a Map runs for ``shards`` partitions when ``wanted`` (config.EVALUATION_CHILDREN) are asked for.

    At most one a shard: a child without a shard would cost a start and a transition for
    nothing. Both are at least 1 (config validates them); ValueError otherwise.
    """
    if shards < 1 or wanted < 1:
        raise ValueError("shards and children are at least 1")
    return min(shards, wanted)


def shards_of_child(child: int, children: int, shards: int) -> range:
    """The shards child ``child`` (0 to children - 1) reads: ``s`` with ``s % children == child``, ascending."""
    return range(child, shards, children)


def tokens_key(context: Context, child: int) -> str:
    """The one object a resolve child writes: its tokens for every match child (``pack_parts``)."""
    return f"{context.prefix}tokens/{child:03d}.bin"


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


def matched_key(context: Context, child: int) -> str:
    """The result a match child writes (its matched ids and device counts)."""
    return f"{context.prefix}matched/{child:03d}.json"


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
    """Check the share, write the children list to S3 (``[{"child": 0}, ...]``), return the context.

    Raises SourceGone when the share or its source segment is gone.
    """
    source_project, segment = _segment(run.companyId, run.projectId, run.sharedSegmentId, run.generation)
    shards = config.DEVICE_INDEX_SHARDS
    children = plan_children(shards, config.EVALUATION_CHILDREN)
    target = profiles.counts(run.companyId, run.projectId)
    prefix = work_prefix(run)
    # Both Maps have one item per child: profiles and index entries share the shard count, so
    # the source's and the target's shards group alike.
    children_key = f"{prefix}children.json"
    _put(children_key, json.dumps([{"child": c} for c in range(children)]).encode(), "application/json")
    logger.info("evaluation planned", evaluation_id=run.evaluationId, shards=shards, children=children, target_profiles=target.profiles)
    return Context(
        **run.model_dump(),
        sourceProjectId=source_project,
        segmentId=segment.segment_id,
        shards=shards,
        children=children,
        targetProfiles=target.profiles,
        bucket=config.DATA_BUCKET,
        prefix=prefix,
        childrenKey=children_key,
    )


# ---------------------------------------------------------------- 2. resolve one child's source shards


def _member_tokens(company_id: str, segment: Segment, mine: range, shards: int) -> Iterator[bytes]:
    """The device tokens (16 binary bytes each, concatenated) of each current member whose row lives in one of the shards ``mine``.

    A rule segment reads those shards whole, one after another, with the tokens their rows
    store; a static one (at most 5,000 ids) reads its members by id and keys their devices here.
    """
    if segment.kind == "static":
        ids = [p for p in segment.profile_ids if shard_of_profile(p, shards) in mine]
        key = directory.company_key(company_id)
        for profile in profiles.get_profiles(company_id, segment.project_id, ids).values():
            yield bytes.fromhex("".join(token(key, device) for device in profile.matchable_devices()))
        return
    for shard in mine:
        for profile, tokens in profiles.iter_profile_shard_tokens(company_id, segment.project_id, shard):
            if segment.contains(profile):
                yield tokens


def partition_tokens(raw: bytes | bytearray, shards: int, children: int) -> list[bytes]:
    """Binary tokens (16 bytes each) split by the match child of their index shard, each part sorted and without repeats.

    A token's index shard is ``domain.devices.shard_of`` (the first 32 bits of a token,
    modulo ``shards``); part ``c`` (of ``children``) holds the tokens whose shard is one of
    ``shards_of_child(c, ...)``, as 16-byte big-endian tokens in byte order.
    """
    hi, lo = matching.words_of(bytes(raw))
    part = (hi >> np.uint64(32)) % np.uint64(shards) % np.uint64(children)
    out = []
    for c in range(children):
        chosen = part == c
        tokens = matching.TokenSet.from_words(hi[chosen], lo[chosen])
        out.append(np.stack([tokens.hi, tokens.lo], axis=1).astype(">u8").tobytes())
    return out


def resolve_child(item: ChildItem) -> dict[str, int]:
    """Resolve the source segment on the child's profile shards; write its tokens for every match child in one object.

    Returns ``{"child", "tokens"}`` (tokens written, all parts). Raises SourceGone when the
    segment went away since the plan.
    """
    context = item.context
    _source, segment = _segment(context.companyId, context.projectId, context.sharedSegmentId, context.generation)
    # Tokens are gathered as bytes while the pages stream past: memory holds tokens, not profiles.
    gathered = bytearray()
    members = 0
    for tokens in _member_tokens(context.companyId, segment, shards_of_child(item.child, context.children, context.shards), context.shards):
        members += 1
        gathered += tokens
    parts = partition_tokens(gathered, context.shards, context.children)
    _put(tokens_key(context, item.child), pack_parts(parts), "application/octet-stream")
    written = sum(len(b) for b in parts) // 16
    logger.info("source shards resolved", evaluation_id=context.evaluationId, child=item.child, members=members, tokens=written)
    return {"child": item.child, "tokens": written}


# ---------------------------------------------------------------- 3. match one child's target shards


class MissingTokens(DomainError):
    """A resolve child's token file is missing: that child failed."""

    code = "INCOMPLETE_EVALUATION"


def _part(context: Context, resolve_child: int, match_child: int) -> bytes:
    """The tokens a resolve child wrote for one match child: two ranged GETs (offsets, part); MissingTokens when absent."""
    key = tokens_key(context, resolve_child)
    table = _get(key, 0, _OFFSET.itemsize * (context.children + 1) - 1)
    if table is None:
        raise MissingTokens(f"the tokens of resolve child {resolve_child} are missing")
    offsets = np.frombuffer(table, dtype=_OFFSET)
    start, end = int(offsets[match_child]), int(offsets[match_child + 1])
    if start == end:
        return b""
    body = _get(key, start, end - 1)
    if body is None:
        raise MissingTokens(f"the tokens of resolve child {resolve_child} are missing")
    return body


def match_child(item: ChildItem) -> dict[str, int]:
    """Join the child's target index shards with the source tokens of those shards; write ``matched/<child>.json``.

    The object is ``{"profiles": [sorted ids], "matchedDevices": n, "matchedByPlatform":
    {platform: n}}``; a profile matched in two of the child's shards is listed once. Raises
    MissingTokens when a resolve child's token file is absent.
    """
    context, child = item.context, item.child
    # S3 requests wait on the network: several in flight (map keeps the resolve children's order).
    with ThreadPoolExecutor(max_workers=S3_THREADS, thread_name_prefix="token-parts") as pool:
        parts = list(pool.map(lambda resolver: _part(context, resolver, child), range(context.children)))
    source = matching.TokenSet.from_words(*matching.words_of(b"".join(parts)))
    matched: set[str] = set()
    devices = 0
    by_platform: Counter[str] = Counter(dict.fromkeys(PLATFORMS, 0))
    if len(source):
        # One shard's columns at a time: memory holds the largest shard, not the child's union.
        # The source holds tokens of the child's other shards too; they cannot meet this
        # shard's tokens (a token lives in one shard), so joining against all of it is exact.
        for shard in shards_of_child(child, context.children, context.shards):
            target = device_index.query_shard_columns(context.companyId, context.projectId, shard)
            joined = matching.join(source, target)
            matched.update(target.ids(joined.profiles))
            # A device lives in one shard, so the shards' device counts add up.
            devices += joined.matched_devices
            by_platform.update(joined.matched_by_platform)
    body = json.dumps(
        {"profiles": sorted(matched), "matchedDevices": devices, "matchedByPlatform": dict(by_platform)},
        separators=(",", ":"),
    ).encode()
    _put(matched_key(context, child), body, "application/json")
    logger.info("target shards matched", evaluation_id=context.evaluationId, child=child, matched=len(matched))
    return {"child": child, "matched": len(matched)}


# ---------------------------------------------------------------- 4. merge and commit


def merge(context: Context) -> dict[str, Any]:
    """Every child's result present, unioned, written and committed; ``{"evaluationId", "status"}``.

    Raises IncompleteEvaluation when a child's result is missing (the evaluation then fails
    through the Catch, and the previous result stays in service).
    """
    matched: set[str] = set()
    by_platform: Counter[str] = Counter(dict.fromkeys(PLATFORMS, 0))
    devices = 0
    with ThreadPoolExecutor(max_workers=S3_THREADS, thread_name_prefix="shard-results") as pool:
        # Fetched S3_THREADS at a time ahead of the union, in child order.
        bodies = pool.map(lambda child: _get(matched_key(context, child)), range(context.children))
        for child, body in enumerate(bodies):
            if body is None:
                raise IncompleteEvaluation(f"the result of match child {child} is missing")
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
