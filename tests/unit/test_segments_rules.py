"""Segment rules: validation naming the path of the bad part, evaluation over one profile, shared segment ids."""

from __future__ import annotations

import math
from typing import Any

import pytest

from segshare_core.domain.devices import Device
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.ids import is_valid_id
from segshare_core.domain.profiles import Profile
from segshare_core.domain.segments import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_IN_VALUES,
    OPS,
    InvalidRule,
    Segment,
    evaluate,
    is_shared_id,
    shared_segment_id,
    validate_own_id,
    validate_rule,
    validate_static,
)

IOS = Device("ios", "e621e1f8-c36c-495a-93fc-0c247a3e6e5f")
ANDROID = Device("android", "9a3f5e2b7c1d4e60")


def cond(op: str, *value: Any, attribute: str = "x") -> dict[str, Any]:
    node: dict[str, Any] = {"attribute": attribute, "op": op}
    if value:
        node["value"] = value[0]
    return node


def nested(depth: int) -> dict[str, Any]:
    """``depth`` groups inside each other, the innermost holding one condition."""
    rule: dict[str, Any] = {"all": [cond("exists")]}
    for level in range(depth - 1):
        rule = {"any" if level % 2 == 0 else "all": [rule]}
    return rule


def rejected(rule: object) -> InvalidRule:
    with pytest.raises(InvalidRule) as caught:
        validate_rule(rule)
    return caught.value


# ------------------------------------------------------------------ validate_rule: values per op

RIGHT_VALUES: list[tuple[str, Any]] = [
    ("eq", "IE"),
    ("eq", 3),
    ("eq", 2.5),
    ("eq", -0.0),
    ("eq", True),
    ("eq", None),
    ("eq", ""),
    ("eq", 10**40),
    ("gt", 10**400),
    ("in", [10**400]),
    ("neq", "IE"),
    ("neq", 0),
    ("neq", False),
    ("neq", None),
    ("in", ["IE", "FR"]),
    ("in", [1, 2.5, True, None, "x"]),
    ("in", ["x"] * MAX_IN_VALUES),
    ("nin", ["IE"]),
    ("nin", [None]),
    ("gt", 3),
    ("gt", 2.5),
    ("gte", "2026-01-01"),
    ("lt", -1),
    ("lte", ""),
    ("contains", "abc"),
    ("contains", ""),
]


@pytest.mark.parametrize(("op", "value"), RIGHT_VALUES)
def test_valid_value_for_op(op: str, value: Any) -> None:
    # Given a condition whose value has the right type for its op
    rule = {"all": [cond(op, value)]}
    # When the rule is validated
    # Then it is accepted as it is
    assert validate_rule(rule) == rule


@pytest.mark.parametrize("op", ["exists", "not_exists"])
def test_exists_ops_take_no_value(op: str) -> None:
    # Given exists / not_exists without a value
    rule = {"any": [cond(op)]}
    # When validated, Then accepted
    assert validate_rule(rule) == rule


WRONG_VALUES: list[tuple[str, Any]] = [
    ("eq", ["IE"]),
    ("eq", {"a": 1}),
    ("eq", math.nan),
    ("eq", math.inf),
    ("neq", []),
    ("neq", -math.inf),
    ("in", "IE"),
    ("in", []),
    ("in", 1),
    ("in", None),
    ("in", [["IE"]]),
    ("in", [{"a": 1}]),
    ("in", [math.nan]),
    ("in", ["x"] * (MAX_IN_VALUES + 1)),
    ("nin", "IE"),
    ("nin", []),
    ("gt", True),
    ("gt", None),
    ("gte", [1]),
    ("lt", {"a": 1}),
    ("lte", math.nan),
    ("lte", False),
    ("contains", 1),
    ("contains", None),
    ("contains", ["a"]),
    ("contains", True),
    ("exists", None),
    ("exists", True),
    ("not_exists", "x"),
]


@pytest.mark.parametrize(("op", "value"), WRONG_VALUES)
def test_wrong_value_type_for_op_names_the_value(op: str, value: Any) -> None:
    # Given a condition (the second of the first group's nested any) whose value is wrong for its op
    rule = {"all": [cond("exists"), {"any": [cond(op, value)]}]}
    # When validated
    error = rejected(rule)
    # Then the error names the path of the value
    assert error.message.startswith("rule.all[1].any[0].value:"), error.message
    assert error.code == "INVALID_RULE"


