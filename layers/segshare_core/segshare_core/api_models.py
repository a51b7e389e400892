"""Response models more than one function answers with, built from domain objects.

``EvaluationOut`` is an evaluation as API.md's Evaluations section writes it: the evaluate
function's routes answer with it, and the share function's shared segment carries the one in
service as ``lastEvaluation``. Build one with ``EvaluationOut.model_validate(evaluation)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from segshare_core.api import ApiModel


def always_written(*aliases: str) -> Callable[[dict[str, Any]], None]:
    """A model's ``json_schema_extra`` listing fields as required although they default to None.

    For a field the route fills in only sometimes (a download link on one route, not in a
    listing): it is on the wire every time, null when not filled in, so the OpenAPI document
    must call it required, which pydantic does not for a field with a default.
    """

    def extra(schema: dict[str, Any]) -> None:
        required = {*schema.get("required", []), *aliases}
        schema["required"] = [name for name in schema["properties"] if name in required]

    return extra


class EvaluationOut(ApiModel):
    """One evaluation (API.md "Evaluations"): counts of the target project's own profiles and devices only.

    ``matchedByPlatform`` is null until the evaluation SUCCEEDED; ``error`` is present only on
    an evaluation that has one and ``reused`` only when true (absent, not null, otherwise).
    """

    evaluation_id: str
    shared_segment_id: str
    trigger: Literal["manual", "schedule", "export"]
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    started_at: str
    finished_at: str | None
    duration_ms: int | None
    target_profiles: int | None
    matched_profiles: int | None
    matched_devices: int | None
    matched_by_platform: dict[str, int] | None
    error: str | None = Field(default=None, exclude_if=lambda value: value is None)
    reused: bool = Field(
        default=False,
        exclude_if=lambda value: not value,
        description="present and true when a scheduled run found the inputs unchanged since the last succeeded "
        "evaluation (the source segment's definition, both projects' change sequences, the share) and recorded its "
        "counts and result again without reading either project; absent otherwise",
    )

    @model_validator(mode="after")
    def _platforms_once_succeeded(self) -> Self:
        # The domain keeps an empty split on a run that has not succeeded; API.md shows null there.
        if self.status != "SUCCEEDED":
            self.matched_by_platform = None
        return self
