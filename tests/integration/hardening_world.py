"""A small company for the hardening tests (idempotency, throttling, download links), through the real handlers.

acme (feature on) has projects A, B and C; ``u-admin`` is its company admin, ``u-pb`` the
project admin of B. A's segment s-irish (events/create_segment.json: country eq IE) is
shared with B and C. One IDFV is held by a profile in each project, so every evaluation
matches one profile. globex is another company whose share has the same shape
(x's s-irish shared with y).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from segshare_core import config
from segshare_core.domain.segments import shared_segment_id
from tests.integration.conftest import OPERATOR, Response, event, handler_for, user

ADMIN = user("u-admin")
PB = user("u-pb")
GLOBEX_ADMIN = user("u-globex")
SHARED_B = shared_segment_id("acme", "proj-a", "s-irish", "proj-b")
SHARED_C = shared_segment_id("acme", "proj-a", "s-irish", "proj-c")
GLOBEX_SHARED = shared_segment_id("globex", "proj-x", "s-irish", "proj-y")
DEVICE = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"

Handler = Callable[[dict[str, Any]], Response]
FUNCTIONS = {"directory": "DirectoryFunction", "share": "ShareFunction", "evaluate": "EvaluateFunction", "export": "ExportFunction"}


def handlers() -> dict[str, Handler]:
    return {short: handler_for(logical_id) for short, logical_id in FUNCTIONS.items()}


# The fixtures of the modules that test against this world; each module takes them by name
# (`functions = hardening_world.functions`), so pytest finds them there.


@pytest.fixture(scope="module")
def functions() -> dict[str, Handler]:
    """The four handlers, loaded once per test module."""
    return handlers()


@pytest.fixture
def world(aws: None, functions: dict[str, Handler]) -> Iterator[World]:
    """This world built afresh, in the test's own moto (the `aws` fixture)."""
    yield World(functions).build()


def profile(profile_id: str, country: str = "IE", device: str = DEVICE) -> dict[str, Any]:
    return {"profileId": profile_id, "attributes": {"country": country}, "devices": [{"platform": "ios", "id": device}]}


