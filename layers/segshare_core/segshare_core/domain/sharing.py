"""The Sharing tab's rules: what a caller sees, what a save may change, what history shows.

A caller sees the company's projects it can access (``visible``), never the source project
itself. Shares with projects it cannot see are hidden from it and never changed by it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime

from segshare_core.domain.errors import BadRequest, FeatureDisabled, Forbidden

#: One save changes at most this many shares (a DynamoDB transaction holds 100 items).
MAX_CHANGES = 45


#: The generation of a share item written before generations existed (it has none stored).
LEGACY_GENERATION = "g-0"


def new_generation(moment: datetime) -> str:
    """A share's generation, minted at every grant: ``g-`` + milliseconds (11 hex) + 8 random hex.

    One truth per share (DESIGN.md, API.md "Revoking and resharing"): the shared segment id is
    stable across unshare and reshare, so everything derived from a share (evaluations, the
    result in service, cursors, exports) records the generation it was made under and is served
    only while that generation is current. A grant after a revoke (or for a new segment created
    under a force-deleted one's id) mints a new value, so no old generation has to be remembered.
    Unique (random part) and time-sortable (time first); nothing relies on the order today.
    """
    return f"g-{int(moment.timestamp() * 1000):011x}{secrets.token_hex(4)}"


def require_enabled(enabled: bool) -> None:
    """Sharing and shared segments answer 403 FEATURE_DISABLED while the company has the feature off (API.md, Errors)."""
    if not enabled:
        raise FeatureDisabled("shared segments are not enabled for this company; ask an operator to turn them on")


@dataclass(frozen=True, slots=True)
class SharingView:
    shared: dict[str, bool]  # visible project id -> shared, in the caller's order
    hidden_shared_count: int


@dataclass(frozen=True, slots=True)
class SavePlan:
    shared_with: frozenset[str]
    added: frozenset[str]
    removed: frozenset[str]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def view(shared_with: Set[str], visible: Iterable[str], source_project_id: str) -> SharingView:
    """Every visible project but the source, ticked when shared; the other shares only counted."""
    listed = [p for p in visible if p != source_project_id]
    return SharingView(
        shared={p: p in shared_with for p in listed},
        hidden_shared_count=len(set(shared_with) - set(listed)),
    )


def plan_save(current: Set[str], visible: Set[str], requested: Iterable[str], source_project_id: str) -> SavePlan:
    """The saved set is (current shares hidden from the caller) | (requested & visible).

    A requested project the caller cannot access is Forbidden whether or not it exists, and
    the source itself is a BadRequest; either refusal changes nothing.
    """
    wanted = set(requested)
    if source_project_id in wanted:
        raise BadRequest(f"projectIds: a segment cannot be shared with its own project {source_project_id!r}", code="INVALID_TARGET")
    reachable = set(visible) - {source_project_id}
    outside = sorted(wanted - reachable)
    if outside:
        raise Forbidden(f"projectIds: project {outside[0][:63]!r} is not accessible to you")
    hidden = set(current) - reachable
    new = frozenset(hidden | wanted)
    plan = SavePlan(shared_with=new, added=frozenset(new - set(current)), removed=frozenset(set(current) - new))
    if len(plan.added) + len(plan.removed) > MAX_CHANGES:
        raise BadRequest(f"projectIds: at most {MAX_CHANGES} shares can change in one save", code="TOO_MANY_CHANGES")
    return plan


def can_force_delete(shared_with: Set[str], visible: Set[str]) -> bool:
    """A share is never removed by someone who cannot see it."""
    return set(shared_with) <= set(visible)


@dataclass(frozen=True, slots=True)
class SharingChange:
    """One accepted save as recorded: when (ISO-8601 UTC), by whom, the projects it added and removed (sorted)."""

    at: str
    user_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryLine:
    added: list[str]
    removed: list[str]
    hidden_added: int
    hidden_removed: int


def history_line(added: Iterable[str], removed: Iterable[str], visible: Set[str]) -> HistoryLine:
    """Projects the reader cannot see are never named; they only count."""
    added, removed = sorted(added), sorted(removed)
    return HistoryLine(
        added=[p for p in added if p in visible],
        removed=[p for p in removed if p in visible],
        hidden_added=sum(1 for p in added if p not in visible),
        hidden_removed=sum(1 for p in removed if p not in visible),
    )
