"""Who may see and do what. Pure functions over a Principal and the objects at hand.

Roles:
- operator (Cognito group ``operators``): every company; creates companies and turns
  features on and off. Inside a company it acts like that company's admin.
- company_admin: every project of its own company; manages its projects and users.
- project_admin: only the projects listed in its grant.

Anything in a company or project the caller cannot see is reported as absent (NotFound),
so existence never leaks; something the caller can see but may not change is Forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from segshare_core.domain.errors import Forbidden, NotFound

Role = Literal["company_admin", "project_admin"]
OPERATORS_GROUP = "operators"


@dataclass(frozen=True, slots=True)
class Grant:
    """What the store holds for a user: one company, one role, and for project admins the projects."""

    user_id: str
    company_id: str
    role: Role
    project_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: its claims combined with its grant (read per request)."""

    user_id: str
    is_operator: bool = False
    company_id: str | None = None
    role: Role | None = None
    project_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def role_name(self) -> str | None:
        return "operator" if self.is_operator else self.role


def groups_from_claim(value: object) -> frozenset[str]:
    """Parse ``cognito:groups`` as API Gateway hands it over; every group keeps its whole name.

    HTTP API passes an array claim as a string such as ``[operators other]``: names split on
    whitespace (a Cognito group name cannot hold any). A list (the claim as JSON, e.g. from a
    test) is taken as it is; any other string is one group name. Nothing is split on commas or
    unquoted, so ``a,operators``, ``"operators"`` or ``[operators`` never become ``operators``
    (API.md, Identity and roles: a group counts only by its whole name). A list holding
    ``"operators"`` in quotes reaches us as ``["operators"]``: that is the group
    ``"operators"``, so a string is never read as JSON.
    """
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(v for v in value if isinstance(v, str) and v)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        return frozenset(text[1:-1].split())
    return frozenset({text}) if text else frozenset()


def principal_from(claims: Mapping[str, object], grant: Grant | None) -> Principal:
    """Combine the verified token claims with the user's grant from the store."""
    user_id = str(claims.get("sub") or "")
    is_operator = OPERATORS_GROUP in groups_from_claim(claims.get("cognito:groups"))
    if grant is None:
        return Principal(user_id=user_id, is_operator=is_operator)
    return Principal(
        user_id=user_id,
        is_operator=is_operator,
        company_id=grant.company_id,
        role=grant.role,
        project_ids=grant.project_ids,
    )


def require_known(principal: Principal) -> None:
    """A caller with neither a grant nor the operator group may do nothing."""
    if not principal.is_operator and principal.company_id is None:
        raise Forbidden("this user has no access to segshare; ask a company admin for a grant")


def require_operator(principal: Principal) -> None:
    require_known(principal)
    if not principal.is_operator:
        raise Forbidden("only operators may do this")


def can_see_company(principal: Principal, company_id: str) -> bool:
    return principal.is_operator or principal.company_id == company_id


def require_company_visible(principal: Principal, company_id: str) -> None:
    """Raise NotFound for a company the caller cannot see (never reveal that it exists)."""
    require_known(principal)
    if not can_see_company(principal, company_id):
        raise NotFound(f"company {company_id!r} not found")


def is_company_admin(principal: Principal, company_id: str) -> bool:
    """Operators act as admins of every company; company admins of their own."""
    return principal.is_operator or (principal.company_id == company_id and principal.role == "company_admin")


def require_company_admin(principal: Principal, company_id: str) -> None:
    require_company_visible(principal, company_id)
    if not is_company_admin(principal, company_id):
        raise Forbidden("only a company admin or an operator may do this")


def can_access_project(principal: Principal, company_id: str, project_id: str) -> bool:
    """Company admins and operators reach every project of the company; project admins their grant."""
    if is_company_admin(principal, company_id):
        return True
    return principal.company_id == company_id and project_id in principal.project_ids


def visible_projects(principal: Principal, company_id: str, project_ids: Iterable[str]) -> list[str]:
    """The company's projects the caller can access, in the order given."""
    return [p for p in project_ids if can_access_project(principal, company_id, p)]


def require_project(principal: Principal, company_id: str | None, project_id: str) -> str:
    """Return the project's company, or raise NotFound when it is absent or not the caller's to see."""
    require_known(principal)
    if company_id is None or not can_access_project(principal, company_id, project_id):
        raise NotFound(f"project {project_id!r} not found")
    return company_id
