"""The seed's company for the share tests, built once per module: seeding costs far more than a test.

acme (feature on) has projects A, B, C, D; ``u-admin`` is its company admin, ``u-pab`` a project
admin of A and B, ``u-pacd`` one of A, C and D, ``u-pb`` one of B only. globex is another company
with its admin ``u-globex`` and project ``proj-x``. Between tests only the segments table is
wiped (segments, shares, history), so every test starts with no segment at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from local import template as tpl
from local.resources import create_all
from segshare_core import config
from segshare_core.domain.segments import shared_segment_id
from tests.integration.conftest import OPERATOR, Response, event, handler_for, user

ADMIN = user("u-admin")
PAB = user("u-pab")
PACD = user("u-pacd")
PB = user("u-pb")
STRANGER = user("u-nobody")
GLOBEX_ADMIN = user("u-globex")

PROJECTS = {"proj-a": "A", "proj-b": "B", "proj-c": "C", "proj-d": "D"}
GRANTS = {"u-pab": ["proj-a", "proj-b"], "u-pacd": ["proj-a", "proj-c", "proj-d"], "u-pb": ["proj-b"]}
SEGMENT = "s-irish"  # the id in events/create_segment.json, in proj-a

Handler = Callable[[dict[str, Any]], Response]


def sid(target: str, segment: str = SEGMENT, source: str = "proj-a") -> str:
    """The shared segment id of (segment, target) in acme."""
    return shared_segment_id("acme", source, segment, target)


class World:
    """Calls the real handlers with events from events/ on behalf of a caller."""

    def __init__(self, share_fn: Handler, directory_fn: Handler) -> None:
        self._share = share_fn
        self._directory = directory_fn

    def directory(self, name: str, who: dict[str, Any], **overrides: Any) -> Response:
        return self._directory(event(name, claims=who, **overrides))

    def share(self, name: str, who: dict[str, Any] | None, **overrides: Any) -> Response:
        return self._share(event(name, claims=who, **overrides))

    # -- the routes the tests use most

    def create(self, who: dict[str, Any] = ADMIN, project: str = "proj-a", **body: Any) -> Response:
        overrides: dict[str, Any] = {"path": {"projectId": project}}
        if body:
            overrides["body"] = body
        return self.share("create_segment", who, **overrides)

    def get_sharing(self, who: dict[str, Any] = ADMIN, project: str = "proj-a", segment: str = SEGMENT) -> Response:
        return self.share("get_sharing", who, path={"projectId": project, "segmentId": segment})

    def put_sharing(
        self, who: dict[str, Any], project_ids: list[str], version: int | None = None, project: str = "proj-a", segment: str = SEGMENT
    ) -> Response:
        body: dict[str, Any] = {"projectIds": project_ids}
        if version is not None:
            body["version"] = version
        return self.share("put_sharing", who, path={"projectId": project, "segmentId": segment}, body=body)

    def history(self, who: dict[str, Any] = ADMIN, segment: str = SEGMENT, **query: str) -> Response:
        return self.share("get_sharing_history", who, path={"projectId": "proj-a", "segmentId": segment}, query=query or None)

    def delete(self, who: dict[str, Any] = ADMIN, segment: str = SEGMENT, force: bool = False, project: str = "proj-a") -> Response:
        query = {"force": "true"} if force else None
        return self.share("delete_segment", who, path={"projectId": project, "segmentId": segment}, query=query)

    def list_segments(self, project: str, who: dict[str, Any] = ADMIN) -> Response:
        return self.share("list_segments", who, path={"projectId": project})

    def list_shared(self, project: str, who: dict[str, Any] = ADMIN) -> Response:
        return self.share("list_shared_segments", who, path={"projectId": project})

    def get_shared(self, project: str, shared_id: str, who: dict[str, Any] = ADMIN) -> Response:
        return self.share("get_shared_segment", who, path={"projectId": project, "sharedSegmentId": shared_id})

    def get_segment(self, project: str, segment: str, who: dict[str, Any] = ADMIN) -> Response:
        return self.share("get_segment", who, path={"projectId": project, "segmentId": segment})

    def set_feature(self, enabled: bool) -> None:
        response = self.directory("patch_company", OPERATOR, body={"sharedSegmentsEnabled": enabled})
        assert response.status == 200, response.json
        assert response.json["sharedSegmentsEnabled"] is enabled

    # -- views

    def ticked(self, who: dict[str, Any] = ADMIN, segment: str = SEGMENT) -> dict[str, bool]:
        response = self.get_sharing(who, segment=segment)
        assert response.status == 200, response.json
        return {p["projectId"]: p["shared"] for p in response.json["projects"]}

    def truth(self, segment: str = SEGMENT) -> tuple[set[str], int]:
        """The segment's shares and version as the company admin (who sees every project) reads them."""
        response = self.get_sharing(ADMIN, segment=segment)
        assert response.status == 200, response.json
        assert response.json["hiddenSharedCount"] == 0
        return {p["projectId"] for p in response.json["projects"] if p["shared"]}, response.json["version"]

    def shared_in(self, project: str, who: dict[str, Any] = ADMIN) -> list[dict[str, Any]]:
        response = self.list_shared(project, who)
        assert response.status == 200, response.json
        return list(response.json["sharedSegments"])


def _seed(w: World) -> None:
    assert w.directory("create_company", OPERATOR).status == 201
    assert w.directory("put_user", OPERATOR, path={"userId": "u-admin"}, body={"role": "company_admin"}).status == 200
    for project_id, name in PROJECTS.items():
        assert w.directory("create_project", ADMIN, body={"id": project_id, "name": name}).status == 201
    for sub, projects in GRANTS.items():
        grant = w.directory("put_user", ADMIN, path={"userId": sub}, body={"role": "project_admin", "projectIds": projects})
        assert grant.status == 200, grant.json
    assert w.directory("create_company", OPERATOR, body={"id": "globex", "name": "Globex"}).status == 201
    put = w.directory("put_user", OPERATOR, path={"companyId": "globex", "userId": "u-globex"}, body={"role": "company_admin"})
    assert put.status == 200
    created = w.directory("create_project", GLOBEX_ADMIN, path={"companyId": "globex"}, body={"id": "proj-x", "name": "X"})
    assert created.status == 201


def wipe_segments() -> None:
    """Delete every item of the segments table: segments, shares and history. The directory stays."""
    client = boto3.client("dynamodb")
    pages = client.get_paginator("scan").paginate(TableName=config.SEGMENTS_TABLE, ProjectionExpression="pk, sk")
    keys = [item for page in pages for item in page["Items"]]
    for start in range(0, len(keys), 25):
        batch = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
        client.batch_write_item(RequestItems={config.SEGMENTS_TABLE: batch})


@contextmanager
def seeded_world() -> Iterator[World]:
    """moto with the template's resources and the seed's directory, for as long as the block runs."""
    with mock_aws():
        create_all(tpl.load())
        world = World(handler_for("ShareFunction"), handler_for("DirectoryFunction"))
        _seed(world)
        yield world
