"""Bulk imports run by moto's Step Functions interpreter with the real handlers (issue 16 item 1).

The upload is put straight into moto's S3 and the start function gets the S3 event a
deployed bucket would send; the state machine from template.yaml then splits, runs the
Distributed Map over the batch files and finishes. The e2e tests cover the same over HTTP.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import template as tpl
from local.lambdas import LambdaContext, bridge_lambda_invoke, load_module
from local.resources import create_all
from local.schedule import create_state_machines
from segshare_core import config
from segshare_core.store import imports, profiles
from segshare_core.workflows import bulk_import
from tests.integration.conftest import OPERATOR, Response, assert_error, event, handler_for, user
from tests.support.waiting import finished_execution

ADMIN = user("u-admin")
PA = user("u-pa")  # project admin of proj-a only
INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"


class World:
    def __init__(self) -> None:
        self.directory = handler_for("DirectoryFunction")
        self.api = handler_for("ImportFunction")
        function = next(f for f in tpl.load().functions() if f.logical_id == "ImportStartFunction")
        module = load_module(function)
        self.start = lambda ev: module.lambda_handler(ev, LambdaContext(function_name="ImportStartFunction"))


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws(config=INTERPRETER):  # type: ignore[arg-type]
        template = tpl.load()
        create_all(template)
        bridge_lambda_invoke(template.functions())
        create_state_machines(template)
        w = World()
        assert w.directory(event("create_company", claims=OPERATOR)).status == 201
        assert w.directory(event("put_user", path={"userId": "u-admin"}, body={"role": "company_admin"}, claims=OPERATOR)).status == 200
        for pid in ("proj-a", "proj-b"):
            assert w.directory(event("create_project", body={"id": pid, "name": pid}, claims=ADMIN)).status == 201
        assert w.directory(event("put_user", claims=ADMIN)).status == 200
        yield w


def s3_event(key: str) -> dict[str, Any]:
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": config.DATA_BUCKET}, "object": {"key": key}}}]}


def create(world: World, fmt: str = "jsonl", project: str = "proj-a") -> dict[str, Any]:
    response = world.api(event("create_import", path={"projectId": project}, body={"format": fmt}, claims=ADMIN))
    assert response.status == 202, response.json
    return dict(response.json)


def wait(import_id: str, project: str = "proj-a") -> dict[str, Any]:
    """Poll the import's execution until it stops; return the execution as described."""
    return finished_execution(config.IMPORT_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + f":{import_id}")


def run(world: World, body: bytes, fmt: str = "jsonl") -> dict[str, Any]:
    """POST an import, put the upload, deliver its S3 event, wait; the import as GET returns it."""
    started = create(world, fmt)
    key = imports.upload_key("acme", "proj-a", started["importId"], fmt)  # type: ignore[arg-type]
    boto3.client("s3").put_object(Bucket=config.DATA_BUCKET, Key=key, Body=body)
    assert world.start(s3_event(key)) == {"started": 1}
    wait(started["importId"])
    return got(world, started["importId"])


def got(world: World, import_id: str) -> dict[str, Any]:
    response = world.api(event("get_import", path={"projectId": "proj-a", "importId": import_id}, claims=ADMIN))
    assert response.status == 200, response.json
    return dict(response.json)


def errors_file(record: dict[str, Any]) -> list[list[str]]:
    key = imports.errors_key("acme", "proj-a", record["importId"])
    assert key in record["errorsUrl"]
    text = boto3.client("s3").get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read().decode()
    return list(csv.reader(io.StringIO(text)))


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def android(n: int) -> str:
    return f"{n + 1:x}"


