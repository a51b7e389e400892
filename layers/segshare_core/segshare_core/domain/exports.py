"""Exports of a shared segment: the target project's own matched profiles as CSV or JSONL.

CSV is RFC 4180 (CRLF line ends, quotes doubled, fields with a comma, quote or line break
quoted) and every cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab, CR or NUL: OWASP's CSV-injection list) is prefixed with an apostrophe.
JSONL keeps values as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from segshare_core.domain.ids import time_sortable_id

Format = Literal["csv", "jsonl"]
Status = Literal["PENDING", "RUNNING", "READY", "FAILED"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


#: An export still PENDING or RUNNING this long after it was created reads (and is written) as
#: FAILED. Derived from template.yaml: the export queue hands a message to the worker at most
#: maxReceiveCount (3) times, each attempt hidden for VisibilityTimeout (3600 s) and cut at the
#: worker's Timeout (600 s); after that the dead-letter handler marks it FAILED. Four hours is past
#: every attempt (tests/unit/test_deadlines.py keeps this true), so only a lost dead letter is caught.
EXPORT_DEADLINE = timedelta(hours=4)
EXPORT_TIMED_OUT = "the export timed out before its file was ready; start a new export"
EXPORT_SHARE_ENDED = "the share ended before the export was ready; its file is not served"


def export_timed_out(status: str, created_at: datetime, at: datetime) -> bool:
    """A PENDING or RUNNING export past EXPORT_DEADLINE reads as FAILED."""
    return status in ("PENDING", "RUNNING") and at - created_at > EXPORT_DEADLINE


def new_export_id(moment: datetime) -> str:
    """Ids sort by creation time, so the newest lists first."""
    return time_sortable_id("x", moment)


@dataclass(frozen=True, slots=True)
class Export:
    export_id: str
    project_id: str
    shared_segment_id: str
    status: Status
    format: Format
    attributes: tuple[str, ...] | None
    created_at: str
    row_count: int | None = None
    bytes: int | None = None
    ready_at: str | None = None
    error: str | None = None
    evaluation_id: str | None = None
    object_key: str | None = None
    #: The generation of the share it was made under (domain.sharing.new_generation).
    generation: str = ""


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would evaluate gets an apostrophe in front, so it stays text."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(json.dumps(value))


def columns(requested: Sequence[str] | None, present: Iterable[str]) -> list[str]:
    """The attribute columns: those requested, in their order, or every key present, sorted."""
    if requested is not None:
        return list(dict.fromkeys(requested))
    return sorted(set(present))


def csv_lines(attribute_columns: Sequence[str], rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Iterator[str]:
    """Header ``profileId`` + the columns, then one RFC 4180 record per row, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["profileId", *(neutralise(c) for c in attribute_columns)])
    yield buffer.getvalue()
    for profile_id, attributes in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(profile_id), *(_cell(attributes.get(c)) for c in attribute_columns)])
        yield buffer.getvalue()


def jsonl_lines(attribute_columns: Sequence[str] | None, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Iterator[str]:
    """One JSON object per line: ``profileId`` and the chosen attributes (all when none chosen)."""
    for profile_id, attributes in rows:
        chosen = dict(attributes) if attribute_columns is None else {c: attributes.get(c) for c in attribute_columns}
        yield json.dumps({"profileId": profile_id, "attributes": chosen}, ensure_ascii=False) + "\n"
