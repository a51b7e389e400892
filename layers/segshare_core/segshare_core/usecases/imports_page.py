"""Read imports: one with its errors file link, or a page of the project's imports, newest first (API.md "Bulk import")."""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.api import ProjectScope
from segshare_core.domain import cursors
from segshare_core.domain.errors import NotFound
from segshare_core.domain.filenames import file_name
from segshare_core.domain.imports import Import
from segshare_core.observability import tracer
from segshare_core.store import directory, imports


@dataclass(frozen=True, slots=True)
class ImportsPage:
    """The project's imports, newest first; ``next_cursor`` None on the last page."""

    imports: list[Import]
    next_cursor: str | None


@tracer.capture_method
def import_with_errors_url(scope: ProjectScope, import_id: str) -> tuple[Import, str | None]:
    """The project's import and, once it SUCCEEDED with an errors file, a presigned GET of that file.

    NotFound (404) for an import of another project or an unknown id. The link is issued here
    only, after the caller's access to the project was checked. The file downloads as
    "<project> import errors <day> <HH>h<MM>.csv" (UTC, the import's start), never the id.
    """
    record = imports.get(scope.company_id, scope.project_id, import_id)
    if record is None:
        raise NotFound(f"import {import_id!r} not found")
    if record.status != "SUCCEEDED" or not record.errors_key:
        return record, None
    return record, imports.download_url(record.errors_key, _errors_file_name(scope.company_id, record))


def _errors_file_name(company_id: str, record: Import) -> str:
    project = directory.get_project(company_id, record.project_id)
    label = f"{project.name if project else record.project_id} import errors"
    created = record.created_at  # ISO-8601 UTC, "2026-11-29T23:41:07Z"
    return file_name(label, f"{created[:10]} {created[11:13]}h{created[14:16]}", "csv")


@tracer.capture_method
def imports_page(scope: ProjectScope, limit: int, cursor: str | None) -> ImportsPage:
    """Up to ``limit`` of the project's imports after ``cursor``, with no links (read one import for its errorsUrl).

    Raises InvalidCursor (400) for a forged cursor or one of another listing (``domain.cursors``).
    """
    key = directory.company_key(scope.company_id)
    listing = f"imports:{scope.project_id}"
    after = str(cursors.decode(key, listing, cursor).get("importId", "")) if cursor else None
    page, last = imports.list_for(scope.company_id, scope.project_id, limit, after or None)
    return ImportsPage(page, cursors.encode(key, listing, {"importId": last}) if last else None)
