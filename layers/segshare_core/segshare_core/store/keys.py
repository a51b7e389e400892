"""Every DynamoDB key the store writes or reads, built and parsed here and nowhere else.

Every data key leads with the company (``C#<companyId>``, DESIGN.md "Tenancy"), so a Query
can never wander into another company's items. Ids hold no ``#`` (``domain.ids``: lower-case
letters, digits and ``-``), so ``#`` separates the parts unambiguously. Shards are written
with three digits so a project's partitions sort in shard order.

Directory table:

- company: pk ``C#<companyId>``, sk ``COMPANY``
- project: pk ``C#<companyId>``, sk ``P#<projectId>``
- project id registry (deployment-wide): pk ``PROJECT#<projectId>``, sk ``PROJECT``
- user grant (deployment-wide): pk ``USER#<userId>``, sk ``GRANT``

Profiles table:

- profile: pk ``C#<companyId>#P#<projectId>#S#<shard>``, sk the profile id
  (the shard: ``domain.profiles.shard_of_profile``)
- counter: pk ``C#<companyId>#P#<projectId>#N#<P|I>#<slot>``, sk ``N``
  (``P`` counts profiles, ``I`` index entries; shard ``s`` counts on slot
  ``s % profiles.COUNTER_SLOTS``, so a project has at most 16 of each kind)
- counter moves held by a writer (an import batch): pk ``C#<companyId>#P#<projectId>#N#HELD``,
  sk the writer (``<importId>#<batch>``)

Device index table:

- entry: pk ``C#<companyId>#P#<projectId>#S#<shard>``, sk the device token
  (the shard: ``domain.devices.shard_of`` of the token)

Segments table:

- own segment: pk ``C#<companyId>#P#<projectId>``, sk ``SEG#<segmentId>``
- share in the target: pk ``C#<companyId>#P#<targetProjectId>``, sk ``SHARED#<sharedSegmentId>``;
  its ``live-shares`` GSI keys: ``live_part`` ``LIVE#<0..LIVE_PARTS-1>`` (by the company),
  ``live_key`` ``<companyId>#<targetProjectId>#<sharedSegmentId>``
- sharing history line: pk ``C#<companyId>#P#<projectId>#H#<segmentId>``,
  sk ``<ISO-8601 time>#<share version, 10 digits>`` (newest last)

Evaluations table, one partition per share generation:
pk ``C#<companyId>#P#<targetProjectId>#X#<sharedSegmentId>#G#<generation>``, and sk

- ``E#<evaluationId>``: an evaluation (ids sort by startedAt)
- ``LATEST``: the pointer to the result in service
- ``TICK#<tick, first 64 characters>``: a schedule tick's claim
- ``LEASE``: a scheduled run in flight

Exports table: pk ``C#<companyId>#P#<targetProjectId>``, sk ``EXP#<exportId>``.
Imports table: pk ``C#<companyId>#P#<projectId>``, sk ``IMP#<importId>``.

S3 object keys are not here: each belongs to the store module of its objects
(``results.result_key``, ``exports.object_key``, ``imports.upload_key``).
"""

from __future__ import annotations

import zlib

from segshare_core.domain.devices import shard_of
from segshare_core.domain.profiles import shard_of_profile

Key = tuple[str, str]
"""(partition key, sort key) of one item."""

_COMPANY = "C#"
_PROJECT = "#P#"

COMPANY_SK = "COMPANY"
PROJECT_SK_PREFIX = "P#"
SEGMENT_SK_PREFIX = "SEG#"
SHARED_SK_PREFIX = "SHARED#"
EVALUATION_SK_PREFIX = "E#"
EXPORT_SK_PREFIX = "EXP#"
IMPORT_SK_PREFIX = "IMP#"
LATEST_SK = "LATEST"
LEASE_SK = "LEASE"
COUNTER_SK = "N"

#: Which shard a counter counts: a profile shard or a device-index shard.
PROFILE_COUNTER, INDEX_COUNTER = "P", "I"

