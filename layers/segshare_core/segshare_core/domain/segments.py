"""Segments: rule validation and evaluation over one profile, and the id rules of shared segments.

A rule is ``{"all": [...]}`` or ``{"any": [...]}`` (nestable) of conditions
``{"attribute": name, "op": op, "value": v}`` and ``{"platform": "ios"|"android"}``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from segshare_core.domain.devices import PLATFORMS
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.ids import is_valid_id
from segshare_core.domain.profiles import Profile

MAX_DEPTH = 8
MAX_CONDITIONS = 200
MAX_IN_VALUES = 100
MAX_STATIC_PROFILES = 5000
SHARED_PREFIX = "shared-"

SCALAR_OPS = frozenset({"eq", "neq"})
LIST_OPS = frozenset({"in", "nin"})
ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
OPS = SCALAR_OPS | LIST_OPS | ORDER_OPS | {"contains", "exists", "not_exists"}

Kind = Literal["rule", "static"]


class InvalidRule(InvalidInput):
    code = "INVALID_RULE"


@dataclass(frozen=True, slots=True)
class Segment:
    """A project's own segment."""

    segment_id: str
    project_id: str
    name: str
    kind: Kind
    rule: Mapping[str, Any] | None
    profile_ids: tuple[str, ...]
    shared_with: frozenset[str]
    share_version: int
    created_at: str
    #: The definition's version (name, rule, static list), moved by every accepted edit (API.md
    #: PATCH); independent of ``share_version``, so an edit never makes an open Sharing tab stale.
    version: int = 1
    #: When the definition last changed (ISO-8601 UTC); ``created_at`` until the first edit.
    updated_at: str | None = None

    def contains(self, profile: Profile) -> bool:
        """A profile is a member when it satisfies the rule, or when a static segment lists its id."""
        if self.kind == "static":
            return profile.profile_id in self.profile_ids
        return self.rule is not None and evaluate(self.rule, profile)


@dataclass(frozen=True, slots=True)
class SharedSegment:
    """A segment of another project as the target project sees it: only its name and source."""

    shared_segment_id: str
    target_project_id: str
    source_project_id: str
    segment_id: str
    name: str
    shared_at: str
    #: The share's generation (domain.sharing.new_generation): what everything derived from it records.
    generation: str


def shared_segment_id(company_id: str, source_project_id: str, segment_id: str, target_project_id: str) -> str:
    """Stable for a (segment, target) pair, also across unshare and reshare.

    Own segment ids may not start with ``shared-`` (see validate_own_id), so a shared id never
    equals one of the target's own segment ids.
    """
    digest = hashlib.sha256(f"{company_id}\x00{source_project_id}\x00{segment_id}\x00{target_project_id}".encode()).hexdigest()
    return f"{SHARED_PREFIX}{digest[:24]}"


def is_shared_id(segment_id: str) -> bool:
    return segment_id.startswith(SHARED_PREFIX)


def validate_own_id(segment_id: str) -> None:
    if is_shared_id(segment_id):
        raise InvalidInput(f"id: segment ids starting with {SHARED_PREFIX!r} are reserved for shared segments")


