"""A project's profiles: a page of them, one of them, deleting one (API.md, Profiles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from segshare_core import config
from segshare_core.domain import cursors
from segshare_core.domain.errors import NotFound
from segshare_core.domain.profiles import Profile
from segshare_core.observability import logger, tracer
from segshare_core.store import profiles

if TYPE_CHECKING:
    from segshare_core.api import ProjectScope


@dataclass(frozen=True, slots=True)
class ProfilePage:
    """Profiles in a stable order, the signed cursor of the next page (None on the last), and the project's total."""

    profiles: list[Profile]
    next_cursor: str | None
    total: int


def _position(key: bytes, listing: str, cursor: str) -> tuple[int, str]:
    """(shard, last profile id) of a cursor this listing issued; InvalidCursor (400) for anything else."""
    position = cursors.decode(key, listing, cursor)
    shard, after = position.get("s"), position.get("k")
    if not isinstance(shard, int) or not isinstance(after, str) or not 0 <= shard < config.DEVICE_INDEX_SHARDS:
        raise cursors.InvalidCursor("cursor: not a cursor of this listing")
    return shard, after


@tracer.capture_method(capture_response=False)
def list_profiles(scope: ProjectScope, company_key: bytes, limit: int, cursor: str | None) -> ProfilePage:
    """Up to ``limit`` (1 to 1,000) profiles after ``cursor``: shard by shard, id order within one.

    Cursors are signed with ``company_key`` and bound to this project's listing (domain.cursors);
    ``total`` is the sum of the shard counters (one BatchGet), never a count of rows.
    """
    listing = f"profiles:{scope.project_id}"
    after = _position(company_key, listing, cursor) if cursor else None
    page, last = profiles.list_page(scope.company_id, scope.project_id, limit, after)
    total = profiles.counts(scope.company_id, scope.project_id).profiles
    next_cursor = cursors.encode(company_key, listing, {"s": last[0], "k": last[1]}) if last else None
    return ProfilePage(profiles=page, next_cursor=next_cursor, total=total)


@tracer.capture_method(capture_response=False)
def get_profile(scope: ProjectScope, profile_id: str) -> Profile:
    """One profile of the project; NotFound when there is none."""
    profile = profiles.get_profile(scope.company_id, scope.project_id, profile_id)
    if profile is None:
        raise NotFound(f"profile {profile_id!r} not found")
    return profile


@tracer.capture_method(capture_response=False)
def delete_profile(scope: ProjectScope, profile_id: str) -> None:
    """Delete a profile and its index entries in one transaction (404 when absent); its devices stop matching at once."""
    profiles.delete_profile(scope.company_id, scope.project_id, profile_id)
    logger.info("profile deleted", project_id=scope.project_id)
