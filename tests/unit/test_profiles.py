"""parse_profile: one profile of an upsert batch, validated and normalised, or rejected with a code."""

from __future__ import annotations

from typing import Any

import pytest

from segshare_core.domain.devices import Device
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.profiles import MAX_ATTRIBUTES, MAX_DEVICES, MAX_VALUE_CHARS, Profile, parse_profile

IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"


def _profile(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "profileId": "u-1",
        "attributes": {"first_name": "Ann", "country": "IE", "age": 31, "score": 2.5, "vip": True, "note": None},
        "devices": [{"platform": "ios", "id": IDFV}, {"platform": "android", "id": "009A3F"}],
    }
    raw.update(overrides)
    return raw


def test_valid_profile() -> None:
    # Given a well-formed profile
    # When it is parsed
    profile = parse_profile(_profile())
    # Then its id and attributes are kept and its devices normalised
    assert profile == Profile(
        profile_id="u-1",
        attributes={"first_name": "Ann", "country": "IE", "age": 31, "score": 2.5, "vip": True, "note": None},
        devices=(Device("ios", IDFV.lower()), Device("android", "9a3f")),
    )


@pytest.mark.parametrize(
    "raw",
    [
        {"profileId": "u-1"},
        {"profileId": "u-1", "attributes": {}, "devices": []},
    ],
)
def test_minimal_profile(raw: dict[str, Any]) -> None:
    # Given a profile with nothing but its id
    # When it is parsed
    profile = parse_profile(raw)
    # Then it has no attributes and no devices
    assert profile == Profile(profile_id="u-1", attributes={}, devices=())


def test_limits_are_inclusive() -> None:
    # Given a profile exactly at every limit
    raw = _profile(
        attributes={f"a{n}": "x" * MAX_VALUE_CHARS for n in range(MAX_ATTRIBUTES)},
        devices=[{"platform": "android", "id": f"{n + 1:x}"} for n in range(MAX_DEVICES)],
    )
    # When it is parsed
    profile = parse_profile(raw)
    # Then it is accepted whole
    assert len(profile.attributes) == MAX_ATTRIBUTES
    assert len(profile.devices) == MAX_DEVICES


def test_duplicate_devices_collapse() -> None:
    # Given one device listed several times, spelt differently
    raw = _profile(
        devices=[
            {"platform": "ios", "id": IDFV},
            {"platform": "ios", "id": IDFV.lower()},
            {"platform": "android", "id": "00abc"},
            {"platform": "android", "id": "ABC"},
            {"platform": "android", "id": "abc"},
        ]
    )
    # When it is parsed
    profile = parse_profile(raw)
    # Then each device appears once, in first-seen order
    assert profile.devices == (Device("ios", IDFV.lower()), Device("android", "abc"))


