"""The bulk import workflow: started by the upload's S3 event, run by the import state machine.

1. ``start`` (the upload's ObjectCreated event): WAITING_FOR_UPLOAD -> RUNNING and one
   execution named for the import (a second event finds the name taken).
2. ``split`` (first task): streams the upload once and writes each row, as read, into the
   batch file its profile id hashes to (``domain.imports.batch_of``), then a JSON manifest
   of the batch files. Every row of one profile is in one batch, in line order, so batches
   are disjoint by profile id. Memory holds no rows: they go to files in /tmp.
3. ``run_batch`` (a Distributed Map over the manifest, one batch an item): validates every
   row exactly as ``PUT .../profiles`` does, keeps the last valid row of each profile (line
   order), skips profiles already stored exactly so, upserts the rest with
   ``store.profiles.upsert_profiles`` (replace whole, one transaction per group) holding the
   counter moves back in the batch's own item, applies them to the project's counters in one
   transaction (``store.profiles.release_moves``), and writes its rejections and counts next
   to the batch file. A retried batch or a second run rewrites those same objects, writes no
   profile again and applies the moves it holds once.
4. ``finish``: applies any moves a batch left held, sums the batches' counts, merges their
   rejections by line into the errors file, SUCCEEDED. ``fail`` (any step's Catch): applies
   held moves, FAILED with a message safe to show.

Each task's input is a pydantic model (``Job``, ``BatchItem``, ``Finishing``, ``Failure``),
parsed at the handler's edge with Powertools' parser.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

from pydantic import BaseModel, ConfigDict

from segshare_core import config
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.imports import (
    Format,
    NotAnImportFile,
    Row,
    batch_of,
    csv_rows,
    error_lines,
    jsonl_rows,
    shown_profile_id,
    text_stream,
    validate,
)
from segshare_core.domain.profiles import MAX_BATCH, Profile
from segshare_core.observability import logger
from segshare_core.store import directory, imports, profiles

#: Bytes of upload a batch gets: a batch worker holds one batch's rows (a few MB) at a time.
BATCH_BYTES = 4 * 1024 * 1024
#: Batch files the split writes at most (one open file each; Lambda allows 1,024 descriptors).
MAX_BATCHES = 500
_BUFFER = 64 * 1024
#: Message recorded when a step failed for a reason that is ours, not the file's.
GENERIC_FAILURE = "the import failed before it finished; start a new import with the same file"


class Job(BaseModel):
    """The execution's input, made by ``start``: which import, and its upload (bucket, key, version)."""

    model_config = ConfigDict(extra="ignore")
    companyId: str
    projectId: str
    importId: str
    format: Format
    bucket: str
    key: str
    versionId: str | None = None


class Split(BaseModel):
    """What ``split`` returns (the state machine keeps it as ``$.split``): the manifest's key, batches, rows."""

    manifest: str
    batches: int
    rows: int


class Finishing(Job):
    """``finish``'s input: the job and the split's result."""

    split: Split


class BatchItem(BaseModel):
    """One Distributed Map item, as the split wrote it into the manifest: one batch file of one import."""

    model_config = ConfigDict(extra="ignore")
    companyId: str
    projectId: str
    importId: str
    batch: int
    key: str


class Failure(Job):
    """The Catch's input: the job and Step Functions' error (``{"Error", "Cause"}``)."""

    error: dict[str, Any] = {}


class InvalidFile(Exception):
    """Raised to Step Functions by name: the upload is not a file of its format; the message is safe to show."""


class BatchIncomplete(Exception):
    """Raised to Step Functions by name: a batch left no result (it failed every attempt)."""


def _batch_count(size: int) -> int:
    return max(1, min(MAX_BATCHES, math.ceil(size / BATCH_BYTES)))


def start(key: str, version_id: str | None = None) -> bool:
    """An upload landed: mark its import RUNNING and start its execution; False when there is nothing to start.

    An object no import is waiting for (unknown, finished, or another upload to a used URL)
    starts nothing.
    """
    parsed = imports.parse_upload_key(key)
    if parsed is None:
        logger.warning("object is not an import upload", key_prefix=key.split("/", 1)[0])
        return False
    company_id, project_id, import_id = parsed
    record = imports.get(company_id, project_id, import_id)
    if record is None:
        logger.warning("upload has no import record", import_id=import_id)
        return False
    if record.status == "WAITING_FOR_UPLOAD" and not imports.mark_running(company_id, project_id, import_id):
        record = imports.get(company_id, project_id, import_id)
    if record is None or record.status not in ("WAITING_FOR_UPLOAD", "RUNNING"):
        logger.info("upload ignored: its import is finished", import_id=import_id)
        return False
    job = Job(
        companyId=company_id,
        projectId=project_id,
        importId=import_id,
        format=record.format,
        bucket=config.DATA_BUCKET,
        key=key,
        versionId=version_id,
    )
    started = imports.start_execution(job.model_dump())
    logger.info("import started" if started else "import already started", import_id=import_id)
    return started