@pytest.mark.parametrize("op", sorted(OPS - {"exists", "not_exists"}))
def test_missing_value_is_rejected(op: str) -> None:
    # Given an op that needs a value, without one
    # When validated
    error = rejected({"all": [cond(op)]})
    # Then the value's path is named
    assert error.message.startswith("rule.all[0].value:"), error.message


@pytest.mark.parametrize("op", ["like", "EQ", "", None, 1, True, ["eq"], {"eq": 1}])
def test_unknown_op_names_the_op(op: object) -> None:
    # Given a condition with an unknown op (some not even a string)
    # When validated
    error = rejected({"any": [cond("exists"), cond("exists"), {"attribute": "x", "op": op, "value": 1}]})
    # Then it is an InvalidRule naming the op's path, never a crash
    assert error.message.startswith("rule.any[2].op:"), error.message


@pytest.mark.parametrize(
    "condition",
    [
        {"op": "eq", "value": 1},
        {"attribute": "", "op": "eq", "value": 1},
        {"attribute": 7, "op": "eq", "value": 1},
        {"attribute": None, "op": "exists"},
        {"attribute": "a" * 65, "op": "exists"},
    ],
)
def test_bad_attribute_names_the_attribute(condition: dict[str, Any]) -> None:
    # Given a condition without a usable attribute name
    # When validated
    error = rejected({"all": [condition]})
    # Then the attribute's path is named
    assert error.message.startswith("rule.all[0].attribute:"), error.message


def test_unknown_field_in_a_condition_is_rejected() -> None:
    # Given a condition with a field rules do not have
    # When validated
    error = rejected({"all": [{"attribute": "x", "op": "eq", "value": 1, "sql": "drop"}]})
    # Then the condition's path and the field are named
    assert error.message.startswith("rule.all[0]:"), error.message
    assert "sql" in error.message


@pytest.mark.parametrize("platform", ["ios", "android"])
def test_platform_condition(platform: str) -> None:
    # Given a platform condition
    rule = {"all": [{"platform": platform}]}
    # When validated, Then accepted
    assert validate_rule(rule) == rule


@pytest.mark.parametrize(
    "condition",
    [
        {"platform": "windows"},
        {"platform": "IOS"},
        {"platform": None},
        {"platform": ["ios"]},
        {"platform": "ios", "attribute": "x"},
    ],
)
def test_bad_platform_condition(condition: dict[str, Any]) -> None:
    # Given a malformed platform condition
    # When validated
    error = rejected({"all": [cond("exists"), condition]})
    # Then its path is named
    assert error.message.startswith("rule.all[1]:"), error.message


# ------------------------------------------------------------------ validate_rule: shape


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        pytest.param({"all": []}, "rule.all", id="empty-top-group"),
        pytest.param({"any": []}, "rule.any", id="empty-top-any"),
        pytest.param({"all": [cond("exists"), {"any": []}]}, "rule.all[1].any", id="empty-nested-group"),
        pytest.param({"all": {"attribute": "x", "op": "exists"}}, "rule.all", id="group-not-a-list"),
        pytest.param({"all": None}, "rule.all", id="group-null"),
        pytest.param({"all": [cond("exists")], "any": [cond("exists")]}, "rule", id="group-with-all-and-any"),
        pytest.param({"all": [cond("exists")], "name": "x"}, "rule", id="group-with-an-extra-key"),
        pytest.param({"all": [cond("exists"), {"any": [cond("exists")], "all": [cond("exists")]}]}, "rule.all[1]", id="nested-two-keys"),
        pytest.param(cond("eq", "IE"), "rule", id="top-level-condition"),
        pytest.param({"platform": "ios"}, "rule", id="top-level-platform"),
        pytest.param({}, "rule", id="empty-object"),
        pytest.param([cond("exists")], "rule", id="top-level-list"),
        pytest.param("country = IE", "rule", id="top-level-string"),
        pytest.param(None, "rule", id="null"),
        pytest.param({"all": ["country"]}, "rule.all[0]", id="child-not-an-object"),
        pytest.param({"all": [cond("exists"), {"any": [cond("exists"), 3]}]}, "rule.all[1].any[1]", id="nested-child-not-an-object"),
    ],
)
def test_malformed_rule_names_the_path(rule: object, path: str) -> None:
    # Given a rule whose shape is wrong at `path`
    # When validated
    error = rejected(rule)
    # Then the error is an InvalidRule whose message starts with that path
    assert error.message.startswith(f"{path}:"), error.message
    assert isinstance(error, InvalidInput)