def test_placeholders_are_kept_but_not_matchable() -> None:
    # Given a profile with a real device and placeholders
    raw = _profile(
        devices=[
            {"platform": "android", "id": "9774D56D682E549C"},
            {"platform": "ios", "id": "00000000-0000-0000-0000-000000000000"},
            {"platform": "android", "id": "000"},
            {"platform": "ios", "id": IDFV},
        ]
    )
    # When it is parsed
    profile = parse_profile(raw)
    # Then every device is stored, but only the real one may match
    assert len(profile.devices) == 4
    assert profile.matchable_devices() == (Device("ios", IDFV.lower()),)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        # not an object
        ("u-1", "INVALID_PROFILE"),
        (["u-1"], "INVALID_PROFILE"),
        (None, "INVALID_PROFILE"),
        # unknown field (mass assignment)
        (_profile(version=3), "INVALID_PROFILE"),
        (_profile(projectId="proj-b"), "INVALID_PROFILE"),
        # bad profileId
        ({"attributes": {}}, "INVALID_PROFILE"),
        (_profile(profileId=""), "INVALID_PROFILE"),
        (_profile(profileId="U-1"), "INVALID_PROFILE"),
        (_profile(profileId="-u1"), "INVALID_PROFILE"),
        (_profile(profileId="u"), "INVALID_PROFILE"),
        (_profile(profileId="u" * 64), "INVALID_PROFILE"),
        (_profile(profileId="u-1\n"), "INVALID_PROFILE"),
        (_profile(profileId=12), "INVALID_PROFILE"),
        # attributes not an object
        (_profile(attributes=["first_name", "Ann"]), "INVALID_PROFILE"),
        (_profile(attributes="first_name=Ann"), "INVALID_PROFILE"),
        (_profile(attributes=None), "INVALID_PROFILE"),
        # too many attributes
        (_profile(attributes={f"a{n}": n for n in range(MAX_ATTRIBUTES + 1)}), "INVALID_PROFILE"),
        # bad attribute names
        (_profile(attributes={"": "x"}), "INVALID_PROFILE"),
        (_profile(attributes={"1st": "x"}), "INVALID_PROFILE"),
        (_profile(attributes={"first name": "x"}), "INVALID_PROFILE"),
        (_profile(attributes={"first_name\n": "x"}), "INVALID_PROFILE"),
        (_profile(attributes={"$where": "x"}), "INVALID_PROFILE"),
        (_profile(attributes={"a" * 65: "x"}), "INVALID_PROFILE"),
        # nested values
        (_profile(attributes={"address": {"city": "Cork"}}), "INVALID_PROFILE"),
        (_profile(attributes={"tags": ["a", "b"]}), "INVALID_PROFILE"),
        (_profile(attributes={"tags": []}), "INVALID_PROFILE"),
        # numbers JSON cannot carry
        (_profile(attributes={"score": float("nan")}), "INVALID_PROFILE"),
        (_profile(attributes={"score": float("inf")}), "INVALID_PROFILE"),
        (_profile(attributes={"score": float("-inf")}), "INVALID_PROFILE"),
        # over-long strings
        (_profile(attributes={"bio": "x" * (MAX_VALUE_CHARS + 1)}), "INVALID_PROFILE"),
        # devices not a list
        (_profile(devices={"platform": "ios", "id": IDFV}), "INVALID_PROFILE"),
        (_profile(devices=None), "INVALID_PROFILE"),
        # too many devices (counted as sent)
        (_profile(devices=[{"platform": "android", "id": f"{n + 1:x}"} for n in range(MAX_DEVICES + 1)]), "INVALID_PROFILE"),
        # device objects of the wrong shape
        (_profile(devices=[{"platform": "ios", "id": IDFV, "model": "iPhone"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": "ios"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"id": IDFV}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[IDFV]), "INVALID_DEVICE_ID"),
        (_profile(devices=[None]), "INVALID_DEVICE_ID"),
        # bad device ids
        (_profile(devices=[{"platform": "ios", "id": "not-a-uuid"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": "android", "id": "9a3f5e2b7c1d4e601"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": "windows", "id": "abc"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": None, "id": "abc"}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": "android", "id": 123}]), "INVALID_DEVICE_ID"),
        (_profile(devices=[{"platform": "ios", "id": IDFV}, {"platform": "ios", "id": IDFV + "\n"}]), "INVALID_DEVICE_ID"),
    ],
)
def test_invalid_profile_is_rejected(raw: object, code: str) -> None:
    # Given a profile that breaks one rule
    # When it is parsed
    with pytest.raises(InvalidInput) as caught:
        parse_profile(raw)
    # Then it is rejected with the code of that rule and a message
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"bio": "x" * (MAX_VALUE_CHARS + 1)}, "bio"),
        ({"address": {"city": "Cork"}}, "address"),
        ({"score": float("nan")}, "score"),
        ({"first_name": "Ann\ud800"}, "first_name"),
        ({"country": "IE", "nick": "\udfff"}, "nick"),
    ],
)
def test_rejection_message_names_the_attribute(attributes: dict[str, Any], field: str) -> None:
    # Given a profile with one bad attribute
    # When it is parsed
    with pytest.raises(InvalidInput) as caught:
        parse_profile(_profile(attributes=attributes))
    # Then the message names the attribute, as INVALID_PROFILE, and quotes no value
    assert f"attributes.{field}" in caught.value.message
    assert caught.value.code == "INVALID_PROFILE"
    assert all(str(v)[:3] not in caught.value.message for v in attributes.values() if isinstance(v, str))


def test_profile_too_large_to_store_is_rejected() -> None:
    # Given a profile within every per-field limit whose attributes, as stored, exceed what one item can hold
    # (non-ASCII text is stored \\u-escaped: six characters for each one sent)
    raw = _profile(attributes={f"a{n}": "é" * MAX_VALUE_CHARS for n in range(MAX_ATTRIBUTES)})
    # When it is parsed
    with pytest.raises(InvalidInput) as caught:
        parse_profile(raw)
    # Then it is rejected as a profile, rather than failing the store write later
    assert caught.value.code == "INVALID_PROFILE"
