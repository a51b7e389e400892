"""Companies, projects and user grants."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from segshare_core.domain.access import Grant, Role
from segshare_core.domain.clock import now
from segshare_core.domain.directory import Company, Project
from segshare_core.domain.errors import AlreadyExists, NotFound
from segshare_core.store import keys
from segshare_core.store.errors import condition_failed
from segshare_core.store.models import CompanyRow, GrantRow, ProjectIdRow, ProjectRow, connection


def _company(row: CompanyRow) -> Company:
    return Company(
        company_id=keys.company_of(row.pk),
        name=row.name,
        shared_segments_enabled=bool(row.shared_segments_enabled),
    )


def _project(company_id: str, row: ProjectRow) -> Project:
    return Project(project_id=keys.project_id_of(row.sk), company_id=company_id, name=row.name)


def create_company(company_id: str, name: str, shared_segments_enabled: bool) -> Company:
    """Create a company with a fresh device-token key; an existing id is ALREADY_EXISTS."""
    row = CompanyRow(
        *keys.company(company_id),
        name=name,
        shared_segments_enabled=shared_segments_enabled,
        device_key=secrets.token_bytes(32),
        created_at=now(),
    )
    try:
        row.save(condition=CompanyRow.pk.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            raise AlreadyExists(f"company {company_id!r} already exists") from exc
        raise
    return _company(row)


def _company_row(company_id: str) -> CompanyRow | None:
    try:
        return CompanyRow.get(*keys.company(company_id), consistent_read=True)
    except DoesNotExist:
        return None


def get_company(company_id: str) -> Company | None:
    row = _company_row(company_id)
    return _company(row) if row else None


def update_company(company_id: str, *, name: str | None, shared_segments_enabled: bool | None) -> Company:
    row = _company_row(company_id)
    if row is None:
        raise NotFound(f"company {company_id!r} not found")
    actions: list[Action] = []
    if name is not None:
        actions.append(CompanyRow.name.set(name))
    if shared_segments_enabled is not None:
        actions.append(CompanyRow.shared_segments_enabled.set(shared_segments_enabled))
    if actions:
        row.update(actions=actions, condition=CompanyRow.pk.exists())
    return _company(row)


def company_and_key(company_id: str) -> tuple[Company, bytes] | None:
    """The company and its device-token key from one read of its row; None when there is no such company.

    A request that needs both (the feature flag and a cursor or token key) reads the row once.
    """
    row = _company_row(company_id)
    return (_company(row), bytes(row.device_key)) if row else None


def shared_segments_on(company_id: str) -> bool:
    """Whether the company has the shared-segments feature turned on (off until an operator turns it on)."""
    company = get_company(company_id)
    return company is not None and company.shared_segments_enabled


def company_key(company_id: str) -> bytes:
    """The company's secret key for device tokens."""
    row = _company_row(company_id)
    if row is None:
        raise NotFound(f"company {company_id!r} not found")
    return bytes(row.device_key)


def create_project(company_id: str, project_id: str, name: str) -> Project:
    """Create a project; its id is reserved deployment-wide in the same transaction."""
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(
                ProjectIdRow(*keys.project_registry(project_id), company_id=company_id),
                condition=ProjectIdRow.pk.does_not_exist(),
            )
            tx.save(ProjectRow(*keys.project(company_id, project_id), name=name, created_at=now()))
    except TransactWriteError as exc:
        if condition_failed(exc):
            raise AlreadyExists(f"project {project_id!r} already exists") from exc
        raise
    return Project(project_id=project_id, company_id=company_id, name=name)


def list_projects(company_id: str) -> list[Project]:
    rows = ProjectRow.query(keys.company_pk(company_id), ProjectRow.sk.startswith(keys.PROJECT_SK_PREFIX), consistent_read=True)
    return [_project(company_id, row) for row in rows]


def get_project(company_id: str, project_id: str) -> Project | None:
    try:
        row = ProjectRow.get(*keys.project(company_id, project_id), consistent_read=True)
    except DoesNotExist:
        return None
    return _project(company_id, row)


def project_company(project_id: str) -> str | None:
    """The company a project id belongs to, from the deployment-wide id registry."""
    try:
        return ProjectIdRow.get(*keys.project_registry(project_id), consistent_read=True).company_id
    except DoesNotExist:
        return None


def get_grant(user_id: str) -> Grant | None:
    try:
        row = GrantRow.get(*keys.grant(user_id), consistent_read=True)
    except DoesNotExist:
        return None
    return Grant(
        user_id=user_id,
        company_id=row.company_id,
        role=row.role,  # type: ignore[arg-type]
        project_ids=frozenset(str(p) for p in row.project_ids or []),
    )


def put_grant(user_id: str, company_id: str, role: Role, project_ids: list[str]) -> Grant:
    """Set a user's grant. A user belongs to one company: one held by another company is ALREADY_EXISTS.

    The message names no company and does not say the user is held elsewhere (API.md,
    Directory): a company admin must not learn that a user id exists in another company.
    """
    row = GrantRow(*keys.grant(user_id), company_id=company_id, role=role, project_ids=project_ids)
    try:
        row.save(condition=GrantRow.pk.does_not_exist() | (GrantRow.company_id == company_id))
    except PutError as exc:
        if condition_failed(exc):
            raise AlreadyExists(f"user id {user_id!r} cannot be granted") from exc
        raise
    return Grant(user_id=user_id, company_id=company_id, role=role, project_ids=frozenset(project_ids))


def delete_grant(user_id: str, company_id: str) -> None:
    """Remove a user's grant in this company; NotFound when it holds none here (another company's is never touched).

    Grants are read on every request, so the user's next request has no grant (API.md, Directory).
    """
    try:
        GrantRow(*keys.grant(user_id)).delete(condition=GrantRow.company_id == company_id)
    except DeleteError as exc:
        if condition_failed(exc):
            raise NotFound(f"user {user_id!r} not found") from exc
        raise
