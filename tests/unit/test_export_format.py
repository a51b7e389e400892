"""Export files: the CSV writer (RFC 4180, formula neutralising), JSONL, and the choice of columns."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

import pytest

from segshare_core.domain.exports import FORMULA_STARTS, columns, csv_lines, jsonl_lines, neutralise

Row = tuple[str, Mapping[str, Any]]


def _csv(attribute_columns: list[str], rows: list[Row]) -> str:
    return "".join(csv_lines(attribute_columns, rows))


def _parse(text: str) -> list[list[str]]:
    """Read the file back the way a consumer would: csv with newline="" (RFC 4180 line breaks in fields)."""
    return list(csv.reader(io.StringIO(text, newline="")))


# ------------------------------------------------------------------ CSV: shape and RFC 4180


def test_header_is_profile_id_then_the_columns_in_order() -> None:
    # Given two columns in a chosen order and no rows
    # When the CSV is written
    # Then it is the header alone, CRLF-terminated
    assert _csv(["level", "country"], []) == "profileId,level,country\r\n"


def test_each_row_follows_the_columns_and_missing_attributes_are_empty() -> None:
    # Given rows that hold some of the columns, in another order, plus keys not asked for
    rows: list[Row] = [
        ("u-1", {"country": "IE", "level": "7", "secret": "x"}),
        ("u-2", {"level": "9"}),
        ("u-3", {}),
    ]
    # When the CSV is written for level, country
    text = _csv(["level", "country"], rows)
    # Then every record is CRLF-terminated, values follow the header and absent ones are empty
    assert text == "profileId,level,country\r\nu-1,7,IE\r\nu-2,9,\r\nu-3,,\r\n"
    assert "secret" not in text


def test_the_writer_streams_one_chunk_per_record() -> None:
    # Given three rows
    rows: list[Row] = [(f"u-{n}", {"a": n}) for n in range(3)]
    # When the lines are taken one by one
    chunks = list(csv_lines(["a"], iter(rows)))
    # Then there is one chunk for the header and one per row, each a whole record
    assert chunks == ["profileId,a\r\n", "u-0,0\r\n", "u-1,1\r\n", "u-2,2\r\n"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("line1\nline2", '"line1\nline2"'),
        ("line1\r\nline2", '"line1\r\nline2"'),
        ("bare\rcr", '"bare\rcr"'),
        ("trailing\n", '"trailing\n"'),
        ('all, of "them"\r\n', '"all, of ""them""\r\n"'),
        (" spaced ", " spaced "),
        ("", ""),
    ],
)
def test_rfc_4180_quoting(value: str, written: str) -> None:
    # Given a value with a comma, a quote, or a line break (LF, CRLF, bare CR)
    # When it is written as a cell
    text = _csv(["v"], [("u-1", {"v": value})])
    # Then the field is quoted with inner quotes doubled exactly as RFC 4180 says, and it reads back unchanged
    assert text == f"profileId,v\r\nu-1,{written}\r\n"
    assert _parse(text) == [["profileId", "v"], ["u-1", value]]


def test_a_file_of_awkward_values_parses_back_exactly() -> None:
    # Given rows mixing commas, quotes, every line break and unicode in several columns
    rows: list[Row] = [
        ("u-1", {"a": "x,y", "b": 'q"q', "c": "l1\nl2"}),
        ("u-2", {"a": "cr\rlf\r\n", "b": "Zoë 🎮 日本語", "c": "ﬁ\u200b\u00a0tab\tin"}),
        ("u-3", {"a": "", "c": '"",,"'}),
    ]
    # When the CSV is written and read back with Python's csv module
    parsed = _parse(_csv(["a", "b", "c"], rows))
    # Then every value is back, absent ones as empty strings
    assert parsed == [
        ["profileId", "a", "b", "c"],
        ["u-1", "x,y", 'q"q', "l1\nl2"],
        ["u-2", "cr\rlf\r\n", "Zoë 🎮 日本語", "ﬁ\u200b\u00a0tab\tin"],
        ["u-3", "", "", '"",,"'],
    ]


def test_unicode_round_trips_through_utf8_bytes() -> None:
    # Given attribute values and a profile id outside ASCII (accents, CJK, emoji, RTL, combining marks)
    values = {"name": "Zoë Ñúñez", "city": "東京", "mood": "🎮🔥", "rtl": "שלום", "combining": "e\u0301"}
    rows: list[Row] = [("u-ünï", values)]
    # When the file is encoded as S3 receives it (UTF-8) and decoded again
    data = _csv(sorted(values), rows).encode("utf-8")
    parsed = _parse(data.decode("utf-8"))
    # Then nothing was lost or normalised
    assert parsed[1] == ["u-ünï", *(values[k] for k in sorted(values))]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (42, "42"),
        (0, "0"),
        (1.5, "1.5"),
        (10**20, "100000000000000000000"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ([1, "a"], '[1, "a"]'),
        ({"k": "v"}, '{"k": "v"}'),
    ],
)
def test_numbers_booleans_null_and_structures(value: Any, cell: str) -> None:
    # Given a non-string attribute value
    # When it is written
    parsed = _parse(_csv(["v"], [("u-1", {"v": value})]))
    # Then the cell holds its JSON spelling (null as an empty cell)
    assert parsed[1] == ["u-1", cell]


# ------------------------------------------------------------------ CSV: formula injection


INJECTIONS = ["=1+1", "+1", "-1", "@SUM(A1)", "\tTAB", "\rCR", '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "-", "=", "\0=1+1", "\0"]


def test_every_formula_start_is_covered() -> None:
    # Given the API's list: = + - @ tab CR, and NUL (OWASP's CSV-injection list has it too)
    # Then the writer neutralises exactly those
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r", "\0"}
    assert {v[0] for v in INJECTIONS} == set(FORMULA_STARTS)


@pytest.mark.parametrize("value", INJECTIONS)
def test_attribute_cells_starting_a_formula_get_an_apostrophe(value: str) -> None:
    # Given an attribute value that a spreadsheet would run
    # When it is written and read back
    parsed = _parse(_csv(["v"], [("u-1", {"v": value})]))
    # Then the cell is the value with a leading apostrophe, nothing else changed
    assert parsed[1] == ["u-1", "'" + value]


@pytest.mark.parametrize("value", [-1, -0.5, -(10**20)])
def test_negative_numbers_are_cells_starting_with_minus_too(value: float) -> None:
    # Given a negative number (its cell starts with "-")
    # When it is written
    parsed = _parse(_csv(["v"], [("u-1", {"v": value})]))
    # Then it is neutralised like any other cell starting with "-"
    assert parsed[1] == ["u-1", "'" + json.dumps(value)]


@pytest.mark.parametrize("value", INJECTIONS)
def test_profile_ids_starting_a_formula_get_an_apostrophe(value: str) -> None:
    # Given a profile id that a spreadsheet would run
    # When it is written
    parsed = _parse(_csv(["v"], [(value, {"v": "ok"})]))
    # Then its cell is neutralised too
    assert parsed[1] == ["'" + value, "ok"]


@pytest.mark.parametrize("name", INJECTIONS)
def test_header_names_starting_a_formula_get_an_apostrophe(name: str) -> None:
    # Given a column name that a spreadsheet would run
    # When the header is written
    parsed = _parse(_csv([name], [("u-1", {name: "x"})]))
    # Then the header cell is neutralised and the row still finds the value under the real name
    assert parsed[0] == ["profileId", "'" + name]
    assert parsed[1] == ["u-1", "x"]


@pytest.mark.parametrize("value", ["a=1", "x+y", "e-mail", "me@example.com", "in\ttab", "in\rcr", "'quoted", " =space first", "1-2"])
def test_formula_characters_elsewhere_are_left_alone(value: str) -> None:
    # Given a value with a formula character not at its start
    # When it is written and read back
    parsed = _parse(_csv(["v"], [("u-1", {"v": value})]))
    # Then it is unchanged
    assert parsed[1] == ["u-1", value]


def test_a_neutralised_cell_that_needs_quoting_is_quoted_after_the_apostrophe() -> None:
    # Given a formula containing a comma, a quote and a line break
    value = '=IF(A1,"x",\n"y")'
    # When it is written
    text = _csv(["v"], [("u-1", {"v": value})])
    # Then the apostrophe is inside the quoted field and the value reads back whole
    assert text.endswith('u-1,"\'=IF(A1,""x"",\n""y"")"\r\n')
    assert _parse(text)[1] == ["u-1", "'" + value]


@pytest.mark.parametrize("value", INJECTIONS)
def test_neutralise_is_the_apostrophe_rule(value: str) -> None:
    assert neutralise(value) == "'" + value
    assert neutralise("safe" + value) == "safe" + value


# ------------------------------------------------------------------ JSONL


def _jsonl(attribute_columns: list[str] | None, rows: list[Row]) -> list[dict[str, Any]]:
    text = "".join(jsonl_lines(attribute_columns, rows))
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert len(lines) == len(rows)
    return [json.loads(line) for line in lines]


def test_jsonl_keeps_values_exactly_and_writes_one_object_per_line() -> None:
    # Given values a CSV would neutralise or quote, with line breaks, unicode and non-strings
    attributes: dict[str, Any] = {
        "formula": "=1+1",
        "minus": "-5",
        "at": "@x",
        "tab": "\tt",
        "cr": "\rc",
        "lines": "a\nb\r\nc",
        "quote": 'say "hi", ok',
        "unicode": "Zoë 🎮 東京",
        "separators": "line\u2028para\u2029nel\x85vt\x0bff\x0c",
        "n": -3,
        "f": 1.25,
        "b": True,
        "none": None,
        "list": [1, "=2"],
    }
    rows: list[Row] = [("=u-1", attributes), ("u-2", {"formula": "+1"})]
    # When the JSONL is written (every attribute)
    objects = _jsonl(None, rows)
    # Then each line is one object with the profile id and its own attributes, values untouched (no apostrophe)
    assert objects == [{"profileId": "=u-1", "attributes": attributes}, {"profileId": "u-2", "attributes": {"formula": "+1"}}]


def test_jsonl_with_requested_attributes_keeps_them_in_order_and_nulls_the_missing() -> None:
    # Given rows and two requested attributes, one of them absent from a row
    rows: list[Row] = [("u-1", {"b": 1, "a": "x", "c": "not asked"}), ("u-2", {"a": "y"})]
    # When the JSONL is written for b, a
    text = "".join(jsonl_lines(["b", "a"], rows))
    # Then each object carries exactly those keys in that order (missing ones null)
    objects = [json.loads(line) for line in text.splitlines()]
    assert objects == [{"profileId": "u-1", "attributes": {"b": 1, "a": "x"}}, {"profileId": "u-2", "attributes": {"b": None, "a": "y"}}]
    assert list(objects[0]["attributes"]) == ["b", "a"]
    assert "not asked" not in text


def test_jsonl_of_no_rows_is_empty() -> None:
    assert list(jsonl_lines(None, [])) == []


# ------------------------------------------------------------------ columns


@pytest.mark.parametrize(
    ("requested", "present", "expected"),
    [
        (["country", "first_name"], ["first_name", "country", "level"], ["country", "first_name"]),
        (["z", "a", "m"], [], ["z", "a", "m"]),
        (["a", "b", "a", "c", "b"], ["a"], ["a", "b", "c"]),
        ([], ["a", "b"], []),
        (None, ["level", "country", "first_name", "country"], ["country", "first_name", "level"]),
        (None, [], []),
        (None, ["B", "a", "_x", "A"], ["A", "B", "_x", "a"]),
    ],
)
def test_columns(requested: list[str] | None, present: list[str], expected: list[str]) -> None:
    # Given requested attributes (or none) and the keys present among the rows
    # When the columns are chosen
    # Then the requested ones are kept in their order without duplicates, else every present key sorted
    assert columns(requested, present) == expected


def test_default_columns_are_the_union_of_every_rows_keys() -> None:
    # Given rows with different attribute keys
    rows: list[dict[str, Any]] = [{"country": "IE"}, {"level": 3, "first_name": "Ann"}, {}]
    # When columns are chosen from everything present
    chosen = columns(None, (k for r in rows for k in r))
    # Then the header covers every key once, sorted, and each row reads its own values back
    assert chosen == ["country", "first_name", "level"]
    parsed = _parse(_csv(chosen, [(f"u-{n}", r) for n, r in enumerate(rows)]))
    assert parsed == [["profileId", *chosen], ["u-0", "IE", "", ""], ["u-1", "", "Ann", "3"], ["u-2", "", "", ""]]