#: Partition values of the ``live-shares`` GSI: a few, so its writes do not all land on one.
LIVE_PARTS = 4

#: A tick name is cut to this many characters in a claim's sort key (it names, it is not parsed).
TICK_CHARS = 64


def _strip(value: str, prefix: str) -> str:
    if not value.startswith(prefix):
        raise ValueError(f"not a key of this kind: expected the prefix {prefix!r}")
    return value[len(prefix) :]


def exclusive_start(pk: str, sk: str) -> dict[str, dict[str, str]]:
    """A Query's ExclusiveStartKey (DynamoDB's typed form) that resumes just after the item (pk, sk)."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# ---------------------------------------------------------------- companies and projects


def company_pk(company_id: str) -> str:
    """``C#<companyId>``: a company's directory partition (its row and its projects)."""
    return f"{_COMPANY}{company_id}"


def company_of(pk: str) -> str:
    """The company id of any company-led partition key (``C#<companyId>...``); ValueError otherwise."""
    return _strip(pk, _COMPANY).split("#", 1)[0]


def company(company_id: str) -> Key:
    """The company row."""
    return company_pk(company_id), COMPANY_SK


def project(company_id: str, project_id: str) -> Key:
    """The project row in its company's directory partition."""
    return company_pk(company_id), f"{PROJECT_SK_PREFIX}{project_id}"


def project_id_of(sk: str) -> str:
    """The project id of a project row's sort key."""
    return _strip(sk, PROJECT_SK_PREFIX)


def project_registry(project_id: str) -> Key:
    """The deployment-wide reservation of a project id (it points at the company)."""
    return f"PROJECT#{project_id}", "PROJECT"


def grant(user_id: str) -> Key:
    """A user's grant (deployment-wide: a request names the user, not the company)."""
    return f"USER#{user_id}", "GRANT"


def project_pk(company_id: str, project_id: str) -> str:
    """``C#<companyId>#P#<projectId>``: a project's partition (segments, shares, exports, imports)."""
    return f"{company_pk(company_id)}{_PROJECT}{project_id}"


def project_of(pk: str) -> tuple[str, str]:
    """(company id, project id) of any project-led partition key (``C#<c>#P#<p>...``); ValueError otherwise."""
    company_id, sep, rest = _strip(pk, _COMPANY).partition(_PROJECT)
    if not sep:
        raise ValueError("not a key of this kind: no project part")
    return company_id, rest.split("#", 1)[0]


# ---------------------------------------------------------------- profiles, index, counters


def _shard_pk(company_id: str, project_id: str, shard: int) -> str:
    return f"{project_pk(company_id, project_id)}#S#{shard:03d}"


def profile_pk(company_id: str, project_id: str, shard: int) -> str:
    """One of a project's profile partitions (``domain.profiles.shard_of_profile`` picks it)."""
    return _shard_pk(company_id, project_id, shard)


def index_pk(company_id: str, project_id: str, shard: int) -> str:
    """One of a project's device-index partitions (``domain.devices.shard_of`` of the token picks it)."""
    return _shard_pk(company_id, project_id, shard)


def profile(company_id: str, project_id: str, profile_id: str, shards: int) -> Key:
    """A profile row: its shard's partition (of ``shards``), the profile id as sort key."""
    return profile_pk(company_id, project_id, shard_of_profile(profile_id, shards)), profile_id


def index_entry(company_id: str, project_id: str, device_token: str, shards: int) -> Key:
    """A device-index entry: its token's shard partition (of ``shards``), the token as sort key."""
    return index_pk(company_id, project_id, shard_of(device_token, shards)), device_token


def counter(company_id: str, project_id: str, kind: str, slot: int) -> Key:
    """The counter item of one slot (``store.profiles.counter_slot`` of a shard); each has its own partition, so counters spread."""
    return f"{project_pk(company_id, project_id)}#N#{kind}#{slot:03d}", COUNTER_SK


