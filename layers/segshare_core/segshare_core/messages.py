"""The body of a message on the export queue, as its worker and its dead-letter handler parse it.

``store.exports.enqueue`` writes it: ``{"companyId", "projectId", "exportId"}``. A body that
does not parse (not JSON, a field missing, an id that breaks API.md's id rule) is malformed:
the worker reports it as failed (so it ends in the dead-letter queue after its retries, kept
for a look), and the dead-letter handler logs it and lets it go.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from segshare_core.domain.ids import ID_PATTERN

#: A company, project or export id (API.md's id rule).
_MessageId = Annotated[str, Field(pattern=ID_PATTERN, max_length=63)]


class ExportMessage(BaseModel):
    """Which export to produce: ``company_id``, ``project_id``, ``export_id`` (camelCase in the body)."""

    model_config = ConfigDict(alias_generator=to_camel, frozen=True, extra="ignore")

    company_id: _MessageId
    project_id: _MessageId
    export_id: _MessageId


class ExportMessageRecord(SqsRecordModel):
    """One SQS record of the export queue (or its dead-letter queue) whose body is an ``ExportMessage``."""

    body: Json[ExportMessage]  # type: ignore[assignment]