def test_a_batch_that_fails_once_is_retried_and_upserts_each_row_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"profileId": f"u-{n:03d}", "attributes": {"n": str(n)}, "devices": [{"platform": "android", "id": android(n)}]} for n in range(40)
    ]
    rows.append({"profileId": "u-000", "attributes": {"n": "last"}, "devices": [{"platform": "android", "id": "ffff"}]})
    rows.append({"profileId": "bad", "devices": [{"platform": "ios", "id": "not-a-uuid"}]})
    real = bulk_import.run_batch
    attempts: list[dict[str, Any]] = []

    def fails_after_writing_once(item: dict[str, Any]) -> dict[str, Any]:
        result = real(item)
        attempts.append(result)
        if len(attempts) == 1:
            raise RuntimeError("injected failure after the batch's profiles were written")
        return result

    monkeypatch.setattr(bulk_import, "run_batch", fails_after_writing_once)
    before = profiles.counts("acme", "proj-a", consistent_read=True)
    # When the only batch fails once after writing and Step Functions retries it
    record = run(world, jsonl(*rows))
    # Then the import succeeded with exact counts, and the retry wrote no profile again
    assert record["status"] == "SUCCEEDED", record
    assert (record["rows"], record["upserted"], record["rejected"]) == (42, 41, 1)
    assert len(attempts) == 2
    assert attempts[0]["written"] == 40
    assert attempts[1]["written"] == 0
    after = profiles.counts("acme", "proj-a", consistent_read=True)
    assert after.profiles == before.profiles + 40
    assert after.index_entries == 40
    # Each profile was written once: the shard counters moved once per profile, not per attempt.
    assert after.seq - before.seq == 40
    stored = profiles.get_profile("acme", "proj-a", "u-000")
    assert stored is not None
    assert dict(stored.attributes) == {"n": "last"}  # the later line won
    assert [d.id for d in stored.devices] == ["ffff"]
    assert errors_file(record) == [["line", "profileId", "code", "message"], ["42", "bad", "INVALID_DEVICE_ID", errors_file(record)[1][3]]]


def test_an_import_run_twice_changes_nothing_more(world: World) -> None:
    rows = [{"profileId": f"u-{n}", "attributes": {"a": "b"}, "devices": [{"platform": "ios", "id": IDFV}]} for n in range(30)]
    record = run(world, jsonl(*rows))
    assert record["status"] == "SUCCEEDED", record
    once = profiles.counts("acme", "proj-a", consistent_read=True)
    # When the same execution input runs again (a second S3 event under another execution name)
    started_key = imports.upload_key("acme", "proj-a", record["importId"], "jsonl")
    job = {
        "companyId": "acme",
        "projectId": "proj-a",
        "importId": record["importId"],
        "format": "jsonl",
        "bucket": config.DATA_BUCKET,
        "key": started_key,
        "versionId": None,
    }
    sfn = boto3.client("stepfunctions")
    second = sfn.start_execution(stateMachineArn=config.IMPORT_STATE_MACHINE_ARN, name="again", input=json.dumps(job))
    finished_execution(second["executionArn"], sfn=sfn)
    # Then no profile was written again and the counts are the same
    twice = profiles.counts("acme", "proj-a", consistent_read=True)
    assert twice == once
    again = got(world, record["importId"])
    assert (again["status"], again["rows"], again["upserted"], again["rejected"]) == ("SUCCEEDED", 30, 30, 0)


def test_a_second_s3_event_starts_nothing(world: World) -> None:
    record = run(world, jsonl({"profileId": "u-1"}))
    key = imports.upload_key("acme", "proj-a", record["importId"], "jsonl")
    assert world.start(s3_event(key)) == {"started": 0}
    assert world.start(s3_event("imports/uploads/acme/proj-a/unknown-import.jsonl")) == {"started": 0}


def test_a_file_that_is_not_csv_fails_the_import_with_a_reason(world: World) -> None:
    record = run(world, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", fmt="csv")
    assert record["status"] == "FAILED", record
    assert "not CSV" in record["error"]
    assert record["errorsUrl"] is None
    assert record["finishedAt"]


def test_post_validates_and_is_scoped(world: World) -> None:
    started = create(world, "csv")
    assert started["status"] == "WAITING_FOR_UPLOAD"
    assert "X-Amz-Expires=900" in started["uploadUrl"]
    assert f"imports/uploads/acme/proj-a/{started['importId']}.csv" in started["uploadUrl"]
    response = world.api(event("create_import", body={"format": "xml"}, claims=ADMIN))
    assert response.status == 422
    response = world.api(event("create_import", path={"projectId": "proj-b"}, claims=PA))
    assert_error(response, 404, "NOT_FOUND")
    fetched = got(world, started["importId"])
    assert fetched["status"] == "WAITING_FOR_UPLOAD"
    assert fetched["errorsUrl"] is None


def test_imports_are_listed_newest_first(world: World) -> None:
    ids = [create(world)["importId"] for _ in range(3)]
    first: Response = world.api(event("list_imports", query={"limit": "2"}, claims=ADMIN))
    assert first.status == 200, first.json
    assert [i["importId"] for i in first.json["imports"]] == ids[::-1][:2]
    rest = world.api(event("list_imports", query={"cursor": first.json["nextCursor"]}, claims=ADMIN))
    assert [i["importId"] for i in rest.json["imports"]] == ids[:1]
    assert rest.json["nextCursor"] is None
    assert_error(world.api(event("list_imports", query={"cursor": "forged"}, claims=ADMIN)), 400, "INVALID_CURSOR")