def _rows(job: Job, binary: IO[bytes]) -> Iterator[Row]:
    text = text_stream(binary)
    return csv_rows(text) if job.format == "csv" else jsonl_rows(text)


def split(job: Job) -> Split:
    """Write the upload's rows into batch files by profile id, and their manifest; return its key and size.

    Raises InvalidFile when the upload cannot be read as its format.
    """
    company_id, project_id, import_id = job.companyId, job.projectId, job.importId
    prefix = imports.work_prefix(company_id, project_id, import_id)
    batches = _batch_count(imports.object_size(job.key, job.versionId))
    counts = [0] * batches
    with tempfile.TemporaryDirectory(prefix="import-") as tmp, ExitStack() as files:
        paths = [os.path.join(tmp, f"{n:05d}") for n in range(batches)]
        opened: dict[int, IO[str]] = {}
        try:
            for row in _rows(job, imports.open_object(job.key, job.versionId)):
                n = batch_of(row.profile_id(), batches)
                if n not in opened:
                    opened[n] = files.enter_context(open(paths[n], "w", encoding="ascii", buffering=_BUFFER))
                opened[n].write(row.to_json())
                counts[n] += 1
        except NotAnImportFile as exc:
            raise InvalidFile(exc.message) from exc
        except UnicodeDecodeError as exc:  # surrogateescape decodes any bytes; kept for safety
            raise InvalidFile("the file is not UTF-8 text") from exc
        for handle in opened.values():
            handle.close()
        manifest = []
        for n in sorted(opened):
            key = f"{prefix}batch-{n:05d}.jsonl"
            with open(paths[n], "rb") as body:
                imports.put_file(key, body, "application/x-ndjson")
            manifest.append(BatchItem(companyId=company_id, projectId=project_id, importId=import_id, batch=n, key=key).model_dump())
    manifest_key = f"{prefix}manifest.json"
    imports.put_file(manifest_key, json.dumps(manifest).encode(), "application/json")
    logger.info("import split", import_id=import_id, rows=sum(counts), batches=len(manifest))
    return Split(manifest=manifest_key, batches=len(manifest), rows=sum(counts))


def _held_owner(import_id: str, batch: int | None = None) -> str:
    """The owner of a batch's held counter moves (``store.profiles.hold_moves``); without a batch, the import's prefix."""
    return f"{import_id}#" if batch is None else f"{import_id}#{batch:05d}"


def run_batch(item: BatchItem) -> dict[str, int]:
    """Upsert one batch file; apply its counter moves once; write its rejections and counts next to it; return the counts.

    Counts: ``batch``; ``rows`` read, ``upserted`` (valid rows: each lands, a profile's later
    valid row replacing its earlier one, as line order would), ``rejected``; ``written``:
    profiles actually written this attempt (0 when a retry finds everything in place).
    The batch's transactions carry its counter moves in its own held item, not the counter
    items shared with concurrent batches; they reach the counters in one transaction at the
    end, also when an earlier attempt wrote them and failed before that.
    """
    company_id, project_id, import_id, n = item.companyId, item.projectId, item.importId, item.batch
    prefix = imports.work_prefix(company_id, project_id, import_id)
    last: dict[str, Profile] = {}
    rejections: list[tuple[int, str, str, str]] = []
    rows = 0
    for text in imports.iter_lines(item.key):
        row = Row.from_json(text)
        rows += 1
        try:
            profile = validate(row)
        except InvalidInput as exc:
            rejections.append((row.line, shown_profile_id(row), exc.code, exc.message))
            continue
        last.pop(profile.profile_id, None)  # a later line of the same profile wins
        last[profile.profile_id] = profile
    wanted = list(last.values())
    written = 0
    key = directory.company_key(company_id) if wanted else b""
    held = profiles.hold_moves(company_id, project_id, _held_owner(import_id, n))
    for start in range(0, len(wanted), MAX_BATCH):
        chunk = wanted[start : start + MAX_BATCH]
        written += profiles.upsert_profiles(company_id, project_id, key, chunk, held=held, skip_unchanged=True)
    profiles.release_moves(held)
    rejections.sort()
    body = "".join(json.dumps(list(r)) + "\n" for r in rejections).encode()
    imports.put_file(f"{prefix}rejected-{n:05d}.jsonl", body, "application/x-ndjson")
    result = {"batch": n, "rows": rows, "upserted": rows - len(rejections), "rejected": len(rejections), "written": written}
    # The result is written last: it says the batch's profiles and rejections are in place.
    imports.put_file(f"{prefix}result-{n:05d}.json", json.dumps(result).encode(), "application/json")
    logger.info("import batch done", import_id=import_id, batch=n, rows=rows, rejected=len(rejections), written=written)
    return result


