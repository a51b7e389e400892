"""Device ids: normalisation, validation, placeholders, keyed tokens and shards."""

from __future__ import annotations

import pytest

from segshare_core.domain.devices import TOKEN_BYTES, Device, InvalidDeviceId, normalise, shard_of, token

IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
IDFV_LOWER = "e621e1f8-c36c-495a-93fc-0c247a3e6e5f"


@pytest.mark.parametrize(
    ("platform", "raw", "canonical"),
    [
        ("ios", IDFV, IDFV_LOWER),
        ("ios", IDFV_LOWER, IDFV_LOWER),
        ("ios", "e621E1F8-c36C-495a-93Fc-0C247A3E6E5F", IDFV_LOWER),
        ("android", "9a3f5e2b7c1d4e60", "9a3f5e2b7c1d4e60"),
        ("android", "9A3F5E2B7C1D4E60", "9a3f5e2b7c1d4e60"),
        ("android", "00000a3f5e2b7c1d", "a3f5e2b7c1d"),
        ("android", "000ABC", "abc"),
        ("android", "1", "1"),
        ("android", "f", "f"),
        ("android", "ffffffffffffffff", "ffffffffffffffff"),
        ("android", "0000", "0"),
        ("android", "0", "0"),
    ],
)
def test_normalise_gives_the_canonical_form(platform: str, raw: str, canonical: str) -> None:
    # Given a well-formed device id
    # When it is normalised
    device = normalise(platform, raw)
    # Then it is in the canonical form of its platform
    assert device == Device(platform, canonical)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("platform", "a", "b"),
    [
        ("ios", IDFV, IDFV_LOWER),
        ("android", "00ABC", "abc"),
        ("android", "0", "0000000000000000"),
    ],
)
def test_spellings_of_one_device_normalise_alike(platform: str, a: str, b: str) -> None:
    # Given two spellings of the same device
    # When both are normalised
    # Then they are the same device
    assert normalise(platform, a) == normalise(platform, b)


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        ("ios", ""),
        ("ios", "E621E1F8-C36C-495A-93FC-0C247A3E6E5"),  # one digit short
        ("ios", "E621E1F8-C36C-495A-93FC-0C247A3E6E5F0"),  # one digit long
        ("ios", "E621E1F8C36C495A93FC0C247A3E6E5F"),  # UUID without hyphens
        ("ios", "G621E1F8-C36C-495A-93FC-0C247A3E6E5F"),  # not hex
        ("ios", "{E621E1F8-C36C-495A-93FC-0C247A3E6E5F}"),
        ("ios", " E621E1F8-C36C-495A-93FC-0C247A3E6E5F"),
        ("ios", IDFV + "\n"),  # a trailing newline is not part of a UUID
        ("ios", "9a3f5e2b7c1d4e60"),  # an Android ID is not an IDFV
        ("ios", None),
        ("ios", 12345),
        ("ios", ["E621E1F8-C36C-495A-93FC-0C247A3E6E5F"]),
        ("android", ""),
        ("android", "9a3f5e2b7c1d4e601"),  # 17 hex digits
        ("android", "00000000000000000"),  # 17 digits, even if zero
        ("android", "9a3f5e2b7c1d4e6g"),  # not hex
        ("android", "0x9a3f"),
        ("android", "-1"),
        ("android", " 9a3f"),
        ("android", "9a3f\n"),
        ("android", IDFV),  # an IDFV is not an Android ID
        ("android", 12345),
        ("android", None),
        ("windows", IDFV),  # unknown platform
        ("IOS", IDFV),  # platforms are lower case
        ("", "9a3f"),
    ],
)
def test_normalise_rejects_malformed_ids(platform: str, raw: object) -> None:
    # Given a malformed device id, or an unknown platform
    # When it is normalised
    with pytest.raises(InvalidDeviceId) as caught:
        normalise(platform, raw)
    # Then it is rejected with the contract's code
    assert caught.value.code == "INVALID_DEVICE_ID"
    assert caught.value.message


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        ("ios", "00000000-0000-0000-0000-000000000000"),
        ("android", "9774d56d682e549c"),
        ("android", "9774D56D682E549C"),
        ("android", "9774d56D682e549C"),
        ("android", "0"),
        ("android", "000"),
        ("android", "0000000000000000"),
    ],
)
def test_placeholders_are_flagged(platform: str, raw: str) -> None:
    # Given an id an SDK reports when the real one is unavailable
    # When it is normalised
    device = normalise(platform, raw)
    # Then it is a placeholder (stored, never matched)
    assert device.is_placeholder


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        ("ios", IDFV),
        ("ios", "00000000-0000-0000-0000-000000000001"),
        ("android", "1"),
        ("android", "9774d56d682e549d"),
        ("android", "09774d56d682e549"),
    ],
)
def test_real_ids_are_not_placeholders(platform: str, raw: str) -> None:
    # Given a real device id
    # When it is normalised
    device = normalise(platform, raw)
    # Then it can match
    assert not device.is_placeholder


