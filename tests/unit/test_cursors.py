"""Paging cursors: opaque, signed, bound to one listing and one company key."""

from __future__ import annotations

import base64
import json

import pytest

from segshare_core.domain import cursors
from segshare_core.domain.cursors import MAX_CURSOR_CHARS, InvalidCursor
from segshare_core.domain.errors import BadRequest

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
LISTING = "history:proj-a:s-1"
POSITION = {"sk": "2026-11-28T17:00:00.000Z#0000000003"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


@pytest.mark.parametrize(
    "position",
    [POSITION, {"sk": "x", "n": 3}, {}, {"sk": "é ünïcode #0"}],
)
def test_round_trip(position: dict[str, object]) -> None:
    # Given a position encoded for a listing
    cursor = cursors.encode(KEY, LISTING, position)
    # When it is decoded for the same listing under the same key
    # Then the position comes back, and the cursor is url-safe
    assert cursors.decode(KEY, LISTING, cursor) == position
    assert all(c.isalnum() or c in "-_" for c in cursor)


def test_encoding_is_deterministic() -> None:
    assert cursors.encode(KEY, LISTING, {"b": 1, "a": 2}) == cursors.encode(KEY, LISTING, {"a": 2, "b": 1})


def _refused(key: bytes, listing: str, cursor: str) -> InvalidCursor:
    with pytest.raises(InvalidCursor) as caught:
        cursors.decode(key, listing, cursor)
    assert caught.value.code == "INVALID_CURSOR"
    assert isinstance(caught.value, BadRequest)
    assert caught.value.message.startswith("cursor")
    return caught.value


def test_tampered_payload_is_refused() -> None:
    # Given a valid cursor whose payload is edited by hand (same mac)
    raw = _unb64(cursors.encode(KEY, LISTING, POSITION))
    mac, payload = raw[:16], raw[16:]
    forged = json.dumps({"sk": "9999-12-31T00:00:00.000Z#9999999999"}, separators=(",", ":")).encode()
    # When decoded
    # Then it is refused
    _refused(KEY, LISTING, _b64(mac + forged))
    _refused(KEY, LISTING, _b64(mac + payload[:-1] + b" "))


def test_flipped_mac_is_refused() -> None:
    raw = bytearray(_unb64(cursors.encode(KEY, LISTING, POSITION)))
    raw[0] ^= 1
    _refused(KEY, LISTING, _b64(bytes(raw)))


def test_cursor_from_another_listing_is_refused() -> None:
    # Given a cursor of another segment's history
    cursor = cursors.encode(KEY, "history:proj-a:s-2", POSITION)
    # When used on this listing, Then refused
    _refused(KEY, LISTING, cursor)
    _refused(KEY, "history:proj-b:s-1", cursors.encode(KEY, LISTING, POSITION))


def test_cursor_under_another_key_is_refused() -> None:
    # Given a cursor signed with another company's key
    cursor = cursors.encode(OTHER_KEY, LISTING, POSITION)
    # When decoded under this company's key, Then refused
    _refused(KEY, LISTING, cursor)


def test_signed_non_object_payload_is_refused() -> None:
    # Given a correctly signed payload that is not an object
    payload = b"[1,2]"
    cursor = _b64(cursors._mac(KEY, LISTING, payload) + payload)
    # When decoded, Then refused
    _refused(KEY, LISTING, cursor)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "A",
        "abc",
        "!!!!",
        "not a cursor at all",
        "é",
        "%00%ff",
        "a" * 21,
        "====",
        _b64(b"short"),
        _b64(b"\x00" * 16),
        _b64(b"\x00" * 16 + b'{"sk":"x"}'),
        json.dumps(POSITION),
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    # Given anything that was not issued by us
    # When decoded, Then InvalidCursor, never another exception
    _refused(KEY, LISTING, garbage)


def test_over_long_cursor_is_refused() -> None:
    # Given a cursor longer than any we issue (even a validly signed one)
    big = cursors.encode(KEY, LISTING, {"sk": "x" * MAX_CURSOR_CHARS})
    assert len(big) > MAX_CURSOR_CHARS
    # When decoded, Then refused before any work is done
    _refused(KEY, LISTING, big)
    _refused(KEY, LISTING, "A" * (MAX_CURSOR_CHARS + 1))
