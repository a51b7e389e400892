"""Profiles of a project: validation of one upserted profile and the token diff it implies."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segshare_core.domain.devices import Device, InvalidDeviceId, normalise
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.ids import is_valid_id
from segshare_core.domain.text import is_writable

MAX_BATCH = 500
MAX_DEVICES = 20
MAX_ATTRIBUTES = 100
MAX_VALUE_CHARS = 2048
#: Attributes as stored (JSON, non-ASCII escaped as \uXXXX): a DynamoDB item holds 400 KB in all.
MAX_ATTRIBUTES_JSON_CHARS = 350_000
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

AttributeValue = str | int | float | bool | None


def shard_of_profile(profile_id: str, shards: int) -> int:
    """The shard (0 to shards - 1) a profile's row and counter live in.

    Profile ids are chosen by customers and cluster (``user-000001``...), so they are hashed
    first (BLAKE2b, 8 bytes: stable across processes, unlike ``hash()``); spreading a
    project's rows over partitions lifts the one-partition cap of about 1,000 writes and
    3,000 reads a second (DynamoDB's documented per-partition limits).
    """
    digest = hashlib.blake2b(profile_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


class InvalidProfile(InvalidInput):
    code = "INVALID_PROFILE"


@dataclass(frozen=True, slots=True)
class Profile:
    """A project's own user: its attributes and its devices, replaced whole on upsert."""

    profile_id: str
    attributes: Mapping[str, AttributeValue]
    devices: tuple[Device, ...]

    def matchable_devices(self) -> tuple[Device, ...]:
        """Devices that may match across projects: every device but the placeholders."""
        return tuple(d for d in self.devices if not d.is_placeholder)


def _attribute_value(name: str, value: Any) -> AttributeValue:
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidProfile(f"attributes.{name} must be a finite number")
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidProfile(f"attributes.{name} is longer than {MAX_VALUE_CHARS} characters")
        if not is_writable(value):
            # Stored, it would fail every CSV and JSONL export of the project (API.md, Exports).
            raise InvalidProfile(f"attributes.{name} is not valid Unicode text (it holds a lone surrogate)")
        return value
    raise InvalidProfile(f"attributes.{name} must be a string, number, boolean or null")


def parse_profile(raw: object) -> Profile:
    """Validate one profile of an upsert batch; raise InvalidProfile or InvalidDeviceId."""
    if not isinstance(raw, Mapping):
        raise InvalidProfile("a profile must be an object")
    unknown = set(raw) - {"profileId", "attributes", "devices"}
    if unknown:
        raise InvalidProfile(f"unknown field {sorted(unknown)[0][:64]!r}")
    profile_id = raw.get("profileId")
    if not is_valid_id(profile_id):
        raise InvalidProfile("profileId must match ^[a-z0-9][a-z0-9-]{1,62}$")
    attributes = raw.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise InvalidProfile("attributes must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidProfile(f"a profile has at most {MAX_ATTRIBUTES} attributes")
    clean: dict[str, AttributeValue] = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not _ATTRIBUTE_NAME.fullmatch(name):
            raise InvalidProfile("attribute names must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
        clean[name] = _attribute_value(name, value)
    if len(json.dumps(clean)) > MAX_ATTRIBUTES_JSON_CHARS:
        raise InvalidProfile(f"attributes are too large to store (over {MAX_ATTRIBUTES_JSON_CHARS} characters as JSON)")
    devices_raw = raw.get("devices", [])
    if not isinstance(devices_raw, list):
        raise InvalidProfile("devices must be a list")
    if len(devices_raw) > MAX_DEVICES:
        raise InvalidProfile(f"a profile has at most {MAX_DEVICES} devices")
    devices: list[Device] = []
    for position, item in enumerate(devices_raw):
        if not isinstance(item, Mapping) or set(item) != {"platform", "id"}:
            raise InvalidDeviceId(f"devices[{position}] must be an object with platform and id")
        device = normalise(str(item["platform"]), item["id"])
        if device not in devices:
            devices.append(device)
    return Profile(profile_id=str(profile_id), attributes=clean, devices=tuple(devices))