KEY_A = b"a" * 32
KEY_B = b"b" * 32


def test_token_is_stable_for_one_company_key() -> None:
    # Given one device spelt two ways
    first, second = normalise("ios", IDFV), normalise("ios", IDFV_LOWER)
    # When tokens are taken with the same key
    # Then they are equal
    assert token(KEY_A, first) == token(KEY_A, second)


def test_token_differs_across_company_keys() -> None:
    # Given one device
    device = normalise("android", "9a3f5e2b7c1d4e60")
    # When tokens are taken with two company keys
    # Then they differ
    assert token(KEY_A, device) != token(KEY_B, device)


@pytest.mark.parametrize("key", [KEY_A, KEY_B, b""])
def test_android_and_ios_ids_never_share_a_token(key: bytes) -> None:
    # Given devices of both platforms, including ids whose text could be confused
    androids = [normalise("android", raw) for raw in ("0", "1", "e621e1f8", "9a3f5e2b7c1d4e60", "ffffffffffffffff")]
    ioses = [normalise("ios", raw) for raw in (IDFV, "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff")]
    # The same id text under both platforms must not collide either
    forged = [Device("ios", d.id) for d in androids]
    # When their tokens are taken with one key
    android_tokens = {token(key, d) for d in androids}
    ios_tokens = {token(key, d) for d in ioses + forged}
    # Then no android token equals an ios token
    assert not android_tokens & ios_tokens
    assert len(android_tokens) == len(androids)


@pytest.mark.parametrize(("platform", "raw"), [("ios", IDFV), ("android", "0"), ("android", "9a3f5e2b7c1d4e60")])
def test_token_is_32_lowercase_hex_chars(platform: str, raw: str) -> None:
    # Given a device
    # When its token is taken
    value = token(KEY_A, normalise(platform, raw))
    # Then it is the hex of 16 bytes
    assert len(value) == 2 * TOKEN_BYTES == 32
    assert value == value.lower()
    assert bytes.fromhex(value)


@pytest.mark.parametrize("shards", [1, 2, 16, 17, 256])
def test_shard_of_is_in_range(shards: int) -> None:
    # Given many tokens
    tokens = [token(KEY_A, normalise("android", f"{n:x}")) for n in range(500)]
    # When each is assigned a shard
    found = {shard_of(t, shards) for t in tokens}
    # Then every shard is within [0, shards) and, with enough tokens, every shard is used
    assert found <= set(range(shards))
    if shards <= 16:
        assert found == set(range(shards))


@pytest.mark.parametrize("edge", ["00000000" + "0" * 24, "ffffffff" + "f" * 24])
def test_shard_of_edges(edge: str) -> None:
    # Given the smallest and largest token prefixes
    # When they are sharded
    # Then they stay in range
    for shards in (1, 16, 256):
        assert 0 <= shard_of(edge, shards) < shards


def test_one_device_always_lands_in_one_shard() -> None:
    # Given one device spelt two ways
    upper, lower = token(KEY_A, normalise("ios", IDFV)), token(KEY_A, normalise("ios", IDFV_LOWER))
    # When both tokens are sharded
    # Then they land in the same shard, so a point look-up finds what an upsert wrote
    assert shard_of(upper, 16) == shard_of(lower, 16)
