"""Share generations (domain.sharing.new_generation) and the cursors that carry one (domain.cursors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from segshare_core.domain import cursors
from segshare_core.domain.errors import NotFound
from segshare_core.domain.sharing import new_generation

KEY = b"k" * 32
LISTING = "members:proj-b:shared-1"


def test_generations_are_unique_and_sort_by_grant_time() -> None:
    moment = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # Given many grants in the same millisecond, and one a millisecond later
    same = {new_generation(moment) for _ in range(1000)}
    later = new_generation(moment + timedelta(milliseconds=1))
    # Then no two are equal, and the later one sorts after all of them
    assert len(same) == 1000
    assert all(g < later for g in same)
    assert all(g.startswith("g-") for g in same)


def test_a_cursor_pages_only_within_its_generation() -> None:
    # Given a cursor issued under one generation
    cursor = cursors.encode_in(KEY, LISTING, "g-1", {"e": "e-1", "o": 50})
    # Then under that generation it decodes to its position (without the generation)
    assert cursors.decode_in(KEY, LISTING, "g-1", cursor) == {"e": "e-1", "o": 50}
    # And under a later generation of the same share it is 404 (API.md: an ended share's cursors)
    with pytest.raises(NotFound):
        cursors.decode_in(KEY, LISTING, "g-2", cursor)
    # And a cursor issued without a generation is 404 too
    with pytest.raises(NotFound):
        cursors.decode_in(KEY, LISTING, "g-1", cursors.encode(KEY, LISTING, {"e": "e-1", "o": 50}))
    # And one edited to name the current generation fails its signature: 400 INVALID_CURSOR
    forged = cursors.encode(b"x" * 32, LISTING, {"e": "e-1", "o": 50, "g": "g-2"})
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode_in(KEY, LISTING, "g-2", forged)
