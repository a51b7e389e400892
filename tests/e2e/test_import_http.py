"""Bulk imports over HTTP against the local stack: POST, upload with the presigned PUT, poll, read the errors file.

The upload goes to moto's server through the presigned URL; its ObjectCreated event reaches
the start function through the stack's event pump (moto notifies an SQS queue), which starts
the import state machine in moto's Step Functions interpreter, as S3 and Lambda would deployed.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import requests

from local.tokens import mint
from tests.support.http import fresh_id, new_company, ok
from tests.support.stacks import LocalStack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ADMIN = mint("imp-admin")
IDFV_1 = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
IDFV_2 = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
HEADER = ["line", "profileId", "code", "message"]


@pytest.fixture(scope="module")
def project(stack: LocalStack) -> str:
    """A company and project of this module's own on the shared stack; the project's id."""
    company, project = fresh_id("imp-co"), fresh_id("imp-a")
    new_company(stack, "imp-admin", company, [(project, "A")], name="Imports", shared_segments=False)
    return project


def run_import(stack: LocalStack, project: str, fmt: str, body: bytes) -> dict[str, Any]:
    """POST the import, PUT the file to the presigned URL, poll until it stops (120 s); the import as read."""
    created = stack.call("POST", f"/v1/projects/{project}/imports", ADMIN, {"format": fmt})
    assert created.status_code == 202, created.text
    started = created.json()
    assert started["status"] == "WAITING_FOR_UPLOAD"
    assert set(started) == {"importId", "status", "format", "uploadUrl", "expiresAt"}
    uploaded = requests.put(started["uploadUrl"], data=body, timeout=60)
    assert uploaded.status_code == 200, uploaded.text
    return wait_for(
        lambda: dict(ok(stack.call("GET", f"/v1/projects/{project}/imports/{started['importId']}", ADMIN))),
        lambda record: record["status"] in ("SUCCEEDED", "FAILED"),
        120,
        f"import {started['importId']} to finish",
    )


def errors_of(record: dict[str, Any]) -> list[list[str]]:
    response = requests.get(record["errorsUrl"], timeout=30)
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def profile(stack: LocalStack, project: str, profile_id: str) -> dict[str, Any] | None:
    got = stack.call("GET", f"/v1/projects/{project}/profiles/{profile_id}", ADMIN)
    if got.status_code == 404:
        return None
    assert got.status_code == 200, got.text
    return dict(got.json())


def test_jsonl_import_lands_the_good_rows_and_lists_the_rejected_ones(stack: LocalStack, project: str) -> None:
    devices = [
        {"platform": "ios", "id": IDFV_1},
        {"platform": "ios", "id": IDFV_2},
        {"platform": "android", "id": "9A3F5E2B7C1D4E60"},
        {"platform": "android", "id": "00c0ffee"},
    ]
    lines = [
        json.dumps({"profileId": "j-1", "attributes": {"first_name": "Ann", "age": 31}, "devices": devices}),  # 1
        json.dumps({"profileId": "j-bad", "devices": [{"platform": "ios", "id": "not-a-uuid"}]}),  # 2
        '{"profileId": "j-sur", "attributes": {"name": "\\ud800"}}',  # 3: a lone surrogate, escaped as JSON allows
        json.dumps({"profileId": "j-dup", "attributes": {"v": "first"}}),  # 4
        "this is not json",  # 5
        json.dumps({"profileId": "j-dup", "attributes": {"v": "last"}}),  # 6
        "",  # 7: blank, not a row
        json.dumps({"profileId": "j-3"}),  # 8
    ]
    record = run_import(stack, project, "jsonl", ("\n".join(lines) + "\n").encode())
    assert record["status"] == "SUCCEEDED", record
    assert (record["format"], record["rows"], record["upserted"], record["rejected"]) == ("jsonl", 7, 4, 3)
    assert record["finishedAt"] >= record["createdAt"]
    assert errors_of(record) == [
        HEADER,
        ["2", "j-bad", "INVALID_DEVICE_ID", errors_of(record)[1][3]],
        ["3", "j-sur", "INVALID_PROFILE", "attributes.name is not valid UTF-8 text"],
        ["5", "", "INVALID_JSON", "the line is not a JSON object"],
    ]
    assert "ios" in errors_of(record)[1][3]
    first = profile(stack, project, "j-1")
    assert first == {
        "profileId": "j-1",
        "attributes": {"first_name": "Ann", "age": 31},
        "devices": [
            {"platform": "ios", "id": IDFV_1.lower()},
            {"platform": "ios", "id": IDFV_2},
            {"platform": "android", "id": "9a3f5e2b7c1d4e60"},
            {"platform": "android", "id": "c0ffee"},
        ],
    }
    assert profile(stack, project, "j-dup") == {"profileId": "j-dup", "attributes": {"v": "last"}, "devices": []}
    assert profile(stack, project, "j-3") == {"profileId": "j-3", "attributes": {}, "devices": []}
    assert profile(stack, project, "j-bad") is None
    assert profile(stack, project, "j-sur") is None


def test_csv_import_with_a_bom_crlf_quoted_cells_and_several_devices(stack: LocalStack, project: str) -> None:
    text = (
        "profileId,ios,android,first_name,note\r\n"  # 1
        f'c-1,{IDFV_1}|{IDFV_2},9a3f5e2b7c1d4e60|00c0ffee,Ann,"quoted, with a comma and ""quotes"""\r\n'  # 2
        'c-2,,abc,Bob,"two\r\nlines"\r\n'  # 3-4
        "c-bad,not-a-uuid,,Eve,\r\n"  # 5
    ).encode()
    text += b"c-sur,,,\xed\xa0\x80,\r\n"  # 6: the UTF-8 bytes of a lone surrogate, which UTF-8 forbids
    text += b"c-1,,1f,Ann2,\r\n"  # 7: c-1 again, the last write wins
    text += b"c-short,1\r\n"  # 8
    record = run_import(stack, project, "csv", b"\xef\xbb\xbf" + text)
    assert record["status"] == "SUCCEEDED", record
    assert (record["rows"], record["upserted"], record["rejected"]) == (6, 3, 3)
    errors = errors_of(record)
    assert [row[:3] for row in errors] == [
        HEADER[:3],
        ["5", "c-bad", "INVALID_DEVICE_ID"],
        ["6", "c-sur", "INVALID_PROFILE"],
        ["8", "c-short", "INVALID_CSV"],
    ]
    assert errors[2][3] == "attributes.first_name is not valid UTF-8 text"
    assert errors[3][3] == "the record has 2 cells, the header 5"
    assert profile(stack, project, "c-1") == {
        "profileId": "c-1",
        "attributes": {"first_name": "Ann2"},
        "devices": [{"platform": "android", "id": "1f"}],
    }
    assert profile(stack, project, "c-2") == {
        "profileId": "c-2",
        "attributes": {"first_name": "Bob", "note": "two\r\nlines"},
        "devices": [{"platform": "android", "id": "abc"}],
    }
    assert profile(stack, project, "c-bad") is None


