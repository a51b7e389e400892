"""Bodies that are not UTF-8 JSON get a clear 4xx on every route that takes one, and change nothing.

Found by schemathesis against the local stack: Powertools' request validation (which runs
before any middleware) parses form and multipart bodies and raised a 500 on a multipart body
without a boundary, on another media type, and on a base64 body that is not UTF-8 (API
Gateway base64-encodes a body it does not take for text). Every route with a body is here,
called by the company admin of a world where the call would otherwise succeed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from local import template as tpl
from local.openapi import document
from tests.integration import hardening_world
from tests.integration.conftest import OPERATOR, assert_error, event
from tests.integration.hardening_world import ADMIN, SHARED_B, World

#: Every event of events/ that carries a body, with the function that serves it and what to fill in.
BODY_ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "create_company": ("directory", {"claims": OPERATOR, "body": {"id": "initech", "name": "Initech"}}),
    "patch_company": ("directory", {"claims": OPERATOR, "body": {"name": "Acme Renamed"}}),
    "create_project": ("directory", {"body": {"id": "proj-new", "name": "New"}}),
    "put_user": ("directory", {}),
    "upsert_profiles": ("directory", {}),
    "create_segment": ("share", {"body": {"id": "s-new", "name": "New", "profileIds": ["a-1"]}}),
    "put_sharing": ("share", {"body": {"projectIds": ["proj-b"]}}),
    "edit_segment": ("share", {}),
    "preview_audience": ("evaluate", {"path": {"projectId": "proj-b"}, "body": {"segmentIds": [], "template": "Hi"}}),
    "create_export": ("export", {"path": {"projectId": "proj-b", "sharedSegmentId": SHARED_B}}),
}
BAD_MEDIA_TYPES = [
    "text/plain",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/xml",
]


functions, world = hardening_world.functions, hardening_world.world  # this module's fixtures


def _event(name: str, **changes: Any) -> dict[str, Any]:
    _function, overrides = BODY_ROUTES[name]
    claims = overrides.get("claims", ADMIN)
    return event(name, claims=claims, **{k: v for k, v in overrides.items() if k != "claims"}, **changes)


def _state(world: World) -> list[Any]:
    """What the routes above would change, read back."""
    return [
        world.call("directory", "get_company", who=OPERATOR, path={"companyId": "initech"}).status,
        world.call("directory", "get_company", who=OPERATOR).json,
        world.call("directory", "list_projects").json,
        world.call("directory", "me", who={"sub": "u-pa"}).json,
        world.get_profile("proj-a", "u-1").status,
        world.call("share", "list_segments", path={"projectId": "proj-a"}).json,
        world.sharing(),
        world.export_ids(),
    ]


def test_the_routes_accept_their_events_as_json(world: World) -> None:
    # The baseline the refusals below are measured against: each event, sent as JSON, is accepted.
    before = _state(world)
    for name, (function, _overrides) in BODY_ROUTES.items():
        response = world.h[function](_event(name))
        assert response.status < 300, (name, response.status, response.json)
    assert _state(world) != before


@pytest.mark.parametrize("media_type", BAD_MEDIA_TYPES)
def test_another_media_type_is_415_and_changes_nothing(world: World, media_type: str) -> None:
    before = _state(world)
    for name, (function, _overrides) in BODY_ROUTES.items():
        ev = _event(name)
        ev["headers"]["content-type"] = media_type
        assert_error(world.h[function](ev), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert _state(world) == before


@pytest.mark.parametrize("raw", [b"\xe0\x80", b'{"name": "\xff"}', b"\x7f\xb1l\x19\xe8"])
def test_a_body_that_is_not_utf8_is_400_and_changes_nothing(world: World, raw: bytes) -> None:
    before = _state(world)
    for name, (function, _overrides) in BODY_ROUTES.items():
        ev = _event(name)
        ev["body"] = base64.b64encode(raw).decode()
        ev["isBase64Encoded"] = True
        assert_error(world.h[function](ev), 400, "MALFORMED_JSON")
    assert _state(world) == before


def test_a_base64_json_body_is_read_as_json(world: World) -> None:
    # API Gateway may base64-encode a JSON body too: that one is served as usual.
    ev = _event("create_company")
    ev["body"] = base64.b64encode(json.dumps({"id": "initech", "name": "Initech"}).encode()).decode()
    ev["isBase64Encoded"] = True
    assert world.h["directory"](ev).status == 201


def test_json_with_a_charset_is_json(world: World) -> None:
    ev = _event("create_company")
    ev["headers"]["content-type"] = "application/json; charset=utf-8"
    assert world.h["directory"](ev).status == 201


def test_every_operation_documents_its_success_and_the_body_refusals() -> None:
    spec = document(tpl.load(), "http://127.0.0.1:3000")
    operations = [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert len(operations) == 34  # 28, PATCH segments, DELETE users, the profile listing and the three import routes
    for method, path, op in operations:
        statuses = set(op["responses"])
        assert statuses & {"200", "201", "202", "204"}, (method, path, sorted(statuses))
        assert {"400", "413", "415", "422", "503"} <= statuses, (method, path, sorted(statuses))
