"""Response models render domain objects as API.md writes them: names, and null against absent."""

from __future__ import annotations

from typing import Any

from segshare_core.api_models import EvaluationOut
from segshare_core.domain.evaluations import Evaluation

COUNTS: dict[str, Any] = {
    "finished_at": "2026-11-28T17:00:01Z",
    "duration_ms": 41,
    "target_profiles": 1200,
    "matched_profiles": 87,
    "matched_devices": 95,
    "matched_by_platform": {"ios": 60, "android": 35},
}


def _wire(evaluation: Evaluation) -> dict[str, Any]:
    return EvaluationOut.model_validate(evaluation).model_dump(mode="json", by_alias=True)


def test_a_succeeded_evaluation_is_api_md_s_example_with_no_error_and_no_reused() -> None:
    # Given API.md's example evaluation
    evaluation = Evaluation("e-1", "x-1", "manual", "SUCCEEDED", "2026-11-28T17:00:00Z", **COUNTS)
    # When it is written
    # Then it has API.md's fields, camelCase, and neither error nor reused
    assert _wire(evaluation) == {
        "evaluationId": "e-1",
        "sharedSegmentId": "x-1",
        "trigger": "manual",
        "status": "SUCCEEDED",
        "startedAt": "2026-11-28T17:00:00Z",
        "finishedAt": "2026-11-28T17:00:01Z",
        "durationMs": 41,
        "targetProfiles": 1200,
        "matchedProfiles": 87,
        "matchedDevices": 95,
        "matchedByPlatform": {"ios": 60, "android": 35},
    }


def test_a_running_evaluation_has_null_counts_and_a_null_platform_split() -> None:
    wire = _wire(Evaluation("e-2", "x-1", "schedule", "RUNNING", "2026-11-28T17:00:00Z"))
    assert wire["matchedByPlatform"] is None
    assert [wire[k] for k in ("finishedAt", "durationMs", "targetProfiles", "matchedProfiles", "matchedDevices")] == [None] * 5
    assert "error" not in wire
    assert "reused" not in wire


def test_a_failed_evaluation_carries_its_error_and_no_platform_split() -> None:
    failed = Evaluation("e-3", "x-1", "export", "FAILED", "2026-11-28T17:00:00Z", matched_by_platform={"ios": 1}, error="the share ended")
    wire = _wire(failed)
    assert wire["error"] == "the share ended"
    assert wire["matchedByPlatform"] is None


def test_reused_is_written_only_when_true() -> None:
    reused = Evaluation("e-4", "x-1", "schedule", "SUCCEEDED", "2026-11-28T17:00:00Z", reused=True, **COUNTS)
    assert _wire(reused)["reused"] is True
    assert "reused" not in _wire(Evaluation("e-5", "x-1", "schedule", "SUCCEEDED", "2026-11-28T17:00:00Z", **COUNTS))
