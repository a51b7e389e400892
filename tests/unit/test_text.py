"""Writable text: where a string without a UTF-8 form sits in a JSON value."""

from __future__ import annotations

import pytest

from segshare_core.domain.text import first_unwritable, is_writable

LONE = "\ud800"


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("fine", None),
        ("é ✓ 😀", None),
        ("\U0001f600", None),  # a pair written as one code point is fine
        (LONE, "value"),
        ("\udc00", "value"),
        ({"name": "ok", "rule": {"all": [{"value": "x"}, {"value": "a" + LONE}]}}, "rule.all[1].value"),
        ({"profileIds": ["a-1", LONE]}, "profileIds[1]"),
        ({"rule": {LONE: 1}}, "rule (a key)"),
        ({LONE: 1}, "a key"),
        ({"n": 1, "b": True, "z": None, "f": 1.5}, None),
    ],
)
def test_first_unwritable(value: object, where: str | None) -> None:
    # Given a value as json.loads returns it
    # When it is searched for text with no UTF-8 form
    # Then the first is located by path (never by quoting it)
    assert first_unwritable(value) == where
    assert is_writable(str(where or ""))


def test_is_writable() -> None:
    assert is_writable("Ann")
    assert not is_writable("Ann" + LONE)
