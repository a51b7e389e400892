"""Device ids: normalisation, validation, placeholders and keyed tokens.

Profiles are matched across projects by their devices: the IDFV on iOS and the Android ID
on Android. Raw ids are normalised once, at ingest, and the device index only ever holds a
keyed token of the normalised id, so the index never stores a raw device id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from segshare_core.domain.errors import InvalidInput

Platform = Literal["ios", "android"]
PLATFORMS: tuple[Platform, ...] = ("ios", "android")

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ANDROID = re.compile(r"^[0-9a-f]{1,16}$")

#: Ids that SDKs report when the real id is unavailable; stored, never matched.
PLACEHOLDERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("ios", "00000000-0000-0000-0000-000000000000"),
        ("android", "9774d56d682e549c"),
        ("android", "0"),
    }
)

TOKEN_BYTES = 16


class InvalidDeviceId(InvalidInput):
    code = "INVALID_DEVICE_ID"


@dataclass(frozen=True, slots=True)
class Device:
    """A normalised device id of one platform."""

    platform: Platform
    id: str

    @property
    def is_placeholder(self) -> bool:
        """A placeholder id is stored with its profile but never matches anything."""
        return (self.platform, self.id) in PLACEHOLDERS


def normalise(platform: str, raw: object) -> Device:
    """Return the canonical form of a device id or raise InvalidDeviceId.

    An IDFV is a UUID compared case-insensitively (canonical form: lower case, hyphenated).
    An Android ID is 1 to 16 hex digits, a 64-bit value compared case-insensitively and
    without leading zeros (canonical form: lower case, no leading zeros, "0" for zero).
    """
    if platform not in PLATFORMS:
        raise InvalidDeviceId(f"devices.platform must be 'ios' or 'android', got {str(platform)[:20]!r}")
    if not isinstance(raw, str):
        raise InvalidDeviceId(f"a {platform} device id must be a string")
    value = raw.lower()
    if platform == "ios":
        if not _UUID.fullmatch(value):
            raise InvalidDeviceId("an ios device id (IDFV) must be a UUID like E621E1F8-C36C-495A-93FC-0C247A3E6E5F")
        return Device("ios", value)
    if not _ANDROID.fullmatch(value):
        raise InvalidDeviceId("an android device id (Android ID) must be 1 to 16 hex digits")
    return Device("android", value.lstrip("0") or "0")


def token(company_key: bytes, device: Device) -> str:
    """The keyed token of a device within one company (hex of 16 bytes).

    HMAC-SHA256 over ``platform:id`` with the company's key: stable for a company, unrelated
    across companies, and an Android ID never collides with an IDFV because the platform is
    part of the message.
    """
    mac = hmac.new(company_key, f"{device.platform}:{device.id}".encode(), hashlib.sha256)
    return mac.digest()[:TOKEN_BYTES].hex()


def shard_of(device_token: str, shards: int) -> int:
    """The index shard a token lives in: the token is already uniform, so its prefix will do."""
    return int(device_token[:8], 16) % shards
