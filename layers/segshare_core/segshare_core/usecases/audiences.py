"""Audience previews (API.md "Audiences"), reading stored results by the page (issue 14 item 4).

An audience of shared segments combined with ``all`` is driven by a shared result in id order:
alone, its count is the result's count and its sample the first ids that are still profiles;
with other segments, the smallest result is streamed once and each other result is asked only
for the blocks that can hold the streamed ids (``results.Result`` reads each block once a
request), unless the project holds fewer profiles than that result (its shard counters say),
when the profiles drive as below. Any other audience (``any``, or own segments only) reads the project's profiles
once and asks each shared result for the profiles at hand, again each block at most once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from segshare_core.api import ProjectScope, require_shared_segments
from segshare_core.domain.errors import Conflict, NotFound
from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import Segment, is_shared_id
from segshare_core.domain.templating import render
from segshare_core.observability import logger, tracer
from segshare_core.store import evaluations, profiles, results, segments

#: Ids taken from a result stream at a time: one BatchGet is 100 keys (DynamoDB's limit).
_BATCH = 100


@dataclass(frozen=True, slots=True)
class Audience:
    """What a preview shows: ``count`` members and the ``limit`` smallest member profiles."""

    count: int
    sample: list[Profile]


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """The template rendered for one member profile, from that profile's own attributes."""

    profile_id: str
    message: str


@dataclass(frozen=True, slots=True)
class AudiencePreview:
    """A preview as API.md answers it: how many profiles are in the audience, and messages for the first of them."""

    count: int
    sample: list[SampleMessage]


@tracer.capture_method
def preview_audience(scope: ProjectScope, segment_ids: list[str], match: str, template: str, limit: int) -> AudiencePreview:
    """The audience of these segments of the project (own or shared in), combined by ``match`` (``all``/``any``).

    No segments is the whole project (the full broadcast, with or without the sharing feature).
    A shared segment contributes the members of its latest succeeded evaluation: Conflict
    ``NOT_EVALUATED`` (409) when it has none, FeatureDisabled (403) while the company has the
    feature off; an id that is neither a live shared segment nor an own segment is NotFound (404).
    The sample is ``limit`` profiles with ``template`` rendered from each one's own attributes
    (API.md "Audiences"; a missing attribute renders empty).
    """
    shared_keys: list[str] = []
    own: list[Segment] = []
    for segment_id in dict.fromkeys(segment_ids):
        shared_key = _shared_result(scope, segment_id)
        if shared_key is not None:
            shared_keys.append(shared_key)
            continue
        segment = segments.get_segment(scope.company_id, scope.project_id, segment_id)
        if segment is None:
            raise NotFound(f"segment {segment_id!r} not found")
        own.append(segment)
    audience = preview(scope.company_id, scope.project_id, shared_keys, own, match, limit)
    logger.info("audience previewed", segments=len(shared_keys) + len(own), count=audience.count)
    return AudiencePreview(audience.count, [SampleMessage(p.profile_id, render(template, p.attributes)) for p in audience.sample])


def _shared_result(scope: ProjectScope, segment_id: str) -> str | None:
    """The result key of a shared segment's result in service; None when the id is no live shared segment."""
    shared = segments.get_shared_in(scope.company_id, scope.project_id, segment_id) if is_shared_id(segment_id) else None
    if shared is None:
        return None
    require_shared_segments(scope.company_id)
    latest = evaluations.latest_succeeded(scope.company_id, shared)
    if latest is None:
        raise Conflict(f"shared segment {segment_id!r} has no succeeded evaluation yet", code="NOT_EVALUATED")
    return latest[1]


def _batches(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(ids)
    while batch := list(islice(it, size)):
        yield batch


def preview(
    company_id: str,
    project_id: str,
    shared_keys: list[str],
    own: list[Segment],
    match: str,
    limit: int,
) -> Audience:
    """The audience of these shared results (their keys) and own segments, combined by ``match`` (``all``/``any``).

    No segments at all is the whole project. A shared segment contributes the ids of its
    result (API.md: the members of its latest succeeded evaluation); the sample holds only
    profiles that still exist, the ``limit`` smallest ids.
    """
    readers = [results.open(key) for key in dict.fromkeys(shared_keys)]
    if match == "all" and readers:
        return _driven_by_results(company_id, project_id, readers, own, limit)
    return _over_profiles(company_id, project_id, readers, own, match, limit)


def _driven_by_results(company_id: str, project_id: str, readers: list[results.Result], own: list[Segment], limit: int) -> Audience:
    """``all`` with at least one shared segment: every member is in the smallest result, read in id order."""
    if len(readers) == 1 and not own:
        # The count is the result's own; the sample reads pages until `limit` profiles exist.
        reader, sample, offset, size = readers[0], list[Profile](), 0, limit
        while len(sample) < limit:
            page = reader.page(offset=offset, limit=size)
            found = profiles.get_profiles(company_id, project_id, page.ids)
            sample.extend(found[p] for p in page.ids if p in found)
            offset += size
            if offset >= page.count:
                break
            # Profiles deleted since the evaluation left the sample short: read on a block at a time.
            size = results.BLOCK_IDS
        return Audience(reader.count(), sample[:limit])
    driver, *others = sorted(readers, key=lambda r: r.count())
    if profiles.counts(company_id, project_id).profiles < driver.count():
        # Fewer profiles than ids in the smallest result: asking the results about each profile reads less.
        return _over_profiles(company_id, project_id, readers, own, "all", limit)
    count, sample = 0, list[Profile]()
    for streamed in _batches(driver.iter_ids(), _BATCH):
        batch = streamed
        for other in others:
            held = other.contains_many(batch)
            batch = [p for p in batch if p in held]
        if not batch:
            continue
        if not own:
            count += len(batch)
            if len(sample) < limit:
                found = profiles.get_profiles(company_id, project_id, batch)
                sample.extend(found[p] for p in batch if p in found)
            continue
        found = profiles.get_profiles(company_id, project_id, batch)
        for profile_id in batch:
            profile = found.get(profile_id)
            if profile is not None and all(segment.contains(profile) for segment in own):
                count += 1
                if len(sample) < limit:
                    sample.append(profile)
    return Audience(count, sample[:limit])


def _over_profiles(company_id: str, project_id: str, readers: list[results.Result], own: list[Segment], match: str, limit: int) -> Audience:
    """Every profile of the project once (in parallel shards); each result asked about the profiles at hand."""
    combine: Callable[[Iterable[bool]], bool] = all if match == "all" else any
    tested = bool(readers or own)
    count, kept = 0, list[Profile]()

    def take(chunk: list[Profile]) -> None:
        nonlocal count, kept
        held = [r.contains_many(p.profile_id for p in chunk) for r in readers]
        for profile in chunk:
            if tested:
                verdicts = [profile.profile_id in h for h in held] + [segment.contains(profile) for segment in own]
                if not combine(verdicts):
                    continue
            count += 1
            kept.append(profile)
        # Profiles arrive shard by shard in no fixed order: keep the `limit` smallest ids (bounded).
        if len(kept) >= 2 * limit:
            kept = sorted(kept, key=_profile_id)[:limit]

    chunk: list[Profile] = []
    for profile in profiles.iter_profiles(company_id, project_id):
        chunk.append(profile)
        if len(chunk) == 500:
            take(chunk)
            chunk = []
    take(chunk)
    return Audience(count, sorted(kept, key=_profile_id)[:limit])


def _profile_id(profile: Profile) -> str:
    return profile.profile_id