def test_nesting_depth_limit() -> None:
    # Given rules nested exactly MAX_DEPTH and MAX_DEPTH + 1 groups deep
    assert MAX_DEPTH == 8
    deep_ok, too_deep = nested(MAX_DEPTH), nested(MAX_DEPTH + 1)
    # When validated
    # Then 8 levels are fine
    assert validate_rule(deep_ok) == deep_ok
    # And the 9th group is named by its path
    error = rejected(too_deep)
    ninth = "rule" + "".join(f".{'any' if level % 2 == 0 else 'all'}[0]" for level in reversed(range(MAX_DEPTH)))
    assert error.message.startswith(f"{ninth}:"), error.message
    assert "deeper" in error.message


def test_condition_count_limit() -> None:
    # Given rules with exactly MAX_CONDITIONS and one more, the extra one in a nested group
    assert MAX_CONDITIONS == 200
    at_limit = {"all": [{"any": [cond("exists")] * 100}, {"any": [cond("exists")] * 100}]}
    over = {"all": [{"any": [cond("exists")] * 100}, {"any": [cond("exists")] * 101}]}
    flat_over = {"all": [cond("exists")] * (MAX_CONDITIONS + 1)}
    # When validated
    # Then 200 are fine
    assert validate_rule(at_limit) == at_limit
    assert validate_rule({"all": [cond("exists")] * MAX_CONDITIONS})
    # And the 201st is named
    assert rejected(over).message.startswith("rule.all[1].any[100]:")
    assert rejected(flat_over).message.startswith("rule.all[200]:")


def test_platform_conditions_count_towards_the_limit() -> None:
    # Given 201 platform conditions
    # When validated, Then the 201st is named
    assert rejected({"any": [{"platform": "ios"}] * (MAX_CONDITIONS + 1)}).message.startswith("rule.any[200]:")


# ------------------------------------------------------------------ validate_static / ids


def test_validate_static_dedups_and_names_bad_ids() -> None:
    # Given static lists
    # When validated
    # Then duplicates collapse in order, and a bad id is named by its position
    assert validate_static(["u-2", "u-1", "u-2"]) == ("u-2", "u-1")
    with pytest.raises(InvalidInput) as caught:
        validate_static(["u-1", "Bad Id"])
    assert caught.value.message.startswith("profileIds[1]:")
    with pytest.raises(InvalidInput):
        validate_static([7])


@pytest.mark.parametrize("segment_id", ["shared-1", "shared-0123456789abcdef01234567", "shared--x"])
def test_validate_own_id_rejects_the_shared_prefix(segment_id: str) -> None:
    # Given an own segment id that starts with the prefix of shared ids
    # When validated
    with pytest.raises(InvalidInput) as caught:
        validate_own_id(segment_id)
    # Then it is refused, naming the id field
    assert caught.value.message.startswith("id:")


@pytest.mark.parametrize("segment_id", ["s-1", "shared", "sharedx", "my-shared-1", "s-shared-"])
def test_validate_own_id_accepts_other_ids(segment_id: str) -> None:
    # Given ids that do not start with "shared-"
    # When validated, Then nothing is raised and they are not shared ids
    validate_own_id(segment_id)
    assert not is_shared_id(segment_id)


def test_shared_segment_id_is_stable_and_distinct_per_segment_and_target() -> None:
    # Given the same (segment, target) pair asked twice, and pairs that differ in one part
    base = shared_segment_id("acme", "proj-a", "s-1", "proj-b")
    variants = [
        shared_segment_id("acme", "proj-a", "s-1", "proj-c"),
        shared_segment_id("acme", "proj-a", "s-2", "proj-b"),
        shared_segment_id("acme", "proj-x", "s-1", "proj-b"),
        shared_segment_id("globex", "proj-a", "s-1", "proj-b"),
        shared_segment_id("acme", "proj-b", "s-1", "proj-a"),
    ]
    # Then the id is the same every time, a valid shared id, and distinct for every other pair
    assert shared_segment_id("acme", "proj-a", "s-1", "proj-b") == base
    assert is_shared_id(base)
    assert is_valid_id(base)
    assert len({base, *variants}) == 1 + len(variants)
    # And it can never collide with an own id, which may not carry the prefix
    with pytest.raises(InvalidInput):
        validate_own_id(base)


