"""The share function's request bodies and response models (API.md: Segments, Sharing, Shared segments).

Responses are ``ApiModel``s built from the use cases' domain objects with ``model_validate``
(from attributes); renamed fields name their source with ``validation_alias``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationInfo, field_validator

from segshare_core.api import ApiModel, Name, RequestBody
from segshare_core.api_models import EvaluationOut
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.segments import Segment
from segshare_core.usecases.shared_segments import SharedSegmentView

# ---------------------------------------------------------------- requests


class SegmentIn(RequestBody):
    # API.md: {name, id?, rule} or {name, id?, profileIds}; the schema says so, the use case enforces it.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["rule"]}, {"required": ["profileIds"]}]})

    name: Name
    id: Annotated[str | None, Field(pattern=ID_PATTERN)] = None
    rule: dict[str, Any] | None = None
    profileIds: list[Any] | None = None


class SegmentPatchIn(RequestBody):
    # API.md PATCH: {name?, rule?, profileIds?, version?}; what is absent stays as it is.
    name: Name | None = None
    rule: dict[str, Any] | None = None
    profileIds: list[Any] | None = None
    version: Annotated[int, Field(ge=0)] | None = None


class SharingIn(RequestBody):
    projectIds: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=200)]
    version: Annotated[int, Field(ge=0)] | None = None


# ---------------------------------------------------------------- segments


class _OwnSegment(ApiModel):
    """An own segment (domain.segments.Segment); ``kind`` says which of ``rule`` and ``profileIds`` it has."""

    segment_id: str
    project_id: str
    name: str
    kind: str
    origin: Literal["own"] = "own"
    shared_with_count: Annotated[int, BeforeValidator(len), Field(validation_alias="shared_with")]
    created_at: str
    version: int
    updated_at: str

    @field_validator("updated_at", mode="before")
    @classmethod
    def _created_until_edited(cls, value: str | None, info: ValidationInfo) -> str:
        # A segment never edited has changed last when it was created (API.md).
        return value or str(info.data["created_at"])


class OwnRuleSegmentOut(_OwnSegment):
    kind: Literal["rule"]
    rule: dict[str, Any]


class OwnStaticSegmentOut(_OwnSegment):
    kind: Literal["static"]
    profile_ids: list[str]


class SharedSegmentRefOut(ApiModel):
    """A shared-in segment in the target's segment list: its name and source only (usecases.shared_segments view)."""

    segment_id: Annotated[str, Field(validation_alias="shared_segment_id")]
    project_id: Annotated[str, Field(validation_alias="target_project_id")]
    name: str
    origin: Literal["shared"] = "shared"
    source_project_id: str
    source_project_name: str
    shared_at: str


def _segment_kind(value: Any) -> str:
    """The union's tag: an own segment's kind, or ``shared`` for a shared-in one (a domain object, a model or a dict)."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return str(kind) if kind else "shared"


#: An own segment: a rule or a static list.
OwnSegmentOut = Annotated[
    Annotated[OwnRuleSegmentOut, Tag("rule")] | Annotated[OwnStaticSegmentOut, Tag("static")],
    Discriminator(_segment_kind),
]
#: One entry of a project's segment list: own (rule or static) or shared in.
SegmentOut = Annotated[
    Annotated[OwnRuleSegmentOut, Tag("rule")]
    | Annotated[OwnStaticSegmentOut, Tag("static")]
    | Annotated[SharedSegmentRefOut, Tag("shared")],
    Discriminator(_segment_kind),
]
_OWN = TypeAdapter[OwnRuleSegmentOut | OwnStaticSegmentOut](OwnSegmentOut)
_ANY = TypeAdapter[OwnRuleSegmentOut | OwnStaticSegmentOut | SharedSegmentRefOut](SegmentOut)


def own_segment_out(segment: Segment) -> OwnRuleSegmentOut | OwnStaticSegmentOut:
    """The response model of an own segment, by its kind."""
    return _OWN.validate_python(segment, from_attributes=True)


def segment_out(segment: Segment | SharedSegmentView) -> OwnRuleSegmentOut | OwnStaticSegmentOut | SharedSegmentRefOut:
    """The response model of an own segment or of a shared-in one."""
    return _ANY.validate_python(segment, from_attributes=True)


class SegmentsOut(ApiModel):
    """Built from usecases.segment_listing.SegmentListing: own segments, then the shared-in ones."""

    segments: list[SegmentOut]


# ---------------------------------------------------------------- sharing tab


class SharingProject(ApiModel):
    project_id: str
    name: str
    shared: bool


class SharingOut(ApiModel):
    """Built from usecases.sharing_tab.SharingTab."""

    segment_id: str
    version: int
    projects: list[SharingProject]
    hidden_shared_count: int


class HistoryEntry(ApiModel):
    at: str
    user_id: str
    added: list[str]
    removed: list[str]
    hidden_added: int
    hidden_removed: int


class HistoryOut(ApiModel):
    """Built from usecases.sharing_history.HistoryPage; ``nextCursor`` is null on the last page."""

    history: list[HistoryEntry]
    next_cursor: str | None


# ---------------------------------------------------------------- target side


class SharedSegmentOut(ApiModel):
    """Built from usecases.shared_segments.SharedSegmentView: the target's view with its last evaluation (or null)."""

    shared_segment_id: str
    name: str
    source_project_id: str
    source_project_name: str
    shared_at: str
    last_evaluation: EvaluationOut | None


class SharedSegmentsOut(ApiModel):
    shared_segments: list[SharedSegmentOut]
