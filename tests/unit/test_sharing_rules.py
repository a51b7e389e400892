"""The Sharing tab's pure rules: what a caller sees, what a save may change, who may force-delete, what history shows."""

from __future__ import annotations

import pytest

from segshare_core.domain import sharing
from segshare_core.domain.errors import BadRequest, Forbidden
from segshare_core.domain.sharing import HistoryLine, SavePlan, SharingView

SOURCE = "p-a"
EVERYONE = ["p-a", "p-b", "p-c", "p-d", "p-e"]

# ------------------------------------------------------------------ view


@pytest.mark.parametrize(
    ("shared_with", "visible", "expected"),
    [
        pytest.param(
            set(),
            EVERYONE,
            SharingView(shared={"p-b": False, "p-c": False, "p-d": False, "p-e": False}, hidden_shared_count=0),
            id="caller-sees-all-nothing-shared",
        ),
        pytest.param(
            {"p-c", "p-d"},
            EVERYONE,
            SharingView(shared={"p-b": False, "p-c": True, "p-d": True, "p-e": False}, hidden_shared_count=0),
            id="caller-sees-all-some-shared",
        ),
        pytest.param(
            {"p-c", "p-d"},
            ["p-a", "p-b"],
            SharingView(shared={"p-b": False}, hidden_shared_count=2),
            id="seed-story-project-admin-of-a-and-b",
        ),
        pytest.param(
            {"p-b", "p-c", "p-d"},
            ["p-a", "p-b"],
            SharingView(shared={"p-b": True}, hidden_shared_count=2),
            id="subset-visible-one-ticked-two-hidden",
        ),
        pytest.param(
            {"p-b", "p-c"},
            ["p-a"],
            SharingView(shared={}, hidden_shared_count=2),
            id="caller-sees-only-the-source",
        ),
        pytest.param(
            {"p-e"},
            ["p-d", "p-a", "p-b"],
            SharingView(shared={"p-d": False, "p-b": False}, hidden_shared_count=1),
            id="caller-order-kept-source-dropped",
        ),
        pytest.param(
            {"p-b"},
            [],
            SharingView(shared={}, hidden_shared_count=1),
            id="caller-sees-nothing",
        ),
    ],
)
def test_view(shared_with: set[str], visible: list[str], expected: SharingView) -> None:
    # Given a segment of p-a shared with some projects, and the projects the caller can access
    # When the caller opens the Sharing tab
    tab = sharing.view(frozenset(shared_with), visible, SOURCE)
    # Then it lists every visible project but the source, ticked when shared, in the caller's order,
    # and only counts the shares it cannot see
    assert tab == expected
    assert list(tab.shared) == list(expected.shared)
    assert SOURCE not in tab.shared


# ------------------------------------------------------------------ plan_save