def test_shared_segment_id_does_not_confuse_boundaries() -> None:
    # Given parts whose concatenations coincide
    # Then the ids differ
    assert shared_segment_id("acme", "p-a", "s-1", "p-b") != shared_segment_id("acme", "p-a-s", "1", "p-b")


# ------------------------------------------------------------------ evaluate


def profile(devices: tuple[Device, ...] = (), **attributes: Any) -> Profile:
    return Profile(profile_id="u-1", attributes=attributes, devices=devices)


ATTRS: dict[str, Any] = {"country": "IE", "age": 30, "score": 2.5, "vip": True, "zero": 0, "nothing": None, "bio": "loves puzzles"}


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        # eq / neq
        (cond("eq", "IE", attribute="country"), True),
        (cond("eq", "ie", attribute="country"), False),
        (cond("eq", 30, attribute="age"), True),
        (cond("eq", 30.0, attribute="age"), True),
        (cond("eq", "30", attribute="age"), False),
        (cond("eq", None, attribute="nothing"), True),
        (cond("neq", "FR", attribute="country"), True),
        (cond("neq", "IE", attribute="country"), False),
        (cond("neq", None, attribute="nothing"), False),
        # booleans never equal numbers
        (cond("eq", 1, attribute="vip"), False),
        (cond("eq", True, attribute="vip"), True),
        (cond("eq", False, attribute="zero"), False),
        (cond("neq", 1, attribute="vip"), True),
        (cond("in", [1, 2], attribute="vip"), False),
        (cond("in", [True], attribute="vip"), True),
        (cond("in", [False], attribute="zero"), False),
        (cond("nin", [1], attribute="vip"), True),
        (cond("nin", [0], attribute="zero"), False),
        # in / nin
        (cond("in", ["FR", "IE"], attribute="country"), True),
        (cond("in", ["FR", "DE"], attribute="country"), False),
        (cond("in", [None], attribute="nothing"), True),
        (cond("nin", ["FR", "DE"], attribute="country"), True),
        (cond("nin", ["IE"], attribute="country"), False),
        # order: numbers with numbers, strings with strings
        (cond("gt", 29, attribute="age"), True),
        (cond("gt", 30, attribute="age"), False),
        (cond("gte", 30, attribute="age"), True),
        (cond("gte", 30.5, attribute="age"), False),
        (cond("lt", 31, attribute="age"), True),
        (cond("lt", 30, attribute="age"), False),
        (cond("lte", 30, attribute="age"), True),
        (cond("lte", 2.4, attribute="score"), False),
        (cond("gt", "ID", attribute="country"), True),
        (cond("lt", "ID", attribute="country"), False),
        (cond("gte", "IE", attribute="country"), True),
        (cond("lte", "IE", attribute="country"), True),
        # numbers and strings are never ordered, in either direction
        (cond("gt", "10", attribute="age"), False),
        (cond("lt", "99", attribute="age"), False),
        (cond("gte", "30", attribute="age"), False),
        (cond("lte", "30", attribute="age"), False),
        (cond("gt", 0, attribute="country"), False),
        (cond("lt", 0, attribute="country"), False),
        # booleans and null are not ordered either
        (cond("gt", 0, attribute="vip"), False),
        (cond("gte", 1, attribute="vip"), False),
        (cond("lt", 1, attribute="nothing"), False),
        # contains
        (cond("contains", "puzzle", attribute="bio"), True),
        (cond("contains", "", attribute="bio"), True),
        (cond("contains", "chess", attribute="bio"), False),
        (cond("contains", "3", attribute="age"), False),
        (cond("contains", "n", attribute="nothing"), False),
        # exists / not_exists: a null attribute is present
        (cond("exists", attribute="country"), True),
        (cond("exists", attribute="nothing"), True),
        (cond("not_exists", attribute="country"), False),
        (cond("not_exists", attribute="nothing"), False),
    ],
)
def test_evaluate_condition(condition: dict[str, Any], holds: bool) -> None:
    # Given a profile with a few attributes and one validated condition
    rule = validate_rule({"all": [condition]})
    # When the rule is evaluated
    # Then it holds exactly as the op's semantics say
    assert evaluate(rule, profile(**ATTRS)) is holds