class World:
    def __init__(self, h: dict[str, Handler]) -> None:
        self.h = h

    def call(self, function: str, name: str, who: dict[str, Any] = ADMIN, key: str | None = None, **overrides: Any) -> Response:
        ev = event(name, claims=who, **overrides)
        if key is not None:
            ev["headers"]["idempotency-key"] = key
        return self.h[function](ev)

    def ok(self, function: str, name: str, status: int = 200, who: dict[str, Any] = ADMIN, **overrides: Any) -> Response:
        response = self.call(function, name, who, **overrides)
        assert response.status == status, (name, response.status, response.json)
        return response

    def build(self) -> World:
        self.ok("directory", "create_company", 201, who=OPERATOR)
        self.ok("directory", "put_user", who=OPERATOR, path={"userId": "u-admin"}, body={"role": "company_admin"})
        for project_id in ("proj-a", "proj-b", "proj-c"):
            self.ok("directory", "create_project", 201, body={"id": project_id, "name": project_id.upper()})
        self.ok("directory", "put_user", path={"userId": "u-pb"}, body={"role": "project_admin", "projectIds": ["proj-b"]})
        for project_id, profile_id in (("proj-a", "a-1"), ("proj-b", "b-1"), ("proj-c", "c-1")):
            self.upsert(project_id, [profile(profile_id)])
        self.ok("share", "create_segment", 201)
        self.ok("share", "put_sharing", body={"projectIds": ["proj-b", "proj-c"]})
        body = {"id": "globex", "name": "Globex", "sharedSegmentsEnabled": True}
        self.ok("directory", "create_company", 201, who=OPERATOR, body=body)
        self.ok("directory", "put_user", who=OPERATOR, path={"companyId": "globex", "userId": "u-globex"}, body={"role": "company_admin"})
        for project_id in ("proj-x", "proj-y"):
            body = {"id": project_id, "name": project_id.upper()}
            self.ok("directory", "create_project", 201, who=GLOBEX_ADMIN, path={"companyId": "globex"}, body=body)
            self.upsert(project_id, [profile(project_id)], who=GLOBEX_ADMIN)
        self.ok("share", "create_segment", 201, who=GLOBEX_ADMIN, path={"projectId": "proj-x"})
        self.ok("share", "put_sharing", who=GLOBEX_ADMIN, path={"projectId": "proj-x"}, body={"projectIds": ["proj-y"]})
        return self

    # -- directory

    def upsert(self, project: str, profiles: list[dict[str, Any]], who: dict[str, Any] = ADMIN) -> Response:
        return self.call("directory", "upsert_profiles", who, path={"projectId": project}, body={"profiles": profiles})

    def get_profile(self, project: str, profile_id: str) -> Response:
        return self.call("directory", "get_profile", path={"projectId": project, "profileId": profile_id})

    # -- sharing

    def put_sharing(self, targets: list[str], who: dict[str, Any] = ADMIN, segment: str = "s-irish") -> Response:
        return self.call("share", "put_sharing", who, path={"projectId": "proj-a", "segmentId": segment}, body={"projectIds": targets})

    def sharing(self, segment: str = "s-irish") -> dict[str, Any]:
        return dict(self.ok("share", "get_sharing", path={"projectId": "proj-a", "segmentId": segment}).json)

    def history(self, segment: str = "s-irish") -> list[dict[str, Any]]:
        path = {"projectId": "proj-a", "segmentId": segment}
        return list(self.ok("share", "get_sharing_history", path=path).json["history"])

    def shared_tab(self, project: str) -> list[str]:
        listed = self.ok("share", "list_shared_segments", path={"projectId": project}).json["sharedSegments"]
        return [s["sharedSegmentId"] for s in listed]

    # -- evaluations

    def evaluate(self, key: str | None = None, who: dict[str, Any] = ADMIN, project: str = "proj-b", shared: str = SHARED_B) -> Response:
        return self.call("evaluate", "create_evaluation", who, key, path={"projectId": project, "sharedSegmentId": shared})

    def evaluations(self, who: dict[str, Any] = ADMIN, project: str = "proj-b", shared: str = SHARED_B) -> list[dict[str, Any]]:
        listed = self.ok("evaluate", "list_evaluations", who=who, path={"projectId": project, "sharedSegmentId": shared})
        return list(listed.json["evaluations"])

    def evaluation_ids(self, who: dict[str, Any] = ADMIN, project: str = "proj-b", shared: str = SHARED_B) -> list[str]:
        return [e["evaluationId"] for e in self.evaluations(who, project, shared)]

    def members(self, project: str = "proj-b", shared: str = SHARED_B) -> Response:
        return self.call("evaluate", "list_members", path={"projectId": project, "sharedSegmentId": shared})

    # -- exports

    def export(self, key: str | None = None, body: Any = None, who: dict[str, Any] = ADMIN, project: str = "proj-b") -> Response:
        path = {"projectId": project, "sharedSegmentId": SHARED_B if project == "proj-b" else SHARED_C}
        return self.call("export", "create_export", who, key, path=path, body={} if body is None else body)

    def get_export(self, export_id: str, who: dict[str, Any] = ADMIN, project: str = "proj-b") -> Response:
        return self.call("export", "get_export", who, path={"projectId": project, "exportId": export_id})

    def export_ids(self, project: str = "proj-b") -> list[str]:
        path = {"projectId": project, "sharedSegmentId": SHARED_B if project == "proj-b" else SHARED_C}
        return [e["exportId"] for e in self.ok("export", "list_exports", path=path).json["exports"]]

    def queued(self) -> int:
        sqs = boto3.client("sqs")
        attributes = sqs.get_queue_attributes(QueueUrl=config.EXPORT_QUEUE_URL, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]
        return int(attributes["ApproximateNumberOfMessages"])