@pytest.mark.parametrize(
    ("current", "visible", "requested", "saved", "added", "removed"),
    [
        pytest.param(set(), EVERYONE, ["p-c", "p-d"], {"p-c", "p-d"}, {"p-c", "p-d"}, set(), id="sees-all-first-share"),
        pytest.param({"p-c", "p-d"}, EVERYONE, ["p-b"], {"p-b"}, {"p-b"}, {"p-c", "p-d"}, id="sees-all-replaces"),
        pytest.param({"p-c", "p-d"}, EVERYONE, [], set(), set(), {"p-c", "p-d"}, id="sees-all-unshares-everything"),
        pytest.param({"p-c", "p-d"}, {"p-a", "p-b"}, ["p-b"], {"p-b", "p-c", "p-d"}, {"p-b"}, set(), id="seed-story-hidden-shares-survive"),
        pytest.param({"p-b", "p-c", "p-d"}, {"p-a", "p-b"}, [], {"p-c", "p-d"}, set(), {"p-b"}, id="empty-request-unshares-only-visible"),
        pytest.param({"p-b", "p-e"}, {"p-a", "p-b", "p-c"}, ["p-c"], {"p-c", "p-e"}, {"p-c"}, {"p-b"}, id="swap-visible-keep-hidden"),
        pytest.param(
            {"p-b", "p-c"}, {"p-b", "p-c"}, ["p-c", "p-c", "p-b"], {"p-b", "p-c"}, set(), set(), id="duplicates-and-order-ignored"
        ),
        pytest.param({"p-d"}, {"p-b"}, ["p-b"], {"p-b", "p-d"}, {"p-b"}, set(), id="caller-without-source-access-still-only-visible"),
    ],
)
def test_plan_save(current: set[str], visible: set[str], requested: list[str], saved: set[str], added: set[str], removed: set[str]) -> None:
    # Given the current shares, what the caller can see and what it ticked
    # When the save is planned
    plan = sharing.plan_save(frozenset(current), frozenset(visible), requested, SOURCE)
    # Then the saved set is (current hidden from the caller) | (requested & visible)
    assert plan == SavePlan(shared_with=frozenset(saved), added=frozenset(added), removed=frozenset(removed))
    assert plan.changed == bool(added or removed)
    hidden = set(current) - (set(visible) - {SOURCE})
    assert hidden <= plan.shared_with, "a share hidden from the caller must survive its save"
    assert (plan.added | plan.removed) <= set(visible), "a caller changed a share it cannot see"


@pytest.mark.parametrize(
    ("current", "visible", "requested"),
    [
        pytest.param(set(), EVERYONE, [], id="nothing-shared-nothing-ticked"),
        pytest.param({"p-b"}, EVERYONE, ["p-b"], id="same-set"),
        pytest.param({"p-c", "p-d"}, {"p-a", "p-b"}, [], id="only-hidden-shares-nothing-ticked"),
        pytest.param({"p-b", "p-c"}, {"p-a", "p-b"}, ["p-b"], id="visible-ticked-again-hidden-kept"),
        pytest.param({"p-b"}, {"p-a"}, [], id="nothing-to-see-nothing-to-do"),
    ],
)
def test_no_op_save_is_not_a_change(current: set[str], visible: set[str], requested: list[str]) -> None:
    # Given a request that asks for exactly what the caller already sees
    # When the save is planned
    plan = sharing.plan_save(frozenset(current), frozenset(visible), requested, SOURCE)
    # Then nothing changes (so the handler neither writes nor moves the version)
    assert plan == SavePlan(shared_with=frozenset(current), added=frozenset(), removed=frozenset())
    assert plan.changed is False


@pytest.mark.parametrize(
    ("current", "visible", "requested", "named"),
    [
        pytest.param(set(), {"p-a", "p-b"}, ["p-c"], "p-c", id="existing-project-not-visible"),
        pytest.param(set(), {"p-a", "p-b"}, ["p-b", "p-zz"], "p-zz", id="project-that-does-not-exist"),
        pytest.param({"p-c"}, {"p-a", "p-b"}, ["p-b", "p-c"], "p-c", id="hidden-share-named-explicitly"),
        pytest.param({"p-b"}, set(), ["p-b"], "p-b", id="caller-sees-nothing"),
        pytest.param(set(), {"p-a", "p-b"}, ["Not An Id"], "Not An Id", id="garbage-id"),
    ],
)
def test_plan_save_refuses_a_project_the_caller_cannot_access(
    current: set[str], visible: set[str], requested: list[str], named: str
) -> None:
    # Given a request that includes a project the caller cannot access (whether or not it exists)
    # When the save is planned
    with pytest.raises(Forbidden) as refused:
        sharing.plan_save(frozenset(current), frozenset(visible), requested, SOURCE)
    # Then it is Forbidden, naming the project, and nothing is planned
    assert refused.value.code == "FORBIDDEN"
    assert named in refused.value.message
    assert refused.value.message.startswith("projectIds")


