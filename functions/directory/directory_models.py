"""The directory function's request bodies and response models (API.md: Directory, Profiles).

Responses are ``ApiModel``s built from domain objects (or the use cases' results) with
``model_validate``, from attributes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool

from segshare_core.api import ApiModel, Name, RequestBody
from segshare_core.domain import access
from segshare_core.domain.ids import ID_PATTERN

# ---------------------------------------------------------------- requests


class CompanyIn(RequestBody):
    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None
    # Strict: "yes", 1 or "false" are schema violations, not booleans.
    sharedSegmentsEnabled: StrictBool = False


class CompanyPatch(RequestBody):
    name: Name | None = None
    sharedSegmentsEnabled: StrictBool | None = None


class ProjectIn(RequestBody):
    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None


class GrantIn(RequestBody):
    role: access.Role
    projectIds: Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]], Field(max_length=1000)] = []


class ProfilesIn(RequestBody):
    # usecases.upsert_profiles checks each profile's text: one bad profile is rejected (INVALID_PROFILE), the rest lands.
    text_checked_per_item = frozenset({"profiles"})
    profiles: list[Any]


# ---------------------------------------------------------------- responses


class Health(ApiModel):
    status: str


class CompanyOut(ApiModel):
    """From domain.directory.Company."""

    company_id: str
    name: str
    shared_segments_enabled: bool


class ProjectOut(ApiModel):
    """From domain.directory.Project."""

    project_id: str
    company_id: str
    name: str


class ProjectRef(ApiModel):
    project_id: str
    name: str


class ProjectsOut(ApiModel):
    projects: list[ProjectOut]


class MeOut(ApiModel):
    """From usecases.grants.Me."""

    user_id: str
    company_id: str | None
    role: Literal["operator", "company_admin", "project_admin"] | None
    projects: list[ProjectRef]


class GrantOut(ApiModel):
    """From domain.access.Grant; a project admin's projects sorted."""

    user_id: str
    company_id: str
    role: access.Role
    project_ids: Annotated[list[str], BeforeValidator(sorted)]


class Rejection(ApiModel):
    """From usecases.upsert_profiles.Rejected."""

    index: int
    profile_id: str | None
    code: str
    message: str


class UpsertOut(ApiModel):
    upserted: int
    rejected: list[Rejection]


class DeviceOut(ApiModel):
    platform: Literal["ios", "android"]
    id: str


class ProfileOut(ApiModel):
    """From domain.profiles.Profile: its attributes and its (normalised) devices."""

    profile_id: str
    attributes: dict[str, Any]
    devices: list[DeviceOut]


class ProfilesOut(ApiModel):
    """From usecases.profile_listing.ProfilePage; ``nextCursor`` is null on the last page."""

    profiles: list[ProfileOut]
    next_cursor: str | None
    total: int
