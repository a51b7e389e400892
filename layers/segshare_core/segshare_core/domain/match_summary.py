"""What an evaluation records of a match: counts of the target project's own profiles and devices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MatchSummary:
    target_profiles: int
    matched_profiles: int
    matched_devices: int
    matched_by_platform: dict[str, int]