def _is_number(value: object) -> bool:
    """Ints of any size (JSON allows them; math.isfinite would overflow) and finite floats; never booleans."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool) or _is_number(value)


def _check_condition(node: Mapping[str, Any], path: str) -> None:
    if "platform" in node:
        if set(node) != {"platform"} or node["platform"] not in PLATFORMS:
            raise InvalidRule(f"{path}: a platform condition is {{'platform': 'ios'|'android'}}")
        return
    unknown = set(node) - {"attribute", "op", "value"}
    if unknown:
        raise InvalidRule(f"{path}: unknown field {sorted(unknown)[0][:40]!r}")
    attribute = node.get("attribute")
    if not isinstance(attribute, str) or not 0 < len(attribute) <= 64:
        raise InvalidRule(f"{path}.attribute: must be an attribute name")
    op = node.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise InvalidRule(f"{path}.op: unknown op {str(op)[:20]!r}; one of {', '.join(sorted(OPS))}")
    has_value = "value" in node
    value = node.get("value")
    if op in ("exists", "not_exists"):
        if has_value:
            raise InvalidRule(f"{path}.value: {op} takes no value")
    elif not has_value:
        raise InvalidRule(f"{path}.value: {op} needs a value")
    elif op in SCALAR_OPS and not _is_scalar(value):
        raise InvalidRule(f"{path}.value: {op} needs a string, number, boolean or null")
    elif op in LIST_OPS and (not isinstance(value, list) or not 0 < len(value) <= MAX_IN_VALUES or not all(_is_scalar(v) for v in value)):
        raise InvalidRule(f"{path}.value: {op} needs a list of 1 to {MAX_IN_VALUES} scalars")
    elif op in ORDER_OPS and not (_is_number(value) or isinstance(value, str)):
        raise InvalidRule(f"{path}.value: {op} needs a number or a string")
    elif op == "contains" and not isinstance(value, str):
        raise InvalidRule(f"{path}.value: contains needs a string")


def validate_rule(rule: object) -> Mapping[str, Any]:
    """Check a rule; raise InvalidRule naming the path of the bad part (e.g. ``rule.all[2].op``)."""
    count = 0

    def walk(node: object, path: str, depth: int) -> None:
        nonlocal count
        if not isinstance(node, Mapping):
            raise InvalidRule(f"{path}: must be an object")
        groups = [key for key in ("all", "any") if key in node]
        if groups:
            if len(node) != 1:
                raise InvalidRule(f"{path}: a group has exactly one key, 'all' or 'any'")
            if depth > MAX_DEPTH:
                raise InvalidRule(f"{path}: nesting deeper than {MAX_DEPTH}")
            key = groups[0]
            children = node[key]
            if not isinstance(children, list) or not children:
                raise InvalidRule(f"{path}.{key}: must be a non-empty list")
            for position, child in enumerate(children):
                walk(child, f"{path}.{key}[{position}]", depth + 1)
            return
        if depth == 1:
            raise InvalidRule(f"{path}: the top of a rule is a group {{'all': [...]}} or {{'any': [...]}}")
        count += 1
        if count > MAX_CONDITIONS:
            raise InvalidRule(f"{path}: more than {MAX_CONDITIONS} conditions")
        _check_condition(node, path)

    walk(rule, "rule", 1)
    return rule  # type: ignore[return-value]  # walk() proved it is a Mapping


def validate_static(profile_ids: Sequence[object]) -> tuple[str, ...]:
    if len(profile_ids) > MAX_STATIC_PROFILES:
        raise InvalidInput(f"profileIds: at most {MAX_STATIC_PROFILES} profiles")
    for position, profile_id in enumerate(profile_ids):
        if not is_valid_id(profile_id):
            raise InvalidInput(f"profileIds[{position}]: must match ^[a-z0-9][a-z0-9-]{{1,62}}$")
    return tuple(dict.fromkeys(str(p) for p in profile_ids))


def _compare(op: str, actual: object, expected: object) -> bool:
    """Order comparisons hold only between two numbers or two strings; anything else is false."""
    # int and float compare exactly in Python; converting to float would overflow on huge ints
    if not ((_is_number(actual) and _is_number(expected)) or (isinstance(actual, str) and isinstance(expected, str))):
        return False
    a: Any = actual
    b: Any = expected
    if op == "gt":
        return bool(a > b)
    if op == "gte":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)


def _same(actual: object, expected: object) -> bool:
    """Equality that never confuses booleans with numbers (True is not 1)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return actual == expected


def _condition(node: Mapping[str, Any], profile: Profile) -> bool:  # noqa: PLR0911 - one return per op reads best
    if "platform" in node:
        return any(d.platform == node["platform"] for d in profile.devices)
    name, op = node["attribute"], node["op"]
    present = name in profile.attributes
    actual = profile.attributes.get(name)
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    expected = node["value"]
    if op == "eq":
        return present and _same(actual, expected)
    if op == "neq":
        return not (present and _same(actual, expected))
    if op == "in":
        return present and any(_same(actual, v) for v in expected)
    if op == "nin":
        return not (present and any(_same(actual, v) for v in expected))
    if op == "contains":
        return isinstance(actual, str) and expected in actual
    return present and _compare(op, actual, expected)


def evaluate(rule: Mapping[str, Any], profile: Profile) -> bool:
    """Whether a profile satisfies a (validated) rule.

    ``all`` needs every child, ``any`` at least one. A missing attribute satisfies only
    ``neq``, ``nin`` and ``not_exists``. ``{"platform": p}`` holds when the profile has a
    device of that platform.
    """
    if "all" in rule:
        return all(evaluate(child, profile) for child in rule["all"])
    if "any" in rule:
        return any(evaluate(child, profile) for child in rule["any"])
    return _condition(rule, profile)
