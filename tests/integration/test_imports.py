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
from pydantic import ValidationError

from local import template as tpl
from local.lambdas import LambdaContext, bridge_lambda_invoke, load_module
from local.resources import create_all
from local.schedule import create_state_machines
from segshare_core import config
from segshare_core.store import imports, profiles
from segshare_core.store.keys import held_moves_pk
from segshare_core.store.models import ALL_MODELS, HeldMovesRow, connection
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


def profile_rows(n: int) -> list[dict[str, Any]]:
    return [
        {"profileId": f"u-{i:03d}", "attributes": {"n": str(i)}, "devices": [{"platform": "android", "id": android(i)}]} for i in range(n)
    ]


def counter_transactions() -> tuple[list[int], Any]:
    """Collects, per TransactWriteItems sent, how many of its items are shard counters; returns (list, unhook)."""
    touched: list[int] = []

    def on_call(params: dict[str, Any], **_: Any) -> None:
        # Each item is {"Put"|"Update"|"Delete"|"ConditionCheck": {..., "Item" or "Key": {"pk": {"S": ...}}}}.
        actions = [next(iter(item.values())) for item in params["TransactItems"]]
        keys = [(action.get("Key") or action["Item"])["pk"]["S"] for action in actions]
        touched.append(sum(1 for pk in keys if "#N#P#" in pk or "#N#I#" in pk))

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}
    for client in clients.values():
        client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", on_call)

    def unhook() -> None:
        for client in clients.values():
            client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", on_call)

    return touched, unhook


def test_an_imports_batches_move_the_shared_counters_once_each(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given batch files of ~8 KB, so that 300 profiles make several batches run side by side
    monkeypatch.setattr(bulk_import, "BATCH_BYTES", 8 * 1024)
    body = jsonl(*profile_rows(300))
    batches = bulk_import._batch_count(len(body))
    assert batches > 3
    touched, unhook = counter_transactions()
    try:
        # When they are imported
        record = run(world, body)
    finally:
        unhook()
    # Then each batch moved the project's counters in one transaction (its held moves, applied
    # once), and none of its profile transactions touched a counter item that other batches share
    assert record["status"] == "SUCCEEDED", record
    assert len(touched) > batches
    assert len([n for n in touched if n]) == batches
    # And the counters are exact: 300 profiles, 300 index entries, one step of seq each
    counts = profiles.counts("acme", "proj-a", consistent_read=True)
    assert (counts.profiles, counts.index_entries, counts.seq) == (300, 300, 300)
    assert list(HeldMovesRow.query(held_moves_pk("acme", "proj-a"))) == []


def test_a_batch_that_dies_after_writing_and_before_applying_its_moves_applies_them_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = profiles.release_moves
    calls: list[int] = []

    def dies_once(held: profiles.HeldMoves) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected: the batch's Lambda died after its profiles were written")
        real(held)

    monkeypatch.setattr(profiles, "release_moves", dies_once)
    # When the only batch writes its 40 profiles, dies before applying its counter moves, and is retried
    record = run(world, jsonl(*profile_rows(40)))
    # Then the retry wrote no profile again and applied the moves the first attempt held, once
    assert record["status"] == "SUCCEEDED", record
    assert len(calls) == 2
    counts = profiles.counts("acme", "proj-a", consistent_read=True)
    assert (counts.profiles, counts.index_entries, counts.seq) == (40, 40, 40)
    assert list(HeldMovesRow.query(held_moves_pk("acme", "proj-a"))) == []


def test_a_batch_that_fails_every_attempt_fails_the_import_and_its_written_profiles_are_counted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = profiles.release_moves
    calls: list[int] = []

    def dies_four_times(held: profiles.HeldMoves) -> None:
        calls.append(1)
        if len(calls) <= 4:
            raise RuntimeError("injected: the counters cannot be reached")
        real(held)

    monkeypatch.setattr(profiles, "release_moves", dies_four_times)
    # When the batch fails all 3 attempts after writing, and the finish step cannot apply the moves either
    record = run(world, jsonl(*profile_rows(25)))
    # Then the import is FAILED, and its Catch applied the moves held back: the counters count the 25 profiles written
    assert record["status"] == "FAILED", record
    assert len(calls) == 5
    assert len(profiles.get_profiles("acme", "proj-a", [f"u-{i:03d}" for i in range(25)])) == 25
    counts = profiles.counts("acme", "proj-a", consistent_read=True)
    assert (counts.profiles, counts.index_entries, counts.seq) == (25, 25, 25)
    assert list(HeldMovesRow.query(held_moves_pk("acme", "proj-a"))) == []


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


def test_a_finish_after_the_import_failed_keeps_it_failed_and_logs_so(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an import recorded FAILED (its Catch ran) and a manifest of no batches
    started = create(world)
    import_id = started["importId"]
    assert imports.mark_failed("acme", "proj-a", import_id, "the import failed")
    manifest = imports.work_prefix("acme", "proj-a", import_id) + "manifest.json"
    imports.put_file(manifest, b"[]", "application/json")
    logged: list[tuple[str, str, dict[str, Any]]] = []
    for level in ("info", "warning"):
        monkeypatch.setattr(bulk_import.logger, level, lambda message, _level=level, **fields: logged.append((_level, message, fields)))
    # When the finish task runs for it anyway
    job = {"companyId": "acme", "projectId": "proj-a", "importId": import_id, "format": "jsonl", "bucket": config.DATA_BUCKET}
    totals = bulk_import.finish(bulk_import.Finishing(**job, key="k", split={"manifest": manifest, "batches": 0, "rows": 0}))
    # Then the import stays FAILED, and the log says it was not recorded succeeded (never "import succeeded")
    assert totals == {"rows": 0, "upserted": 0, "rejected": 0}
    assert got(world, import_id)["status"] == "FAILED"
    assert [(level, message, fields.get("status")) for level, message, fields in logged] == [
        ("warning", "import finished after it ended: not recorded succeeded", "FAILED")
    ]


@pytest.mark.parametrize("function", ["ImportSplitFunction", "ImportBatchFunction", "ImportFinishFunction", "ImportFailFunction"])
def test_each_import_task_is_its_own_function_with_a_typed_input(world: World, function: str) -> None:
    # Given the task's handler as the template declares it
    declared = next(f for f in tpl.load().functions() if f.logical_id == function)
    module = load_module(declared)
    # When it gets the former shape (an action string and an untyped dict) or nothing of its model
    for event_body in ({"action": "batch", "item": {"batch": 0}}, {}):
        # Then its input model refuses it before any work
        with pytest.raises(ValidationError):
            module.lambda_handler(event_body, LambdaContext(function_name=function))


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


def test_listing_parameters_follow_every_listing_s_rules(world: World) -> None:
    # Given a cursor over 2,048 characters (a forged one) and limits not written in digits
    # Then the cursor is 400 INVALID_CURSOR, as on every listing (API.md), never a 422
    assert_error(world.api(event("list_imports", query={"cursor": "A" * 2049}, claims=ADMIN)), 400, "INVALID_CURSOR")
    # And a limit must be digits only
    for limit in (" 3", "3.0", "true"):
        assert_error(world.api(event("list_imports", query={"limit": limit}, claims=ADMIN)), 422, "VALIDATION_ERROR")
