"""The bulk import workflow: started by the upload's S3 event, run by the import state machine.

1. ``start`` (the upload's ObjectCreated event): WAITING_FOR_UPLOAD -> RUNNING and one
   execution named for the import (a second event finds the name taken).
2. ``split`` (first task): streams the upload once and writes each row, as read, into the
   batch file its profile id hashes to (``domain.imports.batch_of``), then a JSON manifest
   of the batch files. Every row of one profile is in one batch, in line order, so batches
   are disjoint by profile id. Memory holds no rows: they go to files in /tmp.
3. ``batch`` (a Distributed Map over the manifest, one batch an item): validates every row
   exactly as ``PUT .../profiles`` does, keeps the last valid row of each profile (line
   order), skips profiles already stored exactly so, upserts the rest with
   ``store.profiles.upsert_profiles`` (replace whole, one transaction per group), and writes
   its rejections and counts next to the batch file. A retried batch or a second run
   rewrites those same objects and writes no profile again.
4. ``finish``: sums the batches' counts, merges their rejections by line into the errors file,
   SUCCEEDED. ``fail`` (any step's Catch): FAILED with a message safe to show.
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

from segshare_core import config
from segshare_core.domain.errors import InvalidInput
from segshare_core.domain.imports import (
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
    job = {
        "companyId": company_id,
        "projectId": project_id,
        "importId": import_id,
        "format": record.format,
        "bucket": config.DATA_BUCKET,
        "key": key,
        "versionId": version_id,
    }
    started = imports.start_execution(job)
    logger.info("import started" if started else "import already started", import_id=import_id)
    return started


def _rows(job: dict[str, Any], binary: IO[bytes]) -> Iterator[Row]:
    text = text_stream(binary)
    return csv_rows(text) if job["format"] == "csv" else jsonl_rows(text)


def split(job: dict[str, Any]) -> dict[str, Any]:
    """Write the upload's rows into batch files by profile id, and their manifest; return its key and size.

    Raises InvalidFile when the upload cannot be read as its format.
    """
    company_id, project_id, import_id = job["companyId"], job["projectId"], job["importId"]
    prefix = imports.work_prefix(company_id, project_id, import_id)
    batches = _batch_count(imports.object_size(job["key"], job.get("versionId")))
    counts = [0] * batches
    with tempfile.TemporaryDirectory(prefix="import-") as tmp, ExitStack() as files:
        paths = [os.path.join(tmp, f"{n:05d}") for n in range(batches)]
        opened: dict[int, IO[str]] = {}
        try:
            for row in _rows(job, imports.open_object(job["key"], job.get("versionId"))):
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
            manifest.append({"companyId": company_id, "projectId": project_id, "importId": import_id, "batch": n, "key": key})
    manifest_key = f"{prefix}manifest.json"
    imports.put_file(manifest_key, json.dumps(manifest).encode(), "application/json")
    logger.info("import split", import_id=import_id, rows=sum(counts), batches=len(manifest))
    return {"manifest": manifest_key, "batches": len(manifest), "rows": sum(counts)}


def _changed(company_id: str, project_id: str, wanted: list[Profile]) -> list[Profile]:
    """The profiles not already stored exactly as wanted (a retried batch finds its rows written)."""
    stored = profiles.get_profiles(company_id, project_id, [p.profile_id for p in wanted])
    return [p for p in wanted if stored.get(p.profile_id) != p]


def run_batch(item: dict[str, Any]) -> dict[str, Any]:
    """Upsert one batch file; write its rejections and counts next to it; return the counts.

    Counts: ``rows`` read, ``upserted`` (valid rows: each lands, a profile's later valid row
    replacing its earlier one, as line order would), ``rejected``; ``written``: profiles
    actually written this attempt (0 when a retry finds everything in place).
    """
    company_id, project_id, import_id, n = item["companyId"], item["projectId"], item["importId"], int(item["batch"])
    prefix = imports.work_prefix(company_id, project_id, import_id)
    last: dict[str, Profile] = {}
    rejections: list[tuple[int, str, str, str]] = []
    rows = 0
    for text in imports.iter_lines(item["key"]):
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
    for start in range(0, len(wanted), MAX_BATCH):
        changed = _changed(company_id, project_id, wanted[start : start + MAX_BATCH])
        if changed:
            written += profiles.upsert_profiles(company_id, project_id, key, changed)
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


def finish(job: dict[str, Any]) -> dict[str, Any]:
    """Sum the batches' counts, write the errors file (rejections by line), mark the import SUCCEEDED.

    Raises BatchIncomplete when a batch of the manifest left no result.
    """
    company_id, project_id, import_id = job["companyId"], job["projectId"], job["importId"]
    prefix = imports.work_prefix(company_id, project_id, import_id)
    manifest = json.loads(imports.read_text(job["split"]["manifest"]) or "[]")
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
    imports.mark_succeeded(company_id, project_id, import_id, totals["rows"], totals["upserted"], totals["rejected"], key)
    logger.info("import succeeded", import_id=import_id, rows=totals["rows"], upserted=totals["upserted"], rejected=totals["rejected"])
    return totals


def fail(job: dict[str, Any]) -> dict[str, Any]:
    """Record the import FAILED; the message is the file's fault when InvalidFile said so, else a generic one."""
    message = GENERIC_FAILURE
    error = job.get("error") or {}
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {}
    if error.get("Error") == InvalidFile.__name__ and isinstance(cause, dict) and isinstance(cause.get("errorMessage"), str):
        message = cause["errorMessage"]
    failed = imports.mark_failed(job["companyId"], job["projectId"], job["importId"], message)
    logger.warning("import failed", import_id=job["importId"], error=str(error.get("Error", ""))[:100], recorded=failed)
    return {"failed": failed}