@pytest.mark.parametrize(
    ("visible", "requested"),
    [
        pytest.param(EVERYONE, [SOURCE], id="only-the-source"),
        pytest.param(EVERYONE, ["p-b", SOURCE], id="source-among-others"),
        pytest.param({"p-b"}, [SOURCE], id="source-not-even-visible"),
    ],
)
def test_plan_save_refuses_the_source_itself(visible: list[str] | set[str], requested: list[str]) -> None:
    # Given a request that lists the source project itself
    # When the save is planned
    with pytest.raises(BadRequest) as refused:
        sharing.plan_save(frozenset({"p-c"}), frozenset(visible), requested, SOURCE)
    # Then it is a BadRequest with code INVALID_TARGET
    assert refused.value.code == "INVALID_TARGET"
    assert SOURCE in refused.value.message


def test_plan_save_refuses_too_many_changes_at_once() -> None:
    # Given a caller who sees more projects than one transaction can change
    many = {f"p-{i:03d}" for i in range(sharing.MAX_CHANGES + 1)}
    # When it ticks them all
    with pytest.raises(BadRequest) as refused:
        sharing.plan_save(frozenset(), frozenset(many | {SOURCE}), sorted(many), SOURCE)
    # Then the save is refused rather than half done
    assert refused.value.code == "TOO_MANY_CHANGES"
    # And exactly the limit is fine
    plan = sharing.plan_save(frozenset(), frozenset(many | {SOURCE}), sorted(many)[: sharing.MAX_CHANGES], SOURCE)
    assert len(plan.added) == sharing.MAX_CHANGES


# ------------------------------------------------------------------ can_force_delete


@pytest.mark.parametrize(
    ("shared_with", "visible", "allowed"),
    [
        pytest.param(set(), set(), True, id="not-shared"),
        pytest.param({"p-b", "p-c"}, set(EVERYONE), True, id="sees-every-target"),
        pytest.param({"p-b"}, {"p-a", "p-b"}, True, id="sees-the-only-target"),
        pytest.param({"p-b", "p-c"}, {"p-a", "p-b"}, False, id="one-target-hidden"),
        pytest.param({"p-c", "p-d"}, {"p-a", "p-b"}, False, id="every-target-hidden"),
    ],
)
def test_can_force_delete(shared_with: set[str], visible: set[str], allowed: bool) -> None:
    # Given a segment's shares and the caller's visible projects
    # When the caller asks to force-delete it
    # Then it may only when it can see every share (a share is never removed by someone who cannot see it)
    assert sharing.can_force_delete(frozenset(shared_with), frozenset(visible)) is allowed


# ------------------------------------------------------------------ history_line


@pytest.mark.parametrize(
    ("added", "removed", "visible", "expected"),
    [
        pytest.param(["p-c", "p-b"], [], EVERYONE, HistoryLine(["p-b", "p-c"], [], 0, 0), id="sees-all-sorted"),
        pytest.param(["p-c", "p-d"], [], {"p-a", "p-b"}, HistoryLine([], [], 2, 0), id="hidden-added-only-counted"),
        pytest.param(["p-b", "p-c"], ["p-d", "p-e"], {"p-a", "p-b", "p-e"}, HistoryLine(["p-b"], ["p-e"], 1, 1), id="mixed"),
        pytest.param([], ["p-c"], {"p-a"}, HistoryLine([], [], 0, 1), id="hidden-removed-only-counted"),
        pytest.param([], [], {"p-a"}, HistoryLine([], [], 0, 0), id="empty"),
    ],
)
def test_history_line(added: list[str], removed: list[str], visible: set[str] | list[str], expected: HistoryLine) -> None:
    # Given one accepted save and the reader's visible projects
    # When the history line is built for that reader
    line = sharing.history_line(added, removed, frozenset(visible))
    # Then visible projects are named and hidden ones only counted, never named
    assert line == expected
    hidden = (set(added) | set(removed)) - set(visible)
    assert not hidden & (set(line.added) | set(line.removed))
