"""Segments, their shares (source side and target side, always written together) and sharing history."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from segshare_core.domain.clock import iso, now
from segshare_core.domain.errors import AlreadyExists
from segshare_core.domain.segments import Segment, SharedSegment, shared_segment_id
from segshare_core.domain.sharing import LEGACY_GENERATION, SavePlan, SharingChange, new_generation
from segshare_core.store import keys
from segshare_core.store.errors import condition_failed
from segshare_core.store.models import HistoryRow, SegmentRow, SharedRow, connection


class VersionMoved(Exception):
    """The segment's share version (or, for an edit, its definition version) changed between our read and our write."""


#: A segment written before edits existed holds no definition version; it reads as this one.
FIRST_VERSION = 1


def _segment(row: SegmentRow) -> Segment:
    return Segment(
        segment_id=keys.segment_id_of(row.sk),
        project_id=keys.project_of(row.pk)[1],
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]
        rule=row.rule,
        profile_ids=tuple(row.profile_ids or ()),
        shared_with=frozenset(str(p) for p in row.shared_with or []),
        share_version=int(row.share_version or 0),
        created_at=iso(row.created_at),
        version=int(row.definition_version or FIRST_VERSION),
        updated_at=iso(row.updated_at or row.created_at),
    )


def _shared(row: SharedRow) -> SharedSegment:
    return SharedSegment(
        shared_segment_id=keys.shared_id_of(row.sk),
        target_project_id=keys.project_of(row.pk)[1],
        source_project_id=row.source_project_id,
        segment_id=row.segment_id,
        name=row.name,
        shared_at=iso(row.shared_at),
        generation=row.generation or LEGACY_GENERATION,
    )


def check_current(tx: TransactWrite, company_id: str, shared: SharedSegment) -> None:
    """Add to ``tx`` a ConditionCheck that ``shared``'s generation is still the live one.

    Every commit of something derived from a share (an evaluation turning SUCCEEDED with the
    pointer, an export turning READY) carries this, so a share that ended (or ended and was
    granted again) in the meantime cancels the commit (API.md "Revoking and resharing").
    """
    tx.condition_check(
        SharedRow,
        *keys.shared(company_id, shared.target_project_id, shared.shared_segment_id),
        condition=_generation_is(shared.generation),
    )


def _generation_is(generation: str) -> Condition:
    if generation == LEGACY_GENERATION:  # an item from before generations holds none
        condition: Condition = SharedRow.pk.exists() & SharedRow.generation.does_not_exist()
        return condition
    return SharedRow.generation == generation


def _at_share_version(segment: Segment) -> Condition:
    """The condition of every write to a segment's shares (a save, a delete): its share version is still the one read.

    Optimistic locking written out rather than pynamodb's VersionAttribute, which would also
    condition and move on every other write of the row (an edit must not: it has its own
    version), starts at 1 where the API's first version is 0, and allows one per model.
    """
    condition: Condition = SegmentRow.share_version == segment.share_version
    return condition