def held_moves_pk(company_id: str, project_id: str) -> str:
    """The partition of a project's held counter moves, one item per writer holding some."""
    return f"{project_pk(company_id, project_id)}#N#HELD"


def held_moves(company_id: str, project_id: str, owner: str) -> Key:
    """The item holding one writer's counter moves not applied yet (``store.profiles.HeldMoves``)."""
    return held_moves_pk(company_id, project_id), owner


# ---------------------------------------------------------------- segments, shares, history


def segment(company_id: str, project_id: str, segment_id: str) -> Key:
    """A project's own segment."""
    return project_pk(company_id, project_id), f"{SEGMENT_SK_PREFIX}{segment_id}"


def segment_id_of(sk: str) -> str:
    return _strip(sk, SEGMENT_SK_PREFIX)


def shared(company_id: str, target_project_id: str, shared_id: str) -> Key:
    """A live share in its target project (the item a share's generation lives on)."""
    return project_pk(company_id, target_project_id), f"{SHARED_SK_PREFIX}{shared_id}"


def shared_id_of(sk: str) -> str:
    return _strip(sk, SHARED_SK_PREFIX)


def live_part(company_id: str) -> str:
    """The ``live-shares`` GSI partition of a company's share items: ``LIVE#<0..LIVE_PARTS-1>``.

    A company stays in one part (its shares come out together, sorted by ``live_key``), and the
    parts spread the index's write load over a few partition values instead of one.
    """
    return live_part_number(zlib.crc32(company_id.encode()) % LIVE_PARTS)


def live_part_number(part: int) -> str:
    """The ``live-shares`` partition value of part ``part`` (0 to LIVE_PARTS - 1)."""
    return f"LIVE#{part}"


def live_key(company_id: str, target_project_id: str, shared_id: str) -> str:
    """A share item's ``live-shares`` sort key: a company's shares sort together."""
    return f"{company_id}#{target_project_id}#{shared_id}"


def history_pk(company_id: str, project_id: str, segment_id: str) -> str:
    """The partition of one segment's sharing history."""
    return f"{project_pk(company_id, project_id)}#H#{segment_id}"


def history_sk(at: str, share_version: int) -> str:
    """A history line's sort key: the save's ISO-8601 time, then the share version it made (10 digits)."""
    return f"{at}#{share_version:010d}"


def history_at_of(sk: str) -> str:
    """The ISO-8601 time of a history line's sort key."""
    at, sep, _version = sk.rpartition("#")
    if not sep:
        raise ValueError("not a key of this kind: no version part")
    return at


# ---------------------------------------------------------------- evaluations


def evaluation_pk(company_id: str, target_project_id: str, shared_id: str, generation: str) -> str:
    """The partition of one share generation: its evaluations, LATEST pointer, tick claims and lease."""
    return f"{project_pk(company_id, target_project_id)}#X#{shared_id}#G#{generation}"


def evaluation_sk(evaluation_id: str) -> str:
    return f"{EVALUATION_SK_PREFIX}{evaluation_id}"


def evaluation_id_of(sk: str) -> str:
    return _strip(sk, EVALUATION_SK_PREFIX)


def tick_sk(tick: str) -> str:
    """A schedule tick's claim: the tick's first TICK_CHARS characters."""
    return f"TICK#{tick[:TICK_CHARS]}"


# ---------------------------------------------------------------- exports and imports


def export_record(company_id: str, project_id: str, export_id: str) -> Key:
    """An export record in its target project's partition."""
    return project_pk(company_id, project_id), f"{EXPORT_SK_PREFIX}{export_id}"


def export_id_of(sk: str) -> str:
    return _strip(sk, EXPORT_SK_PREFIX)


def import_record(company_id: str, project_id: str, import_id: str) -> Key:
    """An import record in its project's partition."""
    return project_pk(company_id, project_id), f"{IMPORT_SK_PREFIX}{import_id}"


def import_id_of(sk: str) -> str:
    return _strip(sk, IMPORT_SK_PREFIX)
