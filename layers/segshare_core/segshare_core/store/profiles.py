"""Profiles and the per-project device index, written together so neither is ever half-updated."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from segshare_core import config
from segshare_core.domain.clock import now
from segshare_core.domain.devices import Device, shard_of, token
from segshare_core.domain.errors import NotFound, RetryLater
from segshare_core.domain.profiles import Profile
from segshare_core.store.models import DeviceIndexRow, ProfileRow, connection, index_pk, project_pk

#: A concurrent writer of the same profile makes our conditional write fail; read and try again.
_WRITE_ATTEMPTS = 4


def _profile(row: ProfileRow) -> Profile:
    devices = tuple(Device(platform, device_id) for platform, device_id in row.devices)
    return Profile(profile_id=row.sk, attributes=row.attributes or {}, devices=devices)


def _row_tokens(row: ProfileRow) -> list[str]:
    return [str(t) for t in row.tokens or []]


def _tokens(company_key: bytes, profile: Profile) -> dict[str, str]:
    """token -> platform for every device of the profile that can match."""
    return {token(company_key, d): d.platform for d in profile.matchable_devices()}


def _index_key(company_id: str, project_id: str, device_token: str) -> tuple[str, str]:
    return index_pk(company_id, project_id, shard_of(device_token, config.DEVICE_INDEX_SHARDS)), device_token


def _drop_empty_index_entries(company_id: str, project_id: str, tokens: Iterable[str]) -> None:
    """Remove index entries whose last profile just left (harmless if it lingers)."""
    for device_token in tokens:
        pk, sk = _index_key(company_id, project_id, device_token)
        with contextlib.suppress(DeleteError):
            DeviceIndexRow(pk, sk).delete(condition=DeviceIndexRow.profiles.does_not_exist())


def _is_conflict(exc: TransactWriteError) -> bool:
    reasons = exc.cancellation_reasons or []
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)


#: DynamoDB allows 100 items and 4 MB a transaction; stay clear of both.
_TX_ITEMS = 100
_TX_BYTES = 3_000_000


@dataclass
class _Change:
    """One profile's replacement: its row and the index entries that move with it."""

    row: ProfileRow
    profile_id: str
    added: dict[str, str]  # token -> platform
    removed: list[str]
    size: int

    @property
    def items(self) -> int:
        return 1 + len(self.added) + len(self.removed)


def _change(company_id: str, project_id: str, company_key: bytes, profile: Profile, current: ProfileRow | None) -> _Change:
    new_tokens = _tokens(company_key, profile)
    old_tokens = set(_row_tokens(current)) if current is not None else set()
    attributes = dict(profile.attributes)
    row = ProfileRow(
        project_pk(company_id, project_id),
        profile.profile_id,
        attributes=attributes,
        devices=[[d.platform, d.id] for d in profile.devices],
        tokens=sorted(new_tokens),
        updated_at=now(),
    )
    if current is not None:
        # The version attribute turns the save into a conditional write on what we read.
        row.version = current.version
    return _Change(
        row=row,
        profile_id=profile.profile_id,
        added={t: p for t, p in new_tokens.items() if t not in old_tokens},
        removed=sorted(old_tokens - set(new_tokens)),
        size=len(json.dumps(attributes)) + 200 * (1 + len(new_tokens)),
    )


def _groups(changes: list[_Change]) -> list[list[_Change]]:
    """Pack whole changes into transactions: within the item and size limits, no index entry twice."""
    groups: list[list[_Change]] = []
    group: list[_Change] = []
    items = size = 0
    keys: set[str] = set()
    for change in changes:
        tokens = set(change.added) | set(change.removed)
        if group and (items + change.items > _TX_ITEMS or size + change.size > _TX_BYTES or tokens & keys):
            groups.append(group)
            group, items, size, keys = [], 0, 0, set()
        group.append(change)
        items += change.items
        size += change.size
        keys |= tokens
    if group:
        groups.append(group)
    return groups


