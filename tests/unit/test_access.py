"""Access policy: claims to principal, and who sees (NotFound otherwise) and may change (Forbidden otherwise) what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from segshare_core.domain import access
from segshare_core.domain.access import Grant, Principal, groups_from_claim, principal_from
from segshare_core.domain.errors import DomainError, Forbidden, NotFound

# ------------------------------------------------------------------ claims


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        ("[operators other]", {"operators", "other"}),
        ("[operators]", {"operators"}),
        ("operators", {"operators"}),
        ('["operators"]', {'"operators"'}),
        ('["operators","other"]', {'"operators","other"'}),
        (["operators", "other"], {"operators", "other"}),
        (("operators",), {"operators"}),
        ([], set()),
        (None, set()),
        ("", set()),
        ("[]", set()),
        ("  ", set()),
        ("[other]", {"other"}),
        ("[operatorsx]", {"operatorsx"}),
    ],
)
def test_groups_from_claim(claim: object, groups: set[str]) -> None:
    # Given cognito:groups as API Gateway (or a test) hands it over
    # When it is parsed
    # Then the groups are exactly these
    assert groups_from_claim(claim) == frozenset(groups)


@pytest.mark.parametrize(
    "claim",
    [
        ["a,operators"],
        ['"operators"'],
        ["operators "],
        [" operators"],
        ["Operators"],
        "a,operators",
        "[a,operators]",
        '"operators"',
        '["\\"operators\\""]',
        '["a,operators"]',
        '["operators"]',
        '["operators", "other"]',
        "[operators",
        "operators]",
        "[[operators]]",
        "{operators}",
        "operators other",
        [["operators"]],
        '[1, "operators"',
    ],
)
def test_only_the_whole_group_name_operators_makes_an_operator(claim: object) -> None:
    # Given a cognito:groups claim whose only near-operators entry is some other name (API.md, Identity and roles)
    # When the caller is built from it
    principal = principal_from({"sub": "u-1", "cognito:groups": claim}, None)
    # Then it is not an operator
    assert "operators" not in groups_from_claim(claim)
    assert principal.is_operator is False


@pytest.mark.parametrize(
    ("claims", "grant", "expected"),
    [
        (
            {"sub": "op-1", "cognito:groups": "[operators]"},
            None,
            Principal(user_id="op-1", is_operator=True),
        ),
        (
            {"sub": "op-1", "cognito:groups": ["other", "operators"]},
            None,
            Principal(user_id="op-1", is_operator=True),
        ),
        (
            {"sub": "u-1", "cognito:groups": "[operatorsx]"},
            None,
            Principal(user_id="u-1", is_operator=False),
        ),
        (
            {"sub": "u-admin"},
            Grant("u-admin", "acme", "company_admin"),
            Principal(user_id="u-admin", company_id="acme", role="company_admin"),
        ),
        (
            {"sub": "u-pa", "cognito:groups": ""},
            Grant("u-pa", "acme", "project_admin", frozenset({"proj-a"})),
            Principal(user_id="u-pa", company_id="acme", role="project_admin", project_ids=frozenset({"proj-a"})),
        ),
        ({"sub": "nobody"}, None, Principal(user_id="nobody")),
    ],
)
def test_principal_from(claims: dict[str, Any], grant: Grant | None, expected: Principal) -> None:
    # Given verified claims and the grant the store holds (if any)
    # When they are combined
    # Then the principal carries both
    assert principal_from(claims, grant) == expected


@pytest.mark.parametrize(
    ("principal", "role_name"),
    [
        (Principal("op-1", is_operator=True), "operator"),
        (Principal("op-1", is_operator=True, company_id="acme", role="project_admin"), "operator"),
        (Principal("u-1", company_id="acme", role="company_admin"), "company_admin"),
        (Principal("u-1", company_id="acme", role="project_admin"), "project_admin"),
        (Principal("u-1"), None),
    ],
)
def test_role_name(principal: Principal, role_name: str | None) -> None:
    # Given a principal
    # When its role is named
    # Then operators are named so whatever their grant
    assert principal.role_name == role_name


# ------------------------------------------------------------------ policy

OPERATOR = Principal("op-1", is_operator=True)
COMPANY_ADMIN = Principal("u-admin", company_id="acme", role="company_admin")
PROJECT_ADMIN = Principal("u-pa", company_id="acme", role="project_admin", project_ids=frozenset({"proj-a"}))
OTHER_COMPANY_ADMIN = Principal("u-other", company_id="globex", role="company_admin")
OTHER_PROJECT_ADMIN = Principal("u-other-pa", company_id="globex", role="project_admin", project_ids=frozenset({"proj-a"}))
UNKNOWN = Principal("u-nobody")

ACME_PROJECTS = ["proj-a", "proj-b", "proj-c"]


@pytest.mark.parametrize(
    ("principal", "visible"),
    [
        (OPERATOR, ACME_PROJECTS),
        (COMPANY_ADMIN, ACME_PROJECTS),
        (PROJECT_ADMIN, ["proj-a"]),
        (OTHER_COMPANY_ADMIN, []),
        # a grant naming proj-a in another company gives nothing in acme
        (OTHER_PROJECT_ADMIN, []),
        (UNKNOWN, []),
    ],
)
def test_visible_projects(principal: Principal, visible: list[str]) -> None:
    # Given acme's projects
    # When the caller's view of them is taken
    # Then it holds exactly the projects the role reaches, in the order given
    assert access.visible_projects(principal, "acme", ACME_PROJECTS) == visible
    assert access.visible_projects(principal, "acme", list(reversed(ACME_PROJECTS))) == list(reversed(visible))


@pytest.mark.parametrize(
    ("principal", "company_id", "project_id", "allowed"),
    [
        (OPERATOR, "acme", "proj-a", True),
        (OPERATOR, "globex", "proj-x", True),
        (COMPANY_ADMIN, "acme", "proj-a", True),
        (COMPANY_ADMIN, "acme", "proj-b", True),
        (COMPANY_ADMIN, "globex", "proj-x", False),
        (PROJECT_ADMIN, "acme", "proj-a", True),
        (PROJECT_ADMIN, "acme", "proj-b", False),
        (PROJECT_ADMIN, "globex", "proj-a", False),
        (OTHER_COMPANY_ADMIN, "acme", "proj-a", False),
        (OTHER_PROJECT_ADMIN, "acme", "proj-a", False),
        (UNKNOWN, "acme", "proj-a", False),
    ],
)
def test_can_access_project(principal: Principal, company_id: str, project_id: str, allowed: bool) -> None:
    # Given a caller and a project of a company
    # When access is asked
    # Then only operators, the company's admins and the project's own grant get in
    assert access.can_access_project(principal, company_id, project_id) is allowed


def _outcome(check: Callable[[], object]) -> type[DomainError] | None:
    try:
        check()
    except (NotFound, Forbidden) as exc:
        return type(exc)
    return None


# Each row: the caller, then the outcome of each check on acme (None: allowed).
#                          require_project(proj-a)  require_project(proj-b)  company_visible  company_admin  operator
POLICY = [
    (OPERATOR, None, None, None, None, None),
    (COMPANY_ADMIN, None, None, None, None, Forbidden),
    (PROJECT_ADMIN, None, NotFound, None, Forbidden, Forbidden),
    (OTHER_COMPANY_ADMIN, NotFound, NotFound, NotFound, NotFound, Forbidden),
    (OTHER_PROJECT_ADMIN, NotFound, NotFound, NotFound, NotFound, Forbidden),
    (UNKNOWN, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden),
]


@pytest.mark.parametrize(("principal", "proj_a", "proj_b", "visible", "admin", "operator"), POLICY)
def test_policy(
    principal: Principal,
    proj_a: type[DomainError] | None,
    proj_b: type[DomainError] | None,
    visible: type[DomainError] | None,
    admin: type[DomainError] | None,
    operator: type[DomainError] | None,
) -> None:
    # Given a caller and acme with proj-a and proj-b
    # When each requirement is checked
    # Then what the caller cannot see is NotFound, what it sees but may not change is Forbidden,
    # and a caller without a grant is Forbidden everywhere
    assert _outcome(lambda: access.require_project(principal, "acme", "proj-a")) is proj_a
    assert _outcome(lambda: access.require_project(principal, "acme", "proj-b")) is proj_b
    assert _outcome(lambda: access.require_company_visible(principal, "acme")) is visible
    assert _outcome(lambda: access.require_company_admin(principal, "acme")) is admin
    assert _outcome(lambda: access.require_operator(principal)) is operator


@pytest.mark.parametrize("principal", [OPERATOR, COMPANY_ADMIN, PROJECT_ADMIN, OTHER_COMPANY_ADMIN])
def test_require_project_of_an_absent_project_is_not_found(principal: Principal) -> None:
    # Given a project id that belongs to no company
    # When a known caller asks for it
    with pytest.raises(NotFound) as caught:
        access.require_project(principal, None, "proj-gone")
    # Then it is absent, and the message names the id
    assert caught.value.code == "NOT_FOUND"
    assert "proj-gone" in caught.value.message


def test_require_project_returns_the_company() -> None:
    # Given a project the caller may access
    # When it is required
    # Then its company comes back
    assert access.require_project(PROJECT_ADMIN, "acme", "proj-a") == "acme"


def test_unknown_user_is_forbidden_even_for_an_absent_project() -> None:
    # Given a caller with no grant
    # When it asks for a project that does not exist
    # Then it is Forbidden (not NotFound): it may do nothing at all
    with pytest.raises(Forbidden) as caught:
        access.require_project(UNKNOWN, None, "proj-gone")
    assert caught.value.code == "FORBIDDEN"


@pytest.mark.parametrize(
    ("check", "code"),
    [
        (lambda: access.require_company_visible(COMPANY_ADMIN, "globex"), "NOT_FOUND"),
        (lambda: access.require_company_admin(PROJECT_ADMIN, "acme"), "FORBIDDEN"),
        (lambda: access.require_operator(COMPANY_ADMIN), "FORBIDDEN"),
        (lambda: access.require_known(UNKNOWN), "FORBIDDEN"),
    ],
)
def test_errors_carry_the_api_code(check: Callable[[], object], code: str) -> None:
    # Given a check that fails
    # When it raises
    with pytest.raises(DomainError) as caught:
        check()
    # Then the error carries the code API.md names
    assert caught.value.code == code
