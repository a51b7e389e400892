"""Exports inside moto: the export function, its queue worker and its S3 finaliser, delivered by the local Pump.

The company acme (feature on) has projects A (source), B (target) and C; globex is another
company. A's segment s-irish (events/create_segment.json: country eq IE) is shared with B.
A and B hold overlapping devices: a device two B profiles share, one matching device of two,
an A profile outside the segment whose device B also holds, and A profiles carrying values
that only A knows (they must never reach B's file). B's attributes include values a
spreadsheet would run, quotes, commas, line breaks and unicode.

``Pump(template).drain()`` does what Lambda's pollers do deployed: the queue message goes to
the worker (ExportWorkerFunction), the bucket's ObjectCreated event (moto notifies an SQS
queue) to the finaliser (ExportFinaliseFunction). Downloads go through the presigned URL
with ``requests``, which moto's mock intercepts in-process.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlparse

import boto3
import pytest
import requests

from local import template as tpl
from local.events import S3_EVENTS_QUEUE, Pump, sqs_record
from local.lambdas import LambdaContext, load_module
from segshare_core import config
from segshare_core.domain.errors import RetryLater
from segshare_core.domain.segments import shared_segment_id
from segshare_core.store import exports as export_store
from segshare_core.workflows import export_file
from tests.integration.conftest import OPERATOR, Response, assert_error, event, handler_for, user

ADMIN = user("u-admin")  # company admin of acme
PA = user("u-pa")  # project admin of proj-a only
PB = user("u-pb")  # project admin of proj-b only
GLOBEX_ADMIN = user("u-globex")  # company admin of globex

SEGMENT = "s-irish"
SHARED = shared_segment_id("acme", "proj-a", SEGMENT, "proj-b")
EMPTY_SHARED = shared_segment_id("acme", "proj-a", "s-nobody", "proj-b")
GUESSED = "x-19a0f0c8e0012345678"  # events/get_export.json

SHARED_IOS = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"  # held by a-ann and by two B profiles
BOTH_IOS = "7D444840-9DC0-11D1-B245-5FFDCE74FAD2"

SOURCE: list[dict[str, Any]] = [
    {
        "profileId": "a-ann",
        "attributes": {"country": "IE", "first_name": "SRC-ONLY-ann", "email": "ann@source.example"},
        "devices": [{"platform": "ios", "id": SHARED_IOS}],
    },
    {
        "profileId": "a-bob",
        "attributes": {"country": "IE", "first_name": "SRC-ONLY-bob", "secret": "SRC-ONLY-token"},
        "devices": [{"platform": "android", "id": "5555aaaa"}],
    },
    {
        "profileId": "a-both",
        "attributes": {"country": "IE", "first_name": "SRC-ONLY-both"},
        "devices": [{"platform": "ios", "id": BOTH_IOS.lower()}, {"platform": "android", "id": "c0ffee"}],
    },
    # Not in the segment (FR): B's profile on the same device must not be exported.
    {
        "profileId": "a-eve",
        "attributes": {"country": "FR", "first_name": "SRC-ONLY-eve"},
        "devices": [{"platform": "android", "id": "e5e5e5"}],
    },
]

TARGET: list[dict[str, Any]] = [
    {
        "profileId": "b-ann",
        "attributes": {"country": "DE", "first_name": '=HYPERLINK("http://x","y")', "note": 'said "hi", then left\r\nfor good'},
        "devices": [{"platform": "ios", "id": SHARED_IOS.lower()}],
    },
    {
        "profileId": "b-ann-twin",
        "attributes": {"first_name": "Zoë 🎮", "level": 7, "vip": True},
        "devices": [{"platform": "ios", "id": SHARED_IOS}],
    },
    {
        "profileId": "b-bob",
        "attributes": {"first_name": "+Bea", "balance": -12.5, "tag": "@team", "tab": "\tindent", "cr": "\rcarriage", "empty": None},
        "devices": [{"platform": "ios", "id": "11111111-2222-4333-8444-555555555555"}, {"platform": "android", "id": "5555AAAA"}],
    },
    {"profileId": "b-both", "attributes": {}, "devices": [{"platform": "ios", "id": BOTH_IOS}, {"platform": "android", "id": "00C0FFEE"}]},
    {"profileId": "b-eve", "attributes": {"first_name": "Eve"}, "devices": [{"platform": "android", "id": "E5E5E5"}]},
    {"profileId": "b-nodevice", "attributes": {"first_name": "Nod"}, "devices": []},
]
B_ATTRIBUTES: dict[str, dict[str, Any]] = {p["profileId"]: p["attributes"] for p in TARGET}
MATCHED = ["b-ann", "b-ann-twin", "b-bob", "b-both"]
SOURCE_LEAKS = ("SRC-ONLY", "source.example", "a-ann", "a-bob", "a-both", "a-eve")

LATE: dict[str, Any] = {
    "profileId": "b-late",
    "attributes": {"first_name": "Late", "country": "IE"},
    "devices": [{"platform": "android", "id": "c0ffee"}],
}


@pytest.fixture(scope="module")
def handlers() -> dict[str, Callable[[dict[str, Any]], Response]]:
    names = {"directory": "DirectoryFunction", "share": "ShareFunction", "evaluate": "EvaluateFunction", "export": "ExportFunction"}
    return {short: handler_for(logical_id) for short, logical_id in names.items()}


class World:
    """The handlers called with events from events/, and the Pump standing in for Lambda's pollers."""

    def __init__(self, handlers: dict[str, Callable[[dict[str, Any]], Response]], pump: Pump) -> None:
        self.h = handlers
        self.pump = pump
        self.s3 = boto3.client("s3")

    def call(self, function: str, name: str, who: dict[str, Any] | None = ADMIN, **overrides: Any) -> Response:
        return self.h[function](event(name, claims=who, **overrides))

    def ok(self, function: str, name: str, status: int = 200, who: dict[str, Any] | None = ADMIN, **overrides: Any) -> Response:
        response = self.call(function, name, who, **overrides)
        assert response.status == status, (name, response.status, response.json)
        return response

    # -- the export function's routes

    def create(self, body: Any = None, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED) -> Response:
        return self.call(
            "export", "create_export", who, path={"projectId": project, "sharedSegmentId": shared}, body={} if body is None else body
        )

    def get(self, export_id: str, who: dict[str, Any] | None = ADMIN, project: str = "proj-b") -> Response:
        return self.call("export", "get_export", who, path={"projectId": project, "exportId": export_id})

    def listing(self, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED) -> Response:
        return self.call("export", "list_exports", who, path={"projectId": project, "sharedSegmentId": shared})

    def started(self, body: Any = None) -> str:
        response = self.create(body)
        assert response.status == 202, response.json
        return str(response.json["exportId"])

    def ready(self, export_id: str) -> dict[str, Any]:
        response = self.get(export_id)
        assert response.status == 200, response.json
        assert response.json["status"] == "READY", response.json
        return dict(response.json)

    # -- around it

    def evaluations(self, project: str = "proj-b", shared: str = SHARED) -> list[dict[str, Any]]:
        response = self.ok("evaluate", "list_evaluations", path={"projectId": project, "sharedSegmentId": shared})
        return list(response.json["evaluations"])

    def set_feature(self, enabled: bool) -> None:
        self.ok("directory", "patch_company", who=OPERATOR, body={"sharedSegmentsEnabled": enabled})

    def upsert(self, project: str, profiles: list[dict[str, Any]], who: dict[str, Any] = ADMIN) -> None:
        response = self.ok("directory", "upsert_profiles", who=who, path={"projectId": project}, body={"profiles": profiles})
        assert response.json["rejected"] == [], response.json

    def objects(self, prefix: str = "exports/") -> dict[str, int]:
        listed = self.s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix=prefix)
        return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}

    def download(self, url: str) -> bytes:
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture
def world(aws: None, handlers: dict[str, Callable[[dict[str, Any]], Response]]) -> Iterator[World]:
    w = World(handlers, Pump(tpl.load()))  # the Pump subscribes the bucket's ObjectCreated events first
    w.ok("directory", "create_company", 201, who=OPERATOR)
    w.ok("directory", "create_company", 201, who=OPERATOR, body={"id": "globex", "name": "Globex", "sharedSegmentsEnabled": True})
    w.ok("directory", "put_user", who=OPERATOR, path={"userId": "u-admin"}, body={"role": "company_admin"})
    w.ok("directory", "put_user", who=OPERATOR, path={"companyId": "globex", "userId": "u-globex"}, body={"role": "company_admin"})
    for pid in ("proj-a", "proj-b", "proj-c"):
        w.ok("directory", "create_project", 201, body={"id": pid, "name": pid.upper()})
    w.ok("directory", "create_project", 201, who=GLOBEX_ADMIN, path={"companyId": "globex"}, body={"id": "proj-x", "name": "X"})
    w.ok("directory", "put_user", path={"userId": "u-pa"}, body={"role": "project_admin", "projectIds": ["proj-a"]})
    w.ok("directory", "put_user", path={"userId": "u-pb"}, body={"role": "project_admin", "projectIds": ["proj-b"]})
    w.upsert("proj-a", SOURCE)
    w.upsert("proj-b", TARGET)
    # globex holds the very same devices; another company never matches and never sees acme's exports
    w.upsert("proj-x", [{**p, "profileId": f"x-{p['profileId']}"} for p in TARGET], who=GLOBEX_ADMIN)
    w.ok("share", "create_segment", 201)
    w.ok("share", "put_sharing")
    empty_rule = {"all": [{"attribute": "country", "op": "eq", "value": "XX"}]}
    w.ok("share", "create_segment", 201, body={"id": "s-nobody", "name": "Nobody", "rule": empty_rule})
    w.ok("share", "put_sharing", path={"segmentId": "s-nobody"}, body={"projectIds": ["proj-b"]})
    yield w