@pytest.mark.parametrize(
    ("op", "value", "holds"),
    [
        ("eq", "IE", False),
        ("eq", None, False),
        ("neq", "IE", True),
        ("neq", None, True),
        ("in", ["IE", None], False),
        ("nin", ["IE", None], True),
        ("gt", 0, False),
        ("gte", "", False),
        ("lt", 0, False),
        ("lte", "z", False),
        ("contains", "", False),
        ("exists", None, False),
        ("not_exists", None, True),
    ],
)
def test_missing_attribute_satisfies_only_neq_nin_not_exists(op: str, value: Any, holds: bool) -> None:
    # Given a profile without the attribute
    condition = cond(op) if op in ("exists", "not_exists") else cond(op, value)
    rule = validate_rule({"all": [condition]})
    # When evaluated
    # Then only neq, nin and not_exists hold
    assert evaluate(rule, profile(other="x")) is holds
    assert holds == (op in {"neq", "nin", "not_exists"})


def test_every_op_is_covered_for_missing_attributes() -> None:
    covered = {"eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists"}
    assert covered == set(OPS)


@pytest.mark.parametrize(
    ("devices", "platform", "holds"),
    [
        ((IOS,), "ios", True),
        ((IOS,), "android", False),
        ((ANDROID,), "android", True),
        ((IOS, ANDROID), "android", True),
        ((), "ios", False),
    ],
)
def test_platform_condition_holds_when_a_device_of_that_platform_exists(devices: tuple[Device, ...], platform: str, holds: bool) -> None:
    # Given a profile with some devices
    rule = validate_rule({"any": [{"platform": platform}]})
    # When evaluated, Then it holds when the profile has a device of that platform
    assert evaluate(rule, profile(devices)) is holds


@pytest.mark.parametrize(
    ("rule", "holds"),
    [
        ({"all": [cond("eq", "IE", attribute="country"), cond("gt", 18, attribute="age")]}, True),
        ({"all": [cond("eq", "IE", attribute="country"), cond("gt", 40, attribute="age")]}, False),
        ({"any": [cond("eq", "FR", attribute="country"), cond("gt", 40, attribute="age")]}, False),
        ({"any": [cond("eq", "FR", attribute="country"), {"platform": "ios"}]}, True),
        (
            {"all": [{"platform": "ios"}, {"any": [cond("eq", "FR", attribute="country"), {"all": [cond("exists", attribute="bio")]}]}]},
            True,
        ),
        ({"all": [{"platform": "android"}, {"any": [cond("exists", attribute="bio")]}]}, False),
    ],
)
def test_groups(rule: dict[str, Any], holds: bool) -> None:
    # Given nested all / any groups
    # When evaluated, Then all needs every child and any at least one
    assert evaluate(validate_rule(rule), profile((IOS,), **ATTRS)) is holds


def test_huge_integers_compare_exactly_without_crashing() -> None:
    # Given a rule and a profile with an integer too large for a float
    huge = 10**400
    # When validated and evaluated
    rule = validate_rule({"all": [cond("gt", 1, attribute="n")]})
    # Then the comparison is exact, never an OverflowError
    assert evaluate(rule, profile(n=huge)) is True
    assert evaluate(validate_rule({"all": [cond("lt", huge, attribute="n")]}), profile(n=huge - 1)) is True
    assert evaluate(validate_rule({"all": [cond("eq", huge, attribute="n")]}), profile(n=huge)) is True


def test_segment_contains() -> None:
    # Given a rule segment and a static segment
    common: dict[str, Any] = {
        "project_id": "proj-a",
        "shared_with": frozenset(),
        "share_version": 0,
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    by_rule = Segment("s-1", name="r", kind="rule", rule={"all": [cond("eq", "IE", attribute="country")]}, profile_ids=(), **common)
    static = Segment("s-2", name="s", kind="static", rule=None, profile_ids=("u-1",), **common)
    # When asked about profiles
    # Then the rule decides for rule segments and the list for static ones
    assert by_rule.contains(profile(country="IE"))
    assert not by_rule.contains(profile(country="FR"))
    assert static.contains(profile(country="FR"))
    assert not static.contains(Profile("u-2", {}, ()))
