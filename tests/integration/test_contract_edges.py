"""Edges of the contract found by probing (issue 11): cursors, integer types, text that cannot be written.

Each is checked on every route it can occur on, through the real handlers in one small
company (tests/integration/hardening_world.py).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from segshare_core.observability import NoValuesFormatter, logger
from tests.integration import hardening_world
from tests.integration.conftest import OPERATOR, assert_error
from tests.integration.hardening_world import ADMIN, DEVICE, SHARED_B, Handler, World

LONE = "\ud800"  # a lone surrogate: "\ud800" in a JSON body is a str in Python but has no UTF-8 form

#: Every listing (API.md): the event, its function and its path.
LISTINGS: dict[str, tuple[str, dict[str, str]]] = {
    "list_evaluations": ("evaluate", {"projectId": "proj-b", "sharedSegmentId": SHARED_B}),
    "list_members": ("evaluate", {"projectId": "proj-b", "sharedSegmentId": SHARED_B}),
    "list_exports": ("export", {"projectId": "proj-b", "sharedSegmentId": SHARED_B}),
    "get_sharing_history": ("share", {"projectId": "proj-a", "segmentId": "s-irish"}),
}


functions = hardening_world.functions  # this module's fixture


@pytest.fixture
def world(aws: None, functions: dict[str, Handler]) -> Iterator[World]:
    built = World(functions).build()
    built.ok("evaluate", "create_evaluation", 201, path={"projectId": "proj-b", "sharedSegmentId": SHARED_B})
    yield built


def _list(world: World, name: str, query: dict[str, str]) -> Any:
    function, path = LISTINGS[name]
    return world.call(function, name, path=path, query=query)


# ------------------------------------------------------------------ item 4: any bad cursor is 400 INVALID_CURSOR


@pytest.mark.parametrize("name", sorted(LISTINGS))
@pytest.mark.parametrize("cursor", ["A" * 2049, "x" * 5000, "é"])
def test_any_bad_cursor_is_400_invalid_cursor_on_every_listing(world: World, name: str, cursor: str) -> None:
    # Given a listing that answers without a cursor
    assert _list(world, name, {}).status == 200
    # When it is asked with a cursor it never issued (over 2,048 characters, or not one at all)
    response = _list(world, name, {"cursor": cursor})
    # Then it is 400 INVALID_CURSOR, as API.md has it for any bad cursor (not a 422)
    assert_error(response, 400, "INVALID_CURSOR")


# ------------------------------------------------------------------ item 5: booleans and numeric strings are not integers


@pytest.mark.parametrize("limit", [True, False, "3", 3.0, "true", None])
def test_a_body_limit_that_is_not_an_integer_is_422(world: World, limit: Any) -> None:
    # Given the audience preview, whose limit is an integer (API.md)
    body = {"segmentIds": [], "template": "Hi", "limit": limit}
    # When limit is a boolean, a numeric string or a float
    response = world.call("evaluate", "preview_audience", path={"projectId": "proj-b"}, body=body)
    # Then it is 422, never taken as a number
    assert_error(response, 422, "VALIDATION_ERROR")
    assert world.call("evaluate", "preview_audience", path={"projectId": "proj-b"}, body={**body, "limit": 3}).status == 200


@pytest.mark.parametrize("version", [True, False, "3", "0", 0.0])
def test_a_sharing_version_that_is_not_an_integer_is_422_and_nothing_changes(world: World, version: Any) -> None:
    # Given s-irish shared with B and C at some version
    before = world.sharing()
    # When a save sends version as a boolean or a numeric string
    path = {"projectId": "proj-a", "segmentId": "s-irish"}
    response = world.call("share", "put_sharing", path=path, body={"projectIds": ["proj-b"], "version": version})
    # Then it is 422 and the Sharing tab is as it was
    assert_error(response, 422, "VALIDATION_ERROR")
    assert world.sharing() == before
    # While the integer itself is taken
    saved = world.call("share", "put_sharing", path=path, body={"projectIds": ["proj-b", "proj-c"], "version": before["version"]})
    assert saved.status == 200, saved.json


@pytest.mark.parametrize("name", sorted(LISTINGS))
@pytest.mark.parametrize("limit", ["true", "3.0", " 3", "+3"])
def test_a_query_limit_not_written_in_digits_is_422(world: World, name: str, limit: str) -> None:
    # Given a listing, where limit=3 is fine
    assert _list(world, name, {"limit": "3"}).status == 200
    # When limit is a boolean word or a number not written as plain digits
    response = _list(world, name, {"limit": limit})
    # Then it is 422
    assert_error(response, 422, "VALIDATION_ERROR")


# ------------------------------------------------------------------ item 3: text that cannot be written is refused at ingest


def test_a_profile_holding_a_lone_surrogate_is_rejected_and_the_rest_lands(world: World) -> None:
    # Given a batch whose second profile holds a lone surrogate in an attribute value
    good = {"profileId": "b-2", "attributes": {"country": "IE"}, "devices": [{"platform": "ios", "id": DEVICE}]}
    bad = {"profileId": "b-3", "attributes": {"country": "IE", "first_name": "Ann" + LONE}}
    nested = {"profileId": "b-4", "attributes": {"nick": LONE + "x"}}
    bad_id = {"profileId": "b-5" + LONE, "attributes": {}}
    # When it is upserted
    response = world.upsert("proj-b", [good, bad, nested, bad_id])
    # Then the two are rejected with INVALID_PROFILE naming the attribute, and the good one lands
    assert response.status == 200, response.json
    assert response.json["upserted"] == 1
    rejected = {r["index"]: r for r in response.json["rejected"]}
    assert set(rejected) == {1, 2, 3}
    assert rejected[3]["code"] == "INVALID_PROFILE" and rejected[3]["profileId"] is None
    assert "\\ud800" not in response.raw["body"]
    assert rejected[1]["code"] == rejected[2]["code"] == "INVALID_PROFILE"
    assert "attributes.first_name" in rejected[1]["message"]
    assert "attributes.nick" in rejected[2]["message"]
    assert world.get_profile("proj-b", "b-2").status == 200
    assert_error(world.get_profile("proj-b", "b-3"), 404, "NOT_FOUND")


def test_a_rejected_profile_leaves_what_was_stored_and_exports_still_work(world: World) -> None:
    # Given b-1 stored in B (matched by the share)
    before = world.get_profile("proj-b", "b-1").json
    # When an upsert tries to give it a lone surrogate
    response = world.upsert(
        "proj-b", [{"profileId": "b-1", "attributes": {"country": "IE" + LONE}, "devices": [{"platform": "ios", "id": DEVICE}]}]
    )
    # Then it is rejected and b-1 is as it was, so the project's files can still be written
    assert response.json["rejected"][0]["code"] == "INVALID_PROFILE"
    assert world.get_profile("proj-b", "b-1").json == before
    assert all(isinstance(v, str) and v.encode("utf-8") for v in before["attributes"].values())


#: Every other body the API stores text from: (function, event, overrides, the body with a lone surrogate).
BODIES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("directory", "create_company", {"who": OPERATOR}, {"id": "initech", "name": "Ini" + LONE}),
    ("directory", "patch_company", {"who": OPERATOR}, {"name": "Acme" + LONE}),
    ("directory", "create_project", {}, {"id": "proj-n", "name": "N" + LONE}),
    ("directory", "put_user", {"path": {"userId": "u-new"}}, {"role": "project_admin", "projectIds": ["proj-a" + LONE]}),
    ("share", "create_segment", {}, {"id": "s-new", "name": "New" + LONE, "profileIds": ["a-1"]}),
    ("share", "create_segment", {}, {"id": "s-new", "name": "New", "profileIds": ["a-1" + LONE]}),
    ("share", "create_segment", {}, {"id": "s-new", "name": "New", "rule": {"all": [{"attribute": "country", "op": "eq", "value": LONE}]}}),
    (
        "share",
        "create_segment",
        {},
        {"id": "s-new", "name": "New", "rule": {"any": [{"attribute": "c", "op": "in", "value": ["IE" + LONE]}]}},
    ),
    ("share", "create_segment", {}, {"id": "s-new" + LONE, "name": "New", "profileIds": ["a-1"]}),
    ("share", "put_sharing", {}, {"projectIds": ["proj-b" + LONE]}),
    ("evaluate", "preview_audience", {"path": {"projectId": "proj-b"}}, {"segmentIds": [], "template": "Hi " + LONE}),
    ("export", "create_export", {"path": {"projectId": "proj-b", "sharedSegmentId": SHARED_B}}, {"attributes": ["country" + LONE]}),
]


@pytest.mark.parametrize(("function", "name", "overrides", "body"), BODIES, ids=[f"{b[1]}-{i}" for i, b in enumerate(BODIES)])
def test_every_other_body_with_a_lone_surrogate_is_422(
    world: World, function: str, name: str, overrides: dict[str, Any], body: dict[str, Any]
) -> None:
    # Given a body whose only fault is a lone surrogate in one text field (sent as "\ud800" in the JSON)
    who = overrides.get("who", ADMIN)
    extra = {k: v for k, v in overrides.items() if k != "who"}
    text = json.dumps(body)
    assert "\\ud800" in text
    fixed = json.loads(text.replace("\\ud800", ""))
    # When it is sent
    response = world.call(function, name, who, body=text, **extra)
    # Then it is 422 VALIDATION_ERROR naming no value, and the same body without it is accepted
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "\\ud800" not in response.raw["body"] and LONE not in response.raw["body"]
    assert "Unicode" in error["message"]
    accepted = world.call(function, name, who, body=fixed, **extra)
    assert accepted.status < 300, (accepted.status, accepted.json)


def test_a_failure_log_carries_no_value_from_the_exception() -> None:
    # Given a failure whose message quotes data (as a UnicodeEncodeError quotes the character)
    value = "-".join(["secret", "value", LONE])  # built at run time, so no frame's source line holds it
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        record = logging.LogRecord("segshare", logging.ERROR, __file__, 1, "export failed", None, sys.exc_info())
    # When the service's formatter writes it (logger.exception(...) in the code)
    line = json.loads(logger.registered_formatter.format(record))
    # Then the line names the failure and where it happened, never the value
    assert line["message"] == "export failed"
    assert line["exception_name"] == "UnicodeEncodeError"
    assert "test_contract_edges.py" in line["exception"]
    assert "secret-value" not in json.dumps(line)
    assert "\\ud800" not in json.dumps(line)
    assert isinstance(logger.registered_formatter, NoValuesFormatter)
