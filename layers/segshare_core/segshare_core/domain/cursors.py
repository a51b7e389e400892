"""Opaque, signed paging cursors bound to one listing.

A cursor carries the store's last key, signed with HMAC-SHA256 under the company's key over
the listing it belongs to (e.g. ``history:proj-a:s-1``). A forged cursor, one edited by
hand, or one from another listing or company fails verification: INVALID_CURSOR.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from segshare_core.domain.errors import BadRequest, NotFound

MAX_CURSOR_CHARS = 2048


class InvalidCursor(BadRequest):
    code = "INVALID_CURSOR"


def _mac(key: bytes, listing: str, payload: bytes) -> bytes:
    return hmac.new(key, b"cursor\x00" + listing.encode() + b"\x00" + payload, hashlib.sha256).digest()[:16]


def encode(key: bytes, listing: str, position: dict[str, Any]) -> str:
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(_mac(key, listing, payload) + payload).decode().rstrip("=")


def decode(key: bytes, listing: str, cursor: str) -> dict[str, Any]:
    """The position a cursor stands for; InvalidCursor unless it was issued for this listing."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor: not a cursor of this listing")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError as exc:
        raise InvalidCursor("cursor: not a cursor of this listing") from exc
    mac, payload = raw[:16], raw[16:]
    if len(mac) != 16 or not hmac.compare_digest(mac, _mac(key, listing, payload)):
        raise InvalidCursor("cursor: not a cursor of this listing")
    position = json.loads(payload)
    if not isinstance(position, dict):
        raise InvalidCursor("cursor: not a cursor of this listing")
    return position


def encode_in(key: bytes, listing: str, generation: str, position: dict[str, Any]) -> str:
    """A cursor of a listing derived from a share: it records the share's generation (``g``)."""
    return encode(key, listing, {**position, "g": generation})


def decode_in(key: bytes, listing: str, generation: str, cursor: str) -> dict[str, Any]:
    """The position of a cursor issued under ``generation``; InvalidCursor as ``decode``.

    A cursor from a share that ended since (even if it was granted again) is NotFound: API.md
    "Revoking and resharing" takes the cursors of an ended share out of service with it.
    """
    position = decode(key, listing, cursor)
    if position.pop("g", None) != generation:
        raise NotFound("the share this cursor pages through has ended; start again without a cursor")
    return position
