"""A company admin and project admins of different reach save, unshare and delete in random order.

The real share handler runs inside moto; a model keeps the true share set. After every step:
nobody changed a share to a project hidden from them; each admin's Sharing tab ticks exactly
the shares it can see and counts the rest in hiddenSharedCount; every target project lists
exactly the live shares (Shared Segments tab and segment list, in turns); the version moved by exactly
one per accepted save (API.md: every accepted save, changing or not).

Seeding moto costs more than a step, so one seeded directory serves every example and each
example starts from an empty segments table. SEGSHARE_STATEFUL_EXAMPLES / _STEPS run it longer;
a failure is reported unshrunk (see the settings below).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.integration.conftest import Response
from tests.integration.share_world import ADMIN, PAB, PACD, PROJECTS, SEGMENT, World, seeded_world, sid, wipe_segments

SOURCE = "proj-a"
TARGETS = sorted(set(PROJECTS) - {SOURCE})
#: The admins and the projects each can see on the Sharing tab (every accessible project but the source).
ADMINS: dict[str, dict[str, Any]] = {"u-admin": ADMIN, "u-pab": PAB, "u-pacd": PACD}
VISIBLE: dict[str, frozenset[str]] = {
    "u-admin": frozenset(TARGETS),
    "u-pab": frozenset({"proj-b"}),
    "u-pacd": frozenset({"proj-c", "proj-d"}),
}
#: Projects some admin cannot access: other admins' projects, one that does not exist, another company's.
INTRUDERS = [*TARGETS, "proj-zz", "proj-x"]

admins = st.sampled_from(sorted(ADMINS))
ticks = st.sets(st.sampled_from(TARGETS))


def _error(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, (response.status, response.json)
    assert set(response.json) == {"error"}
    assert response.json["error"]["code"] == code, response.json
    assert response.json["error"]["message"]
    return dict(response.json["error"])


class SharingMachine(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        wipe_segments()
        self._create()
        self.observed: frozenset[str] = frozenset()  # the share set as last read from the service
        self.may_change: frozenset[str] = frozenset()  # what the last step's caller was allowed to change
        self.checks = 0

    def _create(self) -> None:
        created = self.world.create()
        assert created.status == 201, created.json
        self.shares: frozenset[str] = frozenset()
        self.version = 0

    def _expect_sharing(self, response: Response, who: str) -> None:
        assert response.status == 200, response.json
        body = response.json
        assert body["segmentId"] == SEGMENT
        assert body["version"] == self.version
        assert body["projects"] == [{"projectId": p, "name": PROJECTS[p], "shared": p in self.shares} for p in TARGETS if p in VISIBLE[who]]
        assert body["hiddenSharedCount"] == len(self.shares - VISIBLE[who])

    def _saved(self, who: str, requested: set[str], response: Response) -> None:
        visible = VISIBLE[who]
        new = (self.shares - visible) | (requested & visible)
        self.version += 1  # every accepted save moves the version, changing or not
        self.shares = frozenset(new)
        self.may_change = visible
        self._expect_sharing(response, who)

    # ------------------------------------------------------------------ rules

    @rule(who=admins, ticked=ticks, send_version=st.booleans())
    def save(self, who: str, ticked: set[str], send_version: bool) -> None:
        """An admin ticks some of the projects it sees and saves."""
        requested = ticked & VISIBLE[who]
        version = self.version if send_version else None
        response = self.world.put_sharing(ADMINS[who], sorted(requested), version=version)
        self._saved(who, requested, response)

    @rule(who=admins, ticked=ticks, intruder=st.sampled_from(INTRUDERS))
    def save_with_a_project_out_of_reach(self, who: str, ticked: set[str], intruder: str) -> None:
        """A request naming a project the admin cannot access is refused whole."""
        if intruder in VISIBLE[who] or intruder == SOURCE:
            intruder = "proj-zz"
        requested = (ticked & VISIBLE[who]) | {intruder}
        response = self.world.put_sharing(ADMINS[who], sorted(requested))
        _error(response, 403, "FORBIDDEN")
        self.may_change = frozenset()

    @rule(who=admins)
    def save_the_source_itself(self, who: str) -> None:
        response = self.world.put_sharing(ADMINS[who], [SOURCE, *sorted(self.shares & VISIBLE[who])])
        _error(response, 400, "INVALID_TARGET")
        self.may_change = frozenset()

    @precondition(lambda self: self.version > 0)
    @rule(who=admins, ticked=ticks)
    def save_with_a_stale_version(self, who: str, ticked: set[str]) -> None:
        response = self.world.put_sharing(ADMINS[who], sorted(ticked & VISIBLE[who]), version=self.version - 1)
        _error(response, 409, "VERSION_CONFLICT")
        self.may_change = frozenset()

    @rule(who=admins)
    def unshare_everything_visible(self, who: str) -> None:
        response = self.world.put_sharing(ADMINS[who], [])
        self._saved(who, set(), response)

    @rule(who=admins)
    def force_delete(self, who: str) -> None:
        """Only an admin who sees every share may delete a shared segment; then it is created afresh."""
        response = self.world.delete(ADMINS[who], force=True)
        if self.shares <= VISIBLE[who]:
            assert response.status == 204, response.json
            self.may_change = VISIBLE[who]
            self._create()
        else:
            _error(response, 403, "FORBIDDEN")
            self.may_change = frozenset()

    @rule(who=admins)
    def delete(self, who: str) -> None:
        """Without force a shared segment is never deleted, whoever asks."""
        response = self.world.delete(ADMINS[who])
        if self.shares:
            error = _error(response, 409, "SEGMENT_SHARED")
            assert error["sharedWithCount"] == len(self.shares)
            self.may_change = frozenset()
        else:
            assert response.status == 204, response.json
            self.may_change = frozenset()
            self._create()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def nobody_changed_a_share_hidden_from_them(self) -> None:
        truth, version = self.world.truth()
        assert not (truth ^ self.observed) - self.may_change, "a share changed that the caller could not see"
        assert truth == self.shares
        assert version == self.version
        self.observed = frozenset(truth)
        self.may_change = frozenset()

    @invariant()
    def every_admin_sees_its_part_and_counts_the_rest(self) -> None:
        for who in sorted(set(ADMINS) - {"u-admin"}):  # the company admin's tab is read by the invariant above
            self._expect_sharing(self.world.get_sharing(ADMINS[who]), who)

    @invariant()
    def targets_list_exactly_the_live_shares(self) -> None:
        # Both routes read the same share items; taking turns halves the cost of a step.
        self.checks += 1
        for target in TARGETS:
            expected = [(sid(target), SOURCE, "Irish players")] if target in self.shares else []
            if self.checks % 2:
                tab = self.world.shared_in(target)
                assert [(s["sharedSegmentId"], s["sourceProjectId"], s["name"]) for s in tab] == expected
            else:
                listed = self.world.list_segments(target)
                assert listed.status == 200, listed.json
                assert [(s["segmentId"], s["sourceProjectId"], s["name"]) for s in listed.json["segments"]] == expected
                assert all(s["origin"] == "shared" for s in listed.json["segments"])


@pytest.fixture(scope="module")
def seeded() -> Iterator[World]:
    with seeded_world() as world:
        yield world


def test_sharing_state_machine(seeded: World) -> None:
    SharingMachine.world = seeded
    try:
        run_state_machine_as_test(
            SharingMachine,
            settings=settings(
                max_examples=int(os.environ.get("SEGSHARE_STATEFUL_EXAMPLES", "10")),
                stateful_step_count=int(os.environ.get("SEGSHARE_STATEFUL_STEPS", "10")),
                deadline=None,
                # A replay costs seconds here, so shrinking would outlast the test timeout; a failure
                # reports the sequence as found (at most stateful_step_count steps).
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    finally:
        wipe_segments()