def create_segment(
    company_id: str,
    project_id: str,
    segment_id: str,
    name: str,
    *,
    rule: dict[str, Any] | None,
    profile_ids: tuple[str, ...] | None,
    user_id: str,
) -> Segment:
    moment = now()
    row = SegmentRow(
        *keys.segment(company_id, project_id, segment_id),
        name=name,
        kind="rule" if rule is not None else "static",
        rule=rule,
        profile_ids=list(profile_ids) if profile_ids is not None else None,
        shared_with=[],
        share_version=0,
        created_at=moment,
        created_by=user_id,
        definition_version=FIRST_VERSION,
        updated_at=moment,
    )
    try:
        row.save(condition=SegmentRow.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise AlreadyExists(f"segment {segment_id!r} already exists") from exc
        raise
    return _segment(row)


def get_segment(company_id: str, project_id: str, segment_id: str) -> Segment | None:
    try:
        return _segment(SegmentRow.get(*keys.segment(company_id, project_id, segment_id), consistent_read=True))
    except DoesNotExist:
        return None


def list_segments(company_id: str, project_id: str) -> list[Segment]:
    rows = SegmentRow.query(keys.project_pk(company_id, project_id), SegmentRow.sk.startswith(keys.SEGMENT_SK_PREFIX), consistent_read=True)
    return [_segment(row) for row in rows]


def edit_segment(
    company_id: str,
    segment: Segment,
    *,
    name: str | None,
    rule: dict[str, Any] | None,
    profile_ids: tuple[str, ...] | None,
) -> Segment:
    """Replace the given parts of ``segment``'s definition; VersionMoved if its version moved since the read.

    ``segment`` is the segment as read; ``None`` leaves that part as it is. The write is one
    UpdateItem conditioned on the definition version read (optimistic, API.md PATCH), and moves
    it by one together with ``updated_at``: the marker a change-aware schedule compares. Shares,
    ``share_version`` and the sharing history are not touched; the targets read the name from
    here (``with_source_names``) and the definition at their next evaluation. Raises
    VersionMoved also when the segment was deleted in the meantime.
    """
    actions: list[Any] = [
        SegmentRow.definition_version.set(segment.version + 1),
        SegmentRow.updated_at.set(now()),
    ]
    if name is not None:
        actions.append(SegmentRow.name.set(name))
    if rule is not None:
        actions.append(SegmentRow.rule.set(rule))
    if profile_ids is not None:
        actions.append(SegmentRow.profile_ids.set(list(profile_ids)))
    condition = SegmentRow.pk.exists() & (SegmentRow.definition_version == segment.version)
    if segment.version == FIRST_VERSION:  # a segment from before edits holds no version yet
        condition = SegmentRow.pk.exists() & (
            (SegmentRow.definition_version == FIRST_VERSION) | SegmentRow.definition_version.does_not_exist()
        )
    row = SegmentRow(*keys.segment(company_id, segment.project_id, segment.segment_id))
    try:
        row.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            raise VersionMoved from exc
        raise
    return _segment(row)


def with_source_names(company_id: str, shares: Iterable[SharedSegment]) -> list[SharedSegment]:
    """``shares`` with each name read from its source segment, so an edit's new name shows at once.

    The name a share item holds is the one of the grant; the source segment is the truth
    (API.md PATCH: targets see the new name at once). One consistent BatchGetItem of names
    for all of them; a share whose source is gone (a race with a forced delete) keeps its name.
    """
    shares = list(shares)
    sources = {s.shared_segment_id: keys.segment(company_id, s.source_project_id, s.segment_id) for s in shares}
    names: dict[keys.Key, str] = {}
    if sources:
        for row in SegmentRow.batch_get(sorted(set(sources.values())), consistent_read=True, attributes_to_get=["pk", "sk", "name"]):
            names[(row.pk, row.sk)] = row.name
    return [dataclasses.replace(s, name=names.get(sources[s.shared_segment_id], s.name)) for s in shares]


def list_shared_in(company_id: str, project_id: str) -> list[SharedSegment]:
    rows = SharedRow.query(keys.project_pk(company_id, project_id), SharedRow.sk.startswith(keys.SHARED_SK_PREFIX), consistent_read=True)
    return [_shared(row) for row in rows]


def get_shared_in(company_id: str, project_id: str, shared_id: str) -> SharedSegment | None:
    try:
        return _shared(SharedRow.get(*keys.shared(company_id, project_id, shared_id), consistent_read=True))
    except DoesNotExist:
        return None


def save_sharing(company_id: str, segment: Segment, plan: SavePlan, user_id: str) -> Segment:
    """Apply a save in one transaction conditioned on the version we read; VersionMoved if it moved.

    The source's ``shared_with``, the targets' share items and the history line change together,
    so a target never lists a share the source does not have, and no save goes unrecorded. Each
    added target's share item gets a new generation, so nothing of an earlier grant is served.
    """
    moment = now()
    version = segment.share_version + 1
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                SegmentRow(*keys.segment(company_id, segment.project_id, segment.segment_id)),
                actions=[SegmentRow.shared_with.set(sorted(plan.shared_with)), SegmentRow.share_version.set(version)],  # type: ignore[arg-type]
                condition=_at_share_version(segment),
            )
            for target in sorted(plan.added):
                shared_id = shared_segment_id(company_id, segment.project_id, segment.segment_id, target)
                tx.save(
                    SharedRow(
                        *keys.shared(company_id, target, shared_id),
                        source_project_id=segment.project_id,
                        segment_id=segment.segment_id,
                        name=segment.name,
                        shared_at=moment,
                        generation=new_generation(moment),
                        live_part=keys.live_part(company_id),
                        live_key=keys.live_key(company_id, target, shared_id),
                    )
                )
            for target in sorted(plan.removed):
                shared_id = shared_segment_id(company_id, segment.project_id, segment.segment_id, target)
                tx.delete(SharedRow(*keys.shared(company_id, target, shared_id)))
            tx.save(
                HistoryRow(
                    keys.history_pk(company_id, segment.project_id, segment.segment_id),
                    keys.history_sk(iso(moment), version),
                    user_id=user_id,
                    added=sorted(plan.added),
                    removed=sorted(plan.removed),
                )
            )
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise VersionMoved from exc
        raise
    return dataclasses.replace(segment, shared_with=plan.shared_with, share_version=version)


def delete_segment(company_id: str, segment: Segment) -> None:
    """Delete a segment and revoke every share of it in one transaction (VersionMoved if it changed)."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(
                SegmentRow(*keys.segment(company_id, segment.project_id, segment.segment_id)),
                condition=_at_share_version(segment),
            )
            for target in sorted(segment.shared_with):
                shared_id = shared_segment_id(company_id, segment.project_id, segment.segment_id, target)
                tx.delete(SharedRow(*keys.shared(company_id, target, shared_id)))
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise VersionMoved from exc
        raise


def history(
    company_id: str, project_id: str, segment_id: str, limit: int, after: dict[str, Any] | None
) -> tuple[list[SharingChange], dict[str, Any] | None]:
    """Accepted saves, newest first: (changes, position after the last one or None at the end)."""
    pk = keys.history_pk(company_id, project_id, segment_id)
    start = keys.exclusive_start(pk, str(after["sk"])) if after else None
    result = HistoryRow.query(pk, scan_index_forward=False, limit=limit, last_evaluated_key=start, page_size=limit)
    entries = [
        SharingChange(
            at=keys.history_at_of(row.sk),
            user_id=row.user_id,
            added=tuple(str(p) for p in row.added or []),
            removed=tuple(str(p) for p in row.removed or []),
        )
        for row in result
    ]
    last = result.last_evaluated_key
    return entries, ({"sk": last["sk"]["S"]} if last else None)


def live_shares() -> Iterator[tuple[str, SharedSegment]]:
    """(company id, share) for every live share of the deployment: what the schedule re-evaluates.

    A Query of each part of the sparse ``live-shares`` GSI (only share items carry its keys), so
    its reads grow with the live shares alone, never with history or segments (issue 15).
    Eventually consistent, as every GSI read is: a share granted a moment ago is picked up by
    the next tick. Raises what pynamodb raises (throttling included) for the caller to retry.
    """
    for part in range(keys.LIVE_PARTS):
        for row in SharedRow.live_index.query(keys.live_part_number(part)):
            yield keys.company_of(row.pk), _shared(row)