def test_csv_quoted_cells_and_several_devices_land_whole(stack: LocalStack, project: str) -> None:
    text = f'profileId,ios,android,note\r\nq-1,{IDFV_1}|{IDFV_2},9a3f5e2b7c1d4e60|00c0ffee,"a, ""b"""\r\n'
    record = run_import(stack, project, "csv", text.encode())
    assert (record["status"], record["rows"], record["upserted"], record["rejected"]) == ("SUCCEEDED", 1, 1, 0)
    assert errors_of(record) == [HEADER]
    assert profile(stack, project, "q-1") == {
        "profileId": "q-1",
        "attributes": {"note": 'a, "b"'},
        "devices": [
            {"platform": "ios", "id": IDFV_1.lower()},
            {"platform": "ios", "id": IDFV_2},
            {"platform": "android", "id": "9a3f5e2b7c1d4e60"},
            {"platform": "android", "id": "c0ffee"},
        ],
    }


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_empty_file_imports_nothing_and_succeeds(stack: LocalStack, project: str, fmt: str) -> None:
    record = run_import(stack, project, fmt, b"")
    assert (record["status"], record["rows"], record["upserted"], record["rejected"]) == ("SUCCEEDED", 0, 0, 0)
    assert errors_of(record) == [HEADER]


def test_a_file_that_is_not_csv_fails_with_a_reason(stack: LocalStack, project: str) -> None:
    record = run_import(stack, project, "csv", json.dumps({"profileId": "x-1"}).encode() + b"\n\x89PNG\r\n")
    assert record["status"] == "FAILED", record
    assert record["error"] == "the file is not CSV with a header row naming profileId (and each column once)"
    assert record["errorsUrl"] is None
    assert profile(stack, project, "x-1") is None


def test_imports_are_listed_newest_first(stack: LocalStack, project: str) -> None:
    listed = stack.call("GET", f"/v1/projects/{project}/imports", ADMIN, params={"limit": "100"})
    assert listed.status_code == 200, listed.text
    ids = [i["importId"] for i in listed.json()["imports"]]
    assert len(ids) >= 5
    assert ids == sorted(ids, reverse=True)
    assert all(i["errorsUrl"] is None for i in listed.json()["imports"])
