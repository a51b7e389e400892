"""A batch of profile upserts, validated profile by profile (API.md PUT .../profiles)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core.domain.errors import InvalidInput, TooLarge
from segshare_core.domain.profiles import MAX_BATCH, Profile, parse_profile
from segshare_core.domain.text import is_writable
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import profiles

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class Rejected:
    """One profile left out: its place in the batch, its id when it can be echoed, API.md's code and the reason."""

    index: int
    profile_id: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class UpsertResult:
    upserted: int
    rejected: list[Rejected]


def _shown_id(raw: object) -> str | None:
    """The submitted profile id, echoed back only when it is a string of at most 63 characters with a UTF-8 form."""
    raw_id = raw.get("profileId") if isinstance(raw, dict) else None
    return raw_id if isinstance(raw_id, str) and len(raw_id) <= 63 and is_writable(raw_id) else None


@tracer.capture_method(capture_response=False)
def upsert_profiles(scope: ProjectScope, company_key: bytes, batch: Sequence[object]) -> UpsertResult:
    """Replace each valid profile whole; the invalid ones are rejected one by one and the rest lands.

    More than MAX_BATCH (500) profiles is 413 TOO_LARGE for the whole call. A profile that
    fails domain.profiles.parse_profile is rejected with its code (INVALID_PROFILE,
    INVALID_DEVICE_ID, ...); a second occurrence of an id in the batch is DUPLICATE_PROFILE.
    ``company_key`` turns device ids into tokens (store.profiles writes rows and index together).
    """
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"profiles: at most {MAX_BATCH} profiles a call, got {len(batch)}")
    accepted: list[Profile] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for index, raw in enumerate(batch):
        try:
            profile = parse_profile(raw)
            if profile.profile_id in seen:
                raise InvalidInput(f"profile {profile.profile_id!r} appears twice in the batch", code="DUPLICATE_PROFILE")
        except InvalidInput as exc:
            rejected.append(Rejected(index=index, profile_id=_shown_id(raw), code=exc.code, message=exc.message))
            continue
        seen.add(profile.profile_id)
        accepted.append(profile)
    if accepted:
        profiles.upsert_profiles(scope.company_id, scope.project_id, company_key, accepted)
    logger.info("profiles upserted", project_id=scope.project_id, upserted=len(accepted), rejected=len(rejected))
    metrics.add_metric(name="ProfilesUpserted", unit="Count", value=len(accepted))
    return UpsertResult(upserted=len(accepted), rejected=rejected)
