"""Bulk imports of profiles: reading JSONL and CSV rows, which batch a row belongs to, the errors file.

API.md ("Bulk import"): JSONL is one profile object a line, as in the upsert body; CSV is
RFC 4180, UTF-8, with a header row ``profileId``, ``ios``, ``android`` (several ids of one
platform separated by ``|``) and then one column per attribute (empty cell: attribute absent;
values are strings). A row is validated exactly as ``PUT .../profiles`` validates a profile
(``profiles.parse_profile``). Bytes that are not UTF-8 are decoded with ``surrogateescape``
so that they reach the validation as lone surrogates and reject their row only, never the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Literal

from segshare_core.domain.errors import DomainError, InvalidInput
from segshare_core.domain.exports import neutralise
from segshare_core.domain.ids import time_sortable_id
from segshare_core.domain.profiles import InvalidProfile, Profile, parse_profile

Format = Literal["jsonl", "csv"]
Status = Literal["WAITING_FOR_UPLOAD", "RUNNING", "SUCCEEDED", "FAILED"]
ERRORS_HEADER = ("line", "profileId", "code", "message")
#: CSV columns that are not attributes.
CSV_FIXED = ("profileId", "ios", "android")
#: A cell of several device ids of one platform separates them with this (API.md).
DEVICE_SEPARATOR = "|"


class NotAnImportFile(DomainError):
    """The upload cannot be read as the format it was announced as: the import FAILS (no row is read)."""

    code = "INVALID_FILE"


def new_import_id(moment: datetime) -> str:
    """Ids sort by creation time (hex microseconds), so the newest lists first."""
    return time_sortable_id("i", moment, ticks_per_second=1_000_000, width=14)


@dataclass(frozen=True, slots=True)
class Import:
    import_id: str
    project_id: str
    status: Status
    format: Format
    created_at: str
    rows: int | None = None
    upserted: int | None = None
    rejected: int | None = None
    finished_at: str | None = None
    error: str | None = None
    errors_key: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One data row as read: its 1-based line in the file, the profile object it stands for, or why it is unreadable."""

    line: int
    raw: Any = None
    error: tuple[str, str] | None = None  # (code, message)

    def profile_id(self) -> str:
        """The profile id the row names, as text ('' when it names none): what picks its batch."""
        value = self.raw.get("profileId") if isinstance(self.raw, Mapping) else None
        return value if isinstance(value, str) else ""

    def to_json(self) -> str:
        # ensure_ascii keeps lone surrogates as \\udcxx escapes, so the line round-trips to the worker.
        return json.dumps([self.line, self.raw, list(self.error) if self.error else None], separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Row:
        line, raw, error = json.loads(text)
        return cls(line, raw, (error[0], error[1]) if error else None)


def batch_of(profile_id: str, batches: int) -> int:
    """The batch (0 to batches - 1) of a profile id: every row of one profile lands in one batch.

    So batches are disjoint by profile id, and the last write of a profile is decided inside
    one batch by line order. BLAKE2b: stable across processes, unlike ``hash()``.
    """
    digest = hashlib.blake2b(profile_id.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % batches


def text_stream(binary: IO[bytes]) -> io.TextIOWrapper:
    """UTF-8 text of a binary stream: a BOM dropped, line ends kept for the CSV reader, bad bytes as surrogates."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def jsonl_rows(text: Iterable[str]) -> Iterator[Row]:
    """One Row per non-blank line; a line that is not a JSON object is a row with INVALID_JSON."""
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            yield Row(number, error=("INVALID_JSON", "the line is not a JSON object"))
            continue
        if not isinstance(raw, dict):
            yield Row(number, error=("INVALID_JSON", "the line is not a JSON object"))
            continue
        yield Row(number, raw)


def csv_rows(text: Iterable[str]) -> Iterator[Row]:
    """One Row per CSV record after the header; the row's line is the physical line it starts on.

    Raises NotAnImportFile when the header has no ``profileId`` column or names a column twice.
    """
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise NotAnImportFile("the file is not CSV: its header cannot be read") from exc
    names = [h.strip() for h in header]
    if "profileId" not in names or len(set(names)) != len(names):
        raise NotAnImportFile("the file is not CSV with a header row naming profileId (and each column once)")
    attributes = [(i, n) for i, n in enumerate(names) if n not in CSV_FIXED]
    where = {n: names.index(n) for n in CSV_FIXED if n in names}
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield Row(start, error=("INVALID_CSV", "the record is not valid CSV (RFC 4180)"))
            continue
        if not cells or cells == [""]:
            continue  # a blank line
        if len(cells) != len(names):
            # The profile id, when the record has that cell, names the row in the errors file.
            named = {"profileId": cells[where["profileId"]].strip()} if where["profileId"] < len(cells) else None
            yield Row(start, named, ("INVALID_CSV", f"the record has {len(cells)} cells, the header {len(names)}"))
            continue
        devices = [
            {"platform": platform, "id": device_id.strip()}
            for platform in ("ios", "android")
            if platform in where
            for device_id in cells[where[platform]].split(DEVICE_SEPARATOR)
            if device_id.strip()
        ]
        raw = {
            "profileId": cells[where["profileId"]].strip(),
            "attributes": {name: cells[i] for i, name in attributes if cells[i] != ""},
            "devices": devices,
        }
        yield Row(start, raw)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield path + ".<key>", str(key)
            yield from _strings(inner, f"{path}.{key}" if isinstance(key, str) else path)
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            yield from _strings(inner, f"{path}[{position}]")


def require_utf8(raw: Any) -> None:
    """InvalidProfile naming the field when any text of the row cannot be written as UTF-8 (a lone surrogate).

    API.md: such text is rejected at upsert (``INVALID_PROFILE``), so one profile never makes
    a file fail; the message names the field, never the value.
    """
    for path, text in _strings(raw, ""):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            field = path.lstrip(".").replace(".<key>", " (a name)") or "the row"
            raise InvalidProfile(f"{field[:100]} is not valid UTF-8 text") from None


def validate(row: Row) -> Profile:
    """The row's profile, validated exactly as ``PUT .../profiles`` validates one; InvalidInput otherwise."""
    if row.error is not None:
        raise InvalidInput(row.error[1], code=row.error[0])
    require_utf8(row.raw)
    return parse_profile(row.raw)


def shown_profile_id(row: Row) -> str:
    """The profile id to name in the errors file: the row's own when it is short, printable UTF-8 text, else ''."""
    value = row.profile_id()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return value if len(value) <= 63 and value.isprintable() else ""


def error_lines(rejections: Iterable[tuple[int, str, str, str]]) -> Iterator[str]:
    """The errors file: header ``line,profileId,code,message``, then one RFC 4180 record per rejection (CRLF)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(ERRORS_HEADER)
    yield buffer.getvalue()
    for line, profile_id, code, message in rejections:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([line, neutralise(profile_id), code, neutralise(message)])
        yield buffer.getvalue()
