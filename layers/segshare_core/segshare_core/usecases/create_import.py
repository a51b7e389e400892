"""Create a bulk import (API.md "Bulk import"): record it WAITING_FOR_UPLOAD and presign its upload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from segshare_core.api import ProjectScope
from segshare_core.domain.clock import iso, now
from segshare_core.domain.imports import Format, Import, Status
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import imports


@dataclass(frozen=True, slots=True)
class StartedImport:
    """A new import and where to upload its file: a presigned PUT (``upload_url``) valid until ``expires_at``."""

    import_id: str
    status: Status
    format: Format
    upload_url: str
    expires_at: str


@tracer.capture_method
def create_import(scope: ProjectScope, fmt: Format) -> StartedImport:
    """Record an import of the project in ``fmt`` and presign the PUT of its file (15 minutes, API.md).

    The upload's S3 ObjectCreated event starts the import (``workflows.bulk_import``).
    """
    record: Import = imports.create(scope.company_id, scope.project_id, fmt, scope.caller.user_id)
    key = imports.upload_key(scope.company_id, scope.project_id, record.import_id, fmt)
    url = imports.upload_url(key)
    logger.info("import requested", import_id=record.import_id, format=fmt)
    metrics.add_metric(name="ImportsRequested", unit="Count", value=1)
    expires_at = iso(now() + timedelta(seconds=imports.UPLOAD_URL_SECONDS))
    return StartedImport(record.import_id, record.status, record.format, url, expires_at)
