"""pynamodb models, one a kind of item; their keys are built and parsed in ``store.keys``.

Every data key leads with the company (``C#<companyId>#...``). Two lookup items are
deployment-wide because a request names them without a company: ``USER#<sub>`` (the caller's
grant: company, role, projects) and ``PROJECT#<projectId>`` (project ids are unique across the
deployment). They hold only those pointers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from segshare_core import config


@cache
def connection() -> Connection:
    """One connection (one botocore client) per process for transactions: a client costs ~100 ms to build."""
    return Connection()


class _Item(Model):
    """The key schema every table of the template shares: string ``pk`` and ``sk`` (layouts: ``store.keys``).

    Each model names its table in its own ``Meta`` rather than inheriting it from a per-table
    base: pynamodb caches a connection (holding the model's indexes) on the class that asks
    first, and a subclass would reuse its base's for the same table, indexes and all.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _MatchCounts:
    """What an evaluation answered, as its record and the LATEST pointer both hold it."""

    #: The inputs' fingerprint (``domain.evaluations.inputs_fingerprint``) a SUCCEEDED run answered.
    inputs = UnicodeAttribute(null=True)
    target_profiles = NumberAttribute(null=True)
    matched_profiles = NumberAttribute(null=True)
    matched_devices = NumberAttribute(null=True)
    matched_by_platform = JSONAttribute(null=True)


class _Job:
    """What an export and an import record both hold: state, format, who asked and when, why it failed."""

    status = UnicodeAttribute()
    format = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    error = UnicodeAttribute(null=True)


class CompanyRow(_Item):
    """pk C#<companyId>, sk COMPANY."""

    class Meta:
        table_name = config.DIRECTORY_TABLE

    name = UnicodeAttribute()
    shared_segments_enabled = BooleanAttribute(default=False)
    device_key = BinaryAttribute(legacy_encoding=False)
    created_at = UTCDateTimeAttribute()


class ProjectRow(_Item):
    """pk C#<companyId>, sk P#<projectId>."""

    class Meta:
        table_name = config.DIRECTORY_TABLE

    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class ProjectIdRow(_Item):
    """pk PROJECT#<projectId>, sk PROJECT: reserves the id deployment-wide, points at the company."""

    class Meta:
        table_name = config.DIRECTORY_TABLE

    company_id = UnicodeAttribute()


class GrantRow(_Item):
    """pk USER#<userId>, sk GRANT: the user's one company, role and (project admins) projects."""

    class Meta:
        table_name = config.DIRECTORY_TABLE

    company_id = UnicodeAttribute()
    role = UnicodeAttribute()
    project_ids = ListAttribute(of=UnicodeAttribute, default=list)


class TokensAttribute(BinaryAttribute):
    """Device tokens (32 hex digits each) stored as one binary value, 16 bytes a token; absent when there are none.

    Half the bytes of a list of hex strings, and no per-element overhead: a profile row is
    read whole by every evaluation of its project, and DynamoDB bills reads by item size.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(legacy_encoding=False, null=True, **kwargs)

    def serialize(self, value: Any) -> Any:
        return bytes.fromhex("".join(value)) if value else None

    def deserialize(self, value: Any) -> list[str]:
        raw = bytes(value)
        return [raw[i : i + 16].hex() for i in range(0, len(raw), 16)]


class EpochSecondsAttribute(NumberAttribute):
    """A UTC time stored as whole seconds since the epoch (a number: 6 bytes rather than a 31-character string)."""

    def serialize(self, value: Any) -> Any:
        # DynamoDB's wire form of a number is its decimal text.
        return str(int(value.timestamp()))

    def deserialize(self, value: Any) -> datetime:
        return datetime.fromtimestamp(int(value), tz=UTC)


class ProfileRow(_Item):
    """pk C#<companyId>#P#<projectId>#S#<shard of the profile id>, sk the profile id.

    Stored names are one letter and tokens binary: DynamoDB counts every attribute name and
    value in an item's size, and an evaluation reads every row of the source project (issue
    14: the source's rows were most of a 10M x 10M evaluation's price).
    """

    class Meta:
        table_name = config.PROFILES_TABLE

    attributes = JSONAttribute(attr_name="a")
    devices = JSONAttribute(attr_name="d")
    tokens = TokensAttribute(attr_name="t")
    updated_at = EpochSecondsAttribute(attr_name="u")
    version = VersionAttribute(attr_name="v")


class DeviceIndexRow(_Item):
    """pk C#<companyId>#P#<projectId>#S#<shard>, sk a device token; the profiles holding it.

    A device can belong to several profiles of one project, hence a set. The entry is
    deleted in the same transaction that takes its last profile out (so the index counters
    stay exact); readers still skip an entry without profiles.
    """

    class Meta:
        table_name = config.DEVICE_INDEX_TABLE

    # One-letter stored names: an evaluation reads the target's whole index (see ProfileRow).
    platform = UnicodeAttribute(attr_name="p")
    profiles = UnicodeSetAttribute(null=True, attr_name="h")


class CounterRow(_Item):
    """pk C#<companyId>#P#<projectId>#N#<P|I>#<shard>, sk N: the running totals of one shard.

    ``total`` counts the profiles of a profile shard (P) or the entries of an index shard
    (I); ``seq`` moves on every change made to that shard. Both are updated (ADD) in the
    same transaction as the profile write that changes them, so a sum over a project's
    counters is its exact count, read without touching a row (issue 14).
    """

    class Meta:
        table_name = config.PROFILES_TABLE

    total = NumberAttribute(default=0)
    seq = NumberAttribute(default=0)


class HeldMovesRow(_Item):
    """Keys ``store.keys.held_moves``: a writer's (an import batch's): counter moves not applied yet.

    A bulk import's batch writes its profiles without touching the shared counter items (so
    concurrent batches never meet on them): each of its transactions rewrites this item with
    the batch's running moves, conditioned on ``version``; at the batch's end one transaction
    ADDs the moves to the counters and deletes this item (``store.profiles.release_moves``).
    ``moves``: ``{"<P|I>#<shard>": [delta of total, steps of seq]}``.
    """

    class Meta:
        table_name = config.PROFILES_TABLE

    moves = JSONAttribute()
    version = NumberAttribute()


class SegmentRow(_Item):
    """pk C#<companyId>#P#<projectId>, sk SEG#<segmentId>: a project's own segment and its shares.

    ``shared_with`` is the source of truth for shares; every change is a transaction
    conditioned on ``share_version``, which moves with each accepted save (a plain number, not
    pynamodb's VersionAttribute: ``store.segments._at_share_version`` says why).
    """

    class Meta:
        table_name = config.SEGMENTS_TABLE

    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    rule = JSONAttribute(null=True)
    profile_ids = JSONAttribute(null=True)
    shared_with = ListAttribute(of=UnicodeAttribute, default=list)
    share_version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    #: The definition's version (name, rule, static list): an edit (PATCH) is conditioned on it
    #: and moves it; absent on segments written before edits existed, which read as version 1.
    definition_version = NumberAttribute(null=True)
    #: When the definition last changed (created_at until the first edit): a schedule's marker.
    updated_at = UTCDateTimeAttribute(null=True)


#: The GSI of live share items (its partition values: ``keys.live_part``).
LIVE_SHARES_INDEX = "live-shares"


class LiveSharesIndex(GlobalSecondaryIndex["SharedRow"]):  # type: ignore[no-untyped-call]
    """Sparse GSI ``live-shares`` of the segments table: hash ``live_part``, range ``live_key``."""

    class Meta:
        index_name = LIVE_SHARES_INDEX
        projection = AllProjection()

    live_part = UnicodeAttribute(hash_key=True)
    live_key = UnicodeAttribute(range_key=True)


class SharedRow(_Item):
    """pk C#<companyId>#P#<targetProjectId>, sk SHARED#<sharedSegmentId>: a live share in the target.

    Written and deleted in the same transaction as the source segment's ``shared_with``. Its
    ``generation`` is minted at every grant; commits of evaluations and exports are conditioned
    on it (a ConditionCheck on this item), and derived items are served only under it.
    """

    class Meta:
        table_name = config.SEGMENTS_TABLE

    source_project_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    shared_at = UTCDateTimeAttribute()
    generation = UnicodeAttribute(null=True)  # null only on items written before generations
    # The sparse GSI ``live-shares`` (template.yaml): only share items carry these two, so the
    # schedule lists live shares by Query without reading segments or history (issue 15).
    live_part = UnicodeAttribute(null=True)
    live_key = UnicodeAttribute(null=True)
    live_index = LiveSharesIndex()


class HistoryRow(_Item):
    """pk C#<companyId>#P#<projectId>#H#<segmentId>, sk <time>#<version>: one accepted sharing save."""

    class Meta:
        table_name = config.SEGMENTS_TABLE

    user_id = UnicodeAttribute()
    added = ListAttribute(of=UnicodeAttribute, default=list)
    removed = ListAttribute(of=UnicodeAttribute, default=list)


class EvaluationRow(_MatchCounts, _Item):
    """pk C#<companyId>#P#<targetProjectId>#X#<sharedSegmentId>#G#<generation>, sk E#<evaluationId>.

    The share's generation is part of the partition: a reshare starts an empty partition, so the
    evaluations (and the LATEST pointer) of an ended share are never listed or served. Ids sort
    by startedAt (domain.evaluations.new_evaluation_id).
    """

    class Meta:
        table_name = config.EVALUATIONS_TABLE

    trigger = UnicodeAttribute()
    status = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    duration_ms = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    result_key = UnicodeAttribute(null=True)
    #: True when a scheduled run found its inputs unchanged and recorded the previous answer.
    reused = BooleanAttribute(null=True)
    #: Epoch seconds; the table's DynamoDB TTL attribute (EVALUATION_RETENTION_DAYS after the start).
    expires_at = NumberAttribute(null=True)


class LatestRow(_MatchCounts, _Item):
    """pk as EvaluationRow (so per generation), sk LATEST: the SUCCEEDED evaluation that started last.

    It moves only after that evaluation's results are complete in S3, in the same transaction
    that marks the evaluation SUCCEEDED; a failed run never moves it. It holds the inputs and
    counts too, so a reuse needs no read of the evaluation row (issue 15).
    """

    class Meta:
        table_name = config.EVALUATIONS_TABLE

    evaluation_id = UnicodeAttribute()
    result_key = UnicodeAttribute()


class TickClaimRow(_Item):
    """pk as EvaluationRow, sk TICK#<tick>: a schedule tick's claim on a share, naming its evaluation.

    Written with the evaluation in one transaction, conditioned on not existing: two executions
    of one tick evaluate a share once. It only deduplicates; ordering follows startedAt.
    """

    class Meta:
        table_name = config.EVALUATIONS_TABLE

    evaluation_id = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)  # the table's TTL attribute