def _commit(company_id: str, project_id: str, group: list[_Change]) -> None:
    """Write a group of profile changes in one transaction: each profile lands whole or not at all."""
    with TransactWrite(connection=connection()) as tx:
        for change in group:
            tx.save(change.row)
            for device_token in change.removed:
                tx.update(
                    DeviceIndexRow(*_index_key(company_id, project_id, device_token)),
                    actions=[DeviceIndexRow.profiles.delete({change.profile_id})],
                )
            for device_token, platform in change.added.items():
                tx.update(
                    DeviceIndexRow(*_index_key(company_id, project_id, device_token)),
                    actions=[DeviceIndexRow.profiles.add({change.profile_id}), DeviceIndexRow.platform.set(platform)],
                )


def _get_row(company_id: str, project_id: str, profile_id: str) -> ProfileRow | None:
    try:
        return ProfileRow.get(project_pk(company_id, project_id), profile_id, consistent_read=True)
    except DoesNotExist:
        return None


def upsert_profiles(company_id: str, project_id: str, company_key: bytes, profiles: list[Profile]) -> int:
    """Replace each profile whole (attributes, devices and index entries); return how many landed.

    Profiles are packed into as few transactions as the limits allow. Every profile is either
    stored as sent or left as it was; when a concurrent writer changed one (its version moved),
    that group is retried profile by profile on freshly read state.
    """
    pk = project_pk(company_id, project_id)
    existing = {row.sk: row for row in ProfileRow.batch_get([(pk, p.profile_id) for p in profiles])}
    by_id = {p.profile_id: p for p in profiles}
    changes = [_change(company_id, project_id, company_key, p, existing.get(p.profile_id)) for p in profiles]
    emptied: list[str] = []
    for group in _groups(changes):
        try:
            _commit(company_id, project_id, group)
            emptied.extend(t for change in group for t in change.removed)
        except TransactWriteError as exc:
            if not _is_conflict(exc):
                raise
            for change in group:
                emptied.extend(_write_alone(company_id, project_id, company_key, by_id[change.profile_id]))
    _drop_empty_index_entries(company_id, project_id, emptied)
    return len(profiles)


def _write_alone(company_id: str, project_id: str, company_key: bytes, profile: Profile) -> list[str]:
    """One profile on its own transaction, re-reading on a concurrent change; return tokens removed."""
    for _attempt in range(_WRITE_ATTEMPTS):
        change = _change(company_id, project_id, company_key, profile, _get_row(company_id, project_id, profile.profile_id))
        try:
            _commit(company_id, project_id, [change])
            return change.removed
        except TransactWriteError as exc:
            if not _is_conflict(exc):
                raise
    raise RetryLater("profile is being written concurrently; retry")


def get_profile(company_id: str, project_id: str, profile_id: str) -> Profile | None:
    row = _get_row(company_id, project_id, profile_id)
    return _profile(row) if row else None


def delete_profile(company_id: str, project_id: str, profile_id: str) -> None:
    """Delete a profile and take it out of the index in one transaction; its devices stop matching."""
    for _attempt in range(_WRITE_ATTEMPTS):
        row = _get_row(company_id, project_id, profile_id)
        if row is None:
            raise NotFound(f"profile {profile_id!r} not found")
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.delete(row)
                for device_token in _row_tokens(row):
                    tx.update(
                        DeviceIndexRow(*_index_key(company_id, project_id, device_token)),
                        actions=[DeviceIndexRow.profiles.delete({profile_id})],
                    )
        except TransactWriteError as exc:
            if _is_conflict(exc):
                continue
            raise
        _drop_empty_index_entries(company_id, project_id, _row_tokens(row))
        return
    raise RetryLater("profile is being written concurrently; retry")


def iter_profiles(company_id: str, project_id: str) -> Iterator[Profile]:
    """Every profile of a project, in id order."""
    for row in ProfileRow.query(project_pk(company_id, project_id)):
        yield _profile(row)


def get_profiles(company_id: str, project_id: str, profile_ids: Iterable[str]) -> dict[str, Profile]:
    """The profiles among these ids that exist (BatchGet, 100 keys a request)."""
    pk = project_pk(company_id, project_id)
    keys = [(pk, profile_id) for profile_id in dict.fromkeys(profile_ids)]
    return {row.sk: _profile(row) for row in ProfileRow.batch_get(keys)} if keys else {}


def count_profiles(company_id: str, project_id: str) -> int:
    return int(ProfileRow.count(project_pk(company_id, project_id)))