def _rejections(path: str) -> Iterator[tuple[int, str, str, str]]:
    with open(path, encoding="utf-8") as fh:
        for text in fh:
            line, profile_id, code, message = json.loads(text)
            yield int(line), profile_id, code, message


def finish(job: Finishing) -> dict[str, int]:
    """Sum the batches' counts, write the errors file (rejections by line), mark the import SUCCEEDED.

    Moves a batch left held are applied first (none, unless a batch wrote and then failed
    its last attempt). Returns ``{"rows", "upserted", "rejected"}``. Raises BatchIncomplete
    when a batch of the manifest left no result. An import no longer RUNNING (FAILED
    meanwhile) stays as it is, and the log says so.
    """
    company_id, project_id, import_id = job.companyId, job.projectId, job.importId
    prefix = imports.work_prefix(company_id, project_id, import_id)
    profiles.release_all_moves(company_id, project_id, _held_owner(import_id))
    manifest = json.loads(imports.read_text(job.split.manifest) or "[]")
    totals = {"rows": 0, "upserted": 0, "rejected": 0}
    with tempfile.TemporaryDirectory(prefix="import-") as tmp:
        parts = []
        for item in manifest:
            n = int(item["batch"])
            result = imports.read_text(f"{prefix}result-{n:05d}.json")
            if result is None:
                raise BatchIncomplete(f"batch {n} did not finish")
            for name in totals:
                totals[name] += int(json.loads(result)[name])
            path = os.path.join(tmp, f"{n:05d}")
            with open(path, "w", encoding="utf-8") as fh:
                fh.writelines(imports.iter_lines(f"{prefix}rejected-{n:05d}.jsonl"))
            parts.append(path)
        errors = os.path.join(tmp, "errors.csv")
        with open(errors, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(error_lines(heapq.merge(*(_rejections(p) for p in parts))))
        key = imports.errors_key(company_id, project_id, import_id)
        with open(errors, "rb") as body:
            imports.put_file(key, body, "text/csv; charset=utf-8")
    if imports.mark_succeeded(company_id, project_id, import_id, totals["rows"], totals["upserted"], totals["rejected"], key):
        logger.info("import succeeded", import_id=import_id, rows=totals["rows"], upserted=totals["upserted"], rejected=totals["rejected"])
    else:
        # Recorded FAILED meanwhile (or deleted): it keeps that outcome; these counts are not on it.
        current = imports.get(company_id, project_id, import_id)
        logger.warning(
            "import finished after it ended: not recorded succeeded",
            import_id=import_id,
            status=current.status if current else None,
            rows=totals["rows"],
            upserted=totals["upserted"],
            rejected=totals["rejected"],
        )
    return totals


def fail(job: Failure) -> dict[str, bool]:
    """Record the import FAILED; the message is the file's fault when InvalidFile said so, else a generic one.

    Counter moves its batches still hold are applied first, so the project's counters count
    the profiles the import did write. Returns ``{"failed"}``: whether this call recorded it.
    """
    message = GENERIC_FAILURE
    error = job.error
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {}
    if error.get("Error") == InvalidFile.__name__ and isinstance(cause, dict) and isinstance(cause.get("errorMessage"), str):
        message = cause["errorMessage"]
    released = profiles.release_all_moves(job.companyId, job.projectId, _held_owner(job.importId))
    failed = imports.mark_failed(job.companyId, job.projectId, job.importId, message)
    logger.warning("import failed", import_id=job.importId, error=str(error.get("Error", ""))[:100], recorded=failed, released=released)
    return {"failed": failed}