class LeaseRow(_Item):
    """pk as EvaluationRow, sk LEASE: a scheduled run in flight on this share generation.

    Written with the run's RUNNING record, conditioned on no lease younger than RUNNING_DEADLINE,
    and deleted when the run ends: a later tick that finds it skips the share (issue 15 item 3).
    A lease whose run died is simply overwritten once past the deadline.
    """

    class Meta:
        table_name = config.EVALUATIONS_TABLE

    evaluation_id = UnicodeAttribute()
    started_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute(null=True)  # the table's TTL attribute


class ExportRow(_Job, _Item):
    """pk C#<companyId>#P#<targetProjectId>, sk EXP#<exportId> (ids sort by time)."""

    class Meta:
        table_name = config.EXPORTS_TABLE

    shared_segment_id = UnicodeAttribute()
    attributes = JSONAttribute(null=True)
    row_count = NumberAttribute(null=True)
    bytes = NumberAttribute(null=True)
    ready_at = UTCDateTimeAttribute(null=True)
    evaluation_id = UnicodeAttribute(null=True)
    object_key = UnicodeAttribute(null=True)
    generation = UnicodeAttribute(null=True)  # the share's, at creation; null only before generations


class ImportRow(_Job, _Item):
    """pk C#<companyId>#P#<projectId>, sk IMP#<importId> (ids sort by time): one bulk import and its counts."""

    class Meta:
        table_name = config.IMPORTS_TABLE

    object_key = UnicodeAttribute()
    rows = NumberAttribute(null=True)
    upserted = NumberAttribute(null=True)
    rejected = NumberAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    errors_key = UnicodeAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    CompanyRow,
    ProjectRow,
    ProjectIdRow,
    GrantRow,
    ProfileRow,
    CounterRow,
    HeldMovesRow,
    DeviceIndexRow,
    SegmentRow,
    SharedRow,
    HistoryRow,
    EvaluationRow,
    LatestRow,
    TickClaimRow,
    LeaseRow,
    ExportRow,
    ImportRow,
)
