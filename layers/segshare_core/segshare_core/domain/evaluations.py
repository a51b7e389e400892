"""Evaluations of a shared segment, as recorded and as the target project sees them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Trigger = Literal["manual", "schedule", "export"]
Status = Literal["RUNNING", "SUCCEEDED", "FAILED"]
TRIGGERS: tuple[Trigger, ...] = ("manual", "schedule", "export")


def new_evaluation_id(moment: datetime) -> str:
    """Ids sort by start time (milliseconds in hex first), so the newest lists first."""
    return f"e-{int(moment.timestamp() * 1000):011x}{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation: counts of the target project's own profiles and devices, nothing of the source."""

    evaluation_id: str
    shared_segment_id: str
    trigger: Trigger
    status: Status
    started_at: str
    finished_at: str | None = None
    duration_ms: int | None = None
    target_profiles: int | None = None
    matched_profiles: int | None = None
    matched_devices: int | None = None
    matched_by_platform: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "evaluationId": self.evaluation_id,
            "sharedSegmentId": self.shared_segment_id,
            "trigger": self.trigger,
            "status": self.status,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "durationMs": self.duration_ms,
            "targetProfiles": self.target_profiles,
            "matchedProfiles": self.matched_profiles,
            "matchedDevices": self.matched_devices,
            "matchedByPlatform": dict(self.matched_by_platform) if self.status == "SUCCEEDED" else None,
        }
        if self.error is not None:
            out["error"] = self.error
        return out