def _parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _csv_cell(value: Any) -> str:
    """What B's value must read back as: JSON spelling for non-strings, an apostrophe before a formula start."""
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _expected_rows(profile_ids: list[str], attribute_columns: list[str], attributes: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [[pid, *(_csv_cell(attributes[pid].get(c)) for c in attribute_columns)] for pid in profile_ids]


def _assert_nothing_of_source(data: bytes) -> None:
    text = data.decode("utf-8")
    for leak in SOURCE_LEAKS:
        assert leak not in text, leak


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ------------------------------------------------------------------ the round trip


def test_csv_export_round_trip_from_post_to_download(world: World) -> None:
    # Given a manual evaluation of B's shared segment, and then a new B profile that now matches
    world.ok("evaluate", "create_evaluation", 201, path={"projectId": "proj-b", "sharedSegmentId": SHARED})
    world.upsert("proj-b", [LATE])
    attributes = {**B_ATTRIBUTES, LATE["profileId"]: LATE["attributes"]}
    matched = sorted([*MATCHED, "b-late"])

    # When B's project admin asks for an export (every attribute)
    created = world.create({}, who=PB)
    # Then it is accepted at once, PENDING, with no file yet
    assert created.status == 202, created.json
    assert created.json["status"] == "PENDING"
    assert created.json["sharedSegmentId"] == SHARED
    assert created.json["format"] == "csv"
    assert created.json["downloadUrl"] is None
    assert created.json["rowCount"] is None
    export_id = created.json["exportId"]
    pending = world.get(export_id, who=PB)
    assert pending.status == 200
    assert (pending.json["status"], pending.json["downloadUrl"], pending.json["readyAt"]) == ("PENDING", None, None)
    assert world.objects() == {}

    # When the worker has run and the object's S3 event has been delivered
    world.pump.drain()

    # Then the worker evaluated afresh: a new SUCCEEDED evaluation with trigger "export" that sees the new profile
    evaluations = world.evaluations()
    assert [(e["trigger"], e["status"]) for e in evaluations] == [("export", "SUCCEEDED"), ("manual", "SUCCEEDED")]
    assert evaluations[0]["matchedProfiles"] == len(matched)

    # And the S3 event marked it READY with the row count, the object's size and the time
    ready = world.ready(export_id)
    key = f"exports/acme/proj-b/{export_id}.csv"
    head = world.s3.head_object(Bucket=config.DATA_BUCKET, Key=key)
    assert ready["rowCount"] == len(matched)
    assert ready["bytes"] == head["ContentLength"] == world.objects()[key]
    assert _utc(ready["readyAt"]) >= _utc(ready["createdAt"])
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["row-count"] == str(len(matched))
    assert head["ContentType"].startswith("text/csv")

    # And the download URL is a presigned GET of that object, valid for at most 15 minutes
    url = ready["downloadUrl"]
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert unquote(parsed.path).endswith(key)
    assert 0 < int(query["X-Amz-Expires"][0]) <= 900
    assert "X-Amz-Signature" in query
    expires_in = (_utc(ready["expiresAt"]) - datetime.now(UTC)).total_seconds()
    assert 0 < expires_in <= 900

    # When the file is downloaded through the URL
    data = world.download(url)
    # Then it is the object, and it parses to exactly B's matched profiles with B's own attributes
    assert len(data) == ready["bytes"]
    rows = _parse_csv(data)
    header = ["profileId", *sorted({k for pid in matched for k in attributes[pid]})]
    assert rows[0] == header
    assert rows[1:] == _expected_rows(matched, header[1:], attributes)
    assert data.count(b"\r\n") >= len(matched) + 1
    _assert_nothing_of_source(data)


def test_requested_attributes_are_the_columns_in_their_order(world: World) -> None:
    # Given an export of three attributes, one of them held by no matched profile, one asked twice
    export_id = world.started({"format": "csv", "attributes": ["level", "first_name", "nobody_has_it", "level"]})
    # When it runs
    world.pump.drain()
    # Then the header is profileId then those columns in order, once each, and rows follow B's values
    data = world.download(world.ready(export_id)["downloadUrl"])
    rows = _parse_csv(data)
    columns = ["level", "first_name", "nobody_has_it"]
    assert rows[0] == ["profileId", *columns]
    assert rows[1:] == _expected_rows(MATCHED, columns, B_ATTRIBUTES)
    _assert_nothing_of_source(data)


def test_jsonl_export_keeps_values_exactly_one_object_per_line(world: World) -> None:
    # Given one JSONL export of every attribute and one of two chosen attributes
    every = world.started({"format": "jsonl"})
    chosen = world.started({"format": "jsonl", "attributes": ["first_name", "level"]})
    # When they run
    world.pump.drain()
    # Then each is READY under a .jsonl key, one object per matched profile, B's values untouched (no apostrophe)
    for export_id, expected in (
        (every, {pid: B_ATTRIBUTES[pid] for pid in MATCHED}),
        (chosen, {pid: {"first_name": B_ATTRIBUTES[pid].get("first_name"), "level": B_ATTRIBUTES[pid].get("level")} for pid in MATCHED}),
    ):
        ready = world.ready(export_id)
        assert ready["format"] == "jsonl"
        assert f"/exports/acme/proj-b/{export_id}.jsonl" in unquote(urlparse(ready["downloadUrl"]).path)
        data = world.download(ready["downloadUrl"])
        assert len(data) == ready["bytes"]
        lines = data.decode("utf-8").split("\n")
        assert lines[-1] == ""
        objects = [json.loads(line) for line in lines[:-1]]
        assert ready["rowCount"] == len(objects) == len(MATCHED)
        assert {o["profileId"]: o["attributes"] for o in objects} == expected
        assert [o["profileId"] for o in objects] == MATCHED
        _assert_nothing_of_source(data)
    chosen_objects = [json.loads(line) for line in world.download(world.ready(chosen)["downloadUrl"]).decode().splitlines()]
    assert all(list(o["attributes"]) == ["first_name", "level"] for o in chosen_objects)


def test_an_export_with_no_matches_is_ready_with_no_rows(world: World) -> None:
    # Given a shared segment that matches nobody in B
    created_csv = world.create({}, shared=EMPTY_SHARED)
    created_jsonl = world.create({"format": "jsonl"}, shared=EMPTY_SHARED)
    assert created_csv.status == created_jsonl.status == 202
    # When they run
    world.pump.drain()
    # Then the CSV is READY with the header alone and the JSONL READY and empty
    csv_ready = world.ready(created_csv.json["exportId"])
    assert (csv_ready["rowCount"], _parse_csv(world.download(csv_ready["downloadUrl"]))) == (0, [["profileId"]])
    jsonl_ready = world.ready(created_jsonl.json["exportId"])
    assert (jsonl_ready["rowCount"], jsonl_ready["bytes"], world.download(jsonl_ready["downloadUrl"])) == (0, 0, b"")


def test_exports_of_a_shared_segment_list_newest_first(world: World) -> None:
    # Given three exports of B's shared segment and one of another shared segment
    ids = [world.started({"format": fmt}) for fmt in ("csv", "jsonl", "csv")]
    other = world.create({}, shared=EMPTY_SHARED).json["exportId"]
    # When they are listed before and after they ran
    before = world.listing()
    world.pump.drain()
    after = world.listing(who=PB)
    # Then both lists hold exactly this segment's exports, newest first
    for listed in (before, after):
        assert listed.status == 200, listed.json
        assert [e["exportId"] for e in listed.json["exports"]] == ids[::-1]
        assert other not in listed.raw["body"]
        created = [_utc(e["createdAt"]) for e in listed.json["exports"]]
        assert created == sorted(created, reverse=True)
    assert {e["status"] for e in before.json["exports"]} == {"PENDING"}
    assert {e["status"] for e in after.json["exports"]} == {"READY"}
    assert [e["format"] for e in after.json["exports"]] == ["csv", "jsonl", "csv"]
    # And each run evaluated afresh
    assert [e["trigger"] for e in world.evaluations()] == ["export"] * 3


def test_the_exports_listing_pages_twenty_at_a_time_by_default(world: World) -> None:
    # Given 23 exports of B's shared segment (never run: the listing does not care)
    ids = [world.started({}) for _ in range(23)]
    newest_first = ids[::-1]
    # When they are listed with no limit
    first = world.listing()
    # Then API.md's default of 20 applies, newest first, with a cursor to the rest
    assert first.status == 200, first.json
    assert [e["exportId"] for e in first.json["exports"]] == newest_first[:20]
    assert first.json["nextCursor"]
    rest = world.call(
        "export", "list_exports", path={"projectId": "proj-b", "sharedSegmentId": SHARED}, query={"cursor": first.json["nextCursor"]}
    )
    assert [e["exportId"] for e in rest.json["exports"]] == newest_first[20:]
    assert rest.json["nextCursor"] is None
    # And limit pages through them all, each once, in order
    seen: list[str] = []
    query: dict[str, str] = {"limit": "7"}
    while True:
        page = world.call("export", "list_exports", path={"projectId": "proj-b", "sharedSegmentId": SHARED}, query=query)
        assert page.status == 200, page.json
        assert len(page.json["exports"]) <= 7
        seen += [e["exportId"] for e in page.json["exports"]]
        if page.json["nextCursor"] is None:
            break
        query["cursor"] = page.json["nextCursor"]
    assert seen == newest_first
    # And a limit out of range is a 422, a forged cursor or one of another listing a 400 INVALID_CURSOR
    path = {"projectId": "proj-b", "sharedSegmentId": SHARED}
    for limit in ("0", "101"):
        assert_error(world.call("export", "list_exports", path=path, query={"limit": limit}), 422, "VALIDATION_ERROR")
    other_listing = world.call(
        "export", "list_exports", path={"projectId": "proj-b", "sharedSegmentId": EMPTY_SHARED}, query={"cursor": first.json["nextCursor"]}
    )
    assert_error(other_listing, 400, "INVALID_CURSOR")
    assert_error(
        world.call("export", "list_exports", path=path, query={"cursor": first.json["nextCursor"][:-2] + "AA"}), 400, "INVALID_CURSOR"
    )


# ------------------------------------------------------------------ failures and stray objects


def test_a_failure_in_the_middle_of_the_upload_leaves_failed_and_no_object(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tiny parts (so the file goes up in several) and an S3 that fails the second part
    monkeypatch.setattr(export_store, "PART_BYTES", 64)
    s3 = export_store._s3()
    real_upload_part = s3.upload_part
    parts: list[int] = []

    def upload_part(**kwargs: Any) -> Any:
        parts.append(kwargs["PartNumber"])
        if len(parts) == 2:
            raise ConnectionResetError("injected failure in the middle of the upload")
        return real_upload_part(**kwargs)

    monkeypatch.setattr(s3, "upload_part", upload_part)
    export_id = world.started({})

    # When the worker runs and every S3 event is delivered
    world.pump.drain()

    # Then the upload had started (one part landed) and broke on the second
    assert parts == [1, 2]
    # And the export is FAILED with a clear error, no URL, never READY
    failed = world.get(export_id)
    assert failed.status == 200
    assert failed.json["status"] == "FAILED", failed.json
    assert failed.json["error"]
    assert "injected" not in failed.json["error"]
    assert (failed.json["downloadUrl"], failed.json["readyAt"], failed.json["rowCount"]) == (None, None, None)
    # And nothing is under the export's key, and the multipart upload was aborted
    assert world.objects() == {}
    assert world.s3.list_multipart_uploads(Bucket=config.DATA_BUCKET).get("Uploads", []) == []
    # And the queue is empty (the failure was recorded, not retried forever)
    world.pump.drain()
    assert world.get(export_id).json["status"] == "FAILED"

    # When an object later appears under the failed export's key
    monkeypatch.undo()
    world.s3.put_object(
        Bucket=config.DATA_BUCKET, Key=f"exports/acme/proj-b/{export_id}.csv", Body=b"profileId\r\n", Metadata={"row-count": "0"}
    )
    world.pump.drain()
    # Then it is not finalised: the export stays FAILED
    assert world.get(export_id).json["status"] == "FAILED"


def test_an_export_that_ended_while_it_was_evaluated_gets_no_file(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from segshare_core.workflows import evaluate_inline

    export_id = world.started({})
    evaluate = evaluate_inline.evaluate_with_members

    def evaluated_then_dead_lettered(*args: Any, **kwargs: Any) -> Any:
        done = evaluate(*args, **kwargs)
        # Meanwhile the dead-letter handler records the export FAILED (its message failed every attempt)
        assert export_store.mark_failed("acme", "proj-b", export_id, "the export failed every attempt")
        return done

    monkeypatch.setattr(evaluate_inline, "evaluate_with_members", evaluated_then_dead_lettered)
    # When the worker, its evaluation done, comes to write the file
    world.pump.drain()
    # Then it writes none: the export stays FAILED with the dead-letter handler's error and no object exists
    failed = world.get(export_id).json
    assert (failed["status"], failed["error"], failed["downloadUrl"]) == ("FAILED", "the export failed every attempt", None)
    assert world.objects() == {}
    assert world.s3.list_multipart_uploads(Bucket=config.DATA_BUCKET).get("Uploads", []) == []


def test_an_export_that_ended_before_its_inline_evaluation_runs_none(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from segshare_core.workflows import evaluate_inline

    export_id = world.started({})
    # Given the export ended (dead-lettered) after the worker read it PENDING, before it turned RUNNING
    read = export_store.get

    def read_then_dead_lettered(*args: Any, **kwargs: Any) -> Any:
        record = read(*args, **kwargs)
        if record is not None and record.status == "PENDING":
            assert export_store.mark_failed("acme", "proj-b", export_id, "the export failed every attempt")
        return record

    evaluated: list[Any] = []
    monkeypatch.setattr(export_store, "get", read_then_dead_lettered)
    monkeypatch.setattr(evaluate_inline, "evaluate_with_members", lambda *a, **k: evaluated.append(a))
    # When the worker takes its message
    world.pump.drain()
    monkeypatch.setattr(export_store, "get", read)
    # Then no evaluation runs for it and it stays FAILED with the dead-letter handler's error, with no file
    assert evaluated == []
    failed = world.get(export_id).json
    assert (failed["status"], failed["error"]) == ("FAILED", "the export failed every attempt")
    assert world.objects() == {}


def _finalise_directly(world: World, key: str, body: bytes) -> dict[str, Any]:
    """Put an object and hand its own S3 notification (from moto's queue) to the finaliser; run nothing else."""
    world.s3.put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body, Metadata={"row-count": "3"})
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=S3_EVENTS_QUEUE)["QueueUrl"]
    records = []
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        records += [r for r in json.loads(message["Body"]).get("Records", []) if unquote_plus(r["s3"]["object"]["key"]) == key]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert records, key
    finaliser = next(f for f in tpl.load().functions() if f.logical_id == "ExportFinaliseFunction")
    result: dict[str, Any] = load_module(finaliser).lambda_handler({"Records": records}, LambdaContext(function_name=finaliser.logical_id))
    return result


def test_an_object_with_no_export_record_is_ignored(world: World) -> None:
    # Given a READY export and a PENDING one
    ready_id = world.started({})
    world.pump.drain()
    before_ready = world.ready(ready_id)
    pending_id = world.started({})

    # When objects land under exports/ with no record behind them: a made-up id, another company's prefix,
    # a PENDING export's key (nothing is writing it yet), and a key of no export shape
    for key in (
        "exports/acme/proj-b/x-00000000000deadbeef.csv",
        "exports/globex/proj-x/x-00000000000deadbeef.csv",
        f"exports/acme/proj-b/{pending_id}.csv",
        "exports/stray.csv",
    ):
        # Then the finaliser finalises nothing
        assert _finalise_directly(world, key, b"profileId\r\nu-1\r\n") == {"finalised": 0}, key

    # And nothing changed: no record appeared, the PENDING export is still PENDING and the READY one is as it was
    assert_error(world.get("x-00000000000deadbeef"), 404, "NOT_FOUND")
    assert world.get(pending_id).json["status"] == "PENDING"
    again = world.ready(ready_id)
    assert {k: v for k, v in again.items() if k not in ("downloadUrl", "expiresAt")} == {
        k: v for k, v in before_ready.items() if k not in ("downloadUrl", "expiresAt")
    }
    assert [e["exportId"] for e in world.listing().json["exports"]] == [pending_id, ready_id]
    assert world.evaluations()[0]["trigger"] == "export"
    assert len(world.evaluations()) == 1

    # When the PENDING export's worker then runs
    world.pump.drain()
    # Then it writes its own file over the stray one, and READY carries its real row count and size
    ready = world.ready(pending_id)
    data = world.download(ready["downloadUrl"])
    assert (ready["rowCount"], ready["bytes"]) == (len(MATCHED), len(data))
    assert [r[0] for r in _parse_csv(data)[1:]] == MATCHED


def test_the_worker_refuses_once_the_feature_is_off(world: World) -> None:
    # Given an export requested while the feature was on
    export_id = world.started({})
    # When an operator turns the feature off before the worker runs
    world.set_feature(False)
    world.pump.drain()
    # Then no export evaluation ran, no file was written, and the export is FAILED with a reason
    world.set_feature(True)
    assert world.evaluations() == []
    assert world.objects() == {}
    failed = world.get(export_id).json
    assert failed["status"] == "FAILED", failed
    assert failed["error"]


# ------------------------------------------------------------------ the queue's batches


def _received(queue: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every message waiting on ``queue``, and the SQS event Lambda's poller would make of them."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    return messages, {"Records": [sqs_record(m, url) for m in messages]}


def _invoke(logical_id: str, ev: dict[str, Any]) -> dict[str, Any]:
    function = next(f for f in tpl.load().functions() if f.logical_id == logical_id)
    result: dict[str, Any] = load_module(function).lambda_handler(ev, LambdaContext(function_name=logical_id))
    return result


def _message_of(messages: list[dict[str, Any]], export_id: str) -> str:
    return str(next(m["MessageId"] for m in messages if json.loads(m["Body"]).get("exportId") == export_id))


def _send(queue: str, body: str) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody=body)


def test_a_batch_reports_only_the_record_that_failed_and_the_other_export_completes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two exports waiting on the queue, and the store throttled while the first one is produced
    first, second = world.started({}), world.started({"format": "jsonl"})
    real_run = export_file.run

    def throttled_for_first(company_id: str, project_id: str, export_id: str) -> Any:
        if export_id == first:
            raise RetryLater()
        return real_run(company_id, project_id, export_id)

    monkeypatch.setattr(export_file, "run", throttled_for_first)
    messages, batch = _received("ExportQueue")
    assert len(messages) == 2

    # When the worker gets both in one batch
    response = _invoke("ExportWorkerFunction", batch)

    # Then exactly the first one's record is reported, to come back for a retry
    assert response == {"batchItemFailures": [{"itemIdentifier": _message_of(messages, first)}]}
    # And the second export completes once its object's S3 event is delivered
    world.pump.drain()
    ready = world.ready(second)
    assert ready["rowCount"] == len(MATCHED)
    assert [json.loads(line)["profileId"] for line in world.download(ready["downloadUrl"]).decode().splitlines()] == MATCHED
    # And the first is not FAILED: it waits for its retry
    assert world.get(first).json["status"] == "PENDING"


MALFORMED = [
    "not json",
    json.dumps({"companyId": "acme", "projectId": "proj-b"}),  # no exportId
    json.dumps({"companyId": "acme", "projectId": "proj-b", "exportId": "../x-1a229b2910ddc5cc452"}),  # not an id
]


def test_malformed_messages_are_reported_and_do_not_block_the_batch(world: World) -> None:
    # Given a requested export and, on the same queue, messages that name no export
    export_id = world.started({})
    for body in MALFORMED:
        _send("ExportQueue", body)
    messages, batch = _received("ExportQueue")
    assert len(messages) == 1 + len(MALFORMED)

    # When the worker gets them in one batch
    response = _invoke("ExportWorkerFunction", batch)

    # Then each malformed one is reported (it ends in the dead-letter queue after its retries)
    malformed = {m["MessageId"] for m in messages if m["Body"] in MALFORMED}
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == malformed
    # And the export the good message names is produced
    world.pump.drain()
    assert world.ready(export_id)["rowCount"] == len(MATCHED)


def test_the_dead_letter_handler_reports_only_the_write_that_failed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two exports whose messages were dead-lettered, a malformed dead letter, and DynamoDB
    # throttling the FAILED write of the first export
    first, second = world.started({}), world.started({})
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="ExportQueue")["QueueUrl"]
    for message in _received("ExportQueue")[0]:
        _send("ExportDeadLetterQueue", message["Body"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    _send("ExportDeadLetterQueue", "not json")
    real_mark_failed = export_store.mark_failed

    def throttled_for_first(company_id: str, project_id: str, export_id: str, error: str) -> bool:
        if export_id == first:
            raise RetryLater()
        return real_mark_failed(company_id, project_id, export_id, error)

    monkeypatch.setattr(export_store, "mark_failed", throttled_for_first)
    messages, batch = _received("ExportDeadLetterQueue")
    assert len(messages) == 3

    # When the dead-letter handler gets them in one batch
    response = _invoke("ExportDeadLetterFunction", batch)

    # Then only the first export's record is reported, to be tried again; the malformed one is let go
    assert response == {"batchItemFailures": [{"itemIdentifier": _message_of(messages, first)}]}
    # And the second export is FAILED with the reason, the first still waits
    failed = world.get(second).json
    assert (failed["status"], failed["error"]) == ("FAILED", "the export failed on every attempt; start a new export")
    assert world.get(first).json["status"] == "PENDING"


# ------------------------------------------------------------------ who can see what


def test_other_projects_other_companies_and_guessed_ids_get_404(world: World) -> None:
    # Given a READY export of B
    export_id = world.started({})
    world.pump.drain()
    assert world.ready(export_id)["downloadUrl"]
    assert world.get(export_id, who=PB).status == 200

    # When A's project admin reads it through B, or through A
    # Then 404: the project is not theirs, and A has no such export
    assert_error(world.get(export_id, who=PA), 404, "NOT_FOUND")
    assert_error(world.get(export_id, who=PA, project="proj-a"), 404, "NOT_FOUND")
    # And even a company admin reading it through another project of the company gets 404
    assert_error(world.get(export_id, project="proj-c"), 404, "NOT_FOUND")
    # And A's admin can neither list B's exports nor start one
    assert_error(world.listing(who=PA), 404, "NOT_FOUND")
    assert_error(world.create({}, who=PA), 404, "NOT_FOUND")
    # And the shared segment is not A's or C's to export
    assert_error(world.create({}, project="proj-a"), 404, "NOT_FOUND")
    assert_error(world.create({}, project="proj-c"), 404, "NOT_FOUND")
    assert_error(world.listing(project="proj-c"), 404, "NOT_FOUND")

    # When another company's admin reads it through B or through its own project
    # Then 404 both ways
    assert_error(world.get(export_id, who=GLOBEX_ADMIN), 404, "NOT_FOUND")
    assert_error(world.get(export_id, who=GLOBEX_ADMIN, project="proj-x"), 404, "NOT_FOUND")
    assert_error(world.listing(who=GLOBEX_ADMIN), 404, "NOT_FOUND")
    assert_error(world.create({}, who=GLOBEX_ADMIN), 404, "NOT_FOUND")
    assert_error(world.create({}, who=GLOBEX_ADMIN, project="proj-x"), 404, "NOT_FOUND")

    # When anyone guesses an export id
    # Then 404
    assert_error(world.get(GUESSED), 404, "NOT_FOUND")
    assert_error(world.get(export_id[:-1] + ("0" if export_id[-1] != "0" else "1")), 404, "NOT_FOUND")
    # And an unknown shared segment is 404 too
    assert_error(world.create({}, shared="shared-000000000000000000000000"), 404, "NOT_FOUND")
    assert_error(world.listing(shared="shared-000000000000000000000000"), 404, "NOT_FOUND")


def test_feature_off_answers_feature_disabled(world: World) -> None:
    # Given an export of B, and then the company's feature turned off
    export_id = world.started({})
    world.pump.drain()
    world.set_feature(False)
    # When B's users start, read or list exports
    # Then 403 FEATURE_DISABLED, and no URL is handed out
    assert_error(world.create({}), 403, "FEATURE_DISABLED")
    assert_error(world.create({}, who=PB), 403, "FEATURE_DISABLED")
    assert_error(world.get(export_id), 403, "FEATURE_DISABLED")
    assert_error(world.listing(who=PB), 403, "FEATURE_DISABLED")
    # And once it is back on, the export is as it was
    world.set_feature(True)
    assert world.ready(export_id)["rowCount"] == len(MATCHED)


INVALID_BODIES: list[Any] = [
    {"format": "csv", "extra": 1},
    {"companyId": "acme"},
    {"format": "xlsx"},
    {"format": "CSV"},
    {"format": None},
    {"attributes": ["bad name"]},
    {"attributes": ["=cmd"]},
    {"attributes": ["-1"]},
    {"attributes": [""]},
    {"attributes": [1]},
    {"attributes": "first_name"},
    {"attributes": ["a" * 65]},
    {"attributes": [f"a{n}" for n in range(101)]},
    [],
]


def test_invalid_bodies_are_refused_and_nothing_is_recorded(world: World) -> None:
    # When an export is started with an unknown field, a bad format or bad attribute names
    # Then each is a 422 naming the problem
    for body in INVALID_BODIES:
        assert_error(world.create(body), 422, "VALIDATION_ERROR")
    # And malformed JSON is a 400
    assert_error(world.create('{"format": '), 400, "MALFORMED_JSON")
    # And nothing was recorded or queued
    assert world.listing().json["exports"] == []
    world.pump.drain()
    assert world.evaluations() == []
    assert world.objects() == {}


def test_the_download_is_named_after_the_segment_as_it_is_called_now(world: World) -> None:
    # Given the source renames its segment after sharing it (API.md PATCH: targets see the new name at once)
    world.ok("share", "edit_segment", path={"projectId": "proj-a", "segmentId": SEGMENT}, body={"name": "Irish fans"})
    # When the target exports and reads the finished export
    export_id = world.started({"format": "csv"})
    world.pump.drain()
    url = world.ready(export_id)["downloadUrl"]
    # Then the file downloads under the new name, not the one the share was granted with
    disposition = unquote(parse_qs(urlparse(url).query)["response-content-disposition"][0])
    assert 'filename="Irish fans ' in disposition, disposition
