"""Members pages and audience previews, reading stored results by the page (issue 14 item 4).

A members page reads the blocks of the result that hold it and the page's profiles. An
audience of shared segments combined with ``all`` is driven by a shared result in id order:
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

from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import Segment
from segshare_core.store import profiles, results

#: Ids taken from a result stream at a time: one BatchGet is 100 keys (DynamoDB's limit).
_BATCH = 100


@dataclass(frozen=True, slots=True)
class MembersPage:
    """Profiles of one members page (ids in result order, missing profiles left out) and where the next starts."""

    members: list[Profile]
    next_offset: int | None


def members_page(company_id: str, project_id: str, result_key: str, offset: int, limit: int) -> MembersPage:
    """Members ``offset`` to ``offset + limit`` of the result: its block(s) from S3, one BatchGet per 100 ids.

    A profile deleted since the evaluation is left out of the page (the page still advances
    by ``limit``, so cursors stay stable). ``next_offset`` is None on the last page.
    """
    page = results.page(result_key, offset=offset, limit=limit)
    found = profiles.get_profiles(company_id, project_id, page.ids)
    end = offset + limit
    return MembersPage([found[p] for p in page.ids if p in found], end if end < page.count else None)


@dataclass(frozen=True, slots=True)
class Audience:
    """What a preview shows: ``count`` members and the ``limit`` smallest member profiles."""

    count: int
    sample: list[Profile]


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
