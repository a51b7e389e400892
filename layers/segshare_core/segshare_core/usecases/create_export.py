"""Create an export of a shared segment (API.md "Exports"): record it PENDING, hand it to the queue, answer 202.

The file itself is made later by the queue's worker (``workflows.export_file``). When the
queue cannot take the message the export is recorded FAILED at once (so it never waits for a
worker that will not come) and the caller is told to retry (503). An ``Idempotency-Key``
makes a repeat within an hour answer with the first export without creating another.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from segshare_core.api import SharedSegmentScope
from segshare_core.domain.errors import RetryLater
from segshare_core.domain.exports import Export, Format
from segshare_core.idempotency import IdempotentOperation, share_key_scope
from segshare_core.observability import logger, metrics, tracer
from segshare_core.store import exports

QUEUE_DOWN = "could not hand the export to its worker"


def _from_dict(stored: dict[str, Any]) -> Export:
    attributes = stored["attributes"]
    return Export(**{**stored, "attributes": tuple(attributes) if attributes is not None else None})


#: The handler registers its Lambda context here on every invocation (``register_lambda_context``).
#: "exports.create" (was "export.create_export", whose records held the HTTP body): a new key
#: space, so a record the earlier code wrote is never read as a domain object.
idempotency = IdempotentOperation[Export]("exports.create", dataclasses.asdict, _from_dict)


@tracer.capture_method
def create_export(scope: SharedSegmentScope, fmt: Format, attributes: list[str] | None, idempotency_key: str | None) -> Export:
    """Record a PENDING export of ``scope.shared`` in ``fmt`` (``attributes`` None: every attribute) and queue it.

    Returns the PENDING export. Raises RetryLater (503) when the export queue is unavailable
    (the export is then FAILED and nothing is cached for the key), InvalidInput
    ``IDEMPOTENCY_KEY_REUSED`` (422) for a key used with another body.
    """
    shared = scope.shared

    def work() -> Export:
        export = exports.create(scope.company_id, shared, fmt, attributes, scope.caller.user_id)
        try:
            exports.enqueue(scope.company_id, scope.project_id, export.export_id)
        except Exception as exc:
            exports.mark_failed(scope.company_id, scope.project_id, export.export_id, QUEUE_DOWN)
            raise RetryLater("the export queue is unavailable; try again shortly") from exc
        logger.info("export requested", export_id=export.export_id, format=fmt)
        metrics.add_metric(name="ExportsRequested", unit="Count", value=1)
        return export

    key_scope = share_key_scope(scope.company_id, scope.project_id, scope.caller.user_id, shared)
    # The body as validated (defaults filled in): the same key with another body is refused.
    return idempotency(work, idempotency_key, key_scope, {"format": fmt, "attributes": attributes})
