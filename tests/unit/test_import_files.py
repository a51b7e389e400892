"""Import files as the split reads them: JSONL and CSV rows, their lines, the batch of a profile id, the errors file."""

from __future__ import annotations

import io

import pytest

from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.imports import NotAnImportFile, Row, batch_of, csv_rows, error_lines, jsonl_rows, text_stream, validate


def read(data: bytes, fmt: str = "csv") -> list[Row]:
    text = text_stream(io.BytesIO(data))
    return list(csv_rows(text) if fmt == "csv" else jsonl_rows(text))


def test_csv_with_a_bom_crlf_and_a_quoted_line_break_keeps_each_rows_first_line() -> None:
    rows = read(b'\xef\xbb\xbfprofileId,ios,android,note\r\nu-1,,a|b,"x\r\ny"\r\n\r\nu-2,,,"q ""z"""\r\n')
    assert [r.line for r in rows] == [2, 5]
    assert rows[0].raw == {
        "profileId": "u-1",
        "attributes": {"note": "x\r\ny"},
        "devices": [{"platform": "android", "id": "a"}, {"platform": "android", "id": "b"}],
    }
    assert rows[1].raw == {"profileId": "u-2", "attributes": {"note": 'q "z"'}, "devices": []}


@pytest.mark.parametrize("data", [b"id,ios\r\nu-1,x\r\n", b"profileId,profileId\r\n", b"\x89PNG\r\n\x1a\n"])
def test_a_csv_without_a_profile_id_column_is_not_an_import_file(data: bytes) -> None:
    with pytest.raises(NotAnImportFile):
        read(data)


def test_bytes_that_are_not_utf8_reject_their_row_only() -> None:
    rows = read(b"profileId,name\nu-1,\xed\xa0\x80\nu-2,ok\n")
    with pytest.raises(InvalidInput) as raised:
        validate(rows[0])
    assert raised.value.code == "INVALID_PROFILE"
    assert raised.value.message == "attributes.name is not valid UTF-8 text"
    assert validate(rows[1]).attributes == {"name": "ok"}


def test_jsonl_rows_count_physical_lines_and_skip_blank_ones() -> None:
    rows = read(b'{"profileId": "u-1"}\r\n\n[1]\nnot json\n{"profileId": "u-\\ud800"}\n', "jsonl")
    assert [(r.line, r.error[0] if r.error else None) for r in rows] == [(1, None), (3, "INVALID_JSON"), (4, "INVALID_JSON"), (5, None)]
    with pytest.raises(InvalidInput):
        validate(rows[3])


def test_a_row_round_trips_through_its_batch_file_line_with_a_lone_surrogate() -> None:
    row = Row(7, {"profileId": "u-1", "attributes": {"a": "\udcff"}})
    assert Row.from_json(row.to_json()) == row
    assert row.to_json().isascii()


def test_every_row_of_a_profile_lands_in_one_batch() -> None:
    assert {batch_of("u-1", 16) for _ in range(3)} == {batch_of("u-1", 16)}
    spread = {batch_of(f"u-{n}", 16) for n in range(1000)}
    assert spread == set(range(16))


def test_the_errors_file_is_rfc4180_and_neutralises_formulas() -> None:
    text = "".join(error_lines([(3, "=cmd", "INVALID_PROFILE", 'a "quoted", message')]))
    assert text == 'line,profileId,code,message\r\n3,\'=cmd,INVALID_PROFILE,"a ""quoted"", message"\r\n'
